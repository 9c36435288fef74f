"""The twin's supervisor: a MicroPython VM behind a pty that looks like a board's USB port.

The supervisor owns the pty pair tools open (as they would /dev/ttyACM0), runs
the VM with its stdin and stdout on pipes, and relays bytes between the two:

    tool --pty--> relay (faults, Ctrl-C -> SIGINT) --pipe--> VM (ROM: REPLs, boot.py, main.py)
    tool <--pty-- relay (faults)                    <--pipe-- VM

The VM's ROM tells the supervisor about its interrupt character and asks for
resets over a third pipe. Soft resets restart the VM and keep the port; hard
resets and power cuts also replace the pty, as USB re-enumeration does.
"""

import asyncio
import ctypes
import errno
import functools
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import termios
import time
import tty
from pathlib import Path

from . import state as twin_state
from . import vm
from .control import WORLD_ACTIONS as WORLD_COMMANDS

# Heap the ROM itself uses (its modules and buffers), on top of the board's
# budget, so that the app sees the budget free, as on a board whose firmware
# lives in flash. Measured as budget + ROM_HEAP - gc.mem_free() after
# gc.collect() at the first prompt: 83.9 KB (esp32) and 85.8 KB (rp2), by port
# since the shim differs - the console ~17 KB, the machine shim ~44 KB of
# bytecode, the rest its sockets, request buffers, the IRQ thread and
# interpreter state. Rounded up by about 2 KB; test_heap_is_capped_to_the_budget
# fails when the ROM outgrows it and the app would see less than its budget.
ROM_HEAP = {"esp32": 86 * 1024, "rp2": 88 * 1024}
REENUMERATE_S = 0.05  # how long the port is gone after a reset
SOFT_RESET_GRACE_S = 2.0
CTRL_C_CRASH_S = 2.0  # a VM that dies this soon after a Ctrl-C died of it
CTRL_C_WATCH_S = 0.25  # how often, and how many times, to look for a deadlock after a Ctrl-C
CTRL_C_WATCH_CHECKS = 12
CTRL_C_STUCK_CHECKS = 3  # deadlocked: every thread on a futex this many looks in a row
SIGINT_REPEAT_S = 0.2  # a second Ctrl-C before the first was handled would kill the unix port
READ_SIZE = 65536
CONTROL_LINE_LIMIT = 16 * 1024 * 1024  # a control request may carry seconds of audio (mic_feed) as base64


class Faults:
    """What the relay does to bytes on the wire in one direction."""

    def __init__(self):
        self.clear()

    def clear(self):
        self.drop_rate = 0.0  # probability a byte is lost
        self.corrupt_rate = 0.0  # probability a byte gets one bit flipped
        self.delay_s = 0.0  # added latency
        self.baud = 0  # 0: unlimited; else 10 bits per byte
        self.chunk = 0  # 0: as read; else deliver in pieces of this many bytes
        self.stall_until = 0.0

    def update(self, settings):
        for key, value in settings.items():
            if key == "stall_ms":
                self.stall_until = time.monotonic() + float(value) / 1000
            elif key == "delay_ms":
                self.delay_s = float(value) / 1000
            elif key in ("drop_rate", "corrupt_rate"):
                setattr(self, key, float(value))
            elif key in ("baud", "chunk"):
                setattr(self, key, int(value))
            else:
                raise ValueError(f"unknown fault {key!r}")

    @property
    def active(self):
        return bool(self.drop_rate or self.corrupt_rate or self.delay_s or self.baud or self.chunk
                    or self.stall_until > time.monotonic())

    def describe(self):
        return {"drop_rate": self.drop_rate, "corrupt_rate": self.corrupt_rate,
                "delay_ms": self.delay_s * 1000, "baud": self.baud, "chunk": self.chunk}


class Wire:
    """One direction of the USB link: applies faults and paces delivery."""

    def __init__(self, loop, deliver, seed, label=""):
        self.loop = loop
        self.deliver = deliver  # callable(bytes) that writes to the far side
        self.label = label  # in the capture: "<" to the host, ">" to the board
        self.capture = None  # a file every byte sent is logged to, as sent by the sender
        self.faults = Faults()
        self.rng = random.Random(seed)
        self.queue = []  # (due time, bytes) when faults pace the traffic
        self.timer = None
        self.next_free = 0.0
        self.bytes = 0
        self.dropped = 0
        self.corrupted = 0

    def send(self, data):
        self.bytes += len(data)
        if self.capture is not None:
            self.capture.write(b"%.6f %s %s\n" % (time.time(), self.label.encode(), repr(data)[2:-1].encode()))
        f = self.faults
        if not f.active and not self.queue:
            self.deliver(data)
            return
        if f.drop_rate or f.corrupt_rate:
            out = bytearray()
            for b in data:
                if f.drop_rate and self.rng.random() < f.drop_rate:
                    self.dropped += 1
                    continue
                if f.corrupt_rate and self.rng.random() < f.corrupt_rate:
                    b ^= 1 << self.rng.randrange(8)
                    self.corrupted += 1
                out.append(b)
            data = bytes(out)
        size = f.chunk or len(data) or 1
        now = time.monotonic()
        start = max(now + f.delay_s, f.stall_until, self.next_free)
        for i in range(0, len(data), size):
            piece = data[i:i + size]
            if f.baud:
                start = max(start, self.next_free)
                self.next_free = start + len(piece) * 10 / f.baud
                due = self.next_free
            else:
                due = start
            self.queue.append((due, piece))
        self._schedule()

    def _schedule(self):
        if self.timer or not self.queue:
            return
        delay = max(0.0, self.queue[0][0] - time.monotonic())
        self.timer = self.loop.call_later(delay, self._flush)

    def _flush(self):
        self.timer = None
        now = time.monotonic()
        while self.queue and self.queue[0][0] <= now + 0.0005:
            self.deliver(self.queue.pop(0)[1])
        self._schedule()

    def reset(self):
        self.queue.clear()
        if self.timer:
            self.timer.cancel()
            self.timer = None
        self.next_free = 0.0


@functools.cache
def _tgkill():
    return getattr(ctypes.CDLL(None, use_errno=True), "tgkill", None)  # glibc >= 2.30


def _interrupt_main_thread(pid):
    """SIGINT to the VM's main thread, the one running user code. Sent to the
    process, Linux may hand it to the VM's IRQ thread instead, which it kills."""
    tgkill = _tgkill()
    if tgkill is None:
        os.kill(pid, signal.SIGINT)
        return
    if tgkill(pid, pid, signal.SIGINT) != 0:
        raise ProcessLookupError(ctypes.get_errno(), "no such process")


def _threads_on_futex(pid):
    """Every thread of the process asleep on a futex (Linux /proc; False if unreadable)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        waits = [Path(f"/proc/{pid}/task/{t}/wchan").read_text() for t in tasks]
    except OSError:
        return False
    return bool(waits) and all("futex" in w for w in waits)


class Supervisor:
    def __init__(self, board, twin_state_obj, *, log=print):
        self.board = board
        self.state = twin_state_obj
        self.log = log
        self.loop = None
        self.stopped = None
        self.vm = None
        self.vm_pidfd = None
        self.vm_expected_exit = None  # what the VM asked for before it exits
        self.mode = "friendly"
        self.repl = "friendly"
        self.reset_cause = "power"
        self.safe_boot = False  # the next boot skips boot.py and main.py
        self.vm_state = "off"  # running, bootloader, off
        self.intr_char = -1
        self.sigint_at = 0.0
        self.sigint_sent_at = -CTRL_C_CRASH_S  # when the VM was last sent SIGINT
        self.master = None
        self.port = None
        self.host_connected = False
        self.plugged = True
        self.to_host_pending = bytearray()
        self.to_vm_pending = bytearray()
        self.stdin_r = self.stdin_w = self.stdout_r = self.stdout_w = None
        self.ctl_r = self.ctl_w = None
        self.ack_r = self.ack_w = None  # tells the VM its Ctrl-C off was seen (no SIGINT after)
        self.ctl_buf = b""
        self.boots = 0
        self.hangup_timer = None
        self.world = None  # the world process
        self.world_pidfd = None
        self.world_name = None
        self.world_conn = None  # (reader, writer) of the supervisor's control channel to the world
        self.world_lock = None
        self.wdt_timeout = 0.0  # seconds; 0: the watchdog is not running
        self.wdt_timer = None
        self.wake_timer = None
        self.exit_code = 0
        self.commands = {
            "status": self.cmd_status,
            "reset": self.cmd_reset,
            "power_cut": self.cmd_power_cut,
            "unplug": self.cmd_unplug,
            "replug": self.cmd_replug,
            "faults": self.cmd_faults,
            "bootloader": self.cmd_bootloader,
            "erase_flash": self.cmd_erase_flash,
            "capture": self.cmd_capture,
            "stop": self.cmd_stop,
        }
        for name in WORLD_COMMANDS:
            self.commands[name] = self._world_command(name)
        # In bootloader state, bytes from the host go to this object's
        # feed(bytes) (e.g. a model of the ESP32-S3 ROM loader); None: nobody answers.
        self.bootloader = None
        self.bootloader_factory = None
        self.bootloader_factory = __import__(__package__ + ".esp_rom", fromlist=["RomLoader"]).RomLoader if board.port == "esp32" else None  # noqa: E501
        seed = int.from_bytes(hashlib.sha256(self.state.name.encode()).digest()[:4], "little")
        self.unique_id = hashlib.sha256(("pocket-twin:" + self.state.name).encode()).hexdigest()[:16]
        self._seed = seed

    # ---- lifecycle ----

    async def run(self, ready):
        self.loop = asyncio.get_running_loop()
        self.stopped = self.loop.create_future()
        self.to_vm = Wire(self.loop, self._write_vm, self._seed, ">")
        self.to_host = Wire(self.loop, self._write_host, self._seed + 1, "<")
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.loop.add_signal_handler(sig, self.stop)
        server = await asyncio.start_unix_server(self._serve_control, path=str(self.state.control),
                                                 limit=CONTROL_LINE_LIMIT)
        self.world_lock = asyncio.Lock()
        try:
            await self._start_world()
            self._open_port()
            self._new_pipes()
            self._start_vm()
            ready(self.info())
            await self.stopped
        finally:
            server.close()
            self._stop_wdt()
            self._kill_vm()
            self._close_port()
            self._close_pipes()
            self._stop_world()
        return self.stopped.result()

    def stop(self, code=0):
        if not self.stopped.done():
            self.stopped.set_result(code)

    def info(self):
        return {
            "board": self.board.name,
            "name": self.state.name,
            "port": self.port,
            "link": str(self.state.link),
            "pid": os.getpid(),
            "vm_pid": self.vm.pid if self.vm else None,
            "world_pid": self.world.pid if self.world else None,
            "world_socket": "\0" + self.world_name if self.world_name else None,
            "state_dir": str(self.state.dir),
            "control": str(self.state.control),
        }

    # ---- the port the host sees ----

    def _open_port(self):
        master, slave = os.openpty()
        tty.setraw(slave, termios.TCSANOW)
        self.port = os.ttyname(slave)
        os.close(slave)  # a host opening the port is seen as the hangup clearing
        os.set_blocking(master, False)
        self.master = master
        self.host_connected = False
        self.state.point_link(self.port)
        self.state.write_info(self.info())
        self._watch_hangup()

    def _close_port(self):
        if self.master is None:
            return
        self._stop_watching_master()
        os.close(self.master)
        self.master = None
        self.port = None
        self.host_connected = False
        self.to_host_pending.clear()
        self.to_host.reset()
        self.to_vm.reset()
        self.state.point_link(None)

    def _stop_watching_master(self):
        if self.hangup_timer:
            self.hangup_timer.cancel()
            self.hangup_timer = None
        if self.master is not None:
            self.loop.remove_reader(self.master)
            self.loop.remove_writer(self.master)

    def _watch_hangup(self):
        """While no host has the port open, poll until one does."""
        import select

        self.hangup_timer = None
        if self.master is None:
            return
        p = select.poll()
        p.register(self.master, select.POLLIN)
        events = p.poll(0)
        if events and events[0][1] & select.POLLHUP:
            self.hangup_timer = self.loop.call_later(0.01, self._watch_hangup)
            return
        self.host_connected = True
        self.loop.add_reader(self.master, self._read_host)

    def _host_hung_up(self):
        self._stop_watching_master()
        self.host_connected = False
        self.to_host_pending.clear()  # a USB CDC port drops output nobody reads
        self._resume_vm_output()
        self._watch_hangup()

    def _read_host(self):
        try:
            data = os.read(self.master, READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno == errno.EIO:
                self._host_hung_up()
                return
            raise
        if data:
            self.to_vm.send(data)

    def _write_host(self, data):
        if not self.host_connected or self.master is None:
            return
        if self.to_host_pending:
            self.to_host_pending += data
            return
        try:
            n = os.write(self.master, data)
        except BlockingIOError:
            n = 0
        except OSError as exc:
            if exc.errno == errno.EIO:
                self._host_hung_up()
                return
            raise
        if n < len(data):
            self.to_host_pending += data[n:]
            self.loop.remove_reader(self.stdout_r)  # the VM blocks until the host reads
            self.loop.add_writer(self.master, self._drain_to_host)

    def _drain_to_host(self):
        try:
            n = os.write(self.master, self.to_host_pending)
        except BlockingIOError:
            return
        except OSError:
            self._host_hung_up()
            return
        del self.to_host_pending[:n]
        if not self.to_host_pending:
            self.loop.remove_writer(self.master)
            self._resume_vm_output()

    def _resume_vm_output(self):
        if self.stdout_r is not None and self.vm_state == "running":
            self.loop.add_reader(self.stdout_r, self._read_vm)

    # ---- the VM ----

    def _new_pipes(self):
        self._close_pipes()
        self.stdin_r, self.stdin_w = os.pipe()
        self.stdout_r, self.stdout_w = os.pipe()
        self.ctl_r, self.ctl_w = os.pipe()
        self.ack_r, self.ack_w = os.pipe()
        for fd in (self.stdin_w, self.stdout_r, self.ctl_r, self.ack_w):
            os.set_blocking(fd, False)
        self.to_vm_pending.clear()
        self.ctl_buf = b""

    def _close_pipes(self):
        for name in ("stdin_r", "stdin_w", "stdout_r", "stdout_w", "ctl_r", "ctl_w", "ack_r", "ack_w"):
            fd = getattr(self, name)
            if fd is not None:
                if name in ("stdout_r", "ctl_r"):
                    self.loop.remove_reader(fd)
                if name == "stdin_w":
                    self.loop.remove_writer(fd)
                os.close(fd)
                setattr(self, name, None)

    def _vm_config(self):
        fl = self.board.flash
        return {
            "rom": str(vm.ROM_DIR),
            "flash": str(self.state.flash),
            "ctl_fd": self.ctl_w,
            "ack_fd": self.ack_r,
            "mode": self.mode,
            "port": self.board.port,
            "machine": self.board.machine,
            "cpu_hz": self.board.raw.get("cpu_hz", 0),
            "reset_cause": self.reset_cause,
            "safe_boot": self.safe_boot,
            "unique_id": self.unique_id,
            "world": self.world_name,
            "fs": {
                "offset": fl.fs_offset,
                "size": fl.fs_size,
                "block_size": fl.block_size,
                "progsize": 256 if self.board.port == "rp2" else 32,
            },
        }

    def _start_vm(self):
        self._drain_acks()
        heap = self.board.heap_budget + ROM_HEAP[self.board.port]
        env = dict(os.environ, POCKET_TWIN_CONFIG=json.dumps(self._vm_config()))
        argv, cwd = vm.command(heap, self.state.dir.parent.parent)
        with open(self.state.vm_log, "ab") as log:
            self.vm = subprocess.Popen(
                argv, stdin=self.stdin_r, stdout=self.stdout_w, stderr=log,
                pass_fds=(self.ctl_w, self.ack_r), cwd=cwd, env=env,
            )
        self.safe_boot = False
        self.boots += 1
        self.vm_state = "running"
        self.vm_expected_exit = None
        self.intr_char = -1
        self.vm_pidfd = os.pidfd_open(self.vm.pid)
        self.loop.add_reader(self.vm_pidfd, self._vm_exited)
        self.loop.add_reader(self.stdout_r, self._read_vm)
        self.loop.add_reader(self.ctl_r, self._read_ctl)
        self.state.write_info(self.info())

    def _kill_vm(self):
        if self.vm is None:
            return
        if self.vm_pidfd is not None:
            self.loop.remove_reader(self.vm_pidfd)
            os.close(self.vm_pidfd)
            self.vm_pidfd = None
        if self.vm.poll() is None:
            self.vm.kill()
        self.vm.wait()
        self.vm = None
        self.vm_state = "off"
        if self.stdout_r is not None:
            self.loop.remove_reader(self.stdout_r)
        self.intr_char = -1

    def _read_vm(self):
        self._read_ctl()  # ROM messages sent before this output take effect first
        try:
            data = os.read(self.stdout_r, READ_SIZE)
        except BlockingIOError:
            return
        if data:
            self.to_host.send(data)
        else:
            self.loop.remove_reader(self.stdout_r)

    def _write_vm(self, data):
        if self.vm_state == "bootloader" and self.bootloader is not None:
            self.bootloader.feed(data)
            return
        if self.stdin_w is None or self.vm_state != "running":
            return  # a board that is off, or in a bootloader nobody models, hears nothing
        if self.intr_char >= 0 and self.intr_char in data:
            self._read_ctl()  # the VM may have turned Ctrl-C off since
            if self.stdin_w is None or self.vm_state != "running":
                return
        intr = self.intr_char
        if intr >= 0 and intr in data and self.vm_state == "running":
            parts = data.split(bytes([intr]))
            data = b"".join(parts)
            self._interrupt_vm()
        if not data:
            return
        if self.to_vm_pending:
            self.to_vm_pending += data
            return
        try:
            n = os.write(self.stdin_w, data)
        except BlockingIOError:
            n = 0
        if n < len(data):
            self.to_vm_pending += data[n:]
            if self.master is not None and self.host_connected:
                self.loop.remove_reader(self.master)  # the host's writes block until the VM reads
            self.loop.add_writer(self.stdin_w, self._drain_to_vm)

    def _drain_to_vm(self):
        try:
            n = os.write(self.stdin_w, self.to_vm_pending)
        except BlockingIOError:
            return
        del self.to_vm_pending[:n]
        if not self.to_vm_pending:
            self.loop.remove_writer(self.stdin_w)
            if self.master is not None and self.host_connected:
                self.loop.add_reader(self.master, self._read_host)

    def _interrupt_vm(self):
        now = time.monotonic()
        if now - self.sigint_at < SIGINT_REPEAT_S:
            return
        self.sigint_at = self.sigint_sent_at = now
        try:
            _interrupt_main_thread(self.vm.pid)
        except ProcessLookupError:
            return
        self._watch_after_ctrl_c(self.vm)

    def _watch_after_ctrl_c(self, vm, checks=0, stuck=0):
        """The unix port can deadlock when Ctrl-C lands in its collector while
        another thread waits on it: every thread then sleeps on a futex."""
        if self.vm is not vm or self.vm_state != "running" or checks >= CTRL_C_WATCH_CHECKS:
            return
        stuck = stuck + 1 if _threads_on_futex(vm.pid) else 0
        if stuck >= CTRL_C_STUCK_CHECKS:
            self._resume_after_ctrl_c("left the VM deadlocked")
            return
        self.loop.call_later(CTRL_C_WATCH_S, self._watch_after_ctrl_c, vm, checks + 1, stuck)

    def _resume_after_ctrl_c(self, what):
        """The unix port raises Ctrl-C from its signal handler wherever the VM is;
        a board raises it at a safe point and never dies of it. Go on as the board
        would: the REPL the host was in, on the same port, with a fresh heap."""
        self.log(f"twin: a Ctrl-C {what}; it restarts with a fresh heap, keeping the port, "
                 f"in the {self.repl} REPL")
        self._kill_vm()
        raw = self.repl == "raw"
        self.to_host.send(b"\x04KeyboardInterrupt: \r\n\x04" if raw else b"KeyboardInterrupt: \r\n")
        self.mode = "resume-raw" if raw else "resume-friendly"
        self._start_vm()

    def _read_ctl(self):
        if self.ctl_r is None:
            return
        try:
            data = os.read(self.ctl_r, 4096)
        except BlockingIOError:
            return
        self.ctl_buf += data
        while b"\n" in self.ctl_buf:
            line, self.ctl_buf = self.ctl_buf.split(b"\n", 1)
            self._on_rom_message(line.decode("ascii", "replace"))

    def _on_rom_message(self, msg):
        kind, _, arg = msg.partition(" ")
        if kind.startswith("I"):
            self.intr_char = int(kind[1:])
            self.sigint_at = 0.0
            if arg:
                self._ack_vm(arg.encode())
        elif kind == "S":
            self.vm_expected_exit = ("soft", arg)
        elif kind == "R":
            self._flush_vm_output()
            self.hard_reset("soft" if self.board.port == "esp32" else "wdt")
        elif kind == "B":
            self._flush_vm_output()
            self.enter_bootloader()
        elif kind == "P":
            self.repl = arg  # which REPL the host talks to, for a restart after a Ctrl-C crash
        elif kind == "W":
            self._start_wdt(int(arg) / 1000)
        elif kind == "F":
            self._feed_wdt()
        elif kind == "D":
            self._flush_vm_output()
            self.deep_sleep(int(arg))
        else:
            self.log(f"twin: unknown message from the board's ROM: {msg!r}")

    def _drain_acks(self):
        """Acks a stopped VM left unread would answer the next VM's first Ctrl-C off."""
        os.set_blocking(self.ack_r, False)
        try:
            while os.read(self.ack_r, 64):
                pass
        except BlockingIOError:
            pass
        os.set_blocking(self.ack_r, True)

    def _ack_vm(self, token):
        try:
            os.write(self.ack_w, token)
        except OSError:
            pass  # a VM that stopped reading acks is going away (or a full pipe: it is not reading)

    def _flush_vm_output(self):
        while self.stdout_r is not None:
            try:
                data = os.read(self.stdout_r, READ_SIZE)
            except BlockingIOError:
                return
            if not data:
                return
            self.to_host.send(data)

    def _vm_exited(self):
        self._read_ctl()
        self._flush_vm_output()
        code = self.vm.wait()
        expected = self.vm_expected_exit
        self._kill_vm()
        if expected == ("soft", "resume"):  # the ROM found its heap left locked by a Ctrl-C
            self._resume_after_ctrl_c("landed inside the VM's garbage collector")
            return
        if expected and expected[0] == "soft":
            self.mode = expected[1] or "friendly"  # a soft reboot keeps the last reset cause
            self._start_vm()
            return
        if time.monotonic() - self.sigint_sent_at < CTRL_C_CRASH_S:
            self._resume_after_ctrl_c(f"stopped the VM at an unsafe moment (exit code {code})")
            return
        try:
            tail = self.state.vm_log.read_text(errors="replace").splitlines()[-8:]
        except OSError:
            tail = []
        self.log(f"twin: the board's VM stopped unexpectedly (exit code {code}); resetting it")
        for line in tail:
            self.log("  vm: " + line)
        self.hard_reset("hard")

    # ---- resets and power ----

    def hard_reset(self, cause="hard", safe=False):
        """Reset the MCU: the VM restarts and the USB port re-enumerates.
        `safe` boots without boot.py and main.py, to recover from a main.py
        that never gives the REPL back."""
        self.bootloader = None
        self.safe_boot = safe
        self._stop_wdt()
        self._cancel_wake()
        self._kill_vm()
        self._close_port()
        self._new_pipes()
        self.mode = "friendly"
        self.reset_cause = cause
        self._tell_world("mcu_reset")
        self.loop.call_later(REENUMERATE_S, self._come_back)

    def _come_back(self):
        self.wake_timer = None
        if self.stopped.done():
            return
        if self.plugged:
            self._open_port()
        self._start_vm()

    def enter_bootloader(self):
        self._stop_wdt()
        self._kill_vm()
        self._close_port()
        self._new_pipes()
        self.vm_state = "bootloader"
        self.bootloader = self.bootloader_factory(self) if self.bootloader_factory else None
        if self.board.port == "esp32" and self.plugged:
            # The ROM download mode enumerates as a serial port of its own.
            self.loop.call_later(REENUMERATE_S, self._open_port)

    def erase_flash(self):
        """esptool erase-flash: every byte 0xFF; the next boot formats the filesystem."""
        twin_state.erase_flash(self.state.flash, self.board.flash.size)

    def power_cut(self):
        """Power lost and restored: nothing is flushed, the board boots from scratch."""
        self._stop_wdt()
        self._cancel_wake()
        self._tell_world("power_cycle")
        self._kill_vm()
        self._close_port()
        self._new_pipes()
        self.mode = "friendly"
        self.reset_cause = "power"
        self.loop.call_later(REENUMERATE_S, self._come_back)

    def deep_sleep(self, ms):
        """ESP32 deep sleep: the chip (and its USB port) is off until the timer
        wakes it, which is a reset with the deep-sleep cause. ms < 0: no wake source."""
        self._stop_wdt()
        self._kill_vm()
        self._close_port()
        self._new_pipes()
        self.vm_state = "deepsleep"
        self.mode = "friendly"
        self.reset_cause = "deepsleep"
        self._tell_world("mcu_reset")
        if ms >= 0:
            self.wake_timer = self.loop.call_later(ms / 1000, self._come_back)

    def _cancel_wake(self):
        if self.wake_timer is not None:
            self.wake_timer.cancel()
            self.wake_timer = None

    # ---- the watchdog: it must bite even when the VM is stuck ----

    def _start_wdt(self, timeout):
        self.wdt_timeout = timeout
        self._feed_wdt()

    def _feed_wdt(self):
        if not self.wdt_timeout:
            return
        if self.wdt_timer is not None:
            self.wdt_timer.cancel()
        self.wdt_timer = self.loop.call_later(self.wdt_timeout, self._wdt_expired)

    def _stop_wdt(self):
        self.wdt_timeout = 0.0
        if self.wdt_timer is not None:
            self.wdt_timer.cancel()
            self.wdt_timer = None

    def _wdt_expired(self):
        self.wdt_timer = None
        self._read_ctl()  # a feed that is already in the pipe still counts
        if self.wdt_timer is not None:
            return
        self.log("twin: the watchdog was not fed in time; resetting the board")
        self._flush_vm_output()
        self.hard_reset("wdt")

    # ---- the world process ----

    async def _start_world(self):
        """Start the world process on a socket that already listens, so the VM
        can connect at once while the world is still importing its models."""
        import socket

        self.world_name = "pocket-world-%d-%s" % (os.getpid(), hashlib.sha256(str(self.state.dir).encode()).hexdigest()[:12])
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind("\0" + self.world_name)
            listener.listen(16)
            with open(self.state.dir / "world.log", "ab") as log:
                self.world = subprocess.Popen(
                    [sys.executable, "-m", "pocket_agent.tools.twin.world", str(self.board.path),
                     str(listener.fileno()), str(self._seed)],
                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log, pass_fds=(listener.fileno(),),
                )
        finally:
            listener.close()
        self.world_pidfd = os.pidfd_open(self.world.pid)
        self.loop.add_reader(self.world_pidfd, self._world_exited)
        self.world_conn = await asyncio.open_unix_connection("\0" + self.world_name, limit=CONTROL_LINE_LIMIT)
        self.world_conn[1].write(b"control\n")

    def _world_exited(self):
        code = self.world.wait()
        self.loop.remove_reader(self.world_pidfd)
        os.close(self.world_pidfd)
        self.world_pidfd = None
        self.log(f"twin: the world process died (exit code {code}); the board's parts are gone, stopping")
        try:
            tail = (self.state.dir / "world.log").read_text(errors="replace").splitlines()[-8:]
        except OSError:
            tail = []
        for line in tail:
            self.log("  world: " + line)
        self.stop(3)

    def _stop_world(self):
        if self.world_pidfd is not None:
            self.loop.remove_reader(self.world_pidfd)
            os.close(self.world_pidfd)
            self.world_pidfd = None
        if self.world_conn is not None:
            self.world_conn[1].close()
            self.world_conn = None
        if self.world is not None:
            if self.world.poll() is None:
                self.world.stdin.close()  # the world exits when its stdin closes
                try:
                    self.world.wait(2)
                except subprocess.TimeoutExpired:
                    self.world.kill()
                    self.world.wait()
            self.world = None

    async def world_call(self, cmd, **args):
        if self.world_conn is None:
            raise ValueError("the world is not running")
        reader, writer = self.world_conn
        async with self.world_lock:
            writer.write((json.dumps(dict(args, cmd=cmd)) + "\n").encode())
            await writer.drain()
            try:
                line = await asyncio.wait_for(reader.readline(), 30)
            except asyncio.TimeoutError:
                raise ValueError("the world did not answer within 30 s") from None
        if not line:
            raise ValueError("the world process went away")
        reply = json.loads(line)
        if not reply["ok"]:
            raise ValueError(reply["error"])
        return reply["result"]

    def _world_command(self, name):
        async def forward(**args):
            return await self.world_call(name, **args)
        return forward

    def _tell_world(self, cmd):
        if self.world_conn is not None and self.loop is not None:
            task = self.loop.create_task(self.world_call(cmd))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

    # ---- control socket ----

    async def _serve_control(self, reader, writer):
        try:
            while True:
                try:
                    line = await reader.readline()
                except ValueError:  # a line past the limit: say so, and the connection goes on
                    writer.write((json.dumps({"ok": False, "error": "request longer than %d bytes" %
                                              CONTROL_LINE_LIMIT}) + "\n").encode())
                    await writer.drain()
                    continue
                if not line:
                    break
                try:
                    req = json.loads(line)
                    handler = self.commands[req.pop("cmd")]
                    result = handler(**req)
                    if asyncio.iscoroutine(result):
                        result = await result
                    reply = {"ok": True, "result": result}
                except KeyError as exc:
                    reply = {"ok": False, "error": f"unknown command {exc}"}
                except (TypeError, ValueError) as exc:
                    reply = {"ok": False, "error": str(exc)}
                writer.write((json.dumps(reply) + "\n").encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # the twin is stopping; ending normally keeps Python 3.11's stream callback from printing a traceback
        finally:
            writer.close()

    def cmd_status(self):
        return dict(
            self.info(),
            vm_state=self.vm_state,
            mode=self.mode,
            plugged=self.plugged,
            host_connected=self.host_connected,
            boots=self.boots,
            reset_cause=self.reset_cause,
            wdt_timeout_s=self.wdt_timeout or None,
            bytes_to_board=self.to_vm.bytes,
            bytes_to_host=self.to_host.bytes,
            faults={"to_board": self.to_vm.faults.describe(), "to_host": self.to_host.faults.describe()},
        )

    def cmd_reset(self, safe=False):
        self.hard_reset("hard", safe=bool(safe))
        return "reset (safe boot)" if safe else "reset"

    def cmd_power_cut(self):
        self.power_cut()
        return "power cut"

    def cmd_unplug(self):
        self.plugged = False
        self._close_port()
        return "unplugged"

    def cmd_replug(self):
        if not self.plugged:
            self.plugged = True
            if self.vm_state == "running" or self.board.port == "esp32":
                self._open_port()
        return "plugged"

    def cmd_faults(self, to_board=None, to_host=None, clear=False):
        for wire, settings in ((self.to_vm, to_board), (self.to_host, to_host)):
            if clear:
                wire.faults.clear()
            if settings:
                wire.faults.update(settings)
        return {"to_board": self.to_vm.faults.describe(), "to_host": self.to_host.faults.describe()}

    def cmd_bootloader(self):
        self.enter_bootloader()
        return "bootloader"

    def cmd_erase_flash(self):
        self._kill_vm()
        self.erase_flash()
        self.hard_reset("power")
        return "flash erased"

    def cmd_capture(self, path=None):
        """Log the serial traffic of both directions to `path` (None stops):
        one line per chunk, time, '>' to the board or '<' to the host, bytes escaped."""
        old = self.to_vm.capture
        if old is not None:
            old.close()
        f = open(path, "ab", buffering=0) if path else None
        self.to_vm.capture = self.to_host.capture = f
        return {"capturing": path}

    def cmd_stop(self):
        self.loop.call_soon(self.stop)
        return "stopping"

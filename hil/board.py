"""The board under test: a real board on a serial port, or the twin of one.

Tests reach the board only through its serial port (REPL and link frames), so
the same test runs on hardware. What only a twin can do (press its button, play
sound into its mic) is reached through `world`, which real boards lack unless
the rig provides it.
"""

import os
import subprocess
import time

from mpremote.transport import TransportError
from mpremote.transport_serial import SerialTransport

from pocket_agent.boards import catalog
from pocket_agent.tools.twin import launcher


# Code sent ahead of a driver test on the board: the deployed main.py builds the part
# named in /board.json as the app would, and out(...) prints one RESULT line of JSON.
DRIVER_PRELUDE = """
import json, time
import main
board = main.load_board()
buses = {}
def part(name):
    return main.build_part(main.part(board, name), buses, board)
def out(**kw):
    print("RESULT " + json.dumps(kw))
"""


class InfrastructureError(Exception):
    """The bench, not the code under test, failed: a board that no reset brings back."""


class BoardUnderTest:
    def __init__(self, definition, port, twin=None, uhubctl=None, timeout=5.0):
        self.definition = definition
        self.name = definition.name
        self._port = port
        self.twin = twin
        self.uhubctl = uhubctl  # (location, port) of the hub port powering a real board
        self.timeout = timeout
        self.resets = []  # which rung of the ladder each reset needed

    @property
    def is_twin(self):
        return self.twin is not None

    @property
    def port(self):
        return self.twin.port if self.twin else self._port

    # ---- talking to the REPL, always with a deadline ----

    def transport(self):
        """An mpremote transport whose reads time out instead of hanging."""
        return SerialTransport(self.port, timeout=self.timeout)

    def exec(self, code, soft_reset=False):
        t = self.transport()
        try:
            t.enter_raw_repl(soft_reset=soft_reset, timeout_overall=self.timeout)
            out = t.exec(code)
            t.exit_raw_repl()
            return out.decode().replace("\r\n", "\n")
        finally:
            t.close()

    def _raw_repl_reachable(self, soft_reset):
        try:
            t = self.transport()
        except (TransportError, OSError):
            return False
        try:
            t.enter_raw_repl(soft_reset=soft_reset, timeout_overall=self.timeout)
            ok = t.exec("print(1)") == b"1\r\n"
            t.exit_raw_repl()
            return ok
        except (TransportError, OSError, TypeError):
            return False
        finally:
            try:
                t.close()
            except OSError:
                pass

    def _wait_port(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(self.port):
                return True
            time.sleep(0.02)
        return False

    # ---- the reset ladder ----

    def reset(self):
        """Bring the board to a known state: each rung only if the one before failed."""
        rungs = [("soft reset", self._soft_reset), ("machine.reset()", self._machine_reset),
                 ("reset line", self._reset_line), ("power cycle", self._power_cycle)]
        tried = []
        for name, rung in rungs:
            if rung():
                self.resets.append(name)
                return name
            tried.append(name)
        raise InfrastructureError(f"{self.name} on {self.port} did not come back after: {', '.join(tried)}")

    def _soft_reset(self):
        return self._raw_repl_reachable(soft_reset=True)

    def _machine_reset(self):
        before = self.twin.status()["boots"] if self.twin else None
        try:
            t = self.transport()
            t.serial.write(b"\r\x03\x03\x01")
            time.sleep(0.05)
            t.serial.write(b"\x04import machine\nmachine.reset()\n\x04")
            t.close()
        except (OSError, TransportError):
            pass
        if self.twin:
            try:
                self.twin.wait_port(timeout=self.timeout, boots=before)
            except Exception:
                return False
        else:
            time.sleep(1.0)  # USB re-enumeration
            if not self._wait_port(self.timeout):
                return False
        return self._raw_repl_reachable(soft_reset=True)

    def _reset_line(self):
        if self.twin:
            # The twin's reset line: what DTR/RTS do on a board with an auto-reset circuit.
            before = self.twin.status()["boots"]
            self.twin.control("reset")
            self.twin.wait_port(timeout=self.timeout, boots=before)
            return self._raw_repl_reachable(soft_reset=True)
        import serial

        try:
            with serial.Serial(self.port) as s:
                s.dtr = False  # IO0 high: run the app, not the ROM bootloader
                s.rts = True  # EN low: hold in reset
                time.sleep(0.1)
                s.rts = False
        except (OSError, serial.SerialException):
            return False
        time.sleep(1.0)
        return self._wait_port(self.timeout) and self._raw_repl_reachable(soft_reset=True)

    def _power_cycle(self):
        if self.twin:
            before = self.twin.status()["boots"]
            self.twin.control("power_cut")
            self.twin.wait_port(timeout=self.timeout, boots=before)
            return self._raw_repl_reachable(soft_reset=True)
        if not self.uhubctl:
            return False
        location, hub_port = self.uhubctl
        proc = subprocess.run(["uhubctl", "-l", location, "-p", hub_port, "-a", "cycle", "-d", "2"],
                              capture_output=True, timeout=30)
        if proc.returncode != 0:
            return False
        return self._wait_port(10) and self._raw_repl_reachable(soft_reset=True)

    def power_cut(self, off_s=1.0):
        """Cut the board's power with no warning and restore it; returns once the
        port is back (the board then boots as at power-up: main.py runs)."""
        if self.twin:
            before = self.twin.status()["boots"]
            self.twin.control("power_cut")
            self.twin.wait_port(timeout=self.timeout * 2, boots=before)
            return
        if not self.uhubctl:
            raise InfrastructureError(f"cutting {self.name}'s power needs --uhubctl LOCATION:PORT")
        location, hub_port = self.uhubctl
        for action in ("off", "on"):
            proc = subprocess.run(["uhubctl", "-l", location, "-p", hub_port, "-a", action],
                                  capture_output=True, timeout=30)
            if proc.returncode != 0:
                raise InfrastructureError(f"uhubctl -a {action} failed: {proc.stderr.decode(errors='replace')}")
            if action == "off":
                time.sleep(off_s)  # long enough for the board's capacitors to drain
        if not self._wait_port(10):
            raise InfrastructureError(f"{self.name} did not come back on {self.port} after a power cycle")

    def close(self):
        if self.twin:
            self.twin.stop()


def find_port(board, serial_number=None):
    """A real board's port, by USB serial number or by the board's VID:PID."""
    from serial.tools import list_ports

    for p in list_ports.comports():
        if serial_number and p.serial_number == serial_number:
            return p.device
        if not serial_number and p.vid == board.vid and p.pid == board.pid:
            return p.device
    return None


def open_board(name, *, port=None, serial_number=None, state_dir=None, uhubctl=None, timeout=5.0):
    definition = catalog.load(name)
    if port or serial_number:
        if not port:
            port = find_port(definition, serial_number)
            if not port:
                raise InfrastructureError(f"no board with serial number {serial_number} is connected")
        return BoardUnderTest(definition, port, uhubctl=uhubctl, timeout=timeout)
    twin = launcher.start(name, state_dir=state_dir, wipe=True, timeout=30)
    return BoardUnderTest(definition, None, twin=twin, timeout=timeout)


def twin_boards():
    """Every defined board has a twin; CI runs the suite on all of them."""
    return catalog.names()


# ---- the app and its link, from the host's side ----


class LinkHost:
    """The host's end of the link on the board's port, with the project's own
    codec and session (firmware/link.py, firmware/linkio.py, as the bridge uses
    them). Every byte the board sends is kept in `rx` and every message in
    `got`; `deaf` stops feeding the session (bytes are still kept), so a test
    can withhold acknowledgements. Every wait has a deadline."""

    def __init__(self, ser):
        import random

        from pocket_agent.firmware import link, linkio

        self.link, self.linkio = link, linkio
        self.ser = ser
        self.t0 = time.monotonic()
        self.ep = linkio.Endpoint(self._write, link.ROLE_HOST, random.getrandbits(32), "hil", "pocket hil",
                                  slots=32, slot_payload=link.MAX_PAYLOAD)
        self.rx = bytearray()
        self.got = []  # (ms, type, values)
        self.trace = []  # (ms, direction, text): the link trace artifact
        self.links_up = 0
        self.deaf = False

    @classmethod
    def start_app(cls, board, timeout=None):
        """Run the app as at power-up (a soft reset from the friendly REPL runs
        main.py) and return the host's end of its link, not yet up."""
        import serial

        timeout = timeout or board.timeout
        ser = serial.Serial(board.port, timeout=0)
        try:
            ser.write(b"\r\x03\x03\x02")  # stop what runs, leave the raw REPL
            seen = bytearray()
            deadline = time.monotonic() + timeout
            while not seen.endswith(b">>> "):
                if time.monotonic() > deadline:
                    raise InfrastructureError(f"no friendly REPL prompt on {board.port}: {bytes(seen[-200:])!r}")
                seen += ser.read(4096) or b""
                time.sleep(0.005)
            ser.write(b"\x04")  # soft reboot: boot.py, then main.py
        except BaseException:
            ser.close()
            raise
        return cls(ser)

    def now(self):
        return int((time.monotonic() - self.t0) * 1000)

    def _write(self, buf, n):
        data = bytes(buf[:n])
        self.ser.write(data)

    def write_raw(self, data, note="raw bytes"):
        """Bytes straight to the port, past the session (bad frames, garbage)."""
        self.trace.append((self.now(), ">", f"{note}: {bytes(data).hex()}"))
        self.ser.write(data)

    def step(self):
        """Read what arrived and run the session once; True if bytes came."""
        link = self.link
        data = self.ser.read(65536)
        if data:
            self.rx += data
            if not self.deaf:
                self.ep.feed(data)
        now = self.now()
        while True:
            ev = self.ep.poll(now)
            if not ev:
                break
            if ev == self.linkio.LINK_UP:
                self.links_up += 1
                self.trace.append((now, "=", f"link up {self.ep.peer}"))
            elif ev == self.linkio.LINK_DOWN:
                self.trace.append((now, "=", "link down"))
            elif ev > 0:
                d = self.ep.dec
                try:
                    values = link.unpack(ev, d.body, link.HEADER, link.HEADER + d.length)
                except ValueError:
                    values = None
                self.got.append((now, ev, values))
                name = link.name_of(ev)
                self.trace.append((now, "<", f"{name} seq={d.seq} {values if ev != link.AUDIO_CHUNK else ''}"))
        return bool(data)

    def run_until(self, cond, timeout, what="the condition"):
        end = time.monotonic() + timeout
        while True:
            if not self.step():
                time.sleep(0.002)
            if cond():
                return
            if time.monotonic() > end:
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; {self.summary()}")

    def wait_up(self, timeout=20.0):
        """Wait for the session and the board's first heartbeat (its counters)."""
        self.run_until(lambda: self.ep.up and self.ep.peer_uptime, timeout, "the link to come up")
        return self.ep.peer

    def run_for(self, seconds):
        """Keep the session running (heartbeats, acknowledgements) for a while."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if not self.step():
                time.sleep(0.002)

    def send(self, name, *values):
        """Send a message; a reliable one's id (its seq)."""
        t = self.link.type_of(name)
        seq = self.ep.tx_rseq
        assert self.ep.send(t, values, self.now()), f"the host's outbox is full sending {name}"
        self.trace.append((self.now(), ">", f"{name} {values}"))
        self.step()
        return seq

    def named(self, name):
        t = self.link.type_of(name)
        return [v for (_ms, e, v) in self.got if e == t]

    def request(self, name, *values, reply, timeout=5.0):
        """Send a request and wait for its answer (or an `error` naming it)."""
        link = self.link
        start, session = len(self.got), self.links_up
        seq = self.send(name, *values)
        want = (link.type_of(reply), link.ERROR)
        found = []

        def answered():
            if self.links_up != session:  # ids start again from 0 in a new session
                raise AssertionError(f"the session restarted while waiting for {reply} to {name}; {self.summary()}")
            found[:] = [(e, v) for (_ms, e, v) in self.got[start:] if e in want and v and v[0] == seq]
            return bool(found)

        self.run_until(answered, timeout, f"{reply} to {name} (id {seq})")
        e, v = found[0]
        if e == link.ERROR:
            raise AssertionError(f"{name} was answered with error {v}")
        return v

    def heartbeat(self, timeout=3.0):
        """The board's next heartbeat: (uptime, mem_free, bad_frames, lost_chunks)."""
        ep = self.ep  # heartbeats are taken by the session, not delivered
        before = ep.peer_uptime
        self.run_until(lambda: ep.peer_uptime != before, timeout, "the board's next heartbeat")
        return ep.peer_uptime, ep.peer_mem_free, ep.peer_bad_frames, ep.peer_lost_chunks

    def summary(self):
        names = [self.link.name_of(e) for (_ms, e, _v) in self.got[-12:]]
        return f"link up={self.ep.up}, stats {self.ep.stats()}, last messages {names}"

    def close(self, trace_path=None):
        if trace_path:
            with open(trace_path, "w") as f:
                for ms, d, text in self.trace:
                    f.write(f"{ms:8d} {d} {text}\n")
        self.ser.close()

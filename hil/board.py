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

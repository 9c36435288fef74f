"""A session with a MicroPython board over its serial port, on top of mpremote's transport.

mpremote's SerialTransport opens the port (with its per-driver quirks), enters
the raw REPL and sends code by raw-paste. Reading the answers is done here, in
bulk and with deadlines, instead of mpremote's byte-at-a-time loop with its
10 ms polling sleep: that loop is what makes `mpremote fs cp` cost ~10 ms per
256 bytes. A board that stops answering raises a PocketError, never hangs.
"""

import time

import serial
from mpremote.transport import TransportError
from mpremote.transport_serial import SerialTransport

from pocket_agent.errors import PocketError

from . import ports

READ_TIMEOUT_S = 10.0


class BoardError(PocketError):
    """Code run on the board raised; `text` is its traceback."""

    def __init__(self, message, text):
        super().__init__(message)
        self.text = text


class Link:
    def __init__(self, port, transport):
        self.port = port
        self.transport = transport
        self.serial = transport.serial
        self.serial.timeout = 1.0  # reads return at the first byte; never wait forever
        self.pending = b""
        self.sent = 0  # bytes written to the board (for benchmarks and tests)

    @classmethod
    def open(cls, port):
        ports.check_can_open(port)
        try:
            transport = SerialTransport(port, baudrate=115200)
        except TransportError as exc:
            raise ports.explain_open_failure(port, exc.__context__ or exc) from None
        except serial.SerialException as exc:
            raise ports.explain_open_failure(port, exc) from None
        return cls(port, transport)

    def close(self):
        try:
            self.transport.close()
        except (OSError, serial.SerialException):
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- bytes ----

    def lost(self, exc):
        return PocketError(f"lost the board on {self.port} ({exc})",
                           hint="it was reset or unplugged; run the same command again: "
                           "a deploy cut short is repaired by the next one")

    def write(self, data):
        try:
            self.serial.write(data)
        except (OSError, serial.SerialException) as exc:
            raise self.lost(exc) from None
        self.sent += len(data)

    def has_input(self):
        try:
            return bool(self.pending) or self.serial.in_waiting > 0
        except (OSError, serial.SerialException) as exc:
            raise self.lost(exc) from None

    def read_some(self, deadline):
        """At least one byte, or a PocketError once `deadline` (monotonic) passes."""
        if self.pending:
            data, self.pending = self.pending, b""
            return data
        while True:
            try:
                data = self.serial.read(max(1, self.serial.in_waiting))
            except (OSError, serial.SerialException) as exc:
                raise self.lost(exc) from None
            if data:
                return data
            if time.monotonic() > deadline:
                raise PocketError(f"the board on {self.port} stopped answering",
                                  hint="reset it (press RST or unplug it) and try again")

    def read_until(self, marker, timeout=READ_TIMEOUT_S):
        deadline = time.monotonic() + timeout
        buf = b""
        while marker not in buf:
            buf += self.read_some(deadline)
        end = buf.index(marker) + len(marker)
        self.pending = buf[end:]
        return buf[:end]

    def unread(self, data):
        self.pending = data + self.pending

    # ---- raw REPL ----

    def enter_raw(self, soft_reset=True, timeout=5.0):
        """Stop whatever runs and get the raw REPL (after a soft reset: a fresh heap).

        The same bytes as mpremote's enter_raw_repl, read in bulk against a
        deadline instead of polling every 10 ms."""
        banner = b"raw REPL; CTRL-B to exit\r\n"
        try:
            self.write(b"\r\x03")
            time.sleep(0.005)
            self.serial.reset_input_buffer()
            self.pending = b""
            self.write(b"\r\x01")
            self.read_until(banner + b">", timeout)
            if soft_reset:
                self.write(b"\x04")
                self.read_until(b"soft reboot\r\n", timeout)
                self.read_until(banner + b">", timeout)
        except PocketError as exc:
            raise PocketError(
                f"the board on {self.port} does not answer as MicroPython does ({exc.message})",
                hint="is MicroPython on it? If the board is in its bootloader, reset it; if it has "
                "no MicroPython yet, run `pocket flash`. A main.py that ignores Ctrl-C needs a reset "
                "while holding the board's BOOT button (ESP32) or a re-flash.") from None
        self.transport.in_raw_repl = True

    def start(self, code):
        """Send `code` by raw-paste (at the raw prompt, which finish() consumed); it runs as this returns."""
        if isinstance(code, str):
            code = code.encode()
        if self.pending:
            raise PocketError(f"unexpected output from the board on {self.port}: {self.pending[:80]!r}")
        try:
            self.serial.write(b"\x05A\x01")
            answer = self.serial.read(2)
            if answer != b"R\x01":
                raise PocketError(
                    f"the board on {self.port} does not offer raw-paste mode (answer {answer!r})",
                    hint="deploy needs MicroPython 1.14 or later: flash a current release with `pocket flash`")
            self.transport.raw_paste_write(code)
        except (TransportError, OSError, serial.SerialException, ValueError) as exc:
            raise PocketError(f"could not send code to the board on {self.port}: {exc}") from None
        self.sent += len(code) + 4

    def finish(self, timeout=READ_TIMEOUT_S):
        """(stdout, traceback text) of the code started last; ends at the raw prompt."""
        out = self.read_until(b"\x04", timeout)[:-1]
        err = self.read_until(b"\x04", timeout)[:-1]
        self.read_until(b">", timeout)
        return out, err.decode(errors="replace")

    def exec(self, code, timeout=READ_TIMEOUT_S):
        self.start(code)
        out, err = self.finish(timeout)
        if err:
            raise BoardError(f"code on the board raised: {err.strip().splitlines()[-1]}", err)
        return out

    def leave(self, soft_reset):
        """Back to the friendly REPL; with soft_reset, boot.py and main.py run again."""
        self.write(b"\r\x02\x04" if soft_reset else b"\r\x02")
        try:
            self.serial.flush()
        except (OSError, serial.SerialException) as exc:
            raise self.lost(exc) from None

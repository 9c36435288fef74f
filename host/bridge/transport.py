"""A serial port (or pyserial URL) for asyncio: a reader thread with a
bounded buffer, and writes on one worker thread so they stay in order.

pyserial has no asyncio interface of its own, and its URL handlers (loop://,
socket://, rfc2217://) have no file descriptor to wait on, so a thread reads.
A board that floods the port cannot grow the bridge's memory: past
`rx_limit` bytes waiting, incoming bytes are dropped and counted.
"""

import asyncio
import collections
import select
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import serial


class PortError(Exception):
    """The port could not be opened, or failed while open."""


class SerialTransport:
    def __init__(self, port, rx_limit):
        self.port = port
        self.rx_limit = rx_limit
        self.loop = asyncio.get_running_loop()
        self.chunks = collections.deque()
        self.waiting = 0
        self.dropped = 0
        self.rx_bytes = 0
        self.tx_bytes = 0
        self.tx_pending = 0
        self.error = None
        self.lock = threading.Lock()
        self.ready = asyncio.Event()
        self.stop = threading.Event()
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="bridge-tx")
        self.reader = threading.Thread(target=self._read_loop, name="bridge-rx", daemon=True)
        self.reader.start()

    @classmethod
    async def open(cls, url, baudrate=115200, rx_limit=65536):
        def _open():
            return serial.serial_for_url(url, baudrate=baudrate, timeout=0, write_timeout=5)
        try:
            port = await asyncio.get_running_loop().run_in_executor(None, _open)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PortError(str(exc)) from None
        return cls(port, rx_limit)

    def _wake(self):
        self.ready.set()

    def _read_loop(self):
        # Reads never block (timeout 0); the thread waits on the port's file
        # descriptor where it has one (a tty, a socket), and polls otherwise.
        port = self.port
        try:
            fd = port.fileno()
        except (AttributeError, NotImplementedError, serial.SerialException, OSError):
            fd = None
        while not self.stop.is_set():
            try:
                if fd is not None:
                    select.select([fd], [], [], 0.05)
                data = port.read(4096)
            except (serial.SerialException, OSError, TypeError, AttributeError, ValueError) as exc:
                if not self.stop.is_set():
                    self.error = str(exc) or type(exc).__name__
                    self.loop.call_soon_threadsafe(self._wake)
                return
            if not data:
                if fd is None:
                    time.sleep(0.002)
                continue
            with self.lock:
                if self.waiting + len(data) > self.rx_limit:
                    self.dropped += len(data)
                    continue
                self.chunks.append(data)
                self.waiting += len(data)
            self.loop.call_soon_threadsafe(self._wake)

    def kick(self):
        """Wake a read() that is waiting (there is something to send)."""
        self.ready.set()

    async def read(self, timeout):
        """What has arrived (b"" after `timeout` s or a kick). Raises PortError
        once the port failed."""
        if not self.chunks and self.error is None:
            try:
                await asyncio.wait_for(self.ready.wait(), timeout)
            except asyncio.TimeoutError:
                pass
        self.ready.clear()
        with self.lock:
            data = b"".join(self.chunks)
            self.chunks.clear()
            self.waiting = 0
        if not data and self.error is not None:
            raise PortError(self.error)
        self.rx_bytes += len(data)
        return data

    async def write(self, data):
        self.tx_pending += len(data)
        try:
            await self.loop.run_in_executor(self.writer, self._write, data)
        finally:
            self.tx_pending -= len(data)
        self.tx_bytes += len(data)

    def _write(self, data):
        try:
            self.port.write(data)
        except (serial.SerialException, OSError) as exc:
            self.error = str(exc) or type(exc).__name__
            raise PortError(self.error) from None

    def close(self):
        self.stop.set()
        try:
            self.port.close()
        except (serial.SerialException, OSError):
            pass
        self.reader.join(timeout=1)
        self.writer.shutdown(wait=False, cancel_futures=True)

# machine.I2S of the ESP32 and RP2 ports. Each instance is a stream socket
# to the world, which clocks samples at the configured rate: RX samples arrive
# as a DMA would fill the ring buffer, TX samples drain as the amplifier plays
# them. The socket's buffer stands for `ibuf`. For TX the world also sends back
# how many bytes have played (u32 LE, running total), so a non-blocking write
# keeps no more in flight than the port's DMA buffers hold and calls back when
# its last bytes are in them, as the ports do.
import io
import json
import select
import uctypes
import rom_world as _w
import rom_pin

_EPERM = 1
_EIO = 5
_EINVAL = 22
_BLOCKING = 0
_NON_BLOCKING = 1
_ASYNCIO = 2
_port = None


def _nbytes(buf):
    """Bytes in buf: the ports take any buffer by its bytes, while len() and slices
    of an array('h') count items. No allocation for bytes and bytearray, one view
    for the rest (nothing else tells a view's item size)."""
    t = type(buf)
    if t is bytearray or t is bytes:
        return len(buf)
    mv = buf if t is memoryview else memoryview(buf)
    return uctypes.addressof(mv[len(mv):]) - uctypes.addressof(mv)


def _byte_view(buf, n):
    """buf as n bytes, a view (not a copy) where its items are wider."""
    return buf if n == len(buf) else uctypes.bytearray_at(uctypes.addressof(buf), n)


def setup(port):
    global _port
    _port = port
    if port == "esp32":
        I2S.RX, I2S.TX = 1, 2
    else:
        I2S.RX, I2S.TX = 0, 1


class I2S(io.IOBase):
    MONO = 0
    STEREO = 1

    def __init__(self, id, *, sck, ws, sd, mck=None, mode, bits, format, rate, ibuf):
        if id not in (0, 1):
            raise ValueError("invalid id")
        self._id = id
        self._sock = None
        self._buf = None
        self.init(sck=sck, ws=ws, sd=sd, mck=mck, mode=mode, bits=bits, format=format, rate=rate, ibuf=ibuf)

    def init(self, *, sck, ws, sd, mck=None, mode, bits, format, rate, ibuf):
        self.deinit()
        if mode not in (I2S.RX, I2S.TX):
            raise ValueError("invalid mode")
        if bits not in (16, 32) and not (bits == 24 and _port == "esp32"):
            raise ValueError("invalid bits")
        if format not in (I2S.MONO, I2S.STEREO):
            raise ValueError("invalid format")
        if rate <= 0:
            raise ValueError("invalid rate")
        if ibuf <= 0:
            raise ValueError("invalid ibuf")
        sck, ws, sd = rom_pin.pin_number(sck), rom_pin.pin_number(ws), rom_pin.pin_number(sd)
        if _port == "rp2" and ws != sck + 1:
            raise ValueError("invalid ws (must be sck+1)")
        self._rx = mode == I2S.RX
        self._mode = mode
        self._frame = (bits // 8) * (2 if format == I2S.STEREO else 1)
        self._bits, self._format, self._rate, self._ibuf = bits, format, rate, ibuf
        cfg = {"id": self._id, "rx": self._rx, "sck": sck, "ws": ws, "sd": sd, "bits": bits,
               "stereo": format == I2S.STEREO, "rate": rate, "ibuf": ibuf}
        self._sock = _w.connect(b"i2s " + json.dumps(cfg).encode() + b"\n")
        if not self._rx:
            # SOL_SOCKET, SO_SNDBUF: blocking and IRQ writes keep no more than the DMA
            # holds in flight themselves, so the socket must never be what stops them
            # (Linux lets a writer on only once 3/4 of the buffer is free again).
            self._sock.setsockopt(1, 7, 8 * max(ibuf, 4096))
        self._io = _BLOCKING
        self._cb = None
        self._buf = None
        self._done = 0
        self._events = select.POLLIN  # RX: samples; TX: the world's count of bytes played
        self._sent = 0  # TX bytes written to the world, in every mode
        self._played = 0
        self._acks = bytearray(64)
        self._poll = None  # made by the first blocking write
        self._len = 0  # bytes of the transfer in progress
        self._keep = None  # the caller's buffer while a transfer uses a view of it
        if _port == "esp32":  # IDF DMA buffers of 256 frames, as many as fit in ibuf
            self._dma = max(1, ibuf // (256 * self._frame)) * 256 * self._frame
        else:  # the ring buffer, then the DMA buffer it feeds
            self._dma = ibuf + 256

    def deinit(self):
        self._stop_transfer()
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __del__(self):
        self.deinit()

    def _check(self, rx, size):
        if self._sock is None:
            raise OSError(_EPERM)
        if rx != self._rx:
            raise OSError(_EPERM)
        if rx and size % self._frame:
            raise OSError(_EINVAL)

    def readinto(self, buf):
        n = _nbytes(buf)
        view = _byte_view(buf, n)
        self._check(True, n)
        if n == 0:
            return 0
        if self._io == _NON_BLOCKING:
            self._start_transfer(memoryview(view), buf, n)  # sliced as samples come
            return n
        buf = view
        if self._io == _ASYNCIO:
            got = self._sock.readinto(buf)
            if got is None:
                return 0
            tail = got % self._frame
            if tail:  # complete the last frame; the rest of it is on its way
                self._sock.setblocking(True)
                self._sock.readinto(memoryview(buf)[got:got + self._frame - tail])
                self._sock.setblocking(False)
                got += self._frame - tail
            return got
        return self._sock.readinto(buf)

    def write(self, buf):
        n = _nbytes(buf)
        self._check(False, n)
        if n == 0:
            return 0
        if self._io == _NON_BLOCKING:
            self._start_transfer(buf, buf, n)  # written by offset: no view per transfer
            return n
        buf = _byte_view(buf, n)
        if self._io == _ASYNCIO:
            n = self._sock.write(buf)
            if n:
                self._sent += n
            return n
        return self._write_blocking(buf, n)

    def _write_blocking(self, buf, n):
        # As the ports do, return once the last bytes are in the DMA memory: write no
        # more than it has room for, and wait for the world's count of bytes played.
        # (Writing all at once would return when the data fits the socket buffer.)
        if self._poll is None:
            self._poll = select.poll()
            self._poll.register(self._sock, select.POLLIN)
        done = 0
        self._sock.setblocking(False)
        try:
            while done < n:
                if self._take_acks():
                    raise OSError(_EIO)  # the world closed the stream
                room = self._room(n - done)
                if room <= 0:
                    self._wait(select.POLLIN)  # the world's next count of bytes played
                    continue
                k = self._sock.write(buf, done, room)  # by offset: a slice would allocate
                if not k:
                    self._wait(select.POLLOUT)
                    continue
                done += k
                self._sent += k
        finally:
            if self._sock is not None:
                self._sock.setblocking(self._io == _BLOCKING)
        return n

    def irq(self, handler):
        if handler is not None and not callable(handler):
            raise ValueError("invalid callback")
        self._stop_transfer()
        self._cb = handler
        self._io = _NON_BLOCKING if handler is not None else _BLOCKING
        if self._sock is not None:
            self._sock.setblocking(handler is None)

    def ioctl(self, req, arg):
        # A call here means asyncio polls this object (as on the ports).
        if self._io != _ASYNCIO and not self._rx:
            # asyncio waits for the socket to take more: it stands for about ibuf of payload
            self._sock.setsockopt(1, 7, max(self._ibuf, 4096))
        self._io = _ASYNCIO
        self._sock.setblocking(False)
        if req == 10:  # MP_STREAM_GET_FILENO: asyncio's poll waits on the socket itself
            return self._sock.fileno()
        if req == 3:  # MP_STREAM_POLL
            p = select.poll()
            p.register(self._sock, arg)
            r = p.poll(0)
            return r[0][1] & arg if r else 0
        return -1

    # ---- non-blocking transfers, serviced by the IRQ thread ----

    def _start_transfer(self, buf, caller, n):
        # A byte view does not keep the caller's buffer alive; hold it only until
        # the transfer is over, as a port holds no buffer after its callback.
        self._keep = caller
        self._buf = buf
        self._len = n
        self._done = 0
        _w.i2s_active[self._id + (0 if self._rx else 2)] = self
        _w.wake()

    def _stop_transfer(self):
        if self._buf is not None:
            _w.i2s_active[self._id + (0 if self._rx else 2)] = None
            self._buf = None
            self._keep = None

    def _take_acks(self):
        """Read the world's counts of bytes played (non-blocking). True at end of stream."""
        acks = self._acks
        while True:
            try:
                n = self._sock.readinto(acks)
            except OSError:
                return False
            if n is None:
                return False
            if n == 0:
                return True
            if n % 4:  # the world sends whole records; finish a split one
                self._sock.setblocking(True)
                self._sock.readinto(memoryview(acks)[n:n + 4 - n % 4])
                self._sock.setblocking(False)
                n += 4 - n % 4
            i = n - 4
            self._played = acks[i] | acks[i + 1] << 8 | acks[i + 2] << 16 | acks[i + 3] << 24
            if n < len(acks):
                return False

    def _wait(self, event):
        self._poll.modify(self._sock, event)
        for _ in self._poll.ipoll(-1):
            pass

    def _room(self, left):
        """Bytes of the `left` to write that the DMA memory has room for now: whole
        DMA buffers of 256 frames, or all that is left (0: wait). Fewer, bigger
        writes also keep the socket's per-write overhead from filling it first."""
        room = self._dma - ((self._sent - self._played) & 0xFFFFFFFF)
        room -= room % self._frame
        if room >= left:
            return left
        return room - room % (256 * self._frame)

    def _service(self):
        # From the IRQ thread: when the world's socket has samples (RX) or news of
        # what has played (TX); TX also on its every other wake-up, for the first bytes.
        buf = self._buf
        if buf is None:
            return
        n = None
        try:
            if self._rx:
                n = self._sock.readinto(buf[self._done:])
                if n == 0:  # the world hung up: no more samples will come
                    self._stop_transfer()
                    return
            else:
                if self._take_acks():  # the world hung up: nothing more will play
                    self._stop_transfer()
                    return
                room = self._room(self._len - self._done)
                if room > 0:
                    # by offset and size, in bytes whatever buf's items: a slice would allocate
                    n = self._sock.write(buf, self._done, room)
                    if n:
                        self._sent += n
        except OSError:
            n = None
        if n:
            self._done += n
        if self._done >= self._len and (not self._rx or self._done % self._frame == 0):
            self._stop_transfer()
            _w.schedule(self._cb, self)

    @staticmethod
    def shift(*, buf, bits, shift):
        if bits == 16:
            size = 2
        elif bits == 32:
            size = 4
        else:
            raise ValueError("invalid bits")
        mask = (1 << bits) - 1
        top = 1 << (bits - 1)
        for i in range(0, len(buf) - size + 1, size):
            v = int.from_bytes(buf[i:i + size], "little")
            if v & top:
                v -= 1 << bits
            v = v << shift if shift >= 0 else v >> -shift
            buf[i:i + size] = (v & mask).to_bytes(size, "little")

    def __repr__(self):
        return "I2S(id=%d, mode=%d, bits=%d, format=%d, rate=%d, ibuf=%d)" % (
            self._id, self._mode, self._bits, self._format, self._rate, self._ibuf)

# Maxim MAX98357A I2S class-D amplifier. It plays what the I2S bus sends; the
# caller opens the bus in TX mode, 16 bits, mono. Volume is applied here, in
# place, because the part's gain pin is strapped on the board.
import micropython
from micropython import const

_MAX_VOLUME = const(100)


@micropython.viper
def scale(buf: ptr16, n: int, num: int):
    """buf[:n] (int16) times num/256, in place."""
    i = 0
    while i < n:
        v = int(buf[i])
        v = ((v ^ 0x8000) - 0x8000) * num >> 8
        buf[i] = v
        i += 1


@micropython.viper
def square(buf: ptr16, n: int, phase: int, period: int, amp: int) -> int:
    """A square wave of `period` samples into buf[:n] from `phase`; the next phase."""
    half = period >> 1
    i = 0
    while i < n:
        buf[i] = amp if phase < half else 0 - amp
        phase += 1
        if phase >= period:
            phase = 0
        i += 1
    return phase


class MAX98357A:
    def __init__(self, i2s, rate=16000, block=320, reopen=None):
        self.i2s = i2s
        # reopen() (from the composition root, which knows the pins) opens the bus
        # again after sleep(); without it the bus stays open for good
        self.reopen = reopen
        self.awake = True
        self.rate = rate
        self.block = block
        self.buf = bytearray(2 * block)  # one block of tone, made in place
        self.volume = 60
        self.phase = 0
        self.busy = False  # a non-blocking write has not yet taken all of its buffer
        self.nb = False
        self._taken = self._on_taken  # bound once: the port's IRQ must not allocate

    def nonblocking(self):
        """From now on writes return at once (I2S.irq): the port copies the buffer
        into its ring buffer from its DMA interrupt, and `busy` is False again when
        all of it is taken. The buffer must stay untouched until then."""
        self.nb = True
        self.i2s.irq(self._taken)

    def _on_taken(self, i2s):
        self.busy = False

    def sleep(self):
        """Close the bus while nothing plays: a port's buffers for it go back to
        the heap (rp2's ring buffer). Only once the last write was taken and has
        played out; the next write opens it again."""
        if self.reopen is not None and self.awake and not self.busy:
            self.i2s.deinit()
            self.awake = False

    def wake(self):
        """Open the bus again if sleep() closed it. MemoryError if the heap has no
        room for the port's buffers now (rp2: ibuf bytes in one piece)."""
        if not self.awake:
            self.reopen()
            self.awake = True
            if self.nb:
                self.i2s.irq(self._taken)  # a new init forgets the callback

    def write(self, buf):
        """Hand buf to the bus (at once in non-blocking mode: check `busy` first)."""
        self.wake()
        self.busy = self.nb
        self.i2s.write(buf)

    def set_volume(self, pct):
        self.volume = 0 if pct < 0 else (_MAX_VOLUME if pct > _MAX_VOLUME else pct)

    def apply_volume(self, pcm, n):
        """pcm[:n] (int16) scaled in place by the volume."""
        scale(pcm, n, self.volume * 256 // _MAX_VOLUME)  # type: ignore[arg-type]  # viper takes any buffer

    def play(self, pcm, n):
        """Play n int16 samples of pcm (scaled in place by the volume)."""
        self.apply_volume(pcm, n)
        self.write(memoryview(pcm)[0:2 * n])

    def tone_block(self, freq, volume):
        """Fill and play one block of a square wave; ~block/rate seconds."""
        period = self.rate // freq if 20 <= freq <= self.rate // 2 else 0
        if not period:
            raise ValueError("max98357a: tone of %d Hz is out of range" % freq)
        amp = 8000 * volume * self.volume // (_MAX_VOLUME * 100)
        self.phase = square(self.buf, self.block, self.phase, period, amp)  # type: ignore[arg-type]
        self.write(self.buf)

    def silence(self):
        for i in range(len(self.buf)):
            self.buf[i] = 0
        self.write(self.buf)

    def close(self):
        self.i2s.deinit()

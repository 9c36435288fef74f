# InvenSense INMP441 I2S MEMS microphone. Its data sheet (DS-INMP441 rev 1.1,
# "Data output") gives 24-bit two's complement samples, MSB first, in a 32-bit
# slot (L/R low: left channel). The caller opens the I2S bus in RX mode,
# 32 bits, mono; this driver turns each slot into a 16-bit sample.
from array import array
import micropython


@micropython.viper
def slots_to_pcm(src: ptr32, n: int, dst: ptr16, shift: int) -> int:
    """n 32-bit slots to int16 with the 24-bit sample shifted right by
    (shift - 8) and clipped; returns the sum of absolute sample values.
    Written so that it gives the same result with 32- and 64-bit viper ints."""
    total = 0
    down = shift - 8
    i = 0
    while i < n:
        s = int(src[i])
        hi = ((s >> 16) & 0xFFFF) ^ 0x8000
        v = ((hi - 0x8000) << 8) | ((s >> 8) & 0xFF)  # the 24-bit sample, signed
        if down > 0:
            v = v >> down
        elif down < 0:
            v = v << (0 - down)
        if v > 32767:
            v = 32767
        elif v < -32768:
            v = -32768
        dst[i] = v
        if v < 0:
            v = 0 - v
        total += v
        i += 1
    return total


class INMP441:
    """Reads fixed frames: read() fills self.pcm (int16, `frame` samples)
    and returns their mean absolute level. Nothing is allocated per frame."""

    def __init__(self, i2s, frame=320, shift=16):
        if not 8 <= shift <= 24:
            raise ValueError("inmp441: shift %d is not between 8 and 24" % shift)
        self.i2s = i2s
        self.frame = frame
        self.shift = shift
        self.raw = bytearray(4 * frame)
        self._mv = memoryview(self.raw)
        self.pcm = array("h", bytes(2 * frame))  # int16 for the wake word's plain-Python path
        self.level = 0

    def read(self):
        n = self.i2s.readinto(self.raw)
        while n < len(self.raw):  # the ports fill the buffer; be safe if one returns early
            got = self.i2s.readinto(self._mv[n:])
            if not got:
                raise OSError("inmp441: the I2S bus stopped after %d of %d bytes" % (n, len(self.raw)))
            n += got
        total = slots_to_pcm(self.raw, self.frame, self.pcm, self.shift)  # type: ignore[arg-type]
        self.level = total // self.frame
        return self.level

    def close(self):
        self.i2s.deinit()

# Native code: this module's .mpy carries the board's architecture.
import micropython


@micropython.viper
def checksum(buf) -> int:
    p = ptr8(buf)
    n = int(len(buf))
    s = 0
    for i in range(n):
        s = (s * 31 + p[i]) & 0xFFFF
    return s

# The twin's flash: one region of a file that stands for the chip's whole flash.
# Implements MicroPython's extended block protocol, with NOR semantics:
# erase sets a block to 0xFF and programming can only clear bits, so a
# filesystem that forgets to erase breaks here as it would on hardware.
import micropython
from micropython import const

_IOCTL_INIT = const(1)
_IOCTL_DEINIT = const(2)
_IOCTL_SYNC = const(3)
_IOCTL_BLOCK_COUNT = const(4)
_IOCTL_BLOCK_SIZE = const(5)
_IOCTL_BLOCK_ERASE = const(6)


@micropython.viper
def _and_into(dst, src, src_off: int, n: int):
    d = ptr8(dst)
    s = ptr8(src)
    i = 0
    while i < n:
        d[i] = d[i] & s[src_off + i]
        i += 1


class FlashArea:
    # Nothing here may allocate: LittleFS writes from file finalisers, which
    # run while the garbage collector holds the heap locked.
    def __init__(self, f, offset, size, block_size):
        self.f = f
        self.base = offset
        self.block_size = block_size
        self.blocks = size // block_size
        self.erased = b"\xff" * block_size
        self.scratch = bytearray(block_size)

    def readblocks(self, block, buf, offset=0):
        self.f.seek(self.base + block * self.block_size + offset)
        self.f.readinto(buf)

    def writeblocks(self, block, buf, offset=None):
        if offset is None:
            # Simple protocol: erase the blocks, then program them.
            n = (len(buf) + self.block_size - 1) // self.block_size
            for i in range(n):
                self.ioctl(_IOCTL_BLOCK_ERASE, block + i)
            offset = 0
        pos = self.base + block * self.block_size + offset
        total = len(buf)
        done = 0
        while done < total:
            n = min(total - done, self.block_size)
            self.f.seek(pos + done)
            self.f.readinto(self.scratch, n)
            _and_into(self.scratch, buf, done, n)
            self.f.seek(pos + done)
            self.f.write(self.scratch, 0, n)
            done += n

    def ioctl(self, op, arg):
        if op == _IOCTL_BLOCK_COUNT:
            return self.blocks
        if op == _IOCTL_BLOCK_SIZE:
            return self.block_size
        if op == _IOCTL_BLOCK_ERASE:
            self.f.seek(self.base + arg * self.block_size)
            self.f.write(self.erased)
            return 0
        if op == _IOCTL_INIT or op == _IOCTL_DEINIT or op == _IOCTL_SYNC:
            return 0
        return None

# The twin's flash: one region of a file that stands for the chip's whole flash.
# Implements MicroPython's extended block protocol, with NOR semantics:
# erase sets a block to 0xFF and programming can only clear bits, so a
# filesystem that forgets to erase breaks here as it would on hardware.
import micropython

_IOCTL_INIT = 1
_IOCTL_DEINIT = 2
_IOCTL_SYNC = 3
_IOCTL_BLOCK_COUNT = 4
_IOCTL_BLOCK_SIZE = 5
_IOCTL_BLOCK_ERASE = 6


@micropython.viper
def _and_into(dst, src, n: int):
    d = ptr8(dst)
    s = ptr8(src)
    i = 0
    while i < n:
        d[i] = d[i] & s[i]
        i += 1


class FlashArea:
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
        mv = memoryview(buf)
        done = 0
        while done < len(buf):
            n = min(len(buf) - done, self.block_size)
            old = memoryview(self.scratch)[:n]
            self.f.seek(pos + done)
            self.f.readinto(old)
            _and_into(old, mv[done:done + n], n)
            self.f.seek(pos + done)
            self.f.write(old)
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
        if op in (_IOCTL_INIT, _IOCTL_DEINIT, _IOCTL_SYNC):
            return 0
        return None

"""An I2C device with a register pointer, as most sensors have."""


class RegisterDevice:
    """After a START the first byte written sets the register pointer; reads
    auto-increment it. Writes auto-increment too, unless `pairs` is set (the
    BME280 takes register/value pairs in one write).

    Subclasses implement read_reg(reg, now) and write_reg(reg, value, now).
    """

    pairs = False
    ptr = 0
    _expect_reg = True

    def start(self):
        self._expect_reg = True

    def write(self, data, now):
        for b in data:
            if self._expect_reg:
                self.ptr = b
                self._expect_reg = False
                continue
            self.write_reg(self.ptr, b, now)
            if self.pairs:
                self._expect_reg = True
            else:
                self.ptr = (self.ptr + 1) & 0xFF
        return len(data)

    def read(self, n, now):
        out = bytearray(n)
        for i in range(n):
            out[i] = self.read_reg(self.ptr, now) & 0xFF
            self.ptr = (self.ptr + 1) & 0xFF
        return bytes(out)

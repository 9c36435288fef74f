# Bosch BME280 temperature, humidity and pressure sensor on I2C.
# Datasheet: BST-BME280-DS002 rev 1.6: memory map (5.3), calibration NVM
# (4.2.2), integer compensation formulas (4.2.3), forced mode (3.3.3).
from micropython import const
import time

_CHIP_ID = const(0x60)
_REG_ID = const(0xD0)
_REG_RESET = const(0xE0)  # write 0xB6 to reset
_REG_CALIB_TP = const(0x88)  # 0x88..0x9F: dig_T1..dig_P9, 24 bytes
_REG_CALIB_H1 = const(0xA1)
_REG_CALIB_H = const(0xE1)  # 0xE1..0xE7: dig_H2..dig_H6, 7 bytes
_REG_CTRL_HUM = const(0xF2)
_REG_STATUS = const(0xF3)  # bit 3 measuring, bit 0 im_update
_REG_CTRL_MEAS = const(0xF4)
_REG_CONFIG = const(0xF5)
_REG_DATA = const(0xF7)  # press[3], temp[3], hum[2]
_OSRS_X1 = const(1)
_MODE_FORCED = const(1)


def _s16(b, i):
    v = b[i] | (b[i + 1] << 8)
    return v - 65536 if v & 0x8000 else v


def _u16(b, i):
    return b[i] | (b[i + 1] << 8)


class BME280:
    """Reads temperature (0.01 °C), relative humidity (0.01 %) and pressure
    (Pa) as integers, one forced-mode measurement per read()."""

    def __init__(self, i2c, addr=0x76):
        self.i2c = i2c
        self.addr = addr
        self._b1 = bytearray(1)
        self._data = bytearray(8)
        chip = self._read(_REG_ID, self._b1)[0]
        if chip != _CHIP_ID:
            raise OSError("bme280 at 0x%02x: chip id 0x%02x, expected 0x60" % (addr, chip))
        self._write(_REG_RESET, 0xB6)
        for _ in range(20):  # the NVM copy takes about 2 ms after a reset
            time.sleep_ms(1)
            if not self._read(_REG_STATUS, self._b1)[0] & 1:
                break
        else:
            raise OSError("bme280 at 0x%02x: calibration copy did not finish" % addr)
        c = self._read(_REG_CALIB_TP, bytearray(24))
        self.t1, self.t2, self.t3 = _u16(c, 0), _s16(c, 2), _s16(c, 4)
        self.p1 = _u16(c, 6)
        self.p = [_s16(c, 8 + 2 * k) for k in range(8)]  # dig_P2..dig_P9
        self.h1 = self._read(_REG_CALIB_H1, self._b1)[0]
        h = self._read(_REG_CALIB_H, bytearray(7))
        self.h2 = _s16(h, 0)
        self.h3 = h[2]
        h4 = (h[3] << 4) | (h[4] & 0x0F)
        h5 = (h[5] << 4) | (h[4] >> 4)
        self.h4 = h4 - 4096 if h4 & 0x800 else h4
        self.h5 = h5 - 4096 if h5 & 0x800 else h5
        self.h6 = h[6] - 256 if h[6] & 0x80 else h[6]
        self._write(_REG_CONFIG, 0)  # no IIR filter; standby is unused in forced mode
        self.t_fine = 0

    def _read(self, reg, buf):
        try:
            self.i2c.readfrom_mem_into(self.addr, reg, buf)
        except OSError as e:
            raise OSError("bme280 at 0x%02x: read of 0x%02x failed (%s)" % (self.addr, reg, e))
        return buf

    def _write(self, reg, value):
        self._b1[0] = value
        try:
            self.i2c.writeto_mem(self.addr, reg, self._b1)
        except OSError as e:
            raise OSError("bme280 at 0x%02x: write of 0x%02x failed (%s)" % (self.addr, reg, e))

    def read(self):
        """(temperature 0.01 °C, humidity 0.01 %RH, pressure Pa)."""
        self._write(_REG_CTRL_HUM, _OSRS_X1)  # takes effect with the ctrl_meas write
        self._write(_REG_CTRL_MEAS, (_OSRS_X1 << 5) | (_OSRS_X1 << 2) | _MODE_FORCED)
        for _ in range(50):  # about 10 ms at 1x oversampling (datasheet 9.1)
            time.sleep_ms(1)
            if not self._read(_REG_STATUS, self._b1)[0] & 0x08:
                break
        else:
            raise OSError("bme280 at 0x%02x: measurement did not finish" % self.addr)
        d = self._read(_REG_DATA, self._data)
        adc_p = (d[0] << 12) | (d[1] << 4) | (d[2] >> 4)
        adc_t = (d[3] << 12) | (d[4] << 4) | (d[5] >> 4)
        adc_h = (d[6] << 8) | d[7]
        t = self._temperature(adc_t)
        return t, self._humidity(adc_h), self._pressure(adc_p)

    def _temperature(self, adc):
        v1 = (((adc >> 3) - (self.t1 << 1)) * self.t2) >> 11
        x = (adc >> 4) - self.t1
        v2 = (((x * x) >> 12) * self.t3) >> 14
        self.t_fine = v1 + v2
        return (self.t_fine * 5 + 128) >> 8

    def _pressure(self, adc):
        p2, p3, p4, p5, p6, p7, p8, p9 = self.p
        v1 = self.t_fine - 128000
        v2 = v1 * v1 * p6 + ((v1 * p5) << 17) + (p4 << 35)
        v1 = ((v1 * v1 * p3) >> 8) + ((v1 * p2) << 12)
        v1 = (((1 << 47) + v1) * self.p1) >> 33
        if v1 == 0:
            return 0
        p = 1048576 - adc
        p = (((p << 31) - v2) * 3125) // v1
        v1 = (p9 * (p >> 13) * (p >> 13)) >> 25
        v2 = (p8 * p) >> 19
        p = ((p + v1 + v2) >> 8) + (p7 << 4)
        return p >> 8  # Q24.8 to whole pascals

    def _humidity(self, adc):
        x = self.t_fine - 76800
        a = (((adc << 14) - (self.h4 << 20) - (self.h5 * x)) + 16384) >> 15
        b = ((((x * self.h6) >> 10) * (((x * self.h3) >> 11) + 32768)) >> 10) + 2097152
        x = a * ((b * self.h2 + 8192) >> 14)
        x -= (((x >> 15) * (x >> 15)) >> 7) * self.h1 >> 4
        x = 0 if x < 0 else (419430400 if x > 419430400 else x)
        return ((x >> 12) * 100) >> 10  # Q22.10 %RH to 0.01 %RH

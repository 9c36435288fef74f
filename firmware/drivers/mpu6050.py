# InvenSense MPU-6050 6-axis IMU (accelerometer and gyroscope) on I2C.
# Register map: RM-MPU-6000A-00 rev 4.2; sections 4.4 (SMPLRT_DIV), 4.3
# (CONFIG), 4.4-4.5 (GYRO/ACCEL_CONFIG), 4.17-4.19 (data), 4.28 (PWR_MGMT_1),
# 4.32 (WHO_AM_I); motion detection (MOT_THR, MOT_DUR) from rev 3.2, 4.8-4.9.
from micropython import const
import time

_WHO_AM_I = const(0x75)  # reads 0x68 whatever AD0 is
_ID = const(0x68)
_PWR_MGMT_1 = const(0x6B)  # bit 7 DEVICE_RESET, bit 6 SLEEP, 2:0 CLKSEL
_SMPLRT_DIV = const(0x19)
_CONFIG = const(0x1A)  # 2:0 DLPF_CFG
_GYRO_CONFIG = const(0x1B)  # 4:3 FS_SEL: 0 is ±250 °/s
_ACCEL_CONFIG = const(0x1C)  # 4:3 AFS_SEL: 0 is ±2 g
_MOT_THR = const(0x1F)  # motion threshold, 2 mg per count
_MOT_DUR = const(0x20)  # motion duration, ms
_INT_PIN_CFG = const(0x37)  # bit 5 LATCH_INT_EN: INT_STATUS holds until read
_INT_ENABLE = const(0x38)  # bit 6 MOT_EN
_INT_STATUS = const(0x3A)  # bit 6 MOT_INT; reading clears it
_ACCEL_XOUT_H = const(0x3B)  # 14 bytes: accel xyz, temperature, gyro xyz (big-endian)
_CLK_PLL_X = const(1)
_DLPF_44HZ = const(3)
_ACCEL_LSB_PER_G = const(16384)  # AFS_SEL 0
_GYRO_LSB_PER_DPS = const(131)  # FS_SEL 0


def _s16be(b, i):
    v = (b[i] << 8) | b[i + 1]
    return v - 65536 if v & 0x8000 else v


class MPU6050:
    def __init__(self, i2c, addr=0x68):
        self.i2c = i2c
        self.addr = addr
        self._b1 = bytearray(1)
        self._raw = bytearray(14)
        who = self._read(_WHO_AM_I, self._b1)[0]
        if who != _ID:
            raise OSError("mpu6050 at 0x%02x: WHO_AM_I 0x%02x, expected 0x68" % (addr, who))
        self._write(_PWR_MGMT_1, 0x80)
        time.sleep_ms(100)  # the reset takes up to 100 ms
        self._write(_PWR_MGMT_1, _CLK_PLL_X)  # awake, gyro X PLL as clock
        self._write(_CONFIG, _DLPF_44HZ)
        self._write(_SMPLRT_DIV, 9)  # 1 kHz / (1 + 9) = 100 Hz
        self._write(_GYRO_CONFIG, 0)
        self._write(_ACCEL_CONFIG, 0)
        # acceleration x, y, z (mg), rotation x, y, z (0.01 °/s)
        self.values = [0, 0, 0, 0, 0, 0]

    def _read(self, reg, buf):
        try:
            self.i2c.readfrom_mem_into(self.addr, reg, buf)
        except OSError as e:
            raise OSError("mpu6050 at 0x%02x: read of 0x%02x failed (%s)" % (self.addr, reg, e))
        return buf

    def _write(self, reg, value):
        self._b1[0] = value
        try:
            self.i2c.writeto_mem(self.addr, reg, self._b1)
        except OSError as e:
            raise OSError("mpu6050 at 0x%02x: write of 0x%02x failed (%s)" % (self.addr, reg, e))

    def read(self):
        """Fills and returns self.values: acceleration in mg, rotation in 0.01 °/s."""
        r = self._read(_ACCEL_XOUT_H, self._raw)
        v = self.values
        for k in range(3):
            v[k] = _s16be(r, 2 * k) * 1000 // _ACCEL_LSB_PER_G
            v[3 + k] = _s16be(r, 8 + 2 * k) * 100 // _GYRO_LSB_PER_DPS
        return v

    def watch_motion(self, mg=250, ms=1):
        """Latch a motion interrupt (a tap, a lift) above `mg`; moved() reads it."""
        self._write(_MOT_THR, min(255, mg // 2))
        self._write(_MOT_DUR, ms)
        self._write(_INT_PIN_CFG, 0x20)
        self._write(_INT_ENABLE, 0x40)

    def moved(self):
        """True if motion was detected since the last call (reading clears the latch)."""
        return bool(self._read(_INT_STATUS, self._b1)[0] & 0x40)

    def sleep(self, on):
        """Low power when the app does not need motion (SLEEP bit)."""
        self._write(_PWR_MGMT_1, (0x40 if on else 0) | _CLK_PLL_X)

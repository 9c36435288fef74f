"""InvenSense MPU-6050 6-axis IMU (register map rev 4.2).

WHO_AM_I, power management (it wakes up asleep), sample rate divider and
DLPF (the output data rate), full-scale ranges, the accelerometer, gyroscope
and temperature data registers, and the interrupts a driver uses: data ready
and motion detection, on the INT pin with its level/latch settings.
The world sets the motion: gravity from an orientation, plus shakes and taps.
"""

import math
import random

from .regdev import RegisterDevice

WHO_AM_I = 0x68
_ACCEL_LSB = (16384, 8192, 4096, 2048)  # per g, by AFS_SEL
_GYRO_LSB = (131.0, 65.5, 32.8, 16.4)  # per deg/s, by FS_SEL
ORIENTATIONS = {  # gravity seen by the sensor, in g, for named board positions
    "flat": (0.0, 0.0, 1.0), "face_down": (0.0, 0.0, -1.0),
    "left": (-1.0, 0.0, 0.0), "right": (1.0, 0.0, 0.0),
    "up": (0.0, 1.0, 0.0), "down": (0.0, -1.0, 0.0),
}


class Motion:
    """What the world does to the board: gravity direction plus transient motion."""

    def __init__(self, seed=0):
        self.gravity = ORIENTATIONS["flat"]
        self.rotation = (0.0, 0.0, 0.0)  # deg/s
        self.events = []  # (start, end, kind, amplitude g)
        self.noise_g = 0.002
        self.rng = random.Random(seed)

    def orient(self, name=None, pitch=None, roll=None):
        if name is not None:
            if name not in ORIENTATIONS:
                raise ValueError(f"unknown orientation {name!r}; one of {', '.join(ORIENTATIONS)}")
            self.gravity = ORIENTATIONS[name]
        else:
            p, r = math.radians(pitch or 0.0), math.radians(roll or 0.0)
            self.gravity = (-math.sin(p), math.sin(r) * math.cos(p), math.cos(r) * math.cos(p))

    def shake(self, now, seconds=1.0, g=1.5, hz=6.0):
        self.events.append((now, now + seconds, "shake", g, hz))

    def tap(self, now, g=3.0):
        self.events.append((now, now + 0.012, "tap", g, 0.0))

    def accel(self, t):
        ax, ay, az = self.gravity
        gx = gy = gz = 0.0
        for start, end, kind, g, hz in self.events:
            if start <= t < end:
                if kind == "shake":
                    s = math.sin(2 * math.pi * hz * (t - start))
                    ax += g * s
                    ay += 0.5 * g * math.cos(2 * math.pi * hz * (t - start))
                    gz += 200.0 * s
                else:  # a tap: a sharp half-sine on the axis normal to the board
                    az += g * math.sin(math.pi * (t - start) / (end - start))
        self.events = [e for e in self.events if e[1] > t - 1.0]
        n = self.noise_g
        if n:
            ax += self.rng.gauss(0, n)
            ay += self.rng.gauss(0, n)
            az += self.rng.gauss(0, n)
        rx, ry, rz = self.rotation
        return (ax, ay, az), (rx + gx, ry + gy, rz + gz)

    def jolt(self, t0, t1):
        """Largest change of acceleration (g) over [t0, t1], what motion detection sees."""
        base = self.gravity
        peak = 0.0
        for start, end, kind, g, hz in self.events:
            if start < t1 and end > t0:
                peak = max(peak, g)
        return peak if base else 0.0


def _s16(v):
    v = int(round(v))
    v = max(-32768, min(32767, v))
    return v & 0xFFFF


class MPU6050(RegisterDevice):
    kind = "mpu6050"

    def __init__(self, addr, motion, int_pin=None, set_int=None, env=None):
        self.addr = addr
        self.motion = motion
        self.int_pin = int_pin
        self.set_int = set_int  # callable(level) that drives the INT pin in the world
        self.env = env
        self.power_on(0.0)

    def power_on(self, now=0.0):
        self.regs = bytearray(0x80)
        self.regs[0x6B] = 0x40  # PWR_MGMT_1: SLEEP after reset
        self.regs[0x75] = WHO_AM_I
        self.sample = None  # (index, accel, gyro, temp) of the latest sample
        self.int_status = 0
        self.motion_seen = 0.0
        self.epoch = now
        self._drive_int(False)

    # ---- sampling ----

    def odr(self):
        dlpf = self.regs[0x1A] & 7
        gyro_rate = 8000.0 if dlpf in (0, 7) else 1000.0
        return gyro_rate / (1 + self.regs[0x19])

    def asleep(self):
        return bool(self.regs[0x6B] & 0x40)

    def _sample(self, now):
        if self.asleep():
            return
        index = int((now - self.epoch) * self.odr())
        if self.sample and self.sample[0] == index:
            return
        t = self.epoch + index / self.odr()
        accel, gyro = self.motion.accel(t)
        temp = (self.env or {}).get("temperature", 25.0)
        self.sample = (index, accel, gyro, temp)
        before = self.int_status
        self.int_status |= 0x01  # DATA_RDY_INT
        if self.regs[0x1F] and self.motion.jolt(t - 0.002, t) * 1000 > self.regs[0x1F] * 2:
            self.int_status |= 0x40  # MOT_INT (MOT_THR counts 2 mg)
        self._refresh_int(new=self.int_status & ~before)

    def tick(self, now):
        """Called by the world while INT is enabled, so interrupts fire without reads."""
        self._sample(now)

    def _refresh_int(self, new=0):
        pending = self.int_status & self.regs[0x38] & 0x41
        if self.regs[0x37] & 0x20:  # LATCH_INT_EN: held until INT_STATUS is read
            self._drive_int(bool(pending))
        elif new & self.regs[0x38] & 0x41:  # otherwise a 50 us pulse per interrupt
            self._drive_int(True)
            self._drive_int(False)

    def _drive_int(self, active):
        if self.set_int is None:
            return
        active_low = bool(self.regs[0x37] & 0x80)
        self.set_int(int(active) ^ active_low)

    # ---- registers ----

    def read_reg(self, reg, now):
        self._sample(now)
        if 0x3B <= reg <= 0x48:
            if self.sample is None:
                return 0
            _, accel, gyro, temp = self.sample
            a_lsb = _ACCEL_LSB[(self.regs[0x1C] >> 3) & 3]
            g_lsb = _GYRO_LSB[(self.regs[0x1B] >> 3) & 3]
            words = [_s16(a * a_lsb) for a in accel] + [_s16((temp - 36.53) * 340)] + \
                [_s16(g * g_lsb) for g in gyro]
            w = words[(reg - 0x3B) // 2]
            return w >> 8 if (reg - 0x3B) % 2 == 0 else w & 0xFF
        if reg == 0x3A:  # INT_STATUS: reading clears it
            v = self.int_status
            self.int_status = 0
            self._refresh_int()
            return v
        return self.regs[reg & 0x7F]

    def write_reg(self, reg, value, now):
        reg &= 0x7F
        if reg in (0x75, 0x3A) or 0x3B <= reg <= 0x60:
            return  # read-only
        if reg == 0x6B and value & 0x80:  # DEVICE_RESET
            self.power_on(now)
            return
        was_asleep = self.asleep()
        self.regs[reg] = value
        if reg == 0x6B and was_asleep and not self.asleep():
            self.epoch = now
            self.sample = None
        if reg in (0x37, 0x38):
            self._refresh_int()

    def state(self):
        return {"awake": not self.asleep(), "odr_hz": self.odr(), "gravity": list(self.motion.gravity),
                "int_enable": self.regs[0x38]}

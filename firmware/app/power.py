# Screen power: full brightness while in use, dimmed after a while idle,
# then blank. A button, a state change, the host showing something, or a tap
# or lift of the device (seen by the IMU) wakes it.
from micropython import const
import time

AWAKE = const(0)
DIM = const(1)
BLANK = const(2)
_MOTION_MG = const(250)  # summed change of acceleration that counts as a tap or lift
_MOTION_EVERY_MS = const(200)


class Power:
    def __init__(self, display, imu=None, now=0, dim_ms=20000, blank_ms=60000, brightness=100):
        self.display = display
        self.imu = imu
        self.dim_ms = dim_ms
        self.blank_ms = blank_ms
        self.brightness = brightness
        self.mode = AWAKE
        self.last = now
        self.last_motion = now
        self.prev = [0, 0, 0]
        if imu is not None:
            imu.watch_motion()
        self.ref = False  # prev holds a reading taken since the screen dimmed
        self.wakes = 0

    def set_brightness(self, pct, now):
        self.brightness = 5 if pct < 5 else (100 if pct > 100 else pct)
        self._apply(AWAKE)
        self.last = now

    def _apply(self, mode):
        d = self.display
        if d is not None:
            try:
                if mode == BLANK:
                    d.power(False)
                else:
                    if self.mode == BLANK:
                        d.power(True)
                    full = self.brightness * 255 // 100
                    d.contrast(full if mode == AWAKE else full // 8)
            except OSError:  # the app logs the display's failure when it draws
                self.display = None
        self.mode = mode

    def wake(self, now):
        """Something happened: full brightness; True if the screen was off or dim."""
        self.last = now
        if self.mode != AWAKE:
            self._apply(AWAKE)
            self.wakes += 1
            return True
        return False

    def moved(self, now):
        """Poll the IMU (only while dim or blank); True on a tap or lift."""
        if self.imu is None or time.ticks_diff(now, self.last_motion) < _MOTION_EVERY_MS:
            return False
        self.last_motion = now
        tapped = self.imu.moved()  # the IMU's latched motion interrupt: a tap shorter than a poll
        a = self.imu.read()
        p = self.prev
        change = abs(a[0] - p[0]) + abs(a[1] - p[1]) + abs(a[2] - p[2])
        p[0], p[1], p[2] = a[0], a[1], a[2]
        if not self.ref:
            self.ref = True
            return False
        return tapped or change > _MOTION_MG

    def step(self, now, busy):
        """busy: the app is listening, thinking, answering or asking. True
        when the screen just woke (and needs a redraw)."""
        if busy:
            return self.wake(now)
        if self.mode != AWAKE and self.moved(now):
            return self.wake(now)
        idle = time.ticks_diff(now, self.last)
        if self.mode == AWAKE and idle >= self.dim_ms:
            self.ref = False
            self._apply(DIM)
        elif self.mode == DIM and idle >= self.blank_ms:
            self._apply(BLANK)
        return False

# A push button on a GPIO pin, with contact bounce handled in software.
# The first edge counts at once (no added latency); further edges within the
# lockout are bounce and ignored. A held button becomes a long press. A press
# that starts and ends between two polls (a stalled loop) is still reported:
# the interrupt saw its edge, so it counts as a press, released after the lockout.
from micropython import const
from machine import Pin
import time

PRESS = const(1)
RELEASE = const(2)
LONG = const(3)
_LOCKOUT_MS = const(30)  # longer than the contact bounce of common tact switches


class Button:
    def __init__(self, pin, active=0, pull="up", long_ms=1000):
        pull_mode = {"up": Pin.PULL_UP, "down": Pin.PULL_DOWN, "none": None}
        if pull not in pull_mode:
            raise ValueError("button: pull must be up, down or none, not %r" % (pull,))
        mode = pull_mode[pull]
        self.pin = Pin(pin, Pin.IN) if mode is None else Pin(pin, Pin.IN, mode)
        self.active = active
        self.long_ms = long_ms
        self.down = self.pin.value() == active
        self.changed = time.ticks_ms()
        self.long_sent = False
        self.edge = False  # set by the interrupt: poll soon
        self.edge_ms = self.changed  # when the interrupt last fired
        self.pin.irq(self._irq, Pin.IRQ_FALLING | Pin.IRQ_RISING)

    def _irq(self, _pin):
        self.edge = True  # an interrupt handler only sets flags (ticks_ms allocates nothing)
        self.edge_ms = time.ticks_ms()

    def held_ms(self, now):
        return time.ticks_diff(now, self.changed) if self.down else 0

    def poll(self, now):
        """The next event (PRESS, RELEASE, LONG) or 0."""
        edge = self.edge
        self.edge = False
        down = self.pin.value() == self.active
        if (edge and not down and not self.down and time.ticks_diff(now, self.changed) >= _LOCKOUT_MS
                and time.ticks_diff(self.edge_ms, self.changed) >= _LOCKOUT_MS):
            # up now and at the last poll, but an edge came after the lockout: a press that
            # ended between polls, or the first bounce of one; a real release follows the lockout
            self.down = True
            self.changed = now
            self.long_sent = False
            return PRESS
        if down != self.down and time.ticks_diff(now, self.changed) >= _LOCKOUT_MS:
            self.down = down
            self.changed = now
            self.long_sent = False
            return PRESS if down else RELEASE
        if self.down and not self.long_sent and time.ticks_diff(now, self.changed) >= self.long_ms:
            self.long_sent = True
            return LONG
        return 0

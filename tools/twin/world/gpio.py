"""Pins and what hangs on them: buttons (with contact bounce), a status LED
(GPIO or WS2812), a battery behind a divider on an ADC pin, and the pins'
own state (mode, pull, output level, IRQ triggers).
"""

import random

from . import protocol as P

VDD = 3.3
# LiPo open-circuit voltage by state of charge (0..1): a typical 1-cell curve.
LIPO_CURVE = ((0.0, 3.30), (0.05, 3.55), (0.1, 3.68), (0.2, 3.74), (0.3, 3.77), (0.4, 3.80),
              (0.5, 3.84), (0.6, 3.88), (0.7, 3.94), (0.8, 4.00), (0.9, 4.08), (1.0, 4.20))


class Pins:
    """Every pin's configuration and level; emits IRQ events on edges."""

    def __init__(self, emit, seed=0):
        self.emit = emit  # callable(kind, a, b, c)
        self.rng = random.Random(seed)
        self.drivers = {}  # pin -> callable(now) -> 0/1, or None when it lets the pin float
        self.reset()

    def reset(self):
        """An MCU reset: every pin back to an input without pulls or IRQs."""
        self.mode = {}
        self.pull = {}
        self.out = {}
        self.irq = {}
        self.last = {}
        self.pwm = {}  # pin -> (freq, duty_u16)

    def level(self, pin, now):
        mode = self.mode.get(pin, P.PM_IN)
        if mode == P.PM_OUT:
            return self.out.get(pin, 0)
        ext = self.drivers[pin](now) if pin in self.drivers else None
        if mode == P.PM_OPEN_DRAIN and self.out.get(pin, 1) == 0:
            return 0
        if ext is not None:
            return ext
        pull = self.pull.get(pin, P.PULL_NONE)
        if pull == P.PULL_UP or mode == P.PM_OPEN_DRAIN:
            return 1 if pull != P.PULL_DOWN else 0
        if pull == P.PULL_DOWN:
            return 0
        return self.rng.getrandbits(1)  # a floating input reads whatever it picks up

    def changed(self, pin, now):
        """Something moved the pin: emit an IRQ event if the level changed and a trigger matches."""
        new = self.level(pin, now)
        old = self.last.get(pin)
        self.last[pin] = new
        if old is None or old == new:
            return
        edge = P.EDGE_RISING if new else P.EDGE_FALLING
        if self.irq.get(pin, 0) & edge:
            self.emit(P.EV_PIN, pin, edge, new)

    def configure(self, pin, mode, pull, now):
        self.mode[pin] = mode
        self.pull[pin] = pull
        self.changed(pin, now)

    def set_irq(self, pin, mask, now):
        self.irq[pin] = mask
        self.last[pin] = self.level(pin, now)


class Button:
    """A push button from a pin to ground (or VDD when active high), with contact bounce."""

    kind = "button"

    def __init__(self, name, pin, active, rng, schedule):
        self.name = name
        self.pin = pin
        self.active = active
        self.rng = rng
        self.schedule = schedule  # callable(at, fn) from the world's clock
        self.timeline = [(0.0, False)]  # (time, contact closed), in order
        self.bounce = True

    def contact(self, now):
        closed = False
        for t, c in self.timeline:
            if t > now:
                break
            closed = c
        return closed

    def drive(self, now):
        return self.active if self.contact(now) else None

    def _settle(self, now, closed, on_edge):
        # Contacts chatter for a few milliseconds before they settle (more on make than on break).
        t = now
        self.timeline = [e for e in self.timeline if e[0] <= now][-1:]
        state = closed
        if self.bounce:
            flips = self.rng.randint(2, 5) if closed else self.rng.randint(0, 2)
            for _ in range(flips):
                self.timeline.append((t, state))
                self.schedule(t, on_edge)
                t += self.rng.uniform(0.0002, 0.0012)
                state = not state
                self.timeline.append((t, state))
                self.schedule(t, on_edge)
                t += self.rng.uniform(0.0002, 0.0012)
                state = not state
        self.timeline.append((t, closed))
        self.schedule(t, on_edge)

    def press(self, now, on_edge):
        self._settle(now, True, on_edge)

    def release(self, now, on_edge):
        self._settle(now, False, on_edge)

    def state(self, now):
        return {"pressed": self.contact(now), "pin": self.pin}


class Led:
    """A status LED on a GPIO (active high), or PWM-dimmed."""

    kind = "led"

    def __init__(self, name, pin):
        self.name = name
        self.pin = pin
        self.changes = []  # (time, level), the last few

    def record(self, now, level):
        if not self.changes or self.changes[-1][1] != level:
            self.changes.append((now, level))
            del self.changes[:-64]

    def state(self, pins, now):
        duty = pins.pwm.get(self.pin)
        level = pins.level(self.pin, now) if pins.mode.get(self.pin) == P.PM_OUT else 0
        return {"on": bool(level) if duty is None else duty[1] > 0,
                "brightness": (level * 1.0) if duty is None else duty[1] / 65535,
                "changes": len(self.changes)}


class WS2812:
    """One WS2812 RGB LED: decodes the bit stream a neopixel write sends (GRB order)."""

    kind = "ws2812"
    T_SPLIT_NS = 625  # a high time above this reads as a 1 bit (datasheet T0H 400, T1H 800 ns)

    def __init__(self, name, pin, count=1):
        self.name = name
        self.pin = pin
        self.count = count
        self.rgb = [(0, 0, 0)] * count
        self.writes = 0

    def stream(self, timing, data):
        t0h, _t0l, t1h, _t1l = timing
        zero_reads = 1 if t0h > self.T_SPLIT_NS else 0
        one_reads = 1 if t1h > self.T_SPLIT_NS else 0
        out = []
        for b in data:
            v = 0
            for bit in range(7, -1, -1):
                v = (v << 1) | (one_reads if (b >> bit) & 1 else zero_reads)
            out.append(v)
        pixels = []
        for i in range(self.count):
            grb = out[3 * i:3 * i + 3]
            if len(grb) < 3:
                break
            pixels.append((grb[1], grb[0], grb[2]))
        self.rgb[:len(pixels)] = pixels
        self.writes += 1

    def state(self, pins, now):
        r, g, b = self.rgb[0]
        return {"on": bool(r or g or b), "rgb": [r, g, b], "writes": self.writes}


class Battery:
    """A 1-cell LiPo through a resistor divider on an ADC pin, discharging over time."""

    kind = "battery"

    def __init__(self, name, pin, divider, rng):
        self.name = name
        self.pin = pin
        self.divider = divider
        self.rng = rng
        self.set(1.0, 0.0, drain_per_hour=0.05)

    def set(self, level, now, drain_per_hour=None):
        if not 0.0 <= level <= 1.0:
            raise ValueError("battery level is between 0 and 1")
        self.level0 = level
        self.t0 = now
        if drain_per_hour is not None:
            if drain_per_hour < 0:
                raise ValueError("drain_per_hour cannot be negative")
            self.drain = drain_per_hour

    def level(self, now):
        return max(0.0, self.level0 - self.drain * (now - self.t0) / 3600.0)

    def volts(self, now):
        soc = self.level(now)
        for (s0, v0), (s1, v1) in zip(LIPO_CURVE, LIPO_CURVE[1:]):
            if soc <= s1:
                return v0 + (v1 - v0) * (soc - s0) / (s1 - s0)
        return LIPO_CURVE[-1][1]

    def pin_volts(self, now):
        return self.volts(now) / self.divider + self.rng.gauss(0, 0.002)

    def state(self, now):
        return {"level": round(self.level(now), 4), "volts": round(self.volts(now), 3),
                "drain_per_hour": self.drain}

"""The world of one board: its parts, wired as the board definition says.

All state sits behind one lock; the socket threads (server.py) and the clock
call in here. Times are seconds on the world's monotonic clock.
"""

import base64
import heapq
import itertools
import random
import struct
import threading
import time

from . import protocol as P
from .audio import Amp, Mic, read_wav
from .bme280 import BME280
from .gpio import Battery, Button, Led, Pins, WS2812
from .mpu6050 import MPU6050, Motion
from .ssd1306 import SSD1306


class Clock:
    """Runs callbacks at given times on one thread (bounce edges, timers, holds)."""

    def __init__(self, lock):
        self.lock = lock
        self.cv = threading.Condition()
        self.heap = []
        self.seq = itertools.count()
        threading.Thread(target=self._run, name="world-clock", daemon=True).start()

    def at(self, when, fn):
        entry = [when, next(self.seq), fn]
        with self.cv:
            heapq.heappush(self.heap, entry)
            self.cv.notify()
        return entry

    @staticmethod
    def cancel(entry):
        entry[2] = None

    def _run(self):
        while True:
            with self.cv:
                while not self.heap or self.heap[0][0] > time.monotonic():
                    self.cv.wait(None if not self.heap else max(0.0, self.heap[0][0] - time.monotonic()))
                when, _, fn = heapq.heappop(self.heap)
            if fn is not None:
                with self.lock:
                    fn(when)


class World:
    def __init__(self, board, seed=0):
        self.board = board
        self.lock = threading.RLock()
        self.clock = Clock(self.lock)
        self.rng = random.Random(seed)
        self.env = {"temperature": 22.0, "humidity": 45.0, "pressure": 101325.0}
        self.motion = Motion(seed)
        self.events = None  # the VM's event socket
        self.events_lock = threading.Lock()
        self.pins = Pins(self.emit, seed)
        self.parts = {}
        self.i2c = {}  # bus name -> {addr: device}
        self.handles = []  # I2C handles the VM opened: {addr: device}
        self.timers = {}
        self.audio_speed = 1.0  # 0: stream audio as fast as the board takes it (benchmarks)
        self.imu_ticking = False
        self.session = None
        self._build(board.raw)

    def now(self):
        return time.monotonic()

    def _build(self, raw):
        buses = raw.get("buses", {})
        for name, bus in buses.items():
            if bus["type"] == "i2c":
                self.i2c[name] = {}
        for i, part in enumerate(raw.get("parts", [])):
            kind, name = part["part"], part["name"]
            if kind == "ssd1306":
                dev = SSD1306(part["addr"], part.get("width", 128), part.get("height", 64), seed=self.rng.random())
            elif kind == "bme280":
                dev = BME280(part["addr"], self.env)
            elif kind == "mpu6050":
                int_pin = P.pin_number(part["int"]) if "int" in part else None
                dev = MPU6050(part["addr"], self.motion, int_pin, env=self.env)
                if int_pin is not None:
                    dev.set_int = self._int_driver(dev, int_pin)
            elif kind == "inmp441":
                dev = Mic(name)
            elif kind == "max98357a":
                dev = Amp(name)
            elif kind == "button":
                dev = Button(name, P.pin_number(part["pin"]), part.get("active", 0), self.rng, self.clock.at)
                self.pins.drivers[dev.pin] = dev.drive
            elif kind == "led":
                dev = Led(name, P.pin_number(part["pin"]))
            elif kind == "ws2812":
                dev = WS2812(name, P.pin_number(part["pin"]), part.get("count", 1))
            elif kind == "battery":
                dev = Battery(name, P.pin_number(part["adc"]), float(part.get("divider", 1.0)), self.rng)
            else:  # the catalog validates parts; this is a bug
                raise ValueError(f"part {i} ({name}): no model for {kind!r}")
            dev.bus = part.get("bus")
            self.parts[name] = dev
            if "addr" in part:
                self.i2c[part["bus"]][part["addr"]] = dev

    def _int_driver(self, dev, pin):
        level = {"v": 0}
        self.pins.drivers[pin] = lambda now: level["v"]

        def drive(v):
            level["v"] = v
            self.pins.changed(pin, self.now())
        return drive

    def part(self, name, kind):
        dev = self.parts.get(name)
        if dev is None or dev.kind not in (kind if isinstance(kind, tuple) else (kind,)):
            have = [n for n, d in self.parts.items() if d.kind in (kind if isinstance(kind, tuple) else (kind,))]
            raise ValueError(f"no {kind if isinstance(kind, str) else '/'.join(kind)} named {name!r} on "
                             f"{self.board.name}; have: {', '.join(have) or 'none'}")
        return dev

    def first(self, kind):
        for dev in self.parts.values():
            if dev.kind == kind:
                return dev
        return None

    # ---- events to the VM ----

    def emit(self, kind, a=0, b=0, c=0):
        with self.events_lock:
            sock = self.events
            if sock is None:
                return
            try:
                sock.sendall(bytes((kind, a & 0xFF, b & 0xFF, c & 0xFF)))
            except OSError:
                self.events = None

    # ---- resets ----

    def begin_session(self, session):
        """A VM connects: if it is a new one (a reset, soft or hard), the old
        one's IRQ handlers, timers and bus handles went with its heap."""
        with self.lock:
            if session != self.session:
                self.session = session
                self.vm_gone()

    def vm_gone(self):
        with self.lock:
            for entry in self.timers.values():
                Clock.cancel(entry)
            self.timers.clear()
            self.pins.irq.clear()
            self.handles.clear()

    def mcu_reset(self):
        """The MCU reset: its pins float again; the parts keep running."""
        with self.lock:
            self.vm_gone()
            self.pins.reset()

    def power_cycle(self):
        """Power lost and back: every part starts from its power-on state."""
        with self.lock:
            self.mcu_reset()
            now = self.now()
            for dev in self.parts.values():
                if hasattr(dev, "power_on"):
                    dev.power_on(now) if not isinstance(dev, SSD1306) else dev.power_on()
            for dev in self.parts.values():
                if isinstance(dev, WS2812):
                    dev.rgb = [(0, 0, 0)] * dev.count

    # ---- bus requests from the VM ----

    def request(self, op, a, b, c, payload):
        """One request: returns the reply bytes (status first), or None for ops without a reply."""
        now = self.now()
        if op == P.I2C_WRITE:
            dev = self.handles[a].get(b) if a < len(self.handles) else None
            if dev is None:
                return b"\x01"
            dev.start()
            dev.write(payload, now)
            if isinstance(dev, MPU6050):
                self._imu_ticks()
            return b"\x00"
        if op == P.I2C_READ:
            return self._i2c_read(a, b, payload[0] | payload[1] << 8, b"", now)
        if op == P.I2C_WRITE_READ:
            return self._i2c_read(a, b, payload[0] | payload[1] << 8, payload[2:], now)
        if op == P.PIN_GET:
            return bytes((0, self.pins.level(a, now)))
        if op == P.PIN_SET:
            self.pins.out[a] = b & 1
            self._pin_written(a, now)
            return bytes((P.ST_OK,))
        if op == P.PIN_MODE:
            self.pins.configure(a, b, c, now)
            self._pin_written(a, now)
            return bytes((P.ST_OK,))
        if op == P.PIN_IRQ:
            self.pins.set_irq(a, b, now)
            return None
        if op == P.ADC_READ:
            return b"\x00" + struct.pack("<I", max(0, int(self._adc_volts(a, now) * 1e6)))
        if op == P.I2C_OPEN:
            scl, sda = payload[0], payload[1]
            bus = next((self.i2c[name] for name, spec in self.board.raw.get("buses", {}).items()
                        if spec["type"] == "i2c" and P.pin_number(spec["scl"]) == scl
                        and P.pin_number(spec["sda"]) == sda), {})
            self.handles.append(bus)
            return bytes((0, len(self.handles) - 1))
        if op == P.I2C_SCAN:
            found = sorted(x for x in (self.handles[a] if a < len(self.handles) else {}) if 0x08 <= x <= 0x77)
            return bytes((0, len(found))) + bytes(found) + bytes(112 - len(found))
        if op == P.BITSTREAM:
            timing = struct.unpack_from("<4I", payload)
            for dev in self.parts.values():
                if isinstance(dev, WS2812) and dev.pin == a and self.pins.mode.get(a) == P.PM_OUT:
                    dev.stream(timing, payload[16:])
            return bytes((P.ST_OK,))
        if op == P.PWM_SET:
            freq, duty = struct.unpack_from("<IH", payload)
            if freq:
                self.pins.pwm[a] = (freq, duty)
            else:
                self.pins.pwm.pop(a, None)
            return None
        if op == P.TIMER:
            self._timer(a, b, struct.unpack_from("<I", payload)[0] / 1e6 if payload else 0, now)
            return None
        if op == P.WAKE:
            self.emit(P.EV_WAKE)
            return None
        if op == P.SPI_OPEN:
            return b"\x00\x00"
        if op == P.SPI_XFER:
            return b"\x00" + b"\xff" * len(payload)  # nothing on SPI: MISO idles high
        return b"\x03"

    def _i2c_read(self, handle, addr, n, write, now):
        dev = self.handles[handle].get(addr) if handle < len(self.handles) else None
        if dev is None:
            return b"\x01"
        if write:
            dev.start()
            dev.write(write, now)
        dev.start()
        return b"\x00" + dev.read(n, now)

    def _imu_ticks(self, when=None):
        """Run the IMUs every 5 ms while one has interrupts enabled, so its INT
        pin fires (motion, data ready) without the board polling it."""
        if when is None and self.imu_ticking:
            return
        imus = [d for d in self.parts.values() if isinstance(d, MPU6050) and d.regs[0x38] & 0x41 and not d.asleep()]
        self.imu_ticking = bool(imus)
        now = self.now()
        for dev in imus:
            dev.tick(now)
        if imus:
            self.clock.at(now + 0.005, self._imu_ticks)

    def _pin_written(self, pin, now):
        self.pins.changed(pin, now)
        for dev in self.parts.values():
            if isinstance(dev, Led) and dev.pin == pin:
                dev.record(now, self.pins.level(pin, now) if self.pins.mode.get(pin) == P.PM_OUT else 0)

    def _adc_volts(self, pin, now):
        for dev in self.parts.values():
            if isinstance(dev, Battery) and dev.pin == pin:
                return dev.pin_volts(now)
        if pin in self.pins.drivers or self.pins.mode.get(pin) == P.PM_OUT or self.pins.pull.get(pin):
            return self.pins.level(pin, now) * 3.3
        return self.rng.uniform(0.2, 0.6)  # a floating ADC input picks up noise

    def _timer(self, slot, mode, period, now):
        old = self.timers.pop(slot, None)
        if old:
            Clock.cancel(old)
        if mode == 255:
            return

        def fire(when):
            if self.timers.get(slot) is not mine[0]:
                return
            self.emit(P.EV_TIMER, slot)
            if mode == 1:
                nxt = when + period
                if nxt < self.now() - 1.0:  # the world stalled: skip what was missed
                    nxt = self.now() + period
                mine[0] = self.timers[slot] = self.clock.at(nxt, fire)
            else:
                self.timers.pop(slot, None)

        mine = [None]
        mine[0] = self.timers[slot] = self.clock.at(now + max(period, 0.0001), fire)

    # ---- world control (from the supervisor) ----

    def control(self, cmd, args):
        fn = getattr(self, "ctl_" + cmd, None)
        if fn is None:
            raise KeyError(cmd)
        with self.lock:
            return fn(**args)

    def _button(self, button):
        return self.part(button, "button")

    def _edge_cb(self, pin):
        return lambda when: self.pins.changed(pin, when)

    def ctl_press(self, button="button", ms=None, bounce=True):
        dev = self._button(button)
        dev.bounce = bool(bounce)
        dev.press(self.now(), self._edge_cb(dev.pin))
        if ms is not None:
            self.clock.at(self.now() + float(ms) / 1000, lambda when: dev.release(when, self._edge_cb(dev.pin)))
        return dev.state(self.now())

    def ctl_release(self, button="button", bounce=True):
        dev = self._button(button)
        dev.bounce = bool(bounce)
        dev.release(self.now(), self._edge_cb(dev.pin))
        return dev.state(self.now())

    def ctl_hold(self, button="button", ms=1000, bounce=True):
        return self.ctl_press(button, ms=ms, bounce=bounce)

    def ctl_environment(self, temperature=None, humidity=None, pressure=None):
        for key, value, lo, hi in (("temperature", temperature, -40, 85), ("humidity", humidity, 0, 100),
                                   ("pressure", pressure, 30000, 110000)):
            if value is not None:
                value = float(value)
                if not lo <= value <= hi:
                    raise ValueError(f"{key} {value} is outside the BME280's range {lo}..{hi}")
                self.env[key] = value
        return dict(self.env)

    def ctl_orientation(self, position=None, pitch=None, roll=None):
        self.motion.orient(position, None if pitch is None else float(pitch), None if roll is None else float(roll))
        return {"gravity": [round(g, 4) for g in self.motion.gravity]}

    def ctl_shake(self, seconds=1.0, g=1.5):
        self.motion.shake(self.now(), float(seconds), float(g))
        return "shaking"

    def ctl_tap(self, g=3.0):
        self.motion.tap(self.now(), float(g))
        return "tapped"

    def ctl_mic_play(self, path=None, pcm=None, rate=16000, append=False, loop=False, mic="mic"):
        dev = self.part(mic, "inmp441")
        if path is not None:
            samples, rate = read_wav(path)
        elif pcm is not None:
            import numpy as np

            samples = np.frombuffer(base64.b64decode(pcm), "<i2")
        else:
            raise ValueError("give path=WAV or pcm=BASE64 (16-bit little-endian mono)")
        dev.play(samples, int(rate), append=bool(append), loop=bool(loop))
        return dev.state()

    def ctl_mic_stop(self, mic="mic"):
        dev = self.part(mic, "inmp441")
        dev.stop()
        return dev.state()

    def ctl_speaker_record(self, path, amp="amp"):
        return {"recording": self.part(amp, "max98357a").record(path)}

    def ctl_speaker_stop(self, amp="amp"):
        return self.part(amp, "max98357a").stop()

    def ctl_display(self, path=None, scale=1, display="display"):
        dev = self.part(display, "ssd1306")
        rows = dev.lit()
        if path is not None:
            save_png(rows, dev.brightness(), path, int(scale))
        return {"width": dev.width, "height": dev.height, "rows": ["".join(map(str, r)) for r in rows],
                "state": dev.state(), "png": path}

    def ctl_display_frames(self, since=0, display="display"):
        """Each screen the panel showed after frame `since` (a write that completed the
        addressed window, or a command that changed what shows), oldest first; `last` is
        the newest frame's number, to pass as `since` next time."""
        dev = self.part(display, "ssd1306")
        frames = dev.frames_since(int(since))
        return {"last": dev.frame_seq, "now": self.now(),
                "frames": [{"seq": n, "t": t, "rows": ["".join(map(str, r)) for r in rows]} for n, t, rows in frames]}

    def ctl_battery(self, level=None, drain_per_hour=None, battery="battery"):
        dev = self.part(battery, "battery")
        dev.set(dev.level(self.now()) if level is None else float(level), self.now(),
                None if drain_per_hour is None else float(drain_per_hour))
        return dev.state(self.now())

    def ctl_led(self, led=None):
        dev = self.parts.get(led) if led else next((d for d in self.parts.values() if d.kind in ("led", "ws2812")),
                                                    None)
        if dev is None or dev.kind not in ("led", "ws2812"):
            raise ValueError(f"no LED named {led!r}")
        return dict(dev.state(self.pins, self.now()), part=dev.kind)

    def ctl_audio_speed(self, speed=1.0):
        speed = float(speed)
        if speed < 0:
            raise ValueError("speed is a factor of real time (0: as fast as the board reads)")
        self.audio_speed = speed
        return speed

    def ctl_world(self):
        now = self.now()
        out = {}
        for name, dev in self.parts.items():
            if isinstance(dev, (Button, Battery)):
                out[name] = dev.state(now)
            elif isinstance(dev, (Led, WS2812)):
                out[name] = dev.state(self.pins, now)
            else:
                out[name] = dev.state()
            out[name]["part"] = dev.kind
        return out

    def ctl_mcu_reset(self):
        self.mcu_reset()
        return "reset"

    def ctl_power_cycle(self):
        self.power_cycle()
        return "power cycled"


def save_png(rows, level, path, scale=1):
    from PIL import Image

    h, w = len(rows), len(rows[0])
    img = Image.frombytes("L", (w, h), bytes(level if v else 0 for r in rows for v in r))
    if scale > 1:
        img = img.resize((w * scale, h * scale), Image.NEAREST)
    try:
        img.save(path, format="PNG")
    except OSError as exc:
        raise ValueError(f"cannot write {path}: {exc}") from None

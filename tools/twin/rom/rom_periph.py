# machine.ADC, PWM, Timer, WDT and RTC of the ESP32 and RP2 ports.
import time
import rom_world as _w
import rom_pin
import rom_console as _console

_port = None
_word = bytearray(4)


def setup(port):
    global _port
    _port = port


def _u32(v):
    return bytes((v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF, (v >> 24) & 0xFF))


def _read_uv(pin):
    _w.call(_w.ADC_READ, pin, into=_word)
    return _word[0] | _word[1] << 8 | _word[2] << 16 | _word[3] << 24


class ADC:
    """The RP2 ADC: 12 bits over 0..3.3 V on GPIO26-29, and the core temperature sensor."""

    CORE_TEMP = 4

    def __init__(self, pin):
        if isinstance(pin, int) and 0 <= pin <= 4:
            self._n = 26 + pin if pin < 4 else -1
        else:
            n = rom_pin.pin_number(pin)
            if not 26 <= n <= 29:
                raise ValueError("Pin doesn't have ADC capabilities")
            self._n = n

    def read_u16(self):
        if self._n < 0:  # the temperature sensor: 27 degC reads 0.706 V
            raw = int(0.706 / 3.3 * 4095)
        else:
            raw = min(4095, _read_uv(self._n) * 4095 // 3300000)
        return (raw << 4) | (raw >> 8)


class ADC32:
    """The ESP32 ADC: 12 bits whose full scale depends on the attenuation."""

    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    WIDTH_9BIT = 9
    WIDTH_10BIT = 10
    WIDTH_11BIT = 11
    WIDTH_12BIT = 12
    _FULL_SCALE_UV = (950000, 1250000, 1750000, 3100000)

    def __init__(self, pin, *, atten=0):
        n = rom_pin.pin_number(pin)
        if not 1 <= n <= 20:  # ADC1 on GPIO1-10, ADC2 on GPIO11-20 (ESP32-S3)
            raise ValueError("invalid pin")
        self._n = n
        self._atten = atten
        self._width = 12

    def init(self, *, atten=None):
        if atten is not None:
            self.atten(atten)

    def deinit(self):
        pass

    def atten(self, atten):
        if not 0 <= atten <= 3:
            raise ValueError("invalid attenuation")
        self._atten = atten

    def width(self, bits):
        if not 9 <= bits <= 12:
            raise ValueError("invalid width")
        self._width = bits

    def read_uv(self):
        return min(_read_uv(self._n), self._FULL_SCALE_UV[self._atten])

    def _raw12(self):
        return min(4095, self.read_uv() * 4095 // self._FULL_SCALE_UV[self._atten])

    def read_u16(self):
        raw = self._raw12()
        return (raw << 4) | (raw >> 8)

    def read(self):
        return self._raw12() >> (12 - self._width)


class PWM:
    def __init__(self, dest, *, freq=None, duty_u16=None, duty_ns=None, invert=False):
        self._pin = rom_pin.pin_number(dest)
        if self._pin >= 64:  # the Pico W's LED hangs off the wireless chip, which has no PWM
            raise ValueError("invalid pin")
        self._freq = 5000 if _port == "esp32" else 0
        self._duty = 0
        self._on = True
        self.init(freq=freq, duty_u16=duty_u16, duty_ns=duty_ns)

    def init(self, *, freq=None, duty_u16=None, duty_ns=None, invert=False):
        if freq is not None:
            self.freq(freq)
        if duty_u16 is not None:
            self.duty_u16(duty_u16)
        if duty_ns is not None:
            self.duty_ns(duty_ns)
        self._on = True
        self._send()

    def _send(self):
        _w.send(_w.PWM_SET, self._pin, 0, 0, _u32(self._freq if self._on else 0) + bytes((self._duty & 0xFF, self._duty >> 8)))

    def deinit(self):
        self._on = False
        self._send()

    def freq(self, value=None):
        if value is None:
            return self._freq
        if not 0 < value <= 40000000:
            raise ValueError("freq out of range")
        self._freq = value
        self._send()

    def duty_u16(self, value=None):
        if value is None:
            return self._duty
        self._duty = max(0, min(65535, value))
        self._send()

    def duty_ns(self, value=None):
        period_ns = 1000000000 // max(1, self._freq)
        if value is None:
            return self._duty * period_ns // 65535
        self.duty_u16(value * 65535 // period_ns)

    def duty(self, value=None):  # the ESP32's 10-bit duty
        if value is None:
            return self._duty >> 6
        self.duty_u16(value << 6 | value >> 4)


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=-1, *, mode=1, period=-1, callback=None, freq=-1, tick_hz=1000):
        if _port == "esp32" and not 0 <= id <= 3:
            raise ValueError("invalid Timer number")
        self._id = id
        self._slot = None
        self._cb = None
        if period != -1 or freq != -1 or callback is not None:
            self.init(mode=mode, period=period, callback=callback, freq=freq, tick_hz=tick_hz)

    def init(self, *, mode=1, period=-1, callback=None, freq=-1, tick_hz=1000):
        self.deinit()
        if freq > 0:
            us = 1000000 // freq
        elif period >= 0:
            us = period * 1000000 // tick_hz
        else:
            us = 0xFFFFFFFF
        self._cb = callback
        slot = _w.timers.index(None)
        _w.timers[slot] = self
        self._slot = slot
        _w.send(_w.TIMER, slot, 1 if mode == Timer.PERIODIC else 0, 0, _u32(min(us, 0xFFFFFFFF)))

    def _fire(self):
        if self._cb is not None:
            _w.schedule(self._cb, self)

    def deinit(self):
        if self._slot is not None:
            _w.timers[self._slot] = None
            _w.send(_w.TIMER, self._slot, 255)
            self._slot = None


class WDT:
    """The watchdog lives in the supervisor: a starved VM cannot reset itself."""

    def __init__(self, id=0, timeout=5000):
        if id != 0:
            raise ValueError("WDT(%d) doesn't exist" % id)
        if _port == "rp2" and timeout > 8388:
            raise ValueError("timeout exceeds 8388")
        if timeout <= 0:
            raise ValueError("WDT timeout too short")
        _console.control(b"W %d\n" % timeout)

    def feed(self):
        _console.control(b"F\n")


class RTC:
    # The clock runs from the host's; datetime() sets an offset to it.
    _offset = 0

    def __init__(self, id=0):
        pass

    def datetime(self, dt=None):
        if dt is None:
            t = time.localtime(time.time() + RTC._offset)
            return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0)
        year, month, day, _weekday, hour, minute, second = dt[:7]
        want = time.mktime((year, month, day, hour, minute, second, 0, 0))
        RTC._offset = want - time.time()

    def init(self, dt):
        self.datetime(dt)

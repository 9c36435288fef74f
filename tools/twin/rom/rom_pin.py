# machine.Pin of the ESP32 and RP2 ports, wired to the world's pins.
# The port's constants are set by setup(); Pin subclasses the unix port's
# PinBase so that machine.Signal works on it.
import umachine
import rom_world as _w

# Wire modes and pulls (tools/twin/world/protocol.py).
_PM_IN = 0
_PM_OUT = 1
_PM_OPEN_DRAIN = 2
_PM_ALT = 3
_PM_ANALOG = 4

_port = None
_modes = {}  # the port's mode constant -> wire mode
_pulls = {}
_edges = {}  # the port's IRQ_RISING / IRQ_FALLING -> wire edge bits


def setup(port):
    global _port
    _port = port
    P = Pin
    if port == "esp32":
        P.IN, P.OUT, P.OPEN_DRAIN = 1, 3, 7
        P.PULL_DOWN, P.PULL_UP = 1, 2
        P.IRQ_RISING, P.IRQ_FALLING = 1, 2
        P.WAKE_LOW, P.WAKE_HIGH = 4, 5
        P.DRIVE_0, P.DRIVE_1, P.DRIVE_2, P.DRIVE_3 = 0, 1, 2, 3
    else:
        P.IN, P.OUT, P.OPEN_DRAIN, P.ALT = 0, 1, 2, 3
        P.PULL_UP, P.PULL_DOWN = 1, 2
        P.IRQ_FALLING, P.IRQ_RISING = 4, 8
        P.ALT_SPI, P.ALT_UART, P.ALT_I2C, P.ALT_PWM, P.ALT_SIO = 1, 2, 3, 4, 5
        P.ALT_PIO0, P.ALT_PIO1, P.ALT_GPCK, P.ALT_USB = 6, 7, 8, 9
        _modes[P.ALT] = _PM_ALT
    _modes[P.IN] = _PM_IN
    _modes[P.OUT] = _PM_OUT
    _modes[P.OPEN_DRAIN] = _PM_OPEN_DRAIN
    _pulls[None] = 0
    _pulls[P.PULL_UP] = 1
    _pulls[P.PULL_DOWN] = 2
    _edges[P.IRQ_RISING] = 1
    _edges[P.IRQ_FALLING] = 2


def pin_number(id):
    """The wire number of a pin id as the port accepts it; ValueError otherwise."""
    if isinstance(id, Pin):
        return id._n
    if _port == "esp32":
        if isinstance(id, int) and (0 <= id <= 21 or 26 <= id <= 48):
            return id
    elif isinstance(id, int):
        if 0 <= id <= 29:
            return id
    elif isinstance(id, str):
        if id == "LED" or id == "WL_GPIO0":
            return 64
        if id.startswith("GP") and id[2:].isdigit() and int(id[2:]) <= 29:
            return int(id[2:])
    raise ValueError("invalid pin")


class _PinIRQ:
    def __init__(self, pin, handler, trigger):
        self.pin = pin
        self.handler = handler
        self._trigger = trigger
        self._flags = 0

    def _fire(self, edge):
        self._flags = Pin.IRQ_RISING if edge == 1 else Pin.IRQ_FALLING
        if self.handler is not None:
            _w.schedule(self.handler, self.pin)

    def flags(self):
        return self._flags

    def trigger(self, new=None):
        if new is None:
            return self._trigger
        self._trigger = new


class Pin(umachine.PinBase):
    def __init__(self, id, mode=-1, pull=-1, *, value=None, drive=None, alt=None, hold=None):
        self._n = pin_number(id)
        self._id = id
        self._mode = None
        self._out = 0
        self._irq = None
        self.init(mode, pull, value=value, drive=drive, alt=alt)

    def init(self, mode=-1, pull=-1, *, value=None, drive=None, alt=None, hold=None):
        if value is not None:
            self._out = 1 if value else 0
            _w.call(_w.PIN_SET, self._n, self._out)
        if mode != -1 or pull != -1:
            if mode != -1 and mode is not None:
                if mode not in _modes:
                    raise ValueError("invalid pin mode")
                self._mode = mode
            if pull != -1:
                if pull not in _pulls:
                    raise ValueError("invalid pull")
                self._pull = pull
            _w.call(_w.PIN_MODE, self._n, _modes.get(self._mode, _PM_IN), _pulls.get(getattr(self, "_pull", None), 0))

    def value(self, x=None):
        if x is None:
            if self._mode == Pin.OUT:
                return self._out
            st = _w.call(_w.PIN_GET, self._n, into=_w._status)
            return _w._status[0] if st == 0 else 0
        self._out = 1 if x else 0
        _w.call(_w.PIN_SET, self._n, self._out)

    def __call__(self, x=None):
        return self.value(x)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def low(self):
        self.value(0)

    def high(self):
        self.value(1)

    def toggle(self):
        self.value(1 - self._out)

    def irq(self, handler=None, trigger=None, *, priority=1, wake=None, hard=False):
        if trigger is None:
            trigger = Pin.IRQ_FALLING | Pin.IRQ_RISING
        if self._irq is None:
            self._irq = _PinIRQ(self, handler, trigger)
        self._irq.handler = handler
        self._irq._trigger = trigger
        mask = 0
        if handler is not None:
            for k in _edges:
                if trigger & k:
                    mask |= _edges[k]
        _w.pin_irqs[self._n] = self._irq if mask else None
        _w.send(_w.PIN_IRQ, self._n, mask)
        return self._irq

    def __repr__(self):
        if _port == "esp32":
            return "Pin(%d)" % self._n
        return "Pin(%s)" % ("WL_GPIO0" if self._n == 64 else "GPIO%d" % self._n)


def bitstream(pin, encoding, timing, data):
    if encoding != 0:
        raise ValueError("invalid encoding")
    if len(timing) != 4:
        raise ValueError("invalid timing")
    t = bytearray(16)
    for i in range(4):
        v = timing[i]
        t[4 * i] = v & 0xFF
        t[4 * i + 1] = (v >> 8) & 0xFF
        t[4 * i + 2] = (v >> 16) & 0xFF
        t[4 * i + 3] = (v >> 24) & 0xFF
    _w.call(_w.BITSTREAM, pin_number(pin), 0, 0, (t, data))

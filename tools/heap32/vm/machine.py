# The board's `machine` for heap measurement: the far side of every bus is
# plain memory. On the boards Pin, I2C, ADC and WDT are C objects the port
# keeps outside the app's heap (static tables), so every object here is made
# at import, before the measurement starts, and a constructor only hands one
# out: building the parts costs what the drivers allocate, nothing of ours.
# What the ports allocate for I2S (rp2: a ring buffer of `ibuf` bytes on the
# heap) is added by the benchmark from the port's source, not here.


class _Fixed:
    """A class whose instances come from a table filled at import."""

    _table: dict = {}

    def __new__(cls, key=0, *args, **kw):
        try:
            return cls._table[key]
        except KeyError:
            raise ValueError("%s(%r): not in the stand-in's table" % (cls.__name__, key))


class Pin(_Fixed):
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8
    _table = {}

    def __init__(self, key=0, mode=-1, pull=-1, value=None, **kw):
        if value is not None:
            self.v = value

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v

    def on(self):
        self.v = 1

    def off(self):
        self.v = 0

    def irq(self, handler=None, trigger=0):
        self.handler = handler


class I2C(_Fixed):
    """Register memory per address; chip-id registers answer as the parts do."""

    _table = {}

    def __init__(self, key=0, scl=None, sda=None, freq=400000):
        pass

    def scan(self):
        return sorted(self.mem)

    def _part(self, addr):
        try:
            return self.mem[addr]
        except KeyError:
            raise OSError(19)  # ENODEV: no part answers, as the ports say

    def readfrom_mem_into(self, addr, reg, buf):
        m = self._part(addr)
        for i in range(len(buf)):
            buf[i] = m[(reg + i) & 0xFF]

    def writeto_mem(self, addr, reg, buf):
        m = self._part(addr)
        for i in range(len(buf)):
            m[(reg + i) & 0xFF] = buf[i]

    def writeto(self, addr, buf, stop=True):
        self._part(addr)
        return len(buf)

    def writevto(self, addr, bufs, stop=True):
        self._part(addr)
        return sum(len(b) for b in bufs)


class I2S(_Fixed):
    RX = 0
    TX = 1
    MONO = 0
    STEREO = 1
    _table = {}

    def __init__(self, key=0, **kw):
        pass

    def readinto(self, buf):
        return len(buf)  # silence: the buffer is left as it is

    def write(self, buf):
        return len(buf)

    def init(self, **kw):
        pass

    def deinit(self):
        pass

    def irq(self, handler):
        pass


class ADC(_Fixed):
    ATTN_0DB = 0
    ATTN_11DB = 3
    _table = {}

    def __init__(self, pin=None, **kw):
        pass

    def atten(self, a):
        pass

    def read_u16(self):
        return 40000

    def read_uv(self):
        return 2000000


class WDT(_Fixed):
    _table = {}

    def __init__(self, key=0, timeout=5000):
        pass

    def feed(self):
        pass


class Timer(_Fixed):
    ONE_SHOT = 0
    PERIODIC = 1
    _table = {}

    def __init__(self, key=-1, **kw):
        pass

    def init(self, **kw):
        pass

    def deinit(self):
        pass


def _fill():
    for n in list(range(49)) + ["LED"]:
        p = object.__new__(Pin)
        p.v = 1  # pulled up: no button held (safe mode stays off)
        p.handler = None
        Pin._table[n] = p
        a = object.__new__(ADC)
        ADC._table[p] = a
    for k in (0, 1):
        i2c = object.__new__(I2C)
        i2c.mem = {}
        for addr, reg, val in ((0x3C, 0, 0), (0x3D, 0, 0), (0x76, 0xD0, 0x60), (0x77, 0xD0, 0x60),
                               (0x68, 0x75, 0x68), (0x69, 0x75, 0x68)):
            m = bytearray(256)
            m[reg] = val
            i2c.mem[addr] = m
        I2C._table[k] = i2c
        I2S._table[k] = object.__new__(I2S)
        WDT._table[k] = object.__new__(WDT)
    for k in (-1, 0, 1):
        Timer._table[k] = object.__new__(Timer)


_fill()


def reset():
    raise SystemExit("machine.reset()")


def soft_reset():
    raise SystemExit("machine.soft_reset()")


def unique_id():
    return b"\x01\x02\x03\x04\x05\x06\x07\x08"


def freq(hz=None):
    return 150000000


def lightsleep(ms=0):
    pass


def deepsleep(ms=0):
    pass

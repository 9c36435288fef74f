# machine.I2C, SoftI2C, SPI and SoftSPI of the ESP32 and RP2 ports. Each
# transaction is one request to the world, where the parts answer it.
import rom_world as _w
import rom_pin

_ENODEV = 19
_EIO = 5
_port = None
_one = bytearray(1)
# (scl, sda) a bus uses when the constructor names none, as the ports' boards define them.
_DEFAULT_PINS = {"esp32": ((18, 19), (25, 26)), "rp2": ((9, 8), (7, 6))}


def setup(port):
    global _port
    _port = port
    if port == "rp2":
        SPI.MSB, SPI.LSB = 1, 0


def _pin(p):
    return rom_pin.pin_number(p)


class _I2CBase:
    _soft = False

    def deinit(self):
        pass

    def _nack(self, nbytes):
        # What each port's driver reports for an address nobody acknowledges.
        if self._soft or _port == "esp32" or nbytes == 0:
            return OSError(_ENODEV)
        return OSError(_EIO)

    def scan(self):
        buf = bytearray(113)
        _w.call(_w.I2C_SCAN, self._h, into=buf)
        return [buf[1 + i] for i in range(buf[0])]

    def writeto(self, addr, buf, stop=True):
        if _w.request(_w.I2C_WRITE, self._h, addr, 1 if stop else 0, 0, buf):
            raise self._nack(len(buf))
        return len(buf)

    def writevto(self, addr, vector, stop=True):
        if type(vector) is not list and type(vector) is not tuple:
            vector = tuple(vector)
        if _w.request(_w.I2C_WRITE, self._h, addr, 1 if stop else 0, 0, vector):
            n = 0
            for b in vector:
                n += len(b)
            raise self._nack(n)
        n = 0
        for b in vector:
            n += len(b)
        return n

    def readfrom_into(self, addr, buf, stop=True):
        r = _w.req
        r[6] = len(buf) & 0xFF
        r[7] = len(buf) >> 8
        if _w.request(_w.I2C_READ, self._h, addr, 1 if stop else 0, 2, None, buf):
            raise self._nack(len(buf))

    def readfrom(self, addr, nbytes, stop=True):
        buf = bytearray(nbytes)
        self.readfrom_into(addr, buf, stop)
        return bytes(buf)

    def _memaddr(self, at, memaddr, addrsize):
        """Put the register address big-endian into the request at `at`; its length."""
        n = addrsize // 8
        if not 1 <= n <= 4:
            raise ValueError("invalid addrsize")
        r = _w.req
        for i in range(n):
            r[at + i] = (memaddr >> (8 * (n - 1 - i))) & 0xFF
        return n

    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        r = _w.req
        r[6] = len(buf) & 0xFF
        r[7] = len(buf) >> 8
        k = 2 + self._memaddr(8, memaddr, addrsize)
        if _w.request(_w.I2C_WRITE_READ, self._h, addr, 0, k, None, buf):
            raise self._nack(1)

    def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
        buf = bytearray(nbytes)
        self.readfrom_mem_into(addr, memaddr, buf, addrsize=addrsize)
        return bytes(buf)

    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        k = self._memaddr(6, memaddr, addrsize)
        if _w.request(_w.I2C_WRITE, self._h, addr, 1, k, buf):
            raise self._nack(1)


class I2C(_I2CBase):
    # The hardware blocks have no primitive operations, as on the ports.
    def start(self):
        raise OSError("I2C operation not supported")

    stop = start

    def readinto(self, buf, nack=True):
        raise OSError("I2C operation not supported")

    def write(self, buf):
        raise OSError("I2C operation not supported")

    def __init__(self, id=-1, *, scl=None, sda=None, freq=400000, timeout=50000):
        if id not in (0, 1):
            raise ValueError("I2C(%s) doesn't exist" % id)
        self._id = id
        self.init(scl=scl, sda=sda, freq=freq, timeout=timeout)

    def init(self, *, scl=None, sda=None, freq=400000, timeout=50000):
        d_scl, d_sda = _DEFAULT_PINS[_port][self._id]
        scl = d_scl if scl is None else _pin(scl)
        sda = d_sda if sda is None else _pin(sda)
        if _port == "rp2":
            # Each RP2 pin carries one I2C function: SDA on 4k (+2 for I2C1), SCL one above.
            if scl % 4 != 2 * self._id + 1:
                raise ValueError("bad SCL pin")
            if sda % 4 != 2 * self._id:
                raise ValueError("bad SDA pin")
        self._scl, self._sda, self._freq = scl, sda, freq
        _w.call(_w.I2C_OPEN, self._id, 0, 0, bytes((scl, sda)), _one)
        self._h = _one[0]

    def __repr__(self):
        return "I2C(%d, scl=%d, sda=%d, freq=%d)" % (self._id, self._scl, self._sda, self._freq)


class SoftI2C(_I2CBase):
    _soft = True

    def __init__(self, scl, sda, *, freq=400000, timeout=50000):
        self._scl, self._sda, self._freq = _pin(scl), _pin(sda), freq
        _w.call(_w.I2C_OPEN, 255, 0, 0, bytes((self._scl, self._sda)), _one)
        self._h = _one[0]
        self._tx = None

    def init(self, scl, sda, *, freq=400000, timeout=50000):
        self.__init__(scl, sda, freq=freq, timeout=timeout)

    # The primitive operations: a START, the address byte, data, a STOP,
    # gathered into one world transaction.
    def start(self):
        self._tx = bytearray()

    def write(self, buf):
        if self._tx is None:
            raise OSError(_EIO)
        self._tx += buf
        if len(self._tx) and self._tx[0] & 1:
            return len(buf)
        if len(self._tx) == len(buf):  # the address byte went out now: probe it
            addr = self._tx[0] >> 1
            if _w.call(_w.I2C_WRITE, self._h, addr, 0, b""):
                return 0
        return len(buf)

    def readinto(self, buf, nack=True):
        if not self._tx:
            raise OSError(_EIO)
        addr = self._tx[0] >> 1
        self.readfrom_into(addr, buf, False)

    def stop(self):
        tx, self._tx = self._tx, None
        if tx and not tx[0] & 1 and len(tx) > 1:
            _w.call(_w.I2C_WRITE, self._h, tx[0] >> 1, 1, tx[1:])

    def __repr__(self):
        return "SoftI2C(scl=%d, sda=%d, freq=%d)" % (self._scl, self._sda, self._freq)


class SPI:
    MSB = 0
    LSB = 1
    CONTROLLER = 0

    def __init__(self, id=1, baudrate=1000000, *, polarity=0, phase=0, bits=8, firstbit=0,
                 sck=None, mosi=None, miso=None):
        self._id = id
        self.init(baudrate, polarity=polarity, phase=phase, bits=bits, firstbit=firstbit, sck=sck, mosi=mosi, miso=miso)

    def init(self, baudrate=1000000, *, polarity=0, phase=0, bits=8, firstbit=0, sck=None, mosi=None, miso=None):
        self.baudrate = baudrate
        pins = bytes((255 if p is None else _pin(p)) for p in (sck, mosi, miso))
        _w.call(_w.SPI_OPEN, self._id if isinstance(self._id, int) and self._id >= 0 else 255, 0, 0, pins, _one)
        self._h = _one[0]

    def deinit(self):
        pass

    def write_readinto(self, wbuf, rbuf):
        if len(wbuf) != len(rbuf):
            raise ValueError("buffers must be the same length")
        _w.call(_w.SPI_XFER, self._h, 255, 0, wbuf, rbuf)

    def write(self, buf):
        rbuf = bytearray(len(buf))
        _w.call(_w.SPI_XFER, self._h, 255, 0, buf, rbuf)

    def readinto(self, buf, write=0):
        _w.call(_w.SPI_XFER, self._h, 255, 0, bytes((write,)) * len(buf), buf)

    def read(self, nbytes, write=0):
        buf = bytearray(nbytes)
        self.readinto(buf, write)
        return bytes(buf)


class SoftSPI(SPI):
    def __init__(self, baudrate=500000, *, polarity=0, phase=0, bits=8, firstbit=0, sck=None, mosi=None, miso=None):
        self._id = -1
        self.init(baudrate, polarity=polarity, phase=phase, bits=bits, firstbit=firstbit, sck=sck, mosi=mosi, miso=miso)

# SSD1306 128x64 (or 128x32) monochrome OLED on I2C.
# Datasheet: Solomon Systech SSD1306 rev 1.1, section 9 (command table) and
# 8.1.5 (I2C: a control byte, then commands or display data).
from micropython import const
import framebuf

# Fundamental commands (9.1)
_SET_CONTRAST = const(0x81)
_ENTIRE_ON_RESUME = const(0xA4)  # output follows RAM
_NORMAL = const(0xA6)  # 0xA7: inverse
_DISPLAY_OFF = const(0xAE)  # 0xAF: on
# Addressing (9.2)
_MEMORY_MODE = const(0x20)  # 0: horizontal addressing
_COLUMN_ADDR = const(0x21)
_PAGE_ADDR = const(0x22)
# Hardware configuration (9.3)
_START_LINE = const(0x40)
_SEG_REMAP = const(0xA0)  # | 1: column 127 is SEG0
_MUX_RATIO = const(0xA8)
_COM_SCAN_DEC = const(0xC8)
_DISPLAY_OFFSET = const(0xD3)
_COM_PINS = const(0xDA)
# Timing and driving (9.4)
_CLOCK_DIV = const(0xD5)
_PRECHARGE = const(0xD9)
_VCOM_DESELECT = const(0xDB)
_CHARGE_PUMP = const(0x8D)
# I2C control bytes (8.1.5.2): Co=0, D/C#=0 commands; Co=0, D/C#=1 data
_CTRL_CMD = const(0x00)
_CTRL_DATA = const(0x40)


class SSD1306(framebuf.FrameBuffer):
    """The display's RAM mirrored in a framebuf (MONO_VLSB: one byte is 8
    pixels down a page, as the controller stores them); show() sends it."""

    def __init__(self, i2c, addr=0x3C, width=128, height=64):
        if width != 128 or height not in (32, 64):
            raise ValueError("ssd1306: %dx%d is not a supported size" % (width, height))
        self.i2c = i2c
        self.addr = addr
        self.width = width
        self.height = height
        self.pages = height // 8
        self.buf = bytearray(width * self.pages)
        super().__init__(self.buf, width, height, framebuf.MONO_VLSB)
        self._cmd = bytearray(3)  # control byte (a stream of commands), command, argument
        self._window = bytearray((_CTRL_CMD, _COLUMN_ADDR, 0, width - 1, _PAGE_ADDR, 0, self.pages - 1))
        self._data = [b"\x40", self.buf]  # writevto: control byte then the frame, no copy
        self.powered = False
        self.init()

    def init(self):
        h = self.height
        seq = bytes((
            _CTRL_CMD, _DISPLAY_OFF,
            _MEMORY_MODE, 0x00,
            _START_LINE | 0, _SEG_REMAP | 1, _MUX_RATIO, h - 1, _COM_SCAN_DEC,
            _DISPLAY_OFFSET, 0, _COM_PINS, 0x12 if h == 64 else 0x02,
            _CLOCK_DIV, 0x80, _PRECHARGE, 0xF1, _VCOM_DESELECT, 0x30,
            _SET_CONTRAST, 0xFF, _ENTIRE_ON_RESUME, _NORMAL,
            _CHARGE_PUMP, 0x14,
        ))
        try:
            self.i2c.writeto(self.addr, seq)
        except OSError as e:
            raise OSError("ssd1306 at 0x%02x: no answer (%s)" % (self.addr, e))
        self.fill(0)
        self.show()
        self.power(True)

    def _command(self, c, arg=-1):
        buf = self._cmd
        buf[1] = c
        n = 2
        if arg >= 0:
            buf[2] = arg
            n = 3
        try:
            self.i2c.writeto(self.addr, memoryview(buf)[0:n])
        except OSError as e:
            raise OSError("ssd1306 at 0x%02x: command 0x%02x failed (%s)" % (self.addr, c, e))

    def power(self, on):
        self._command(_DISPLAY_OFF | (1 if on else 0))
        self.powered = on

    def contrast(self, level):
        """0..255; the panel's brightness."""
        self._command(_SET_CONTRAST, level & 0xFF)

    def invert(self, on):
        self._command(_NORMAL | (1 if on else 0))

    def show(self):
        try:
            self.i2c.writeto(self.addr, self._window)
            self.i2c.writevto(self.addr, self._data)
        except OSError as e:
            raise OSError("ssd1306 at 0x%02x: frame write failed (%s)" % (self.addr, e))

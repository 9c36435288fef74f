"""SSD1306 128x64 OLED controller on I2C (Solomon Systech datasheet rev 1.1).

The model keeps the controller's GDDRAM and registers and renders what the
panel shows: addressing modes, segment/COM remap, start line, offset,
multiplex, COM pin layout, contrast, invert, entire-on, display on/off and the
charge pump (a panel with its pump off stays dark, as a real module does).
"""

import random
from collections import deque

HISTORY = 256  # frames kept, so a test can read screens too brief to poll

# Commands that take this many argument bytes after the command byte.
_ARGS = {
    0x20: 1, 0x21: 2, 0x22: 2, 0x26: 6, 0x27: 6, 0x29: 5, 0x2A: 5, 0x81: 1, 0x8D: 1,
    0xA3: 2, 0xA8: 1, 0xD3: 1, 0xD5: 1, 0xD9: 1, 0xDA: 1, 0xDB: 1,
}


class SSD1306:
    kind = "ssd1306"

    def __init__(self, addr, width=128, height=64, seed=0):
        self.addr = addr
        self.width = width
        self.height = height
        self.pages = height // 8
        self.rng = random.Random(seed)
        self.frames = deque(maxlen=HISTORY)  # (seq, now, ram, registers): each change the panel showed
        self.frame_seq = 0
        self.power_on()

    def power_on(self):
        # GDDRAM content is undefined at power-up: drivers must clear it.
        self.ram = bytearray(self.rng.getrandbits(8) for _ in range(self.width * self.pages))
        self.on = False
        self.pump = False
        self.contrast = 0x7F
        self.invert = False
        self.entire_on = False
        self.mode = 2  # page addressing
        self.col_start, self.col_end = 0, self.width - 1
        self.page_start, self.page_end = 0, self.pages - 1
        self.col = 0
        self.page = 0
        self.seg_remap = False
        self.com_reverse = False
        self.start_line = 0
        self.offset = 0
        self.mux = 64
        self.com_alt = True
        self.scrolling = False
        self.cmd = []  # command bytes collected so far
        self._ctl = None  # the control byte in force; None: the next byte is one
        self._shown = False  # a write completed the addressed window or changed how it shows

    # ---- I2C ----

    def start(self):
        self._ctl = None  # the first byte of a write is a control byte

    def write(self, data, now):
        for b in data:
            if self._ctl is None:
                self._ctl = b  # Co (bit 7): one byte follows; D/C# (bit 6): data or commands
                continue
            if self._ctl & 0x40:
                self._data(b)
            else:
                self._command(b)
            if self._ctl & 0x80:
                self._ctl = None
        if self._shown:
            self._shown = False
            self._record(now)
        return len(data)

    def _registers(self):
        return (self.on and self.pump, self.entire_on, self.invert, self.mux, self.start_line, self.offset,
                self.com_alt, self.seg_remap, self.com_reverse)

    def _record(self, now):
        ram, regs = bytes(self.ram), self._registers()
        if self.frames and self.frames[-1][2] == ram and self.frames[-1][3] == regs:
            return
        self.frame_seq += 1
        self.frames.append((self.frame_seq, now, ram, regs))

    def frames_since(self, seq):
        """[(seq, now, rows)] of the frames recorded after `seq`, oldest first."""
        return [(n, t, self._render(ram, regs)) for n, t, ram, regs in self.frames if n > seq]

    def read(self, n, now):
        # The I2C interface of the SSD1306 has no data read; the bus reads high.
        return b"\xff" * n

    # ---- controller ----

    def _command(self, b):
        self.cmd.append(b)
        c = self.cmd[0]
        if len(self.cmd) <= _ARGS.get(c, 0):
            return
        args = self.cmd[1:]
        self.cmd = []
        if c in (0xAE, 0xAF, 0xA4, 0xA5, 0xA6, 0xA7, 0x8D):
            self._shown = True
        if c in (0xAE, 0xAF):
            self.on = c == 0xAF
        elif c == 0x81:
            self.contrast = args[0]
        elif c in (0xA4, 0xA5):
            self.entire_on = c == 0xA5
        elif c in (0xA6, 0xA7):
            self.invert = c == 0xA7
        elif c == 0x20:
            self.mode = args[0] & 3
        elif c == 0x21:
            self.col_start, self.col_end = args[0] & 0x7F, args[1] & 0x7F
            self.col = self.col_start
        elif c == 0x22:
            self.page_start, self.page_end = args[0] & 7, args[1] & 7
            self.page = self.page_start
        elif 0xB0 <= c <= 0xB7:
            self.page = c & 7
        elif c <= 0x0F:
            self.col = (self.col & 0xF0) | c
        elif c <= 0x1F:
            self.col = (self.col & 0x0F) | ((c & 0x0F) << 4)
        elif 0x40 <= c <= 0x7F:
            self.start_line = c & 0x3F
        elif c in (0xA0, 0xA1):
            self.seg_remap = c == 0xA1
        elif c in (0xC0, 0xC8):
            self.com_reverse = c == 0xC8
        elif c == 0xA8:
            self.mux = (args[0] & 0x3F) + 1
        elif c == 0xD3:
            self.offset = args[0] & 0x3F
        elif c == 0xDA:
            self.com_alt = bool(args[0] & 0x10)
        elif c == 0x8D:
            self.pump = bool(args[0] & 0x04)
        elif c in (0x2E, 0x2F):
            self.scrolling = c == 0x2F
        # Timing and drive commands (D5, D9, DB, 26/27/29/2A/A3 set-ups, E3 NOP)
        # change nothing a snapshot shows.

    def _data(self, b):
        self.ram[self.page * self.width + (self.col % self.width)] = b
        if self.mode == 0:  # horizontal
            if self.col >= self.col_end:
                self.col = self.col_start
                if self.page >= self.page_end:
                    self.page = self.page_start
                    self._shown = True  # the window is written through: a frame
                else:
                    self.page += 1
            else:
                self.col += 1
        elif self.mode == 1:  # vertical
            if self.page >= self.page_end:
                self.page = self.page_start
                if self.col >= self.col_end:
                    self.col = self.col_start
                    self._shown = True
                else:
                    self.col += 1
            else:
                self.page += 1
        else:  # page: the column wraps, the page stays; each page written counts
            if self.col >= self.width - 1:
                self.col = self.col_start
                self._shown = True
            else:
                self.col += 1

    # ---- what the panel shows ----

    def lit(self):
        """Rows (top first) of 0/1 values: the pixels the panel lights.

        The module's glass is mounted so that segment remap (A1) and reversed
        COM scan (C8) show RAM upright, as drivers configure it.
        """
        return self._render(self.ram, self._registers())

    def _render(self, ram, regs):
        shows, entire_on, invert, mux, start_line, offset, com_alt, seg_remap, com_reverse = regs
        w, h = self.width, self.height
        rows = [[0] * w for _ in range(h)]
        if not shows:
            return rows
        for com in range(min(mux, h)):
            scan = mux - 1 - com if com_reverse else com
            ram_row = (scan + start_line + offset) % 64
            if ram_row >= h:
                continue
            # Sequential COM pins on a panel wired for the alternative layout interleave the rows.
            line = com if com_alt else (com * 2 if com < h // 2 else (com - h // 2) * 2 + 1)
            out = rows[h - 1 - line]
            page, bit = divmod(ram_row, 8)
            base = page * w
            for col in range(w):
                on = 1 if entire_on else ((ram[base + col] >> bit) & 1) ^ invert
                out[col if seg_remap else w - 1 - col] = on
        return rows

    def brightness(self):
        """0-255 level a lit pixel shows at, from the contrast setting."""
        return 60 + (self.contrast * 195) // 255

    def state(self):
        return {"on": self.on, "charge_pump": self.pump, "contrast": self.contrast, "invert": self.invert,
                "entire_on": self.entire_on, "addressing": ("horizontal", "vertical", "page", "page")[self.mode]}

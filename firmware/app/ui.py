# Screens for a 128x64 monochrome display: a status bar (link, clock,
# battery) and one screen per state. draw() only paints a framebuf from a
# View, so the screens can be rendered and compared anywhere the VM runs.
import framebuf

from . import states as S
from .text import centi, wrap

BAR_H = 10  # status bar with its rule
LINE = 9  # text line pitch (8x8 font plus a gap)
COLS = 15  # answer text columns; the right edge holds the scroll bar
BIG_CHARS = 8  # double-size characters across a 128 px screen


class View:
    """What the screens show; the app fills it, draw() reads it."""

    def __init__(self):
        self.online = False
        self.clock = "--:--"
        self.battery = -1  # % or -1 without a battery
        self.env = None  # (0.01 °C, 0.01 %RH, Pa) or None
        self.hint = "hold to talk"
        self.title = ""  # the host's title for the answer
        self.lines = []  # the answer, wrapped to COLS
        self.top = 0  # first answer line shown
        self.levels = bytearray(32)  # listening meter history, 0..32
        self.head = 0  # next slot in levels
        self.ptt = True
        self.summary = []  # the pending action, wrapped
        self.left = 0  # confirm time left, 0..100 %
        self.error = ""
        self.frame = 0  # animation step
        self.sensors = False  # the sensor page instead of the idle clock
        self.mem_free = 0
        self.volts = 0  # battery mV
        self.note = None  # (title, lines) of a notification over any screen
        self.alarm = ""  # a timer that fired: shown until pressed

    def answer(self, text, append=False):
        if append and self.lines:
            text = "\n".join(self.lines) + " " + text
        self.lines = wrap(text, COLS)
        self.top = 0

    def level(self, v):
        self.levels[self.head] = v
        self.head = (self.head + 1) & 31


def boot_screen(display):
    """Show BOOT ("Pocket starting") on a display that has just been set up,
    while the slower setup (the wake-word model) runs; the app draws over it."""
    if display is None:
        return
    Painter(display, display.width, display.height).draw(S.BOOT, View())
    try:
        display.show()
    except OSError:
        pass  # a display that fails here is reported when the app draws


class Painter:
    def __init__(self, fb, width=128, height=64):
        self.fb = fb
        self.w = width
        self.h = height
        self._line_buf = bytearray(8 * BIG_CHARS)
        self._line = framebuf.FrameBuffer(self._line_buf, 8 * BIG_CHARS, 8, framebuf.MONO_VLSB)

    def big(self, s, x, y):
        """Text at twice the font size (16 px high), for titles and the clock; at
        most BIG_CHARS characters. The line is drawn once at the font's size and
        each pixel doubled: a loop over the str's characters would intern every
        new one for good, and a qstr pool that grows needs one large block."""
        line = self._line
        buf = self._line_buf
        fb = self.fb
        line.fill(0)
        line.text(s, 0, 0, 1)
        for cx in range(8 * min(len(s), BIG_CHARS)):
            col = buf[cx]
            if col:
                for cy in range(8):
                    if col & (1 << cy):
                        fb.fill_rect(x + 2 * cx, y + 2 * cy, 2, 2, 1)

    def center(self, s, y, big=False):
        n = len(s) * (16 if big else 8)
        x = (self.w - n) // 2
        if big:
            self.big(s, x, y)
        else:
            self.fb.text(s, x, y, 1)

    def heading(self, s, y=BAR_H + 1):
        """A title in a filled bar."""
        self.fb.fill_rect(0, y, self.w, LINE, 1)
        self.fb.text(s, (self.w - 8 * len(s)) // 2, y + 1, 0)

    def status(self, v):
        fb = self.fb
        if v.online:  # two chain links
            fb.rect(0, 1, 7, 5, 1)
            fb.rect(5, 2, 7, 5, 1)
        else:  # a cross
            fb.line(1, 0, 7, 6, 1)
            fb.line(7, 0, 1, 6, 1)
        fb.text(v.clock, (self.w - 40) // 2, 0, 1)
        if v.battery >= 0:
            x = self.w - 18
            fb.rect(x, 0, 16, 8, 1)
            fb.fill_rect(x + 16, 2, 2, 4, 1)
            fb.fill_rect(x + 2, 2, v.battery * 12 // 100, 4, 1)
        fb.hline(0, BAR_H - 2, self.w, 1)

    def paragraph(self, lines, y, count, cols=COLS):
        for k in range(count):
            if k < len(lines):
                self.fb.text(lines[k][:cols], 0, y + LINE * k, 1)

    def draw(self, state, v):
        fb = self.fb
        fb.fill(0)
        self.status(v)
        y0 = BAR_H + 2
        if v.alarm:
            self.heading("TIMER")
            self.paragraph(wrap(v.alarm, 16), y0 + LINE + 2, 3, 16)
            self.center("press to stop", self.h - 8)
        elif v.note is not None:
            title, lines = v.note
            self.heading(title or "Notice")
            self.paragraph(lines, y0 + LINE + 2, 4, 16)
        elif state == S.BOOT:
            self.center("Pocket", 20, True)
            self.center("starting", 46)
        elif state == S.IDLE or state == S.OFFLINE:
            if v.sensors:
                self.sensor_page(v)
            else:
                self.idle(state, v)
        elif state == S.LISTENING:
            self.center("Listening", y0)
            self.meter(v, y0 + LINE + 2, 28)
            self.center("release to send" if v.ptt else "speak now", self.h - 8)
        elif state == S.THINKING:
            self.center("Thinking", 20, True)
            for k in range(3):
                r = 4 if k == v.frame % 3 else 2
                fb.fill_rect(48 + 16 * k - r, 48 - r, 2 * r, 2 * r, 1)
        elif state == S.RESPONDING:
            y = y0
            if v.title:
                self.heading(v.title[:16])
                y += LINE + 1
            rows = (self.h - y + 1) // LINE
            self.paragraph(v.lines[v.top:], y, rows)
            n = len(v.lines)
            if n > rows:  # scroll bar
                h = self.h - y
                fb.vline(self.w - 2, y, h, 1)
                fb.fill_rect(self.w - 4, y + h * v.top // n, 4, max(3, h * rows // n), 1)
        elif state == S.CONFIRM:
            self.heading("Confirm?")
            self.paragraph(v.summary, y0 + LINE + 1, 3, 16)
            fb.rect(0, 49, self.w, 4, 1)
            fb.fill_rect(0, 49, self.w * v.left // 100, 4, 1)
            fb.text("press=OK hold=no", 0, self.h - 8, 1)
        elif state == S.ERROR:
            self.heading("Error")
            self.paragraph(wrap(v.error, 16), y0 + LINE + 2, 3, 16)
            self.center("recovering", self.h - 8)

    def idle(self, state, v):
        fb = self.fb
        y = BAR_H + 4
        if state == S.OFFLINE:
            self.heading("OFFLINE")
            y += LINE
        self.center(v.clock, y, True)
        if v.env is not None:
            self.center(centi(v.env[0], "C") + " " + centi(v.env[1], "%"), y + 20)
        fb_hint = "no host" if state == S.OFFLINE else v.hint
        self.center(fb_hint, self.h - 8)

    def sensor_page(self, v):
        rows = []
        if v.env is not None:
            t, h, p = v.env
            rows.append("Temp  " + centi(t, "C"))
            rows.append("Humid " + centi(h, "%"))
            rows.append("Press %dhPa" % (p // 100))
        if v.battery >= 0:
            rows.append("Batt  %d.%02dV %d%%" % (v.volts // 1000, (v.volts % 1000) // 10, v.battery))
        rows.append("Free  %dK" % (v.mem_free // 1024))
        self.paragraph(rows, BAR_H + 2, 6, 16)

    def meter(self, v, y, h):
        fb = self.fb
        for k in range(32):
            lv = v.levels[(v.head + k) & 31]
            if lv > h:
                lv = h
            if lv:
                fb.fill_rect(4 * k, y + h - lv, 3, lv, 1)
        fb.hline(0, y + h, self.w, 1)

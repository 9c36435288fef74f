# Runs inside the MicroPython VM (not under pytest): the boundary of the board
# for app tests without a twin. The app's own code (drivers for the mic and
# amp, link endpoint, state machine, screens) is real; only what sits on the
# far side of a bus is stood in for: an I2S port, a display's RAM, a button
# pin and the USB serial line (a host Endpoint in the same VM).
import framebuf
import micropython

import link
import linkio


@micropython.viper
def _fill32(dst: ptr32, n: int, src: ptr32, period: int, at: int) -> int:
    i = 0
    while i < n:
        dst[i] = src[at]
        at += 1
        if at >= period:
            at = 0
        i += 1
    return at


class FakeI2S:
    """RX: a looped tone of 32-bit slots; TX: counts bytes, and with an irq
    handler set takes the buffer at once and calls it from the scheduler, as a
    port does once its ring buffer has room. No allocation."""

    def __init__(self, loud=True):
        from array import array
        self.tone = array("i", [0] * 40)
        for k in range(40):  # 400 Hz square at 16 kHz, INMP441 layout (24 bits in 32)
            self.tone[k] = ((6000 if k < 20 else -6000) << 16) if loud else 0
        self.at = 0
        self.written = 0
        self.handler = None
        self.lose = 0
        self.open = True
        self.opens = 1

    def irq(self, handler):
        self.handler = handler

    def readinto(self, buf):
        self.at = _fill32(buf, len(buf) >> 2, self.tone, 40, self.at)
        return len(buf)

    def write(self, buf):
        if not self.open:
            raise OSError(1)  # EPERM, as the ports say of a bus that was deinit()ed
        self.written += len(buf)
        if self.lose:
            self.lose -= 1  # the callback is dropped, as by a port whose schedule queue is full
        elif self.handler is not None:
            micropython.schedule(self.handler, self)
        return len(buf)

    def init(self, **kw):
        self.opens += 1
        self.open = True

    def deinit(self):
        self.open = False


class FbDisplay(framebuf.FrameBuffer):
    """The SSD1306 driver's interface over a plain framebuf."""

    def __init__(self, width=128, height=64):
        self.width = width
        self.height = height
        self.buf = bytearray(width * height // 8)
        super().__init__(self.buf, width, height, framebuf.MONO_VLSB)
        self.shows = 0
        self.powered = True
        self.level = 255

    def show(self):
        self.shows += 1

    def power(self, on):
        self.powered = on

    def contrast(self, level):
        self.level = level


class ScriptButton:
    """A button pin driven by the test: queue(ev) makes the next poll return it."""

    def __init__(self):
        self.queue = []

    def poll(self, now):
        return self.queue.pop(0) if self.queue else 0


class Loop:
    """The serial line: the board's io (pump) and a host Endpoint, joined."""

    def __init__(self, board_ep):
        self.ep = board_ep
        self.to_board = bytearray()
        self.to_host = bytearray()
        self.rx_bytes = 0
        self.rx = bytearray(512)
        self.taken = 0  # bytes of to_board the board has read
        board_ep.write = self._board_write
        self.host = linkio.Endpoint(self._host_write, link.ROLE_HOST, 99, "host", "test", slots=8,
                                    slot_payload=1024)
        self.got = []  # (type, values) the host received
        self.keep = True

    def _board_write(self, buf, n):
        self.to_host.extend(memoryview(buf)[0:n])

    def _host_write(self, buf, n):
        self.to_board.extend(memoryview(buf)[0:n])

    def pump(self, now):
        dec = self.ep.dec
        if dec.i < dec.end:  # as linkio.Stdio: the last bytes fed are not used up yet
            return self.ep.poll(now)
        at = self.taken
        if at < len(self.to_board):  # up to a UART buffer's worth at a time
            n = min(len(self.to_board) - at, len(self.rx))
            self.rx[0:n] = memoryview(self.to_board)[at:at + n]
            self.taken = at + n
            if self.taken == len(self.to_board):
                self.to_board = bytearray()
                self.taken = 0
            self.rx_bytes += n
            self.ep.feed(self.rx, n)
        return self.ep.poll(now)

    def host_step(self, now):
        if self.to_host:
            data = bytes(self.to_host)
            self.to_host = bytearray()
            self.host.feed(data)
        while True:
            ev = self.host.poll(now)
            if not ev:
                break
            if self.keep and ev > 0 and ev != link.AUDIO_CHUNK:
                d = self.host.dec
                self.got.append((ev, link.unpack(ev, d.body, link.HEADER, link.HEADER + d.length)))
            elif self.keep and ev == link.AUDIO_CHUNK:
                self.got.append((ev, None))

    def named(self, name):
        t = link.type_of(name)
        return [v for (e, v) in self.got if e == t]


def make_app(board=None, loud=True, now=0, key_file="/tmp/pocket-test-approval.key", amp=True,
             settings_file="/tmp/pocket-test-settings.json"):
    """An App on the stand-ins, with the real mic and amp drivers."""
    from app import run
    from drivers.inmp441 import INMP441
    from drivers.max98357a import MAX98357A
    from vad import Vad
    board = board or {"name": "vmboard", "machine": "vm", "heap": {"budget": 204800}}
    parts = {"display": FbDisplay(), "buttons": [ScriptButton(), ScriptButton()],
             "mic": INMP441(FakeI2S(loud)), "amp": MAX98357A(FakeI2S()), "vad": Vad()}
    if not amp:
        del parts["amp"]
    lnk = run.Link(board, 0x7FF, 1234)
    loop = Loop(lnk.ep)
    lnk.io = loop
    try:
        import os
        os.remove(key_file)  # each test app starts unpaired
    except OSError:
        pass
    try:
        os.remove(settings_file)  # and with the default settings
    except OSError:
        pass
    app = run.App(board, parts, lnk, None, now, key_file, settings_file)
    from app import states
    app.event(states.READY, now)
    return app, loop


def step(app, loop, now, frames=1):
    """What the tasks do in one round, at time `now` (ms)."""
    loop.host_step(now)
    app.link_step(now)
    app.buttons_step(now)
    for _ in range(frames):
        app.audio_step(now)
    if app.playback is not None:
        app.play_step(now)
    app.tick(now)
    loop.host_step(now)

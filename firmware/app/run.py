# The app: the state machine (states.Flow) with its shell. Five asyncio
# tasks (link, input and screen, mic, speaker, watchdog) share one App; each step
# method is also callable on its own, so tests drive the same code.
import gc
import sys
import time

import asyncio
import link
import linkio

from . import states as S
from . import tools
from .audio import SOUNDS, Capture, Playback
from .clock import Clock, Timers
from .power import Power
from .text import clip, printable, wrap
from .ui import Painter, View
from settings import Settings

FIRMWARE = "pocket-fw 0.1.0"  # at most 24 bytes (OUTBOX_SLOT)
KEY_FILE = "/approval.key"
SETTINGS_FILE = "/settings.json"
_BUSY = (S.LISTENING, S.THINKING, S.RESPONDING, S.CONFIRM)
# A reliable message waits in an outbox slot until the host acknowledges it.
# The largest the board sends are info (at most 137 bytes: boards/catalog.py
# caps a board's name at 32 bytes and its machine at 64, FIRMWARE takes 24)
# and an error reply, whose text is clipped to fit; the full text goes to the
# log. 144 rather than 300 bytes a slot saves 0.9 KB of heap.
OUTBOX_SLOT = 144
ERROR_TEXT = 140  # UTF-8 bytes: the error's re, code and text length take 4 more
LOG_TEXT = 1000


def _gives(size):
    # A function of its own: the block's address dies with its frame, where a
    # stale copy in the caller's frame could keep the block from being collected.
    try:
        bytearray(size)
        return True
    except MemoryError:
        return False


class Link:
    """The session with the host; it outlives app restarts."""

    def __init__(self, board, caps, boot_id):
        self.ep = linkio.Endpoint(None, link.ROLE_BOARD, boot_id, board.get("name", "board"),
                                  FIRMWARE, caps, slots=6, slot_payload=OUTBOX_SLOT)
        self.io = linkio.Stdio(self.ep)


class App:
    def __init__(self, board, parts, lnk, detector=None, now=None, key_file=KEY_FILE,
                 settings_file=SETTINGS_FILE):
        now = time.ticks_ms() if now is None else now
        self.board = board
        self.parts = parts
        self.link = lnk
        self.ep = lnk.ep
        self.heap_budget = board.get("heap", {}).get("budget", 0)
        self.firmware = FIRMWARE + (" ww:" + detector.model.phrase if detector else " ww:none")
        d = parts.get("display")
        self.display = d
        self.width = d.width if d else 0
        self.height = d.height if d else 0
        self.painter = Painter(d, self.width, self.height) if d else None
        self.view = View()
        self.flow = S.Flow(now)
        self.clock = Clock()
        self.timers = Timers()
        self.notes = {}
        self.synced = []
        self.buttons = parts.get("buttons", [])
        mic = parts.get("mic")
        self.capture = Capture(mic, self.ep, parts["vad"], detector) if mic else None
        if detector is not None:
            self.view.hint = "say the word"
        self.playback = Playback(parts["amp"]) if parts.get("amp") else None
        conf = {}
        for p in board.get("parts", ()):
            if p.get("name") == "display":
                conf = p
        self.power = Power(d, parts.get("imu"), now, int(conf.get("dim_s", 20) * 1000),
                           int(conf.get("blank_s", 60) * 1000))
        self.dnd = False
        self.cid = None
        self.approver = None
        self.bad_types = self.ep.dec.bad_type
        self.dirty = True
        self.shown_state = -1
        self.note_until = 0
        self.swallow = False  # the release of a press that dismissed an overlay
        self.led_rgb = (0, 0, 0)
        self.led_mode = 0
        self.led_period = 1000
        self.env_at = None  # ticks of the last environment read
        self.alive = [now, now, now]  # link, ui, audio: when each last ran
        self.key_file = key_file
        self.heap_base = 0  # heap in use before the app started (the port's own)
        self.events = 0
        self.redraws = 0
        self.pending = []  # log lines for the host, sent at link up
        self.backlog = []  # (type, values) that found the outbox full
        self._load_key()
        self.settings = Settings(settings_file)
        self._apply_settings(self.settings.load(), now)

    # -- helpers the tools use

    def send(self, name, *values):
        return self.ep.send(link.type_of(name), values)

    def log(self, level, text, send=True):
        if send and self.ep.up:
            self.ep.send(link.type_of("log"), (level, clip(text, LOG_TEXT)))

    def keep(self, name, *values):
        """Send a message the host must get (a reply, a confirmation's result, a
        fired timer): if the outbox is full it waits here and goes out later."""
        if not self.backlog and self.ep.send(link.type_of(name), values):
            return
        if len(self.backlog) < 16:
            self.backlog.append((link.type_of(name), values))
        else:
            self.log(3, "dropped %s: too many messages wait for the host" % name)

    def _flush_backlog(self):
        while self.backlog and self.ep.send(self.backlog[0][0], self.backlog[0][1]):
            self.backlog.pop(0)

    def reply_error(self, re, code, text, now):
        self.log(2, text)
        self.keep("error", re, code, clip(text, ERROR_TEXT))

    def mem_free(self):
        return gc.mem_free()

    def heap(self):
        """(heap the app can use, of which free), after a collection."""
        gc.collect()
        free = gc.mem_free()
        return gc.mem_alloc() + free - self.heap_base, free

    def largest_free(self):
        """The largest block the heap gives now, to 64 bytes, at most the heap
        budget (the most the app may hold). It asks for blocks, a collection after
        each: some milliseconds a probe on a board, so only on request."""
        cap = gc.mem_free()
        if self.heap_budget:
            cap = min(cap, self.heap_budget)
        lo, hi = 0, cap + 1  # a block of lo bytes is given; one of hi bytes is not
        size = cap
        while True:
            if _gives(size):
                lo = size
            else:
                hi = size
            gc.collect()
            if hi - lo <= 64:
                return lo
            size = (lo + hi) // 2

    def wake(self, now):
        if self.power.wake(now):
            self.dirty = True

    def event(self, ev, now):
        before = self.flow.state
        self.apply(self.flow.handle(ev, now), now)
        self.events += 1
        if self.flow.state != before:
            self.dirty = True
            self.wake(now)
            if self.capture is not None and before != S.IDLE and before != S.OFFLINE and (
                    self.flow.state == S.IDLE or self.flow.state == S.OFFLINE):
                self.capture.idle()
            if self.flow.state == S.CONFIRM and not self.view.summary:
                self.flow.handle(S.CONFIRM_CANCEL, now)

    def apply(self, act, now):
        if not act:
            return
        cap = self.capture
        if act & S.STREAM_START:
            if cap is None:
                self.flow.fail("this board has no microphone", now)
            else:
                cap.start(now)
        if act & S.STREAM_END and cap is not None:
            cap.end(0, now)
        if act & S.STREAM_CANCEL and cap is not None:
            cap.end(1, now)
        if act & S.PLAY_STOP and self.playback is not None:
            if self.playback.stream >= 0:
                self.send("audio_stop", self.playback.stream)
            self.playback.stop()
        if act & (S.APPROVE | S.DENY | S.CONFIRM_TIMEOUT | S.CONFIRM_CANCELLED):
            self._confirm_done(act)
        if act & S.NO_HOST:
            self.notify("Offline", "No host: I can't listen now.", 2, 2000, now)

    def notify(self, title, text, level, duration, now):
        self.view.note = (title, wrap(text, 16))
        self.note_until = time.ticks_add(now, min(duration, 30000))
        self.dirty = True
        self.wake(now)
        if not self.dnd and self.playback is not None and level >= 1:
            self.playback.sound(SOUNDS[2 if level >= 3 else 0], 60, now)

    def set_led(self, r, g, b, mode, period):
        self.led_rgb = (r, g, b)
        self.led_mode = mode
        self.led_period = max(period, 100)
        led = self.parts.get("led")
        if led is not None:
            led.set(r, g, b) if mode else led.set(0, 0, 0)

    def read_sensor(self, sensor):
        """(status, values) as sensor_value carries them."""
        p = self.parts
        part = (p.get("env"), p.get("imu"), p.get("battery"))[sensor] if sensor < 3 else None
        if part is None:
            return 1, []
        try:
            return 0, list(part.read())
        except OSError as e:
            self.log(3, str(e))
            return 2, []

    # -- settings, kept on the board's flash

    def _apply_settings(self, values, now):
        if self.settings.problem:
            self.pending.append(self.settings.problem)
        self.power.set_brightness(values["brightness"], now)
        amp = self.parts.get("amp")
        if amp:
            amp.set_volume(values["volume"])
        self.dnd = values["dnd"]

    def change_setting(self, key, value, now):
        self.settings.set(key, value)
        self._apply_settings(self.settings.values, now)

    # -- confirmation

    def _load_key(self):
        import approval
        key = approval.load_key(self.key_file)
        if key:
            try:
                self.approver = approval.Approver(key)
            except ValueError as e:
                self.log(3, "approval key: %s" % e, send=False)

    def pair(self, key):
        import approval
        self.approver = approval.Approver(key)
        approval.save_key(self.key_file, key)

    def confirm_ask(self, cid, ttl, expiry, nonce, action, now):
        self.synced.append(cid)
        if self.approver is None:
            self.keep("confirm_result", cid, 4, b"")
            return
        try:
            summary = self.approver.request(action.encode(), nonce, expiry, ttl)
        except (ValueError, KeyError) as e:
            raise tools.BadRequest(tools.E_PAYLOAD, "bad confirmation: %s" % e)
        self.cid = cid
        self.view.summary = wrap(printable(summary), 16, 3)
        self.flow.confirm_ttl = ttl
        self.event(S.CONFIRM_ASK, now)

    def _confirm_done(self, act):
        cid = self.cid
        self.cid = None
        self.view.summary = []
        if cid is None:
            return
        result, sig = 1, b""
        if act & S.APPROVE:
            signed = self.approver.press() if self.approver else None
            if signed:
                result, sig = 0, signed
            else:  # it ran out while the button went down
                result = 2
        elif act & S.CONFIRM_TIMEOUT:
            result = 2
        elif act & S.CONFIRM_CANCELLED:
            result = 3
        if self.approver is not None and result:
            self.approver.deny()
        self.keep("confirm_result", cid, result, sig)

    # -- the steps the tasks run

    def link_step(self, now):
        io = self.link.io
        pb = self.playback
        for _ in range(32):
            if pb is not None and pb.full():
                break  # the speaker's queue has no room: the host waits (its writes back up)
            before = io.rx_bytes
            ev = io.pump(now)
            if ev:
                tools.dispatch(self, ev, now)
            elif io.rx_bytes == before:
                break
        self.ep.mem_free = gc.mem_free()

    def buttons_step(self, now):
        for i in range(len(self.buttons)):
            ev = self.buttons[i].poll(now)
            if not ev:
                continue
            if self.ep.up:
                self.ep.send(link.type_of("button"), (i, ev - 1, now & 0x3FFFFFFF), now)
            self.wake(now)
            if ev == 1 and (self.view.alarm or self.view.note is not None):
                self.view.alarm = ""  # a press dismisses what is over the screen
                self.view.note = None
                if self.playback is not None and self.playback.stream < 0:
                    self.playback.stop()
                self.swallow = True
                self.dirty = True
                continue
            if self.swallow and ev != 1:
                if ev == 2:
                    self.swallow = False
                continue
            if i == 0:
                self.event(ev + 1, now)  # PRESS, RELEASE, LONG follow the button's order
            elif ev == 1:
                self.page(now)

    def page(self, now):
        """The second button: scroll the answer, flip to the sensors, say no."""
        s = self.flow.state
        v = self.view
        if s == S.RESPONDING:
            v.top = v.top + 4 if v.top + 4 < len(v.lines) else 0
            self.flow.since = now
        elif s == S.IDLE or s == S.OFFLINE:
            v.sensors = not v.sensors
            self.env_at = None
        elif s == S.CONFIRM:
            self.flow.armed = True
            self.event(S.LONG, now)
        self.dirty = True

    def tick(self, now):
        """Timeouts, timers, notifications, sensors, LED, power, screen."""
        self.event(S.TICK, now)
        if self.backlog:
            self._flush_backlog()
        v = self.view
        unix = self.clock.unix(now)
        clock = "--:--"
        if unix:
            from .text import clock as fmt
            clock = fmt(unix, self.clock.offset_min)
        if clock != v.clock or v.online != self.flow.online:
            v.clock = clock
            v.online = self.flow.online
            self.dirty = True
        tid = self.timers.due(unix)
        if tid is not None:
            due, kind, label = self.timers.take(tid)
            v.alarm = label or ("Alarm" if kind == 1 else "Timer")
            if self.playback is not None:
                self.playback.sound(SOUNDS[3], 100, now)
            self.keep("timer_fired", tid, unix)
            self.dirty = True
            self.wake(now)
        if v.note is not None and time.ticks_diff(now, self.note_until) >= 0:
            v.note = None
            self.dirty = True
        s = self.flow.state
        if s == S.CONFIRM and self.flow.confirm_ttl:
            left = 100 - 100 * time.ticks_diff(now, self.flow.since) // self.flow.confirm_ttl
            left = max(0, left)
            if left != v.left:
                v.left = left
                self.dirty = True
        if s == S.THINKING or s == S.LISTENING:
            f = time.ticks_diff(now, self.flow.since) // 250
            if f != v.frame:
                v.frame = f
                self.dirty = True
        if (s == S.IDLE or s == S.OFFLINE) and self.power.mode != 2:
            self._sensors(now)
        self._led(now)
        if self.power.step(now, s in _BUSY):
            self.dirty = True
        if self.dirty and self.painter is not None and self.power.mode != 2:
            self.redraw()

    def redraw(self):
        if self.painter is None:
            return
        v = self.view
        v.mem_free = gc.mem_free()
        v.error = self.flow.error
        v.ptt = self.flow.ptt  # hands-free listening says "speak now", not "release to send"
        self.painter.draw(self.flow.state, v)
        try:
            self.display.show()
        except OSError as e:  # a display that stopped answering: carry on without it
            self.log(3, "%s; the screen is off until a restart" % e)
            self.painter = None
        self.dirty = False
        self.shown_state = self.flow.state
        self.redraws += 1

    def _sensors(self, now):
        if self.env_at is not None and time.ticks_diff(now, self.env_at) < 10000:
            return
        self.env_at = now
        v = self.view
        env, bat = self.parts.get("env"), self.parts.get("battery")
        if env is not None:
            try:
                v.env = env.read()
            except OSError as e:
                self.log(3, str(e))
        if bat is not None:
            try:
                v.volts, v.battery = bat.read()
            except OSError as e:
                self.log(3, str(e))
        self.dirty = True

    def _led(self, now):
        led = self.parts.get("led")
        if led is None or self.led_mode < 2:
            return
        on = (now // (self.led_period // 2)) & 1
        r, g, b = self.led_rgb if on else (0, 0, 0)
        led.set(r, g, b)

    def audio_step(self, now):
        """One mic frame when the mic is wanted; True if one was read."""
        cap = self.capture
        if cap is None:
            return False
        s = self.flow.state
        if not (cap.streaming or (cap.detector is not None and (s == S.IDLE or s == S.OFFLINE))):
            return False
        r = cap.frame()
        if cap.streaming:
            self.view.level(min(28, cap.level >> 5))
        if r == 1:
            self.event(S.WAKE, now)
        elif r == 2:
            self.event(S.SPEECH_END, now)
        elif r == 3:
            self.event(S.SPEECH_START, now)
        return True

    def play_step(self, now):
        """Feed the speaker; the end of the host's sound once it has played."""
        pb = self.playback
        if pb is not None and pb.pump(now):
            self.event(S.PLAY_END, now)

    # -- the tasks

    async def _link_task(self):
        while True:
            now = time.ticks_ms()
            self.link_step(now)
            self.alive[0] = now
            await asyncio.sleep_ms(4)

    async def _ui_task(self):
        while True:
            now = time.ticks_ms()
            self.buttons_step(now)
            self.tick(now)
            self.alive[1] = now
            await asyncio.sleep_ms(10)

    async def _audio_task(self):
        while True:
            now = time.ticks_ms()
            self.alive[2] = now
            if not self.audio_step(now):
                await asyncio.sleep_ms(10)
            else:
                await asyncio.sleep_ms(0)

    async def _play_task(self, pb):
        while True:
            self.play_step(time.ticks_ms())
            await asyncio.sleep_ms(5 if pb.busy else 20)  # a block lasts 32 ms; 120 ms stay queued

    async def _watchdog_task(self, wdt):
        while True:
            now = time.ticks_ms()
            if wdt is not None and all(time.ticks_diff(now, t) < 4000 for t in self.alive):
                wdt.feed()  # only while every task still runs
            await asyncio.sleep_ms(500)

    async def run(self, wdt=None):
        self.event(S.READY, time.ticks_ms())
        tasks = [self._link_task(), self._ui_task(), self._audio_task(), self._watchdog_task(wdt)]
        if self.playback is not None:
            tasks.append(self._play_task(self.playback))
        await asyncio.gather(*tasks)


def main(board, parts, wdt=None, detector=None, boot_id=0, faults=(), heap_base=0):
    """Run the app for good: an unhandled exception is logged over the link,
    shown, and the app starts again (the session with the host stays up)."""
    caps = 0xF00  # confirmations, timers, notes, the heap report: the board always has them
    for bit, key in ((0x001, "display"), (0x002, "led"), (0x004, "amp"), (0x008, "mic"),
                     (0x010, "env"), (0x020, "imu"), (0x040, "battery")):
        if parts.get(key) is not None:
            caps |= bit
    if parts.get("buttons"):
        caps |= 0x080
    lnk = Link(board, caps, boot_id)
    error = None
    while True:
        app = App(board, parts, lnk, detector)
        app.pending += ["part failed: " + f for f in faults]  # told to the host once the link is up
        app.heap_base = heap_base
        if error:
            app.flow.fail(error, time.ticks_ms())
        try:
            asyncio.new_event_loop()  # no task of a crashed app survives into the next
            asyncio.run(app.run(wdt))
        except KeyboardInterrupt:
            raise
        except Exception as e:  # noqa: BLE001  any fault: report, show, restart
            error = _describe(e)
            app.log(3, "app crashed, restarting: " + error)
            app.flow.fail(error.split("\n")[-1] if error else "fault", time.ticks_ms())
            try:
                app.redraw()
            except Exception:  # noqa: BLE001  a dead display must not stop the restart
                pass
            error = error.split("\n")[-1]
            del app
            gc.collect()
            time.sleep_ms(500)


def _describe(e):
    import io
    buf = io.StringIO()
    sys.print_exception(e, buf)
    return buf.getvalue().strip()

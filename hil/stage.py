"""A whole Pocket Agent on this machine: a twin running the deployed firmware, and
the bridge with the pipeline answering it, driven as a person would drive the
board (speech into its mic, its button) and watched through its screen and
speaker. The demo, the end-to-end tests and the end-to-end benchmark use it.

    with Stage("pico2w", state_dir) as stage:
        stage.say("hey pocket, what's the temperature?")
        reply = stage.wait_step("reply")
        print(stage.screen().text)

The bridge and the pipeline run in an event loop on a thread of their own;
the world is driven from the caller's thread. Every wait has a deadline.
"""

import asyncio
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pocket_agent.errors import PocketError
from pocket_agent.host.speech.audio import write_wav

from . import display

MIC_VOICE = "en-us+m1"  # the voice spoken into the mic (one the recogniser hears well)
MIC_WPM = 160
POLL_S = 0.01  # between two reads of the screen while timing it (each read takes a few ms too)
FOLLOW_S = 0.1  # between two fetches of a twin panel's record of screens (it keeps 256)


@dataclass
class Utterance:
    text: str
    seconds: float  # speech played into the mic
    started: float  # time.time() when the mic began to play it
    ended: float  # time.time() when its last sample went into the mic
    released: float  # time.time() when the button was released (push-to-talk), else None
    mode: str = "push-to-talk"  # or "wake word", or "push-to-talk (wake word missed)"


@dataclass
class Turn:
    """One request and what came of it, as the board and the pipeline showed it."""
    utterance: Utterance
    steps: list  # the pipeline's steps, in order
    screen_at: float  # time.time() when the screen first showed the answer (or the confirmation)
    screen: object  # display.Screen at that moment
    rows: list  # its pixels
    start: int = 0  # where its steps begin in Stage.steps

    def step(self, name):
        return next((e for e in self.steps if e["step"] == name), None)

    @property
    def heard(self):
        e = self.step("heard")
        return e["text"] if e else None

    @property
    def tools(self):
        return [(e["name"], e["args"]) for e in self.steps if e["step"] == "tool"]

    @property
    def screen_ms(self):
        """From the last sample of speech into the mic to the answer on the screen."""
        return round((self.screen_at - self.utterance.ended) * 1000)


def trim(pcm, level=64):
    """Speech without the synthesizer's silence before and after it."""
    x = np.frombuffer(pcm, "<i2")
    loud = np.nonzero(np.abs(x.astype(np.int32)) > level)[0]
    if len(loud) == 0:
        return b""
    return x[loud[0]:loud[-1] + 1].tobytes()


class Stage:
    def __init__(self, board="pico2w", state_dir=None, *, agent="offline", speak=True, wake_phrase=None,
                 voice=MIC_VOICE, wpm=MIC_WPM, listeners=(), deploy=True, firmware_dir=None, port=None,
                 world=None):
        from pocket_agent.host.pipeline import PipelineSettings
        from pocket_agent.host.speech.tts import EspeakTTS

        self.board = board
        self.state_dir = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="pocket-stage-"))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        kw = {} if wake_phrase is None else {"wake_phrase": wake_phrase}
        self.pipeline_settings = PipelineSettings(agent=agent, state=self.state_dir / "agent.sqlite3", speak=speak,
                                                  **kw)
        self.mic_voice = EspeakTTS(voice, wpm)
        self.listeners = list(listeners)
        self.do_deploy = deploy
        self.firmware_dir = firmware_dir  # None: this checkout's firmware/
        self.port = port  # a real board's serial port; None: the board's twin
        self.rig_world = world  # on a real board, what its rig does in place of a twin's world
        self.steps = []  # every step the pipeline reported, in order
        self.events = []  # every bridge event but audio chunks (the link trace), in order
        self.artifacts = None  # a folder: snap() saves display PNGs there
        self._snaps = 0
        self._name = None
        self._lock = threading.Lock()
        self._new_step = threading.Condition(self._lock)
        self.twin = None
        self.loop = None
        self.thread = None
        self.bridge = None
        self.pipeline = None
        self.deployed = None
        self.timings = {}  # seconds each part of start() took
        self._said = 0

    # -- starting and stopping

    def start(self, timeout=120.0):
        from pocket_agent.tools.twin import launcher

        t0 = time.monotonic()
        if self.port is None:
            self.twin = launcher.start(self.board, state_dir=self.state_dir, wipe=True, timeout=30)
            self.timings["twin"] = time.monotonic() - t0
        try:
            self._start_loop()
            self.call(self._make_bridge)  # the recogniser warms up from here on
            if self.do_deploy:
                t = time.monotonic()
                from pocket_agent.tools import deploy

                kw = {"firmware_dir": self.firmware_dir} if self.firmware_dir else {}
                where = {"port": self.port} if self.port else {"twin": self.twin.name}
                self.deployed = deploy.deploy(self.board, state_dir=self.state_dir, out=lambda *a, **k: None,
                                              **where, **kw)
                self.timings["deploy"] = time.monotonic() - t
            self._up(timeout)
        except BaseException:
            self.stop()
            raise
        self.timings["total"] = time.monotonic() - t0
        return self

    def _up(self, timeout):
        t = time.monotonic()
        self.call(self.bridge.start)
        self._name = next(iter(self.bridge.sessions))  # the bridge names a twin's port after the twin
        self.call(self._online, timeout=timeout)
        self.timings["online"] = time.monotonic() - t
        t = time.monotonic()
        self.call(self.pipeline.ready(self.board_name, timeout), timeout=timeout + 5)
        self.timings["recogniser"] = time.monotonic() - t

    @property
    def board_name(self):
        return self._name or self.twin.name

    @property
    def session(self):
        """The bridge's session with the board (its link)."""
        return self.bridge.sessions[self.board_name]

    def _start_loop(self):
        ready = threading.Event()

        def run():
            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            ready.set()
            self.loop.run_forever()
            self.loop.close()

        self.thread = threading.Thread(target=run, name="stage bridge", daemon=True)
        self.thread.start()
        ready.wait(10)

    async def _make_bridge(self):
        from pocket_agent.host.bridge import settings as bridge_settings
        from pocket_agent.host.bridge.bridge import Bridge
        from pocket_agent.host.pipeline import Pipeline

        s = bridge_settings.load(None, env={"XDG_CONFIG_HOME": str(self.state_dir / "config")},
                                 ports=[self.port or self.twin.port], scan=False, state_db=self.state_dir / "bridge.sqlite",
                                 log_dir=self.state_dir / "bridge-logs",
                                 control_socket=self.state_dir / "bridge.sock")
        self.bridge = Bridge(s)
        self.pipeline = Pipeline(self.bridge, self.pipeline_settings, listeners=[self._step, *self.listeners])
        self.pipeline.start()
        self._record = asyncio.get_running_loop().create_task(self._record_events(self.bridge), name="link trace")

    async def _record_events(self, bridge):
        with bridge.subscribe() as q:
            while True:
                ev = await q.get()
                if ev["kind"] in ("audio_chunk", "pipeline"):
                    continue
                with self._lock:
                    self.events.append(ev)
                    self._new_step.notify_all()

    async def _online(self):
        session = self.bridge.sessions[self.board_name]
        while not session.online:
            await asyncio.sleep(0.02)

    def call(self, what, timeout=60.0):
        """Run a coroutine (or a coroutine function) in the bridge's loop and return its result."""
        coro = what() if callable(what) else what
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _down(self):
        if self.bridge is None or self.bridge.stopped.is_set():
            return
        if self.pipeline is not None:
            await self.pipeline.stop()
        await self.bridge.stop()
        if getattr(self, "_record", None) is not None:
            self._record.cancel()

    def stop_bridge(self):
        """Stop the bridge and its pipeline, as when the host goes away; the board runs on."""
        self.call(self._down, timeout=20)

    def start_bridge(self, timeout=120.0):
        """A new bridge and pipeline on the same state (its store, keys and logs), as when the
        host comes back; returns once the board is online and its recogniser ready."""
        self.call(self._make_bridge)
        self._up(timeout)

    @property
    def bridge_running(self):
        return self.bridge is not None and not self.bridge.stopped.is_set()

    def stop(self):
        if self.loop is not None and self.loop.is_running():
            try:
                self.call(self._down, timeout=20)
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self.thread.join(10)
        if self.twin is not None:
            self.twin.stop()

    def __enter__(self):
        return self.start() if self.loop is None else self

    def __exit__(self, *exc):
        self.stop()

    # -- what the pipeline did

    def _step(self, event):
        with self._lock:
            self.steps.append(event)
            self._new_step.notify_all()

    def mark(self):
        """A position in the steps: wait_step(after=mark) looks only at later ones."""
        with self._lock:
            return len(self.steps)

    def wait_step(self, step, timeout=20.0, after=None, where=None):
        """The first step of this kind (and matching `where(event)`) at or after `after`."""
        start = self._said if after is None else after
        return self._wait_for(self.steps, start, lambda e: e["step"] == step and (where is None or where(e)),
                              timeout, f"no {step!r} step within {timeout:g} s (the pipeline reported: {{}})",
                              lambda e: e["step"])

    def steps_since(self, mark):
        with self._lock:
            return list(self.steps[mark:])

    def event_mark(self):
        with self._lock:
            return len(self.events)

    def wait_event(self, kind, timeout=10.0, after=0, where=None):
        """The first link event of this kind (and matching `where(data)`) from the
        bridge at or after position `after` in `events`: {"kind", "time", "data"}."""
        return self._wait_for(self.events, after, lambda e: e["kind"] == kind and (where is None or where(e["data"])),
                              timeout, f"no {kind!r} link event within {timeout:g} s (the bridge saw: {{}})",
                              lambda e: e["kind"])

    def _wait_for(self, items, start, match, timeout, failure, name):
        """The first of items[start:] that matches, waiting for new ones until the deadline;
        else AssertionError(failure naming what came)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for e in items[start:]:
                    if match(e):
                        return e
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(failure.format(", ".join(name(e) for e in items[start:]) or "nothing"))
                self._new_step.wait(left)

    def events_since(self, mark):
        with self._lock:
            return list(self.events[mark:])

    def board_info(self, timeout=5.0):
        """The board's own report over the link (`info`): firmware, and its heap after a
        collection (heap: what the app can use; mem_free: of which free)."""
        device = self.bridge.device(self.board_name)
        return self.call(device.device_info(), timeout=timeout)

    def board_heap(self, timeout=5.0):
        """The board's heap report (`heap_get`): heap, mem_free and largest_free, the
        largest block it can allocate now (a heap can have room, but in pieces)."""
        device = self.bridge.device(self.board_name)
        return self.call(device.heap_report(), timeout=timeout)

    # -- acting on the board, as a person would

    @property
    def world(self):
        if self.twin is not None:
            return self.twin.world
        if self.rig_world is None:
            raise PocketError("this real board has no rig to act on it or watch it",
                              hint="give the stage a world from the rig, or mark the test needs(...)")
        return self.rig_world

    def speech(self, text):
        """16 kHz speech of `text` in the mic's voice, without silence around it."""
        return trim(self.mic_voice.synthesize(text).pcm)

    def say(self, text, ptt=True, timeout=20.0, pcm=None):
        """Speak into the board's mic. With push-to-talk, hold the button from before the
        first word until the last sample has gone in, as a person does."""
        pcm = self.speech(text) if pcm is None else pcm
        wav = self._write_wav(pcm)
        self._said = self.mark()
        if ptt:
            self.world.press("button")
            self.wait_step("listening", timeout=5)
        self.world.mic_play(str(wav))
        started = time.time()
        ended = self._wait_mic(timeout)
        if ptt:
            self.world.release("button")
        return Utterance(text, len(pcm) / 32000, started, ended, time.time() if ptt else None,
                         mode="push-to-talk" if ptt else "open mic")

    def _write_wav(self, pcm, name="mic.wav"):
        wav = self.state_dir / name
        write_wav(str(wav), pcm)
        return wav

    def _wait_mic(self, timeout):
        deadline = time.monotonic() + timeout
        while self._mic_playing():
            if time.monotonic() > deadline:
                self.world.mic_stop()
                raise PocketError(f"the mic was still playing after {timeout:g} s")
            time.sleep(0.003)
        return time.time()

    def _mic_playing(self):
        if self.twin is not None:
            return self.twin.control("world")["mic"]["playing"]
        return self.world.state()["mic"]["playing"]

    def say_hands_free(self, request, wake_phrase="hey pocket", pause=0.5, wait_s=1.2, timeout=20.0):
        """The wake phrase, a pause, then the request, with no button. If the board has not
        started listening `wait_s` after the phrase, push-to-talk instead: hold the button
        and say it all again. Returns the Utterance (its mode says which way it went)."""
        wake, req = self.speech(wake_phrase), self.speech(request)
        pcm = wake + bytes(2 * int(16000 * pause)) + req
        self._said = self.mark()
        self.world.mic_play(str(self._write_wav(pcm)))
        started = time.time()
        try:
            self.wait_step("listening", timeout=len(wake) / 32000 + wait_s)
        except AssertionError:
            self.world.mic_stop()
            self._wait_mic(5)
            self._settle_late_wake()
            u = self.say(f"{wake_phrase}, {request}", timeout=timeout)
            u.mode = "push-to-talk (wake word missed)"
            return u
        ended = self._wait_mic(timeout)
        return Utterance(request, len(pcm) / 32000, started, ended, None, mode="wake word")

    def _settle_late_wake(self):
        """If the board woke after all (later than we waited), let that turn end and the
        board go back to idle before pressing: a press now would land in it."""
        if not any(e["step"] == "listening" for e in self.steps_since(self._said)):
            return
        deadline = time.monotonic() + 20
        while not any(e["step"] in ("broken_off", "reply", "error") for e in self.steps_since(self._said)):
            if time.monotonic() > deadline:
                raise AssertionError("the board woke late and its turn did not end within 20 s")
            time.sleep(0.02)
        self.wait_idle()

    def converse(self, request, hands_free=True, until=("shown", "confirm"), timeout=30.0):
        """Say a request and watch the screen until the pipeline shows an answer (or asks to
        confirm) and the screen has it. Returns the Turn."""
        wake = self.pipeline_settings.wake_phrase
        if hands_free:
            u = self.say_hands_free(request, wake)
        else:
            u = self.say(f"{wake}, {request}" if wake else request)
        first = {}

        def answered():
            for e in self.steps_since(self._said):
                if e["step"] in until:
                    first.setdefault("step", e)
                    return True
            return False

        frames = self.watch_screen(answered, timeout)
        step = first.get("step")
        if step is None:
            raise AssertionError(f"no answer within {timeout:g} s to {request!r}; the pipeline reported: "
                                 + ", ".join(e["step"] for e in self.steps_since(self._said)))
        # the answer's first words, below the status bar (whose clock could match a time of day)
        want = "Confirm?" if step["step"] == "confirm" else " ".join(display.words(step["text"])[:4])
        seen = self._first_showing(frames, want)
        if seen is None:
            t, s = self.wait_screen(want, timeout=3, body=True)
            seen = (t, s, self.pixels())
        if self.artifacts is not None:
            self.snap("confirm" if step["step"] == "confirm" else "answer", rows=seen[2])
        return Turn(u, self.steps_since(self._said), *seen, start=self._said)

    @staticmethod
    def _first_showing(frames, phrase):
        for t, rows in frames:
            s = display.read(rows)
            if s.shows(phrase, body=True):
                return t, s, rows
        return None

    def wait_idle(self, timeout=20.0):
        """Until the board is back to its idle screen (the hint line shows)."""
        deadline = time.monotonic() + timeout
        tapped = False
        while time.monotonic() < deadline:
            rows = self.pixels()
            s = display.read(rows)
            if s.shows("say the word") or s.shows("hold to talk"):
                return s
            if not tapped and not np.any(rows):
                # idle long enough for the screen to blank: a tap wakes it, as a person would
                self.world.tap()
                tapped = True
            time.sleep(0.05)
        raise AssertionError(f"the board did not go back to idle within {timeout:g} s; it shows:\n"
                             + self.screen().text)

    def press(self, ms=150):
        """Press and release the button; returns once it is up again (a press made while the
        last one is still down would be lost in it)."""
        self.world.press("button", ms=ms)
        time.sleep(ms / 1000 + 0.05)

    def hold(self, ms=1500):
        """A long press (the board's "no")."""
        self.world.hold("button", ms=ms)
        time.sleep(ms / 1000 + 0.05)

    # -- watching the board

    def pixels(self):
        return self.world.display_pixels()

    def screen(self):
        return display.read(self.pixels())

    @staticmethod
    def save_png(rows, path, scale=2):
        """Pixels (rows of 0/1) as a PNG, white on black as the panel shows them."""
        from PIL import Image

        px = np.asarray(rows, np.uint8) * 255
        Image.fromarray(px).resize((px.shape[1] * scale, px.shape[0] * scale), Image.NEAREST).save(path)
        return Path(path)

    def snap(self, label, rows=None):
        """Save the screen (or these pixels) as display-NN-label.png in the artifacts folder."""
        if self.artifacts is None:
            return None
        self._snaps += 1
        path = Path(self.artifacts) / f"display-{self._snaps:02d}-{label}.png"
        return self.save_png(self.pixels() if rows is None else rows, path)

    def snapshot(self, path, scale=2):
        self.world.display_png(str(path), scale=scale)
        return Path(path)

    def wait_screen(self, phrase, timeout=10.0, body=False):
        """Until the screen (or its body, below the status bar) shows the words of `phrase`;
        returns (time.time(), Screen)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            rows = self.pixels()
            if rows != last:
                last = rows
                s = display.read(rows)
                if s.shows(phrase, body):
                    return time.time(), s
            time.sleep(POLL_S)
        raise AssertionError(f"the screen did not show {phrase!r} within {timeout:g} s; it shows:\n"
                             + display.read(last).text)

    def watch_screen(self, until, timeout=20.0):
        """Every change of the screen, with its time, until `until()` is true: [(time.time(), rows)]."""
        frames, last = [], None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            t0 = time.time()
            rows = self.pixels()
            t = (t0 + time.time()) / 2  # the world read the panel during the call
            if rows != last:
                frames.append((t, rows))
                last = rows
            if until():
                break
            time.sleep(POLL_S)
        return frames

    def record_screens(self, period=0.02):
        """A ScreenRecorder: every change of the screen, with its time, while it runs."""
        return ScreenRecorder(self, period)

    def outbox(self):
        store = self.pipeline.store

        async def read():
            return [dict(r) for r in store.outbox(self.board_name)]
        return self.call(read)

    def pending(self):
        """What the bridge holds for the board and sends it at each link up: [(kind, id, payload)]."""
        session = self.session

        async def read():
            return [tuple(r) for r in session.store.items(session.name)]
        return self.call(read)

    def actions(self):
        store = self.pipeline.store

        async def read():
            return [dict(r) for r in store.actions(self.board_name)]
        return self.call(read)


class ScreenRecorder:
    """Watches the screen from a thread of its own, so a test can act meanwhile.

        with stage.record_screens() as rec:
            stage.say(...)
        rec.bodies()  # what the screen showed below its status bar, in order
    """

    def __init__(self, stage, period=0.02):
        self.stage = stage
        self.period = period
        self.frames = []  # (time.time(), rows), one per change
        self._stop = threading.Event()
        self._thread = None
        self._mark = None
        self.error = None

    def __enter__(self):
        # A twin's panel keeps the screens it showed, also those too brief to poll
        # under load: the thread follows that record. Polling the pixels is for a
        # real board's rig, and the fallback when the record cannot be trusted.
        self._mark = None
        if self.stage.twin is not None:
            self._mark, _ = self.stage.world.display_frames(since=1 << 62)
            self.frames.append((time.time(), self.stage.pixels()))
        self._thread = threading.Thread(target=self._run, name="screen recorder", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        if self._mark is None:
            rows = self.stage.pixels()  # the last screen, which the thread may not have polled yet
            if not self.frames or rows != self.frames[-1][1]:
                self.frames.append((time.time(), rows))

    def _run(self):
        if self._mark is not None and self._follow_panel():
            return
        self._poll()

    def _follow_panel(self):
        """Fetch the twin's record of screens every FOLLOW_S; False, having
        dropped the record, if the world restarted or it lost screens."""
        wall = time.time() - time.monotonic()
        while True:
            stopping = self._stop.wait(FOLLOW_S)
            try:
                last, shown = self.stage.world.display_frames(since=self._mark)
            except PocketError as exc:
                self.error = exc
                if stopping:
                    return True
                continue
            if last < self._mark or len(shown) != last - self._mark:
                self._mark = None
                return False
            self.frames.extend((wall + t, rows) for t, rows in shown)
            self._mark = last
            if stopping:
                return True

    def _poll(self):
        last = self.frames[-1][1] if self.frames else None
        while not self._stop.is_set():
            t0 = time.time()
            try:
                rows = self.stage.pixels()
            except PocketError as exc:  # the board restarting: its panel is not there a moment
                self.error = exc
                rows = last
            if rows != last:
                self.frames.append(((t0 + time.time()) / 2, rows))
                last = rows
            self._stop.wait(self.period)

    @property
    def following(self):
        """Whether it reads the twin panel's record of screens (else it polls pixels)."""
        return self._mark is not None

    def screens(self):
        return [(t, display.read(rows)) for t, rows in self.frames]

    def bodies(self):
        """The screen's body (below the status bar) at each change, repeats folded."""
        out = []
        for _, s in self.screens():
            body = " ".join(s.body.split())
            if not out or out[-1] != body:
                out.append(body)
        return out

"""`pocket demo`: a first real conversation with a virtual board.

It starts the twin of a board, deploys the firmware to it, starts the bridge
with the offline agent, and speaks a short scripted conversation into the
twin's microphone: the temperature, a ten-second timer that rings on the
board, and an order the user approves with the board's button. Each step is
shown as it happens; the display snapshots (PNG) and the speaker's recording
are saved; a summary closes it.
"""

import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from pocket_agent.boards import catalog
from pocket_agent.errors import PocketError

SCRIPT = (
    ("temperature", "what's the temperature?"),
    ("timer", "set a timer for ten seconds"),
    ("order", "order more coffee"),
)
TEMPERATURE_C = 21.5


def register(sub):
    p = sub.add_parser(
        "demo", help="talk to a virtual board: temperature, a timer, an order approved with the button",
        description="Start the twin of a board, deploy the firmware, start the bridge with the offline agent, "
                    "and speak a short conversation into the twin's microphone, showing each step (what was "
                    "heard, the tool calls, timings). Display snapshots and the speaker's sound are saved.")
    p.add_argument("--board", default="pico2w", help="board to run (default: pico2w; see `pocket boards`)")
    p.add_argument("--out", default="artifacts/demo", help="where snapshots and the recording go (default: %(default)s)")
    p.add_argument("--push-to-talk", action="store_true",
                   help="hold the button through each phrase instead of saying the wake word")
    p.set_defaults(func=run)


@dataclass
class Check:
    what: str
    ok: bool
    detail: str = ""


@dataclass
class Report:
    checks: list = field(default_factory=list)
    turns: list = field(default_factory=list)  # (name, Turn)
    snapshots: list = field(default_factory=list)

    def check(self, what, ok, detail=""):
        self.checks.append(Check(what, bool(ok), detail))
        out(f"    {'ok' if ok else 'NOT OK'}: {what}" + (f" ({detail})" if detail else ""))
        return ok


_PRINT = threading.Lock()


def out(line):
    """One whole line: the pipeline's steps are printed from the bridge's thread."""
    with _PRINT:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class Demo:
    def __init__(self, board, out, push_to_talk):
        self.board = board
        self.out = out
        self.push_to_talk = push_to_talk
        self.t0 = time.monotonic()
        self.report = Report()
        self.stage = None

    def say(self, text):
        out(f"[{time.monotonic() - self.t0:5.1f} s] {text}")

    def on_step(self, event):
        from pocket_agent.host.pipeline import describe

        if event["step"] in ("listening", "paired", "ready"):
            return
        out(f"[{time.monotonic() - self.t0:5.1f} s]    board {event['board']}: {describe(event)}")

    def snapshot(self, name):
        path = self.stage.snapshot(self.out / f"{len(self.report.snapshots) + 1}-{name}.png", scale=4)
        self.report.snapshots.append(path)
        return path

    def run(self):
        from .stage import Stage

        self.out.mkdir(parents=True, exist_ok=True)
        self.say(f"starting a twin of {self.board.title}, deploying the firmware, starting the bridge "
                 "and the offline agent")
        self.stage = Stage(self.board.name, listeners=[self.on_step])
        with self.stage as stage:
            t = stage.timings
            self.say(f"ready: twin {t['twin']:.1f} s, deploy {t['deploy']:.1f} s "
                     f"({len(stage.deployed.plan.writes)} files), link up {t['online']:.1f} s, "
                     f"speech recogniser {t['recogniser']:.1f} s")
            info = stage.call(stage.bridge.device(stage.board_name).device_info)
            wake = "ww:none" not in info.get("firmware", "ww:none")
            hands_free = wake and not self.push_to_talk
            if hands_free:
                self.say(f"the board listens for its wake word ({info['firmware'].split('ww:')[1]}); "
                         "if it misses, the demo holds the button instead (push-to-talk)")
            else:
                why = "as asked" if self.push_to_talk else "the firmware has no wake-word model"
                self.say(f"push-to-talk ({why}): the button is held through each phrase, \"hey pocket\" included")
            stage.world.environment(temperature=TEMPERATURE_C, humidity=45.0)
            stage.world.speaker_record(str(self.out / "speaker.wav"))
            try:
                for name, request in SCRIPT:
                    getattr(self, "turn_" + name)(request, hands_free)
            finally:
                stage.world.speaker_stop()
            self.outbox = stage.outbox()
            self.actions = stage.actions()
        return self.summary()

    def _turn(self, name, request, hands_free, until=("shown", "confirm")):
        self.stage.wait_idle()
        wake = self.stage.pipeline_settings.wake_phrase
        self.say(f'you: "{wake}, {request}"')
        turn = self.stage.converse(request, hands_free=hands_free, until=until)
        self.report.turns.append((request, turn))
        self.say(f"   ({turn.utterance.mode}) end of speech to the answer on the screen: {turn.screen_ms} ms")
        return turn

    def turn_temperature(self, request, hands_free):
        turn = self._turn("temperature", request, hands_free)
        self.snapshot("temperature")
        r = self.report
        r.check("the agent read the board's sensors", ("read_sensors", {}) in turn.tools, turn.heard)
        r.check(f"the screen shows {TEMPERATURE_C} C", turn.screen.shows(f"{TEMPERATURE_C} C"),
                " / ".join(line.text for line in turn.screen.lines[1:]))

    def turn_timer(self, request, hands_free):
        turn = self._turn("timer", request, hands_free)
        self.snapshot("timer-set")
        r = self.report
        set_timer = [args for name, args in turn.tools if name == "set_timer"]
        r.check("a 10 s timer was set on the board", set_timer and set_timer[0].get("seconds") == 10,
                f"heard {turn.heard!r}")
        if not set_timer:
            return
        self.say("waiting for the timer to ring on the board (it counts down there, host or no host)")
        fired = self.stage.wait_step("timer_fired", timeout=set_timer[0]["seconds"] + 10)
        self.stage.wait_screen("TIMER", timeout=5)
        self.snapshot("timer-fired")
        set_at = turn.step("tool_done")["time"]
        r.check("the timer rang on the board", True, f"{fired['time'] - set_at:.1f} s after it was set")
        self.say("pressing the board's button to stop the alarm")
        self.stage.press()

    def turn_order(self, request, hands_free):
        turn = self._turn("order", request, hands_free)
        r = self.report
        if not r.check("the board asks to confirm the order", turn.step("confirm"), turn.heard):
            return
        self.snapshot("confirm")
        self.say("pressing the board's button to approve")
        mark = self.stage.mark()
        self.stage.press()
        confirmed = self.stage.wait_step("confirmed", after=mark, timeout=10)
        reply = self.stage.wait_step("reply", after=mark, timeout=10)
        r.check("the board signed the approval and the host verified it", confirmed["approved"],
                confirmed["reason"])
        self.stage.wait_screen(reply["text"].splitlines()[0], timeout=5)
        self.snapshot("ordered")
        self.stage.wait_step("spoken", after=mark, timeout=15)

    def summary(self):
        r = self.report
        print("\nSummary")
        ends = [turn.start for _, turn in r.turns[1:]] + [len(self.stage.steps)]
        for n, ((request, turn), end) in enumerate(zip(r.turns, ends), 1):
            steps = self.stage.steps[turn.start:end]
            tools = ", ".join(f"{e['name']} ({e['status']})" for e in steps if e["step"] == "tool_done") or "none"
            print(f"  {n}. \"{request}\" ({turn.utterance.mode})")
            print(f"     heard \"{turn.heard or ''}\"; tools: {tools}; "
                  f"end of speech to the answer on the screen: {turn.screen_ms} ms")
        orders = [o for o in self.outbox if o["kind"] == "order"]
        r.check("the outbox holds the order", any("coffee" in o["body"] for o in orders),
                "; ".join(f"{o['kind']} {o['body']!r} {o['status']}" for o in self.outbox) or "empty")
        approved = [a for a in self.actions if a["tool"] == "place_order" and a["approved"]]
        r.check("the action log shows the approved order", approved,
                ", ".join(f"{a['tool']} {a['status']}" for a in self.actions if a["tool"] != "pair"))
        print(f"  snapshots: {', '.join(str(p) for p in r.snapshots)}")
        print(f"  the speaker's sound: {self.out / 'speaker.wav'}")
        failed = [c for c in r.checks if not c.ok]
        took = time.monotonic() - self.t0
        if failed:
            print(f"  {len(failed)} of {len(r.checks)} checks failed ({took:.1f} s): "
                  + "; ".join(c.what for c in failed))
            return 1
        print(f"  all {len(r.checks)} checks passed in {took:.1f} s")
        return 0


def run(args):
    board = catalog.load(args.board)
    demo = Demo(board, Path(args.out), args.push_to_talk)
    interrupted = []

    def on_interrupt(signum, frame):
        interrupted.append(signum)
        raise KeyboardInterrupt

    # A Ctrl-C reaches the twin's processes too (one process group): what fails because
    # they went is part of the interruption, not an error of its own.
    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        return demo.run()
    except AssertionError as exc:  # a wait that ran out: the board or the pipeline did not do its part
        if interrupted:
            return _interrupted()
        print(f"pocket demo: the conversation stopped: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return _interrupted()
    except PocketError:
        if interrupted:
            return _interrupted()
        raise
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupted():
    print("pocket demo: interrupted; the twin and the bridge are stopped", file=sys.stderr)
    return 130

"""A device simulated in the host process: it records calls and keeps its own state.

Used by tests (as the boundary the agents talk to) and by `pocket agent ask`.
Its confirmation runs the firmware's own approval code, so signatures are the
ones a board would make; `button` decides what the simulated user does.
"""

import time

from pocket_agent.firmware import approval

from .device import Device, DeviceError

SCREEN_COLS = 21
SCREEN_ROWS = 8


class SimulatedDevice(Device):
    def __init__(self, board="sim-1", sensors=None, button="approve", clock=time.time):
        self.board = board
        self.sensors = dict(sensors if sensors is not None else
                            {"temperature_c": 22.5, "humidity_pct": 45.0, "pressure_hpa": 1013.2, "battery_pct": 80})
        self.button = button  # "approve" | "deny" | "timeout" | callable(summary) -> one of those
        self.clock = clock
        self.calls = []
        self.screen = ""
        self.timers = {}
        self.settings = {"brightness": 70, "volume": 60, "dnd": False}
        self.led = "off"
        self.audio = []
        self.approver = None
        self.confirm_hook = None  # lets a test replace the signature the device returns
        self.fail = {}  # method name -> exception to raise, for fault tests

    def _record(self, call, **kw):
        self.calls.append((call, kw))
        if call in self.fail:
            raise self.fail[call]

    def called(self, name):
        return [kw for n, kw in self.calls if n == name]

    async def read_sensors(self):
        self._record("read_sensors")
        return dict(self.sensors)

    async def show_text(self, text, title=None):
        self._record("show_text", text=text, title=title)
        self.screen = text

    async def notify(self, text, level="info"):
        self._record("notify", text=text, level=level)
        self.screen = text

    async def play_tone(self, freq_hz, duration_ms):
        self._record("play_tone", freq_hz=freq_hz, duration_ms=duration_ms)

    async def play_audio(self, pcm, rate=16000):
        self._record("play_audio", samples=len(pcm) // 2, rate=rate)
        self.audio.append(bytes(pcm))

    async def set_led(self, color):
        self._record("set_led", color=color)
        self.led = color

    async def set_timer(self, timer_id, seconds, label, kind="timer"):
        self._record("set_timer", timer_id=timer_id, seconds=seconds, label=label, kind=kind)
        self.timers[timer_id] = {"due": self.clock() + seconds, "label": label, "kind": kind}

    async def cancel_timer(self, timer_id):
        self._record("cancel_timer", timer_id=timer_id)
        self.timers.pop(timer_id, None)

    def fired(self):
        """Timers whose time has come on the device's own clock (no host involved)."""
        now = self.clock()
        return sorted((t["label"] for t in self.timers.values() if t["due"] <= now))

    async def set_setting(self, name, value):
        self._record("set_setting", name=name, value=value)
        if name not in self.settings:
            raise DeviceError(f"the device has no setting {name}")
        self.settings[name] = value

    async def confirm(self, summary, action, nonce, expiry_ms, ttl_ms):
        self._record("confirm", summary=summary)
        if self.approver is None:
            return {"approved": False, "reason": "not paired"}
        self.screen = self.approver.request(action, nonce, expiry_ms, ttl_ms)
        choice = self.button(summary) if callable(self.button) else self.button
        if choice == "approve":
            signature = self.approver.press()
            if self.confirm_hook:
                signature = self.confirm_hook(signature)
            return {"approved": True, "signature": signature}
        self.approver.deny()
        return {"approved": False, "reason": "timeout" if choice == "timeout" else "denied"}

    async def pair(self, key):
        self._record("pair")
        self.approver = approval.Approver(key)

    async def device_info(self):
        self._record("device_info")
        return {"board": self.board, "kind": "simulated", "display": f"{SCREEN_COLS}x{SCREEN_ROWS} chars",
                "firmware": "host simulation"}

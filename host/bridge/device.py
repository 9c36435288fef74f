"""A board as the agents see it: host/agent/device.py's Device, over the link.

Durable requests (timers, notes, confirmations) are kept in the bridge's
SQLite store first, so they reach the board even if it is offline now; the
rest need the board online and raise DeviceError otherwise.
"""

import asyncio
import time

from pocket_agent.host.agent.device import Device, DeviceError

from .session import DeviceGone

LEVELS = {"debug": 0, "info": 1, "warning": 2, "alert": 3, "error": 3}
SETTINGS = {"brightness": 0, "volume": 1, "dnd": 2}
TIMER_KINDS = {"timer": 0, "alarm": 1, "reminder": 2}
COLOURS = {"off": (0, 0, 0), "red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255),
           "yellow": (255, 200, 0), "orange": (255, 100, 0), "purple": (160, 0, 255),
           "white": (255, 255, 255), "cyan": (0, 255, 255), "pink": (255, 80, 160)}
CAP_HEAP_REPORT = 0x800  # docs/link-protocol.md, caps
RESULTS = {0: "approved", 1: "denied", 2: "timeout", 3: "cancelled", 4: "not paired"}


def _rgb(color):
    c = color.strip().lower()
    if c in COLOURS:
        return COLOURS[c]
    if len(c) == 7 and c[0] == "#":
        try:
            return tuple(int(c[i:i + 2], 16) for i in (1, 3, 5))
        except ValueError:
            pass
    raise DeviceError(f"unknown colour {color!r}", hint="a colour name (" + ", ".join(COLOURS) + ") or #rrggbb")


class BoardDevice(Device):
    def __init__(self, session, clock=time.time):
        self.session = session
        self.board = session.name
        self.clock = clock

    async def _call(self, coro):
        try:
            return await coro
        except DeviceGone as exc:
            raise DeviceError(str(exc), hint="is the board plugged in? `pocket bridge status` shows it") from None

    async def _deliver(self, name, *values):
        s = self.session
        if not s.online:
            raise DeviceError(f"board {s.name} is {s.state}", hint="`pocket bridge status` shows the boards")
        ticket = await self._call(_now(s.send, name, *values))
        await self._call(s.delivered(ticket, s.settings.request_timeout_s))

    async def read_sensors(self):
        env = await self._call(self.session.request("sensor_read", (0,)))
        out = {}
        if env["status"] == 0 and len(env["values"]) >= 3:
            t, h, p = env["values"][:3]
            out.update(temperature_c=t / 100, humidity_pct=h / 100, pressure_hpa=p / 100)
        try:
            bat = await self._call(self.session.request("sensor_read", (2,)))
        except DeviceError:
            bat = {"status": 1}
        if bat["status"] == 0 and len(bat["values"]) >= 2:
            out["battery_pct"] = bat["values"][1]
        return out

    async def show_text(self, text, title=None):
        if title is not None:
            await self._deliver("display_text", 2, 0, title)
        await self._deliver("display_text", 0, 0, text)

    async def notify(self, text, level="info"):
        await self._deliver("notify", LEVELS.get(level, 1), 5000, "", text)

    async def play_tone(self, freq_hz, duration_ms):
        await self._deliver("tone", int(freq_hz), int(duration_ms), 60)

    async def play_audio(self, pcm, rate=16000):
        if rate != 16000:
            raise DeviceError(f"the board plays 16 kHz audio, not {rate} Hz", hint="resample to 16000 Hz")
        await self._call(self.session.play(pcm))

    async def set_led(self, color):
        r, g, b = _rgb(color)
        await self._deliver("led", r, g, b, 0 if (r, g, b) == (0, 0, 0) else 1, 0)

    async def set_timer(self, timer_id, seconds, label, kind="timer"):
        due = int(self.clock() + seconds)
        self.session.put_item("timer", int(timer_id), {"due": due, "kind": TIMER_KINDS.get(kind, 0),
                                                       "label": label[:200]})

    async def cancel_timer(self, timer_id):
        s = self.session
        if s.store.remove(s.name, "timer", int(timer_id)) and s.online:
            s.send("timer_cancel", int(timer_id))

    async def set_note(self, note_id, text):
        self.session.put_item("note", int(note_id), {"text": text})

    async def delete_note(self, note_id):
        s = self.session
        if s.store.remove(s.name, "note", int(note_id)) and s.online:
            s.send("note_delete", int(note_id))

    async def set_setting(self, name, value):
        if name not in SETTINGS:
            raise DeviceError(f"the device has no setting {name}", hint="settings: " + ", ".join(SETTINGS))
        await self._deliver("setting_set", SETTINGS[name], int(value))

    async def confirm(self, summary, action, nonce, expiry_ms, ttl_ms):
        """Ask the board; wait for the button (or the board to come back) up
        to ttl_ms plus a little for the link."""
        s = self.session
        cid = s.store.new_id()
        payload = {"ttl_ms": int(ttl_ms), "expiry_ms": int(expiry_ms), "nonce": bytes(nonce).hex(),
                   "action": action.decode() if isinstance(action, bytes) else action, "summary": summary}
        fut = asyncio.get_running_loop().create_future()
        s.confirm_waiters[cid] = fut
        try:
            s.put_item("confirm", cid, payload)
            result = await asyncio.wait_for(fut, ttl_ms / 1000 + 2 * s.settings.request_timeout_s)
        except asyncio.TimeoutError:
            s.store.remove(s.name, "confirm", cid)
            if s.online:
                s.send("confirm_cancel", cid)
            return {"approved": False, "reason": "timeout"}
        finally:
            s.confirm_waiters.pop(cid, None)
        if result["result"] == 0:
            return {"approved": True, "signature": bytes.fromhex(result["signature"])}
        return {"approved": False, "reason": RESULTS.get(result["result"], "denied")}

    async def pair(self, key):
        await self._deliver("pair", bytes(key))

    async def device_info(self):
        info = await self._call(self.session.request("info_get", ()))
        info.pop("re", None)
        peer = self.session.ep.peer or {}
        info.update(caps=peer.get("caps", 0), software=peer.get("software", ""))
        return info

    async def heap_report(self):
        """The board's heap after a collection (`heap_get`): what the app can use, how
        much is free, and the largest block it can allocate now. Not an agent tool: the
        board stalls for some milliseconds to find the largest block."""
        caps = (self.session.ep.peer or {}).get("caps", 0)
        if not caps & CAP_HEAP_REPORT:
            raise DeviceError(f"board {self.board} does not report its heap",
                              hint="its firmware predates heap_get; `pocket deploy` installs the current app")
        report = await self._call(self.session.request("heap_get", ()))
        report.pop("re", None)
        return report


async def _now(func, *args):
    return func(*args)

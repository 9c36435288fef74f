"""What a turn did and when: a Device and a tool registry that report each step.

The agents stay as they are; the pipeline hands them these wrappers, so the
trace (tool calls, the confirmation, the first text on the screen) comes from
the calls themselves, not from what an agent says it did.
"""

import time

from pocket_agent.host.agent.device import Device
from pocket_agent.host.agent.tools import Registry


class ObservedDevice(Device):
    """Delegates to the board's Device; `report(board, step, **fields)` hears about screen and confirmation."""

    def __init__(self, device, report):
        self.device = device
        self.board = device.board
        self.report = report

    async def show_text(self, text, title=None):
        await self.device.show_text(text, title=title)
        self.report(self.board, "shown", text=text)  # after the board acknowledged it

    async def confirm(self, summary, action, nonce, expiry_ms, ttl_ms):
        self.report(self.board, "confirm", summary=summary, ttl_s=ttl_ms / 1000)
        t0 = time.monotonic()
        answer = await self.device.confirm(summary, action, nonce, expiry_ms, ttl_ms)
        self.report(self.board, "confirmed", approved=bool(answer.get("approved")), reason=answer.get("reason", ""),
                    took_ms=round((time.monotonic() - t0) * 1000))
        return answer

    async def read_sensors(self):
        return await self.device.read_sensors()

    async def notify(self, text, level="info"):
        await self.device.notify(text, level)

    async def play_tone(self, freq_hz, duration_ms):
        await self.device.play_tone(freq_hz, duration_ms)

    async def play_audio(self, pcm, rate=16000):
        await self.device.play_audio(pcm, rate)

    async def set_led(self, color):
        await self.device.set_led(color)

    async def set_timer(self, timer_id, seconds, label, kind="timer"):
        await self.device.set_timer(timer_id, seconds, label, kind)

    async def cancel_timer(self, timer_id):
        await self.device.cancel_timer(timer_id)

    async def set_setting(self, name, value):
        await self.device.set_setting(name, value)

    async def pair(self, key):
        await self.device.pair(key)

    async def device_info(self):
        return await self.device.device_info()

    def __getattr__(self, name):  # the board's extras (set_note, delete_note)
        return getattr(self.device, name)


class TimedRegistry(Registry):
    """The shared tools; every call is reported with its arguments, outcome and duration."""

    def __init__(self, registry, report):
        super().__init__(registry.tools.values())
        self.report = report

    async def call(self, ctx, name, args):
        self.report(ctx.board, "tool", name=name, args=args if isinstance(args, dict) else {"raw": repr(args)})
        t0 = time.monotonic()
        result = await super().call(ctx, name, args)
        self.report(ctx.board, "tool_done", name=name, status=result.status, ok=result.ok, text=result.text,
                    took_ms=round((time.monotonic() - t0) * 1000))
        return result

"""A board as the agents see it, from another process: the Device interface over
the running bridge's control socket (`{"cmd": "device", ...}`).

The bridge keeps the board's port; this only asks it to make the call, so a
tool server (`pocket mcp`) and the bridge's own pipeline share one board.
Each call is one connection, so a confirmation waiting for the button never
holds up the others.
"""

import asyncio
import json

from pocket_agent.host.agent.device import Device, DeviceError

from .bridge import from_json, to_json

CALL_TIMEOUT_S = 20.0  # beyond the bridge's own request timeout


class BridgeDevice(Device):
    def __init__(self, board, control_socket):
        self.board = board
        self.path = str(control_socket)

    async def _call(self, method, timeout=CALL_TIMEOUT_S, **args):
        try:
            reader, writer = await asyncio.open_unix_connection(self.path, limit=1 << 20)
        except (FileNotFoundError, ConnectionRefusedError):
            raise DeviceError(f"no bridge is running (no control socket at {self.path})",
                              hint="start one with `pocket bridge`") from None
        try:
            request = {"cmd": "device", "board": self.board, "method": method, "args": to_json(args)}
            writer.write((json.dumps(request) + "\n").encode())
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), timeout)
        except asyncio.TimeoutError:
            raise DeviceError(f"the bridge did not answer {method} within {timeout:g} s") from None
        finally:
            writer.close()
        if not line:
            raise DeviceError("the bridge closed the control connection")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise DeviceError(reply.get("error", "the bridge refused"), hint="`pocket bridge status` shows the boards")
        return from_json(reply.get("result"))

    async def read_sensors(self):
        return await self._call("read_sensors")

    async def show_text(self, text, title=None):
        await self._call("show_text", text=text, title=title)

    async def notify(self, text, level="info"):
        await self._call("notify", text=text, level=level)

    async def play_tone(self, freq_hz, duration_ms):
        await self._call("play_tone", freq_hz=freq_hz, duration_ms=duration_ms)

    async def play_audio(self, pcm, rate=16000):
        raise DeviceError("audio goes to the board through the bridge's own pipeline, not over its control socket")

    async def set_led(self, color):
        await self._call("set_led", color=color)

    async def set_timer(self, timer_id, seconds, label, kind="timer"):
        await self._call("set_timer", timer_id=timer_id, seconds=seconds, label=label, kind=kind)

    async def cancel_timer(self, timer_id):
        await self._call("cancel_timer", timer_id=timer_id)

    async def set_setting(self, name, value):
        await self._call("set_setting", name=name, value=value)

    async def confirm(self, summary, action, nonce, expiry_ms, ttl_ms):
        return await self._call("confirm", timeout=ttl_ms / 1000 + CALL_TIMEOUT_S, summary=summary,
                                action=bytes(action), nonce=bytes(nonce), expiry_ms=expiry_ms, ttl_ms=ttl_ms)

    async def pair(self, key):
        await self._call("pair", key=bytes(key))

    async def device_info(self):
        return await self._call("device_info")

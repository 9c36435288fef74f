"""The firmware and the host bridge together: the real `pocket bridge`
session (host/bridge) drives the real app on a twin through the agents'
Device interface, so the contract between them is the link protocol alone."""

import asyncio
import hashlib

import pytest

from pocket_agent.firmware import approval
from pocket_agent.host.bridge import bridge as bridge_mod
from tests.bridge.test_bridge import make_settings, until
from tests.firmware.twinhost import start_app

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("board", ["pico2w", "esp32s3-devkitc"])
def test_the_bridge_uses_the_device_tools_of_the_firmware(board, tmp_path):
    twin = start_app(board, tmp_path / "state")
    twin.control("environment", temperature=19.25, humidity=61.0, pressure=100500)
    twin.control("battery", level=0.6)

    async def main():
        br = bridge_mod.Bridge(make_settings(tmp_path, [twin.port]))
        await br.start()
        try:
            name = next(iter(br.sessions))
            s = br.sessions[name]
            assert await until(lambda: s.online, 20), s.status()
            dev = br.device(name)
            info = await dev.device_info()
            assert info["board"] == board and info["firmware"].startswith("pocket-fw")
            assert info["caps"] & 0x7FF == 0x7FF  # every part of the reference board
            sensors = await dev.read_sensors()
            assert sensors["temperature_c"] == 19.25 and abs(sensors["humidity_pct"] - 61.0) <= 0.1
            assert 30 <= sensors["battery_pct"] <= 80
            await dev.show_text("Nineteen degrees.", title="Weather")
            await dev.set_led("green")
            await dev.play_tone(880, 100)
            await dev.set_setting("brightness", 50)
            # physical approval: the world presses the button while the bridge waits
            key = bytes(range(16, 48))
            await dev.pair(key)
            action = b'{"summary": "Buy milk", "tool": "order"}'
            nonce, expiry = bytes(range(16)), 1900000000000
            waiting = asyncio.create_task(dev.confirm("Buy milk", action, nonce, expiry, 20000))
            await asyncio.sleep(1.0)
            twin.control("press", button="button", ms=150)
            result = await asyncio.wait_for(waiting, 15)
            assert result["approved"]
            want = approval.hmac_sha256(key, approval.message(hashlib.sha256(action).digest(), nonce, expiry))
            assert result["signature"] == want
            led = twin.control("led")
            return led
        finally:
            await br.stop()

    try:
        led = asyncio.run(asyncio.wait_for(main(), 90))
        assert led["on"] and led.get("rgb", [0, 255, 0]) == [0, 255, 0]  # green (a plain LED is just on)
    finally:
        twin.stop()

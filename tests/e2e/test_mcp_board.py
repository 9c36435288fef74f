"""MCP on a board: `pocket mcp` serves the twin's tools through the running bridge
(which keeps the board's port), and the official SDK's client uses them over
stdio: the answers come from the twin's world, the effects show on its display
and LED, and a confirmation waits for a press of its button."""

import asyncio
import sys
import threading

import pytest
from mcp import Client, StdioServerParameters

pytestmark = pytest.mark.slow


def _client(stage, board=None):
    args = ["-m", "pocket_agent.cli", "mcp", "--socket", str(stage.bridge.settings.control_socket),
            "--state", str(stage.pipeline_settings.state)]
    if board:
        args += ["--board", board]
    return Client(StdioServerParameters(command=sys.executable, args=args))


def test_an_mcp_client_uses_the_boards_tools_through_the_bridge(stage):
    stage.world.environment(temperature=18.25, humidity=52.0)
    pressed = threading.Event()

    def press_when_asked():
        stage.wait_screen("Confirm? Open the door?", timeout=30, body=True)
        stage.press()
        pressed.set()

    async def run():
        async with _client(stage) as client:  # the bridge's only board, found through its status
            names = {t.name for t in (await client.list_tools()).tools}
            sensors = await client.call_tool("read_sensors", {})
            shown = await client.call_tool("show_text", {"text": "Hello from an MCP client"})
            screen = await asyncio.to_thread(stage.wait_screen, "Hello from an MCP client", 5, True)
            led = await client.call_tool("set_led", {"color": "green"})
            info = await client.call_tool("device_info", {})
            helper = threading.Thread(target=press_when_asked)
            helper.start()
            confirm = await client.call_tool("ask_confirmation", {"question": "Open the door?"})
            await asyncio.to_thread(helper.join, 30)
            return names, sensors, shown, screen, led, info, confirm

    names, sensors, shown, screen, led, info, confirm = asyncio.run(asyncio.wait_for(run(), 120))
    assert {"read_sensors", "show_text", "set_led", "ask_confirmation", "device_info"} <= names
    assert sensors.structured_content["temperature_c"] == 18.25 and not sensors.is_error
    assert abs(sensors.structured_content["humidity_pct"] - 52.0) <= 0.1
    assert not shown.is_error
    assert not led.is_error and stage.world.led()["on"]
    assert info.structured_content["board"] == "pico2w" and info.structured_content["firmware"].startswith("pocket-fw")
    assert pressed.is_set() and confirm.structured_content["answer"] == "yes"  # signed by the board, verified
    asked = [a for a in stage.actions() if a["tool"] == "ask_confirmation"]
    assert asked[-2]["approved"] and asked[-1]["status"] == "ran"
    stage.wait_idle()


def test_a_board_the_bridge_does_not_have_is_refused_clearly(stage, tmp_path):
    import subprocess

    proc = subprocess.run([sys.executable, "-m", "pocket_agent.cli", "mcp", "--board", "kitchen", "--socket",
                           str(stage.bridge.settings.control_socket), "--state", str(tmp_path / "a.sqlite3")],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    assert "the bridge has no board named 'kitchen'" in proc.stderr and "its boards: pico2w" in proc.stderr
    assert "Traceback" not in proc.stderr

"""MCP: the board's tools through the official SDK's client, in process and over stdio."""

import asyncio
import sys

from mcp import Client, StdioServerParameters

from pocket_agent.host.agent.tools import ToolContext
from pocket_agent.host.agent.toolset import build_registry
from pocket_agent.host.mcp_server import build_server

from .conftest import Rig

DEVICE_TOOLS = {"read_sensors", "show_text", "notify", "play_tone", "set_led", "ask_confirmation", "set_timer",
                "device_info", "change_setting"}


def _server(rig):
    ctx = ToolContext(rig.device.board, rig.device, rig.store, rig.confirmer, rig.clock)
    return build_server(ctx, build_registry())


def test_lists_the_device_tools_with_their_schemas(rig):
    async def run():
        async with Client(_server(rig)) as client:
            return (await client.list_tools()).tools

    tools = {t.name: t for t in asyncio.run(run())}
    assert set(tools) == DEVICE_TOOLS
    assert tools["play_tone"].input_schema["required"] == ["freq_hz", "duration_ms"]


def test_calls_reach_the_device_and_the_log(rig):
    async def run():
        async with Client(_server(rig)) as client:
            sensors = await client.call_tool("read_sensors", {})
            shown = await client.call_tool("show_text", {"text": "Hello from an MCP client"})
            bad = await client.call_tool("play_tone", {"freq_hz": 440})
            confirm = await client.call_tool("ask_confirmation", {"question": "Open the door?"})
            return sensors, shown, bad, confirm

    sensors, shown, bad, confirm = asyncio.run(run())
    assert sensors.structured_content["temperature_c"] == 22.5 and not sensors.is_error
    assert rig.device.called("show_text")[0]["text"] == "Hello from an MCP\nclient" == shown.content[0].text
    assert bad.is_error and "missing argument: duration_ms" in bad.content[0].text
    assert rig.device.called("play_tone") == []
    assert confirm.structured_content["answer"] == "yes"
    assert rig.device.called("confirm") == [{"summary": "Open the door?"}]
    # the question's approval request, then the tool call itself
    assert [(a["tool"], a["status"], bool(a["approved"])) for a in rig.actions()][1:] == [
        ("read_sensors", "ran", False), ("show_text", "ran", False), ("play_tone", "invalid", False),
        ("ask_confirmation", "ran", True), ("ask_confirmation", "ran", False)]


def test_a_declined_confirmation_is_reported(make_rig):
    rig = make_rig(button="deny")

    async def run():
        async with Client(_server(rig)) as client:
            return await client.call_tool("ask_confirmation", {"question": "Unlock?"})

    assert asyncio.run(run()).structured_content["answer"] == "denied"


def test_pocket_mcp_serves_over_stdio(tmp_path):
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "pocket_agent.cli", "mcp", "--simulated", "--state", str(tmp_path / "s.sqlite3")])

    async def run():
        async with Client(params) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            info = await client.call_tool("device_info", {})
            return names, info

    names, info = asyncio.run(asyncio.wait_for(run(), 60))
    assert names == DEVICE_TOOLS
    assert info.structured_content["board"] == "sim-1"

"""MCP: a board's tools (sensors, display, notify, confirm...) for any MCP client, over stdio.

Built on the same tool registry and `Device` interface as the agents, so what
an MCP client can do is exactly what the agents can do with the device, with
the same action log and the same button confirmation.
"""

import json

from mcp import types
from mcp.server import Server

from pocket_agent import __version__


def build_server(ctx, registry, names=None):
    """An MCP server exposing `names` (default: the device's own tools) for the board in `ctx`."""
    names = list(names or registry.names(device_only=True))
    tools = {n: registry.get(n) for n in names}

    async def list_tools(_rctx, _params):
        return types.ListToolsResult(tools=[
            types.Tool(name=t.name, description=t.description, input_schema=t.parameters) for t in tools.values()])

    async def call_tool(_rctx, params):
        if params.name not in tools:
            return types.CallToolResult(content=[types.TextContent(type="text", text=f"no tool {params.name}")],
                                        is_error=True)
        result = await registry.call(ctx, params.name, dict(params.arguments or {}))
        payload = {"ok": result.ok, "status": result.status, **_plain(result.data)}
        return types.CallToolResult(content=[types.TextContent(type="text", text=result.text)],
                                    structured_content=payload, is_error=not result.ok)

    def input_schema(name):
        tool = tools.get(name)
        return None if tool is None else tool.parameters

    return Server(f"pocket-agent-{ctx.board}", version=__version__,
                  instructions="Tools of a Pocket Agent device. Consequential actions need its button.",
                  get_tool_input_schema=input_schema, on_list_tools=list_tools, on_call_tool=call_tool)


def _plain(data):
    try:
        json.dumps(data)
        return data
    except (TypeError, ValueError):
        return {k: str(v) for k, v in data.items()}


async def serve_stdio(server):
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())

"""`pocket mcp`: serve a board's tools to MCP clients over stdio."""

import asyncio

from pocket_agent.errors import PocketError


def register(subparsers):
    p = subparsers.add_parser("mcp", help="serve a board's tools over MCP (stdio)",
                              description="Serve a board's tools (sensors, display, notify, confirm, timers, LED) "
                                          "to any MCP client over stdio.")
    p.add_argument("--simulated", action="store_true", help="serve a simulated device (no board needed)")
    p.add_argument("--board", default="sim-1", help="board name (default sim-1)")
    p.add_argument("--state", default=None, help="SQLite state file for the action log")
    p.add_argument("--button", choices=["approve", "deny", "timeout"], default="deny",
                   help="what the simulated user does when asked to confirm (default deny)")
    p.set_defaults(func=_serve)


def _serve(args):
    if not args.simulated:
        raise PocketError("serving a real board needs the host bridge, which this command does not reach yet",
                          hint="try `pocket mcp --simulated`")
    from pocket_agent.host.agent.simdevice import SimulatedDevice
    from pocket_agent.host.agent.store import Store
    from pocket_agent.host.agent.tools import ToolContext
    from pocket_agent.host.agent.toolset import build_registry
    from pocket_agent.host.confirm import Confirmer, default_keyring
    from pocket_agent.host.mcp_server import build_server, serve_stdio

    async def run():
        store = Store(args.state)
        device = SimulatedDevice(board=args.board, button=args.button)
        confirmer = Confirmer(store, default_keyring(store.path))
        await confirmer.pair(device, args.board)
        ctx = ToolContext(args.board, device, store, confirmer)
        await serve_stdio(build_server(ctx, build_registry()))
        return 0

    return asyncio.run(run())

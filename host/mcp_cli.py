"""`pocket mcp`: serve a board's tools to MCP clients over stdio."""

import asyncio

from pocket_agent.errors import PocketError


def register(subparsers):
    p = subparsers.add_parser("mcp", help="serve a board's tools over MCP (stdio)",
                              description="Serve a board's tools (sensors, display, notify, confirm, timers, LED) "
                                          "to any MCP client over stdio. The board is reached through the running "
                                          "bridge (`pocket bridge`), which keeps its port; --simulated serves a "
                                          "simulated device instead.")
    p.add_argument("--simulated", action="store_true", help="serve a simulated device (no board needed)")
    p.add_argument("--board", default=None,
                   help="the board's name as `pocket bridge status` shows it (default: the bridge's only board; "
                        "sim-1 with --simulated)")
    p.add_argument("--state", default=None,
                   help="the agents' SQLite file (action log; the pairing key lives beside it). Use the bridge's "
                        "(default ~/.local/share/pocket-agent/agent.sqlite3), so both check the board's approvals "
                        "with the same key")
    p.add_argument("--socket", default=None, help="the bridge's control socket (default: from its settings)")
    p.add_argument("--config", default=None, help="the bridge's config file (to find its control socket)")
    p.add_argument("--button", choices=["approve", "deny", "timeout"], default="deny",
                   help="with --simulated: what the simulated user does when asked to confirm (default deny)")
    p.set_defaults(func=_serve)


def _bridge_board(args):
    """(board name, control socket) of the running bridge."""
    from .bridge import settings as bridge_settings
    from .bridge.control import Control

    over = {"control_socket": args.socket} if args.socket else {}
    socket = bridge_settings.load(args.config, **over).control_socket
    with Control(socket, timeout=5) as c:
        boards = c.call("status")["boards"]
    names = [b["board"] for b in boards]
    if args.board:
        if args.board not in names:
            raise PocketError(f"the bridge has no board named {args.board!r}",
                              hint="its boards: " + (", ".join(names) or "none yet"))
        return args.board, socket
    if len(names) != 1:
        raise PocketError(f"the bridge has {len(names)} boards: name one with --board",
                          hint="its boards: " + (", ".join(names) or "none yet; is one plugged in?"))
    return names[0], socket


def _serve(args):
    from pocket_agent.host.agent.simdevice import SimulatedDevice
    from pocket_agent.host.agent.store import Store
    from pocket_agent.host.agent.tools import ToolContext
    from pocket_agent.host.agent.toolset import build_registry
    from pocket_agent.host.confirm import Confirmer, default_keyring
    from pocket_agent.host.mcp_server import build_server, serve_stdio

    if args.simulated:
        board = args.board or "sim-1"
        device = SimulatedDevice(board=board, button=args.button)
    else:
        from .bridge.remote import BridgeDevice

        board, socket = _bridge_board(args)
        device = BridgeDevice(board, socket)

    async def run():
        store = Store(args.state)
        confirmer = Confirmer(store, default_keyring(store.path))
        if args.simulated or confirmer.keyring.get(board) is None:
            await confirmer.pair(device, board)  # a board nobody paired yet gets its key now
        ctx = ToolContext(board, device, store, confirmer)
        await serve_stdio(build_server(ctx, build_registry()))
        return 0

    return asyncio.run(run())

"""`pocket bridge`: keep boards connected (the daemon), show its status, lend
a board's port to another tool."""

import argparse
import asyncio
import json
import logging
import os
import signal
import subprocess
import sys

from pocket_agent.errors import PocketError


def register(subparsers):
    p = subparsers.add_parser(
        "bridge", help="keep boards connected to the host (daemon, status, lend)",
        description="Without a subcommand, run the bridge in the foreground: find boards by USB id "
                    "(or take --port), keep one link session per board, and serve a control socket. "
                    "Settings come from ~/.config/pocket/bridge.toml (or --config) and "
                    "POCKET_BRIDGE_* variables; see docs/bridge.md.")
    _run_options(p)
    p.set_defaults(func=run_cmd)
    sub = p.add_subparsers(dest="bridge_command", metavar="SUBCOMMAND")
    r = sub.add_parser("run", help="run the bridge in the foreground (the default)",
                       description="Run the bridge in the foreground with readable logs.")
    _run_options(r)
    r.set_defaults(func=run_cmd)
    s = sub.add_parser("status", help="show the running bridge's boards",
                       description="Ask the running bridge, through its control socket, about its boards.")
    s.add_argument("--json", action="store_true", help="print the full status as JSON")
    s.add_argument("--config", help="the bridge's config file (to find its control socket)")
    s.set_defaults(func=status_cmd)
    lend = sub.add_parser(
        "lend", help="lend a board's port to another tool, then give it back",
        description="The bridge closes the board's port and lets COMMAND use it ({port} in COMMAND "
                    "becomes the port); when COMMAND ends, the bridge reopens the port, restarts the "
                    "app if it sits at the REPL, and resyncs. Without COMMAND it prints the port and "
                    "waits for Enter. Example: pocket bridge lend kitchen -- mpremote connect {port} ls")
    lend.add_argument("board", help="the board's name, as `pocket bridge status` shows it")
    lend.add_argument("command", nargs=argparse.REMAINDER, help="the command to run (after --)")
    lend.add_argument("--config", help="the bridge's config file (to find its control socket)")
    lend.set_defaults(func=lend_cmd)


def _run_options(p):
    p.add_argument("--port", action="append", metavar="PORT_OR_URL",
                   help="a board's port or pyserial URL (loop://, socket://HOST:PORT, rfc2217://...); repeatable")
    p.add_argument("--no-scan", action="store_true", help="do not look for boards by USB VID:PID")
    p.add_argument("--config", help="config file (default ~/.config/pocket/bridge.toml)")
    p.add_argument("--socket", help="control socket path")
    p.add_argument("--state-db", help="SQLite file for state that must survive disconnects")
    p.add_argument("--log-dir", help="directory for the per-board logs")
    p.add_argument("--agent", choices=["offline", "llm", "none"],
                   help="what answers the boards: the offline agent (default), the LLM agent "
                        "(POCKET_LLM_*; falls back to offline), or none (the bridge alone)")
    p.add_argument("--agent-state", metavar="FILE", help="the agents' SQLite file (notes, timers, action log)")
    p.add_argument("--no-speech", action="store_true", help="show answers on the screen only, do not speak them")
    p.add_argument("--voice", help="espeak-ng voice of the answers (default en-us)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def _settings(args, **extra):
    from .bridge import settings as settings_mod
    over = dict(extra)
    if getattr(args, "port", None):
        over["ports"] = args.port
    if getattr(args, "no_scan", False):
        over["scan"] = False
    for name in ("socket", "state_db", "log_dir", "agent", "agent_state", "voice"):
        if getattr(args, name, None):
            over["control_socket" if name == "socket" else name] = getattr(args, name)
    if getattr(args, "no_speech", False):
        over["speak"] = False
    return settings_mod.load(getattr(args, "config", None), **over)


def pipeline_settings(settings):
    """What answers the boards, from the bridge's settings (None: the bridge alone)."""
    from pathlib import Path

    from .pipeline import PipelineSettings
    if settings.agent == "none":
        return None
    state = Path(os.path.expanduser(settings.agent_state)) if settings.agent_state else None
    return PipelineSettings(agent=settings.agent, state=state, speak=settings.speak, voice=settings.voice)


def run_cmd(args):
    from .pipeline import serve
    settings = _settings(args)
    answers = pipeline_settings(settings)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")

    def ready(b, pipeline):
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(b.stop()))
        logging.getLogger("pocket.bridge").info(
            "bridge running (pid %d): %d configured port(s), USB scan %s, control socket %s, agent %s",
            os.getpid(), len(settings.ports), "on" if settings.scan else "off", settings.control_socket,
            settings.agent if pipeline else "none")

    asyncio.run(serve(settings, answers, ready=ready))
    return 0


def status_cmd(args):
    from .bridge.control import Control
    settings = _settings(args)
    with Control(settings.control_socket) as c:
        st = c.call("status")
    if args.json:
        print(json.dumps(st, indent=2))
        return 0
    boards = st["boards"]
    print(f"bridge pid {st['pid']}, {len(boards)} board(s), control socket {st['control_socket']}")
    for b in boards:
        link = b["link"]
        peer = b["peer"].get("name") or "-"
        print(f"  {b['board']:<16} {b['state']:<10} {b['port']}  app: {peer}  "
              f"frames {link['frames']}, bad {link['bad_crc'] + link['bad_length'] + link['truncated'] + link['bad_byte']}, "
              f"retransmits {link['retransmits']}, pending {link['pending']}, lost audio chunks {link['lost_chunks']}"
              + (f"  last error: {b['last_error']}" if b["last_error"] else ""))
    return 0


def lend_cmd(args):
    from .bridge.control import Control
    settings = _settings(args)
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    with Control(settings.control_socket, timeout=30) as c:
        port = c.call("lend", board=args.board)["port"]
        try:
            if not command:
                print(port)
                print("the port is yours; press Enter to give it back", file=sys.stderr)
                sys.stdin.readline()
                return 0
            command = [a.replace("{port}", port) for a in command]
            try:
                return subprocess.call(command)
            except FileNotFoundError:
                raise PocketError(f"no such command: {command[0]}", hint="give the command after --") from None
        finally:
            try:
                c.call("return")
            except (PocketError, OSError):
                pass  # closing the connection gives the port back too

"""`pocket`: one command-line program, one subcommand per module.

Each subcommand module exposes `register(subparsers)`, which adds its parser and
sets `func` (called with the parsed arguments; returns an exit code). The CLI
only parses and delegates; the work lives in library functions.
"""

import argparse
import importlib
import sys

from . import __version__
from .errors import PocketError

# (subcommand, module). A module that is not there yet is left out of the list.
COMMANDS = [
    ("boards", "pocket_agent.boards.cli"),
    ("sim", "pocket_agent.tools.twin.cli"),
    ("flash", "pocket_agent.tools.flash_cli"),
    ("deploy", "pocket_agent.tools.deploy_cli"),
    ("bridge", "pocket_agent.host.bridge_cli"),
    ("agent", "pocket_agent.host.agent_cli"),
    ("mcp", "pocket_agent.host.mcp_cli"),
    ("speech", "pocket_agent.host.speech_cli"),
    ("wakeword", "pocket_agent.models.wakeword_cli"),
    ("demo", "pocket_agent.hil.demo_cli"),
]


def build_parser(argv=None):
    """The parser. When argv names a subcommand, only that one's module is imported:
    each pulls in its own libraries (asyncio, the MCP SDK, ...), and a command such as
    a no-op deploy should not pay for the others at every start."""
    argv = sys.argv[1:] if argv is None else argv
    wanted = argv[0] if argv and argv[0] in dict(COMMANDS) else None
    if argv[:1] == ["--version"]:
        wanted = "--version"  # needs no subcommand at all
    parser = argparse.ArgumentParser(
        prog="pocket",
        description="Pocket Agent: virtual boards, flashing and deploy, the host bridge and agents.",
    )
    parser.add_argument("--version", action="version", version=f"pocket-agent {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS:
        if wanted and name != wanted:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and (module_name + ".").startswith(exc.name + "."):
                continue
            raise
        module.register(sub)
    return parser


def main(argv=None):
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except PocketError as exc:
        print(f"pocket {args.command}: error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`pocket ... | head`); say nothing more.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())

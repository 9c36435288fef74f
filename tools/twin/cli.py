"""`pocket sim`: run a virtual board (twin) and act on it.

    pocket sim --board esp32s3-devkitc          run a twin in the foreground
    pocket sim ctl status --name esp32s3-devkitc
"""

import asyncio
import json
import os
import sys

from pocket_agent.boards import catalog
from pocket_agent.errors import PocketError

from . import control, state as twin_state
from .supervisor import Supervisor


def register(sub):
    p = sub.add_parser(
        "sim",
        help="run a virtual board (twin) of a defined board",
        description="Run the twin of a board: a MicroPython VM behind a pty that tools such as "
        "mpremote use as they would the board's USB port. Its flash persists in a state directory.",
    )
    p.add_argument("--board", help="board to run (see `pocket boards`)")
    p.add_argument("--name", help="twin name, for its own flash and state (default: the board name)")
    p.add_argument("--wipe", action="store_true", help="erase the flash first, like esptool erase-flash")
    p.add_argument("--json", action="store_true", help="print port, pids and state directory as JSON")
    p.add_argument("--state-dir", help="root of the twins' state (default: $POCKET_STATE_DIR or ~/.local/state/pocket-agent)")
    p.set_defaults(func=run)
    ctl_sub = p.add_subparsers(dest="sim_command", metavar="ctl")
    c = ctl_sub.add_parser(
        "ctl", help="act on a running twin",
        description="Act on a running twin through its control socket.",
    )
    c.add_argument("action", choices=control.ACTIONS, metavar="ACTION",
                   help="what to do: " + ", ".join(control.ACTIONS))
    c.add_argument("args", nargs="*", help="arguments of the action (key=value)")
    c.add_argument("--name", help="twin name (default: the only running twin)")
    c.add_argument("--state-dir", help="root of the twins' state")
    c.set_defaults(func=run_ctl)


def run(args):
    if not args.board:
        raise PocketError("which board? give --board NAME", hint="known boards: " + ", ".join(catalog.names()))
    board = catalog.load(args.board)
    st = twin_state.TwinState(args.name or board.name, args.state_dir)
    st.lock()
    try:
        twin_state.prepare_flash(st.flash, board, wipe=args.wipe)
        sup = Supervisor(board, st, log=lambda m: print(m, file=sys.stderr, flush=True))

        def ready(info):
            if args.json:
                print(json.dumps(info), flush=True)
            else:
                print(f"twin of {board.title} ({st.name})", flush=True)
                print(f"  port:    {info['port']}")
                print(f"  link:    {info['link']}   (stable across resets)")
                print(f"  state:   {info['state_dir']}")
                print(f"  try:     mpremote connect {info['link']} exec \"print('hello')\"")
                print("Ctrl-C stops it.", flush=True)

        return asyncio.run(sup.run(ready))
    finally:
        st.unlock()


def run_ctl(args):
    name = args.name or control.only_running(args.state_dir)
    kwargs = control.parse_args(args.args)
    if isinstance(kwargs.get("path"), str):
        kwargs["path"] = os.path.abspath(kwargs["path"])  # the world runs elsewhere
    result = control.call(name, args.action, state_dir=args.state_dir, **kwargs)
    if args.action == "display" and isinstance(result, dict) and result.get("png"):
        result = {k: v for k, v in result.items() if k != "rows"}  # the picture is in the file
    print(json.dumps(result, indent=2) if not isinstance(result, str) else result)
    return 0

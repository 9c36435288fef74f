"""`pocket demo`: boot a virtual board and drive it with mpremote, showing each step.

This is the README's main job until the full conversation demo lands: it shows
that the twin behaves as a board on a USB port, to the tools users already have.
"""

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pocket_agent.boards import catalog
from pocket_agent.errors import PocketError
from pocket_agent.tools.twin import launcher

MPREMOTE = str(Path(sys.executable).parent / "mpremote")

SCRIPT = """\
import sys, os, gc, machine
print("hello from", sys.implementation._machine)
print("platform:", sys.platform, " unique id:", machine.unique_id().hex())
with open("hello.txt", "w") as f:
    f.write("written on the board")
print("files:", os.listdir("/"))
fs = os.statvfs("/")
print("flash free: %d KB of %d KB" % (fs[0] * fs[3] // 1024, fs[0] * fs[2] // 1024))
gc.collect()
print("heap free: %d KB" % (gc.mem_free() // 1024))
"""


def register(sub):
    p = sub.add_parser(
        "demo", help="boot a virtual board and drive it with mpremote",
        description="Boot the twin of a board, run a short script on it through mpremote, "
        "read a file back, reset it, and print what happened.",
    )
    p.add_argument("--board", default="pico2w", help="board to run (default: pico2w)")
    p.set_defaults(func=run)


def _mpremote(port, *args, timeout=30):
    proc = subprocess.run([MPREMOTE, "connect", port, *args], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise PocketError(f"mpremote {' '.join(args[:2])} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.replace("\r\n", "\n")


def run(args):
    board = catalog.load(args.board)
    state = Path(tempfile.mkdtemp(prefix="pocket-demo-"))
    t_start = time.perf_counter()

    def step(text):
        print(f"[{time.perf_counter() - t_start:6.2f} s] {text}", flush=True)

    try:
        step(f"starting the twin of {board.title}")
        with launcher.start(board.name, state_dir=state, wipe=True) as twin:
            step(f"twin running: port {twin.info['port']} (link {twin.port})")
            step("mpremote exec: a short script on the board")
            for line in _mpremote(twin.port, "exec", SCRIPT).splitlines():
                print("    board> " + line)
            step("mpremote fs cat :hello.txt")
            print("    " + _mpremote(twin.port, "fs", "cat", ":hello.txt").strip())
            step("mpremote reset: the port goes away and comes back")
            boots = twin.status()["boots"]
            _mpremote(twin.port, "reset")
            st = twin.wait_port(boots=boots + 1)
            step(f"back on {st['port']} after a {st['reset_cause']} reset")
            out = _mpremote(twin.port, "exec", "import os; print(os.listdir('/'))").strip()
            step(f"the file survived the reset: {out}")
        step("twin stopped")
    finally:
        shutil.rmtree(state, ignore_errors=True)
    return 0

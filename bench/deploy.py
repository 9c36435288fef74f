"""Benchmark `pocket deploy` against `mpremote fs cp -r` of the same files, on the same twin.

    .venv/bin/python bench/deploy.py [--board pico2w] [--app DIR] [--runs 5]

The tree is what deploy puts on the board (firmware/ compiled for the twin, the
board definition, the models). mpremote copies exactly those files. Before
each full copy the twin's flash is erased (mpremote skips files whose hash
matches, deploy sends only changes: a full copy needs an empty board).

Prints medians. Times of the commands include starting Python; the library
call (`deploy()` in this process) does not. Targets (issue [deploy]): no-op
deploy <= 1 s; full deploy >= 3x faster than mpremote's copy.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pocket_agent.tools import deploy as dp
from pocket_agent.tools.deploy import sync
from pocket_agent.tools.twin import launcher

BIN = Path(sys.executable).parent
MPREMOTE = str(BIN / "mpremote")
POCKET = str(BIN / "pocket")


def erase(twin):
    boots = twin.status()["boots"]
    twin.control("erase_flash")
    twin.wait_port(timeout=10, boots=boots)


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def board_bytes(twin):
    return twin.status()["bytes_to_board"]


def measure(twin, runs, fn, before=None):
    """(median seconds, median bytes to the board) of fn() over `runs` runs."""
    secs, sent = [], []
    for _ in range(runs):
        if before:
            before()
        b0 = board_bytes(twin)
        secs.append(timed(fn))
        sent.append(board_bytes(twin) - b0)
    return statistics.median(secs), int(statistics.median(sent))


def run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stdout}{proc.stderr}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="pico2w")
    ap.add_argument("--app", default=None, help="app folder (default: the project's firmware/)")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    app = Path(args.app) if args.app else dp.tree.FIRMWARE_DIR
    quiet = lambda *_: None  # noqa: E731

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["POCKET_DEPLOY_CACHE"] = str(tmp / "mpy-cache")
        with launcher.start(args.board, state_dir=tmp / "state", wipe=True) as twin:
            twin.wait_port()
            port = twin.port

            def lib_deploy():
                return dp.deploy(args.board, port, firmware_dir=app, reset=False, out=quiet)

            # The tree deploy sends, written out for mpremote.
            cold = time.perf_counter()
            result = lib_deploy()
            cold = time.perf_counter() - cold
            staging = tmp / "tree"
            for op in result.plan.writes:
                dest = staging / op.path[1:]
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(op.data)
            files = len(result.plan.writes)
            payload = sum(len(op.data) for op in result.plan.writes)
            tops = sorted(str(p) for p in staging.iterdir())
            print(f"board: {args.board} twin; app: {app}")
            print(f"tree: {files} files, {payload} bytes ({result.compiled} modules compiled, "
                  f"first deploy with a cold mpy-cross cache {cold:.3f} s)")

            mp_full, mp_bytes = measure(
                twin, args.runs, lambda: run([MPREMOTE, "connect", port, "fs", "cp", "-r", *tops, ":"]),
                before=lambda: erase(twin))
            cli_full, cli_bytes = measure(
                twin, args.runs, lambda: run([POCKET, "deploy", "--board", args.board, "--port", port,
                                              "--app", str(app), "--no-reset"]),
                before=lambda: erase(twin))
            lib_full, lib_bytes = measure(twin, args.runs, lib_deploy, before=lambda: erase(twin))
            check = lib_deploy()  # the board's own hashes must now match every file
            if not check.plan.empty:
                raise SystemExit(f"after a full deploy the board still differs: {check.plan}")
            cli_noop, cli_noop_bytes = measure(
                twin, args.runs, lambda: run([POCKET, "deploy", "--board", args.board, "--port", port,
                                              "--app", str(app), "--no-reset"]))
            lib_noop, lib_noop_bytes = measure(twin, args.runs, lib_deploy)
            mp_noop, mp_noop_bytes = measure(
                twin, args.runs, lambda: run([MPREMOTE, "connect", port, "fs", "cp", "-r", *tops, ":"]))
            py_start = statistics.median(timed(lambda: run([POCKET, "--version"])) for _ in range(args.runs))

            stream = len(b"".join(sync.encode(op) for op in result.plan.ops()))
            print(f"mpremote fs cp -r, full:        {mp_full:.3f} s, {mp_bytes} bytes to the board")
            print(f"pocket deploy (command), full:  {cli_full:.3f} s, {cli_bytes} bytes   "
                  f"mpremote/deploy = {mp_full / cli_full:.1f}x")
            print(f"deploy() (library), full:       {lib_full:.3f} s, {lib_bytes} bytes   "
                  f"mpremote/deploy = {mp_full / lib_full:.1f}x")
            print(f"mpremote fs cp -r, nothing new: {mp_noop:.3f} s, {mp_noop_bytes} bytes")
            print(f"pocket deploy (command), no-op: {cli_noop:.3f} s, {cli_noop_bytes} bytes   (target <= 1 s)")
            print(f"deploy() (library), no-op:      {lib_noop:.3f} s, {lib_noop_bytes} bytes")
            print(f"starting the pocket command:    {py_start:.3f} s (included in the command times)")
            print(f"deploy's traffic: 2 programs by raw-paste (survey, receiver) and one stream of "
                  f"{stream} bytes, acknowledged every {sync.WINDOW} bytes "
                  f"({-(-stream // sync.WINDOW)} acks); mpremote: one exec per 256 bytes of each file")
            shutil.rmtree(staging)


if __name__ == "__main__":
    sys.exit(main())

"""HIL bench figures: the suite's wall time, and a soak of wake -> answer cycles on a twin.

    .venv/bin/python bench/hil.py                 # both parts
    .venv/bin/python bench/hil.py --suite         # only the suite's wall times
    .venv/bin/python bench/hil.py --soak          # only the soak (--cycles 200 --board pico2w)
    .venv/bin/python bench/hil.py --wakeword      # held-out wake-word clips through the twins
    .venv/bin/python bench/hil.py --i2s-alloc     # heap the twins' non-blocking I2S writes allocate

The suite part runs pytest on hil/suites as CI does (both boards' twins), the fast subset
and then --hil-full, and prints each one's wall time and the app suites' share of it.

A soak cycle is what a person does: "hey pocket", a pause, "what's the temperature",
into the twin's mic, with no button; it succeeds when the answer is on the screen
(read from its pixels) and the board is back to idle. Latency is from the last sample of
speech into the mic to the first screen that shows the answer. The heap is the board's
own report over the link (`heap_get`: free bytes after a collection, and the largest
block it can allocate), after the first cycle and after the last.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pct(sorted_ms, p):
    if not sorted_ms:
        return float("nan")
    k = min(len(sorted_ms) - 1, max(0, round(p / 100 * len(sorted_ms) + 0.5) - 1))
    return sorted_ms[k]  # nearest rank


def suite(full):
    """Wall time of `pytest hil/suites` (both boards' twins) and of each suite file in it (from
    the JUnit report, set-up included: a file's first test pays for starting its Stage)."""
    out = ROOT / "artifacts" / "hil-bench"  # git-ignored
    out.mkdir(parents=True, exist_ok=True)
    name = "full" if full else "fast"
    junit = out / f"{name}.xml"
    cmd = [sys.executable, "-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider", "hil/suites",
           f"--junitxml={junit}", f"--hil-artifacts={out}/{name}"] + (["--hil-full"] if full else [])
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.monotonic() - t0
    (out / f"{name}.log").write_text(proc.stdout + proc.stderr)
    lines = proc.stdout.strip().splitlines()
    tail = lines[-1] if lines else proc.stderr[-300:]
    failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    per_file = {}
    if junit.exists():
        import xml.etree.ElementTree as ET

        for case in ET.parse(junit).iter("testcase"):
            f = case.get("classname", "").split(".")[-1]
            per_file[f] = per_file.get(f, 0.0) + float(case.get("time", 0))
    return wall, tail, per_file, failed


def run_suite():
    print("== HIL suite wall time (hil/suites, both boards' twins; this machine is shared)")
    for full in (False, True):
        wall, tail, per_file, failed = suite(full)
        print(f"{'--hil-full' if full else 'fast subset':12} {wall:7.1f} s   {tail}")
        for line in failed:
            print(f"{'':14} {line[:160]}")
        app = sum(v for k, v in per_file.items() if k.startswith("test_app_"))
        others = sum(v for k, v in per_file.items() if not k.startswith("test_app_"))
        print(f"{'':12} app suites (test_app_*) {app:6.1f} s in tests, other suites {others:6.1f} s; "
              f"the rest is starting twins and Stages")
        for k, v in sorted(per_file.items()):
            print(f"{'':14} {k:28} {v:7.1f} s")


def run_soak(board, cycles):
    from pocket_agent.hil.stage import Stage

    print(f"== soak: {cycles} wake -> answer cycles on the {board} twin")
    with tempfile.TemporaryDirectory() as tmp, Stage(board, Path(tmp) / "stage") as stage:
        print(f"stage up in {stage.timings['total']:.1f} s (recogniser {stage.timings['recogniser']:.1f} s)")
        stage.world.environment(temperature=21.5, humidity=45.0)
        ms, modes, failures = [], {}, []
        start = end = None
        t0 = time.monotonic()
        for i in range(cycles):
            try:
                turn = stage.converse("what's the temperature", hands_free=True, until=("shown",))
                ok = turn.screen.shows("It is 21.5 C inside.", body=True)
                stage.wait_idle(timeout=20)
            except AssertionError as exc:
                failures.append((i + 1, str(exc).splitlines()[0]))
                try:
                    stage.wait_idle(timeout=30)
                except AssertionError:
                    stage.press()
                    stage.wait_idle(timeout=30)
                continue
            if not ok:
                failures.append((i + 1, f"wrong answer: {turn.screen.text!r}"))
                continue
            ms.append(turn.screen_ms)
            modes[turn.utterance.mode] = modes.get(turn.utterance.mode, 0) + 1
            if start is None:
                start = stage.board_heap()
            if (i + 1) % 25 == 0:
                heap = stage.board_heap()  # where the heap changes, not only its two ends
                print(f"  {i + 1} cycles, {len(failures)} failed, {time.monotonic() - t0:.0f} s; heap free "
                      f"{heap['mem_free']}, largest block {heap['largest_free']} bytes", flush=True)
        end = stage.board_heap()
        wall = time.monotonic() - t0
    s = sorted(ms)
    print(f"cycles {cycles}, answered {len(ms)} ({100 * len(ms) / cycles:.1f} %), {wall:.0f} s "
          f"({wall / cycles:.1f} s a cycle)")
    print("woken by: " + ", ".join(f"{k} {v}" for k, v in sorted(modes.items())))
    if s:
        print(f"end of speech -> answer on screen: p50 {pct(s, 50)} ms, p90 {pct(s, 90)} ms, "
              f"p99 {pct(s, 99)} ms, max {s[-1]} ms (min {s[0]} ms)")
    if start and end:
        print(f"heap free after a collection: {start['mem_free']} bytes after cycle 1, {end['mem_free']} after "
              f"the last ({end['mem_free'] - start['mem_free']:+d}); the app's heap {start['heap']} bytes")
        print(f"largest free block: {start['largest_free']} bytes after cycle 1, {end['largest_free']} after the "
              f"last ({end['largest_free'] - start['largest_free']:+d})")
    for i, why in failures[:20]:
        print(f"  failed cycle {i}: {why}")


def run_wakeword(boards):
    from pocket_agent.hil.stage import Stage
    from pocket_agent.hil.suites import test_app_wakeword as W

    pos, neg, conf = W.positives(True), W.negatives(True), W.negatives(True, W.CONFUSABLE)
    print(f"== wake word: {len(pos)} held-out positives, {len(neg)} negatives, {len(conf)} confusables")
    for board in boards:
        with tempfile.TemporaryDirectory() as tmp, Stage(board, Path(tmp) / "stage") as stage:
            for name, clips in (("positives", pos), ("negatives", neg), ("confusables", conf)):
                r = W.play_and_count(stage, clips)
                hits = [label for label, d in r if d]
                print(f"{board:16} {name:11} {len(hits):3} of {len(r)} woke the board")
                for label in hits:
                    print(f"{'':18}{label}")


def run_i2s_alloc(boards, writes=20, runs=3):
    """Heap allocated, with gc off, by non-blocking writes of 1 KB (the app's speaker
    blocks) on each twin's amp bus, less what the same loop allocates with no write
    (the script of tests/twin_world/test_parts.py). A port's DMA allocates nothing; the
    twin's shim runs in the board's heap, so whatever it allocates the app sees as churn."""
    from pocket_agent.boards import catalog
    from pocket_agent.tools.twin import launcher
    from tests.twin.conftest import mpremote
    from tests.twin_world.conftest import i2s_tx_code

    print(f"== heap allocated by {writes} non-blocking I2S writes of 1 KB (gc off), {runs} runs per twin")
    for board in boards:
        spec = next(b for b in catalog.load(board).raw["buses"].values()
                    if b["type"] == "i2s" and b["mode"] == "tx")
        code = i2s_tx_code(spec) + f"""amp = amp_on()
block = bytearray(1024)
writes(amp, block, 2)
print(writes(amp, block, {writes}) - writes(amp, block, 0))
amp.deinit()
"""
        with tempfile.TemporaryDirectory() as tmp:
            twin = launcher.start(board, state_dir=tmp)
            try:
                got = [int(mpremote(twin.port, "exec", code, timeout=30).strip()) for _ in range(runs)]
            finally:
                twin.stop()
        print(f"  {board}: {', '.join(map(str, got))} bytes ({min(got) / writes:.0f}-{max(got) / writes:.0f} "
              f"bytes a write)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", action="store_true", help="only the suite's wall times")
    ap.add_argument("--soak", action="store_true", help="only the soak")
    ap.add_argument("--wakeword", action="store_true", help="only the held-out wake-word clips")
    ap.add_argument("--i2s-alloc", action="store_true",
                    help="only the heap the twins' non-blocking I2S writes allocate")
    ap.add_argument("--cycles", type=int, default=200, help="soak cycles (default 200)")
    ap.add_argument("--board", default="pico2w", help="the twin the soak runs on")
    a = ap.parse_args(argv)
    every = not (a.suite or a.soak or a.wakeword or a.i2s_alloc)
    if a.suite or every:
        run_suite()
    if a.soak or every:
        run_soak(a.board, a.cycles)
    if a.wakeword:
        run_wakeword(["esp32s3-devkitc", "pico2w"])
    if a.i2s_alloc:
        run_i2s_alloc(["esp32s3-devkitc", "pico2w"])


if __name__ == "__main__":
    main()

"""Benchmark the twin: boot to prompt, exec round trip, fs cp throughput, twins at once.

    .venv/bin/python bench/twin.py [--board pico2w] [--max-twins 32]

Prints one line per figure. Targets (issue [foundation]): prompt within 1.0 s,
exec round trip <= 50 ms, 8 twins at once each answering exec within 1 s.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import serial
from mpremote.transport_serial import SerialTransport

from pocket_agent.tools.twin import launcher

MPREMOTE = str(Path(sys.executable).parent / "mpremote")


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def boot_to_prompt(board, state_dir, runs=5):
    """From launching `pocket sim` to the friendly prompt on its port."""
    totals, vm_boots = [], []
    for i in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "pocket_agent.cli", "sim", "--board", board, "--json",
             "--name", f"boot{i}", "--state-dir", str(state_dir)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        try:
            import json

            info = json.loads(proc.stdout.readline())
            t_ready = time.perf_counter()
            s = serial.Serial(info["port"], timeout=0)
            s.write(b"\r")
            buf = b""
            deadline = time.perf_counter() + 10
            while b">>> " not in buf and time.perf_counter() < deadline:
                buf += s.read(4096)
                time.sleep(0.0005)
            t_prompt = time.perf_counter()
            s.close()
            assert b">>> " in buf, buf
            totals.append(t_prompt - t0)
            vm_boots.append(t_prompt - t_ready)
        finally:
            proc.terminate()
            proc.wait()
    return totals, vm_boots


def exec_round_trips(port, n=200):
    t = SerialTransport(port)
    try:
        t.enter_raw_repl(soft_reset=True)
        t.exec("x = 0")
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            t.exec("x += 1")
            times.append(time.perf_counter() - t0)
        assert t.eval("x") == n
        t.exit_raw_repl()
    finally:
        t.close()
    return times


def cli_exec(port, n=10):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run([MPREMOTE, "connect", port, "exec", "pass"], check=True, capture_output=True, timeout=30)
        times.append(time.perf_counter() - t0)
    return times


def cp_throughput(port, size=256 * 1024):
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "blob.bin"
        src.write_bytes(os.urandom(size))
        t0 = time.perf_counter()
        subprocess.run([MPREMOTE, "connect", port, "fs", "cp", str(src), ":blob.bin"], check=True,
                       capture_output=True, timeout=300)
        dt = time.perf_counter() - t0
        subprocess.run([MPREMOTE, "connect", port, "fs", "rm", ":blob.bin"], check=True, capture_output=True,
                       timeout=60)
    return size, dt


def many_twins(board, state_dir, max_twins):
    """Largest number of twins running at once with every one answering exec within 1 s."""
    twins, results, best = [], [], 0
    steps = [n for n in (1, 2, 4, 8, 12, 16, 24, 32, 48, 64) if n <= max_twins]
    try:
        for n in steps:
            while len(twins) < n:
                twins.append(launcher.start(board, name=f"many{len(twins)}", state_dir=state_dir, timeout=30))
            latencies = [None] * n

            def probe(i):
                t0 = time.perf_counter()
                t = SerialTransport(twins[i].port)
                try:
                    t.enter_raw_repl(soft_reset=True)
                    t.exec("print(1)")
                    t.exit_raw_repl()
                finally:
                    t.close()
                latencies[i] = time.perf_counter() - t0

            threads = [threading.Thread(target=probe, args=(i,)) for i in range(n)]
            for th in threads:
                th.start()
            for th in threads:
                th.join(30)
            worst = max(x if x is not None else 99.0 for x in latencies)
            results.append((n, worst))
            if worst <= 1.0:
                best = n
            else:
                break
    finally:
        for tw in twins:
            tw.stop()
    return best, results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="pico2w")
    ap.add_argument("--max-twins", type=int, default=32)
    args = ap.parse_args()
    print(f"board: {args.board}; machine: {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as d:
        state = Path(d)
        totals, vm = boot_to_prompt(args.board, state)
        print(f"start to prompt (pocket sim launched -> '>>> '): p50 {statistics.median(totals) * 1000:.0f} ms, "
              f"max {max(totals) * 1000:.0f} ms  [target <= 1000 ms]")
        print(f"  of which VM boot (port ready -> '>>> '):   p50 {statistics.median(vm) * 1000:.1f} ms")
        twin = launcher.start(args.board, name="bench", state_dir=state)
        try:
            rt = exec_round_trips(twin.port)
            print(f"exec round trip (mpremote library, raw-paste): p50 {pct(rt, 50) * 1000:.1f} ms, "
                  f"p95 {pct(rt, 95) * 1000:.1f} ms  [target <= 50 ms]")
            cli = cli_exec(twin.port)
            print(f"`mpremote connect PORT exec pass` wall time (process start, soft reset, exec): "
                  f"p50 {statistics.median(cli) * 1000:.0f} ms")
            size, dt = cp_throughput(twin.port)
            print(f"mpremote fs cp into the twin: {size // 1024} KB in {dt:.2f} s = {size / dt / 1024:.1f} KB/s "
                  "(whole command)")
        finally:
            twin.stop()
        best, results = many_twins(args.board, state, args.max_twins)
        for n, worst in results:
            print(f"  {n:3d} twins at once: slowest connect+soft-reset+exec {worst * 1000:.0f} ms")
        print(f"twins at once, each answering exec within 1 s: {best}  [target >= 8]")


if __name__ == "__main__":
    main()

"""Benchmark the firmware on the twins: steady-state heap, boot to IDLE,
button press to screen change, press to the answer's sound cut (barge-in).

    .venv/bin/python bench/firmware.py [--board pico2w] [--presses 20] [--cuts 10]

Per board it deploys firmware/ to a fresh twin (`pocket deploy`), attaches a
host (the link's Endpoint on the twin's port) and prints:
- steady-state heap: what the app uses (heap less the port's own at boot,
  after a collection) once it has been through a few listening cycles, and
  the share of the board's budget (target <= 60 %);
- boot to IDLE: from a reset of the twin to the IDLE screen on its display,
  with the host answering (median of several boots);
- button press to screen change: from the world pressing the talk button to
  the display's pixels changing, p50/p95 (the display is polled through world
  control, every few ms: that resolution is included in the figures);
- press to cancel (barge-in), p50/p95: the host streams a loud answer as fast
  as the board takes it; once it plays, the world presses the talk button;
  the figure is how long the speaker (the world's recording of the amp) still
  played after the press.
The twin's VM is 64-bit: its heap figures are an upper bound for the 32-bit boards.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pocket_agent.boards import catalog  # noqa: E402
from tests.firmware.twinhost import BoardHost, start_app  # noqa: E402


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def rows(twin):
    return twin.control("display")["rows"]


def idle_shown(r):
    # IDLE: the big clock (16 px high) under the status bar and no heading bar
    return r[11].count("1") < 60 and any(row.count("1") > 20 for row in r[14:30])


def steady_heap(twin, host, cycles=5):
    for k in range(cycles):
        twin.control("press", button="button", ms=500)
        host.run_until(lambda: len(host.named("audio_end")) > k, 10, "a listening cycle")
        host.send("display_text", 0, 0, "An answer of a few words, cycle %d." % k)
        host.wait(0.8)
    host.wait(5.0)  # the answer times out, back to IDLE
    samples = []
    for _ in range(3):
        info = host.request("info_get", reply="info")
        samples.append(info[4] - info[5])
        host.wait(0.5)
    return max(samples), info[4]


def boot_to_idle(twin, host, runs):
    times = []
    for _ in range(runs):
        boots = twin.status()["boots"]
        host.send("clock_set", int(time.time()), 0, 0)
        host.wait(0.3)
        before = rows(twin)  # IDLE with the time: after the reset IDLE shows --:-- until the host sets it
        host.close()
        t0 = time.monotonic()
        twin.control("reset")
        twin.wait_port(timeout=15, boots=boots)
        host.__init__(twin.port)
        while time.monotonic() - t0 < 30:
            host.step()
            r = rows(twin)
            if host.ep.up and r != before and idle_shown(r):
                break
            time.sleep(0.005)
        else:
            raise RuntimeError("the app did not reach IDLE within 30 s")
        times.append(time.monotonic() - t0)
    return times


def press_to_screen(twin, host, presses):
    lat = []
    for _ in range(presses):
        host.wait(1.2)
        before = rows(twin)
        t0 = time.monotonic()
        twin.control("press", button="button", ms=120)  # a tap: LISTENING, then back to IDLE
        while time.monotonic() - t0 < 5:
            if rows(twin) != before:
                lat.append(time.monotonic() - t0)
                break
        else:
            raise RuntimeError("the screen did not change after a press")
        host.step()
    return lat


def loud_since(path, offset):
    import numpy as np
    with open(path, "rb") as f:
        f.seek(44 + max(0, offset - 44) // 2 * 2)
        data = f.read()
        return np.abs(np.frombuffer(data[:len(data) // 2 * 2], "<i2").astype(np.int32)).max(initial=0) > 1000


def press_to_cancel(twin, host, runs, tmp):
    import wave

    import numpy as np

    from pocket_agent.firmware import adpcm, link

    t = np.arange(16000 * 6)
    pcm = np.where(np.sin(2 * np.pi * 440 * t / 16000) >= 0, 8000, -8000).astype(np.int16)
    cut = []
    for k in range(runs):
        host.wait(1.5)  # back to IDLE
        rec = Path(tmp) / f"cut{k}.wav"
        twin.control("speaker_record", path=str(rec))
        stream = (40 + k) & 0xFF
        host.send("audio_start", stream, 1, 16000, 1)
        state = adpcm.new_state()
        for i, start in enumerate(range(0, len(pcm), 1024)):  # 6 s, sent at once: the line holds it
            chunk = pcm[start:start + 1024]
            pred, step = state[0], state[1]
            n = adpcm.encode(state, chunk.tobytes(), host.ep.enc.body, link.AUDIO_DATA, len(chunk))
            host.ep.send_audio(stream, i, pred, step, len(chunk), n)
            host.step()
        deadline = time.monotonic() + 10
        while not loud_since(rec, rec.stat().st_size - 1600):
            if time.monotonic() > deadline:
                raise RuntimeError("the board did not play the answer")
            host.step()
            time.sleep(0.01)
        host.wait(0.5)  # well into the answer; seconds of it still wait on the line
        pressed_at = rec.stat().st_size
        twin.control("press", button="button", ms=150)  # a tap: barge-in, then broken off
        host.run_until(lambda: host.named("audio_stop"), 10, "audio_stop")
        host.wait(0.6)  # what the speaker still plays after the board stopped it
        twin.control("speaker_stop")
        with wave.open(str(rec), "rb") as w:
            got = np.abs(np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.int32))
        before = got[:max(0, (pressed_at - 44) // 2)]
        if not (before > 1000).any():
            raise RuntimeError("the board did not play the answer before the press")
        tail = got[max(0, (pressed_at - 44) // 2):]
        loud = np.flatnonzero(tail > 200)
        cut.append((loud[-1] + 1) / 16 if len(loud) else 0.0)
        host.got.clear()
    return cut


def bench(board_name, presses, boots, cuts=10):
    board = catalog.load(board_name)
    with tempfile.TemporaryDirectory() as tmp:
        twin = start_app(board_name, Path(tmp) / "state")
        host = BoardHost(twin.port)
        try:
            host.run_until(lambda: host.ep.up, 30, "the app's hello")
            host.send("clock_set", int(time.time()), 0, 0)
            used, total = steady_heap(twin, host)
            budget = board.heap_budget
            print(f"{board_name}: steady-state heap {used / 1024:.1f} KB used by the app "
                  f"= {100 * used / budget:.1f} % of the {budget // 1024} KB budget (target <= 60 %); "
                  f"heap the app sees {total / 1024:.1f} KB", flush=True)
            t = boot_to_idle(twin, host, boots)
            print(f"{board_name}: boot to IDLE {statistics.median(t):.2f} s median of {boots} "
                  f"(min {min(t):.2f}, max {max(t):.2f})", flush=True)
            lat = press_to_screen(twin, host, presses)
            poll = []
            for _ in range(10):
                t0 = time.monotonic()
                rows(twin)
                poll.append(time.monotonic() - t0)
            print(f"{board_name}: button press to screen change p50 {1000 * pct(lat, 50):.0f} ms, "
                  f"p95 {1000 * pct(lat, 95):.0f} ms over {presses} presses "
                  f"(display poll {1000 * statistics.median(poll):.1f} ms each)", flush=True)
            if cuts:
                cut = press_to_cancel(twin, host, cuts, tmp)
                print(f"{board_name}: press to cancel (the speaker still playing after a barge-in press) "
                      f"p50 {pct(cut, 50):.0f} ms, p95 {pct(cut, 95):.0f} ms, max {max(cut):.0f} ms "
                      f"over {cuts} presses", flush=True)
        finally:
            host.close()
            twin.stop()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--board", action="append", help="board(s) to run (default: both reference boards)")
    ap.add_argument("--presses", type=int, default=20)
    ap.add_argument("--boots", type=int, default=5)
    ap.add_argument("--cuts", type=int, default=10, help="barge-in presses during an answer (0: skip)")
    args = ap.parse_args(argv)
    for name in args.board or ["pico2w", "esp32s3-devkitc"]:
        bench(name, args.presses, args.boots, args.cuts)
    return 0


if __name__ == "__main__":
    sys.exit(main())

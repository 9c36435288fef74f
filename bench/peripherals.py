"""Benchmark of the twin's peripherals: prints its figures.

    .venv/bin/python bench/peripherals.py [--board pico2w] [--seconds 3]

- I2C transactions per second through the shim (register reads and writes, as
  drivers do them), measured by the VM itself;
- sustained I2S RX rate at 16 kHz as a multiple of real time, with the world
  streaming as fast as the VM's blocking readinto takes the samples;
- display snapshot time (pixel array and PNG) through world control.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pocket_agent.boards import catalog  # noqa: E402
from pocket_agent.tools.twin import launcher  # noqa: E402
from tests.twin.conftest import mpremote  # noqa: E402


def i2c_rate(twin, board, seconds):
    bus = next(b for b in board.raw["buses"].values() if b["type"] == "i2c")
    env = next(p for p in board.raw["parts"] if p["part"] == "bme280")["addr"]
    out = mpremote(twin.port, "exec", f"""import machine, time
i2c = machine.I2C({bus['id']}, scl=machine.Pin({bus['scl']}), sda=machine.Pin({bus['sda']}))
buf = bytearray(8)
reg = bytearray(1)
for mode in (0, 1):
    n = 0
    t0 = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), t0) < {int(seconds * 1000)}:
        for _ in range(100):
            if mode:
                i2c.writeto_mem({env}, 0xF5, reg)
            else:
                i2c.readfrom_mem_into({env}, 0xF7, buf)
        n += 100
    print(n * 1000 // time.ticks_diff(time.ticks_ms(), t0))
""", timeout=60)
    return [int(x) for x in out.split()]


def i2s_multiple(twin, board, seconds):
    bus = next(b for b in board.raw["buses"].values() if b["type"] == "i2s" and b["mode"] == "rx")
    twin.control("audio_speed", speed=0)
    try:
        out = mpremote(twin.port, "exec", f"""import time
from machine import I2S, Pin
mic = I2S({bus['id']}, sck=Pin({bus['sck']}), ws=Pin({bus['ws']}), sd=Pin({bus['sd']}), mode=I2S.RX,
          bits=32, format=I2S.MONO, rate=16000, ibuf=20000)
buf = bytearray(2048)  # 32 ms of 32-bit samples, as an app's audio loop reads them
mv = memoryview(buf)
mic.readinto(buf)
frames = 0
t0 = time.ticks_us()
while time.ticks_diff(time.ticks_us(), t0) < {int(seconds * 1e6)}:
    mic.readinto(mv)
    frames += 512
us = time.ticks_diff(time.ticks_us(), t0)
mic.deinit()
print(frames, us)
""", timeout=60)
    finally:
        twin.control("audio_speed", speed=1)
    frames, us = map(int, out.split())
    return frames / 16000 / (us / 1e6)


def i2s_unpaced_is_intact(twin, board, tmp):
    """The unpaced stream still carries the mic's samples in order (a looping ramp)."""
    import wave

    import numpy as np

    ramp = (np.arange(4096) * 16 - 32768).astype("<i2")
    with wave.open(str(tmp / "ramp.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(ramp.tobytes())
    twin.world.mic_play(tmp / "ramp.wav", loop=True)
    bus = next(b for b in board.raw["buses"].values() if b["type"] == "i2s" and b["mode"] == "rx")
    twin.control("audio_speed", speed=0)
    try:
        out = mpremote(twin.port, "exec", f"""from machine import I2S, Pin
mic = I2S({bus['id']}, sck=Pin({bus['sck']}), ws=Pin({bus['ws']}), sd=Pin({bus['sd']}), mode=I2S.RX,
          bits=32, format=I2S.MONO, rate=16000, ibuf=20000)
buf = bytearray(2048)
prev = None
bad = 0
for _ in range(500):
    mic.readinto(buf)
    for i in range(3, 2048, 4):
        v = buf[i - 1] | buf[i] << 8
        if prev is not None and v != (prev + 16) & 0xFFFF:
            bad += 1
        prev = v
mic.deinit()
print(bad)
""", timeout=120)
    finally:
        twin.control("audio_speed", speed=1)
        twin.world.mic_stop()
    return int(out) == 0


def snapshot_times(twin, n=20):
    pix, png = [], []
    with tempfile.TemporaryDirectory() as d:
        for i in range(n):
            t0 = time.perf_counter()
            twin.world.display_pixels()
            pix.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            twin.world.display_png(Path(d) / f"s{i}.png", scale=4)
            png.append(time.perf_counter() - t0)
    return statistics.median(pix) * 1000, statistics.median(png) * 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", action="append", help="board(s) to measure (default: both reference boards)")
    ap.add_argument("--seconds", type=float, default=3.0, help="length of each timed run")
    args = ap.parse_args()
    for name in args.board or ["pico2w", "esp32s3-devkitc"]:
        board = catalog.load(name)
        with tempfile.TemporaryDirectory() as state, launcher.start(name, state_dir=state) as twin:
            reads, writes = i2c_rate(twin, board, args.seconds)
            multiple = i2s_multiple(twin, board, args.seconds)
            intact = i2s_unpaced_is_intact(twin, board, Path(state))
            pix_ms, png_ms = snapshot_times(twin)
        print(f"{name}:")
        print(f"  I2C readfrom_mem_into (8 bytes):   {reads:7d} transactions/s")
        print(f"  I2C writeto_mem (1 byte):          {writes:7d} transactions/s")
        print(f"  I2S RX 16 kHz 32-bit mono:         {multiple:7.1f} x real time (target >= 2x); "
              f"samples in order when unpaced: {'yes' if intact else 'NO'}")
        print(f"  display snapshot, pixel array:     {pix_ms:7.1f} ms (median of 20)")
        print(f"  display snapshot, PNG x4:          {png_ms:7.1f} ms (median of 20)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Each driver against the twin's register models, on both reference boards.

firmware/ is deployed with `pocket deploy` (left at the REPL), and code runs on
the twin through the real mpremote; parts are built by main.py's own
build_part() from the deployed /board.json, so the composition root's bus
set-up is exercised too. The world is set and read through world control."""

import json
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from pocket_agent.hil.board import DRIVER_PRELUDE
from pocket_agent.tools import deploy
from pocket_agent.tools.twin import launcher

MPREMOTE = str(Path(sys.executable).parent / "mpremote")
pytestmark = pytest.mark.slow

PRELUDE = DRIVER_PRELUDE


@pytest.fixture(scope="module", params=["pico2w", "esp32s3-devkitc"])
def twin(request, tmp_path_factory):
    state = tmp_path_factory.mktemp("state")
    t = launcher.start(request.param, state_dir=state, wipe=True)
    try:
        deploy.deploy(request.param, twin=t.name, state_dir=state, reset=False, out=lambda *a, **k: None)
        yield t
    finally:
        t.stop()


def on_board(twin, code, timeout=60, lines=None):
    """Run code on the twin; its out(...) as a dict (plus the lines that start with `lines`)."""
    proc = subprocess.run([MPREMOTE, "connect", twin.port, "exec", PRELUDE + code],
                          capture_output=True, text=True, timeout=timeout)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            r = json.loads(line[7:])
            if lines:
                r["lines"] = [x[len(lines):] for x in proc.stdout.splitlines() if x.startswith(lines)]
            return r
    raise AssertionError(f"no result from the board: {proc.stdout[-2000:]} {proc.stderr[-2000:]}")


def test_i2c_scan_finds_the_parts_of_the_board_definition(twin):
    r = on_board(twin, """
b = board["buses"]["i2c0"]
i2c = main.build_bus(b, board["port"])
out(found=i2c.scan(), want=sorted(p["addr"] for p in board["parts"] if p.get("bus") == "i2c0"))
""")
    assert r["found"] == r["want"] == [0x3C, 0x68, 0x76]


def test_bme280_reads_back_the_world_within_its_resolution(twin):
    twin.control("environment", temperature=23.45, humidity=56.7, pressure=98765)
    r = on_board(twin, """
env = part("env")
t, h, p = env.read()
missing = ""
try:
    from drivers.bme280 import BME280
    BME280(buses["i2c0"], 0x77)
except OSError as e:
    missing = str(e)
out(t=t, h=h, p=p, missing=missing)
""")
    assert r["t"] == 2345
    assert abs(r["h"] - 5670) <= 10  # 0.1 %RH
    assert abs(r["p"] - 98765) <= 2
    assert r["missing"].startswith("bme280 at 0x77:")


def test_mpu6050_sees_gravity_and_a_tilt(twin):
    twin.control("orientation", pitch=0, roll=0)
    flat = on_board(twin, "imu = part('imu')\nout(v=list(imu.read()))")["v"]
    twin.control("orientation", pitch=90, roll=0)
    tilted = on_board(twin, "imu = part('imu')\nout(v=list(imu.read()))")["v"]
    twin.control("orientation", pitch=0, roll=0)
    assert abs(flat[0]) < 30 and abs(flat[1]) < 30 and abs(flat[2] - 1000) < 30
    assert max(abs(tilted[0]), abs(tilted[1])) > 950 and abs(tilted[2]) < 60


def test_ssd1306_shows_exactly_the_framebuffer(twin):
    r = on_board(twin, """
d = part("display")
d.fill(0)
d.text("Pocket 42", 3, 5, 1)
d.rect(0, 20, 128, 20, 1)
d.fill_rect(10, 50, 30, 8, 1)
d.show()
import binascii
buf = binascii.hexlify(d.buf).decode()
d.contrast(40)
out(buf=buf)
""")
    b = bytes.fromhex(r["buf"])  # MONO_VLSB: byte x + 128 * page holds 8 pixels down
    want = ["".join("1" if b[x + 128 * (y // 8)] >> (y % 8) & 1 else "0" for x in range(128)) for y in range(64)]
    snap = twin.control("display")
    assert snap["rows"] == want
    assert sum(row.count("1") for row in want) > 300
    assert snap["state"]["contrast"] == 40


def _wav(path, samples, rate=16000):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())


def test_inmp441_returns_the_wav_samples_in_order(twin, tmp_path):
    rng = np.random.default_rng(1)
    sig = rng.integers(-20000, 20000, 8000).astype(np.int16)
    sig[0] = 12345  # a marker that starts the signal
    path = tmp_path / "in.wav"
    _wav(path, sig)
    # play first, then read: the mic streams the WAV at 16 kHz from the moment it is played
    twin.control("mic_play", path=str(path))
    r = on_board(twin, """
from array import array
import binascii
mic = part("mic")
got = array("h", bytes(2 * 9600))
n = 0
t0 = time.ticks_ms()
while n < 9600 and time.ticks_diff(time.ticks_ms(), t0) < 4000:
    mic.read()
    for i in range(mic.frame):
        got[n + i] = mic.pcm[i]
    n += mic.frame
mic.close()  # the next test's parts must not share the bus with a stream left running
for k in range(0, n, 800):
    print("PCM " + binascii.hexlify(memoryview(got)[k:k + 800]).decode())
out(n=n, ms=time.ticks_diff(time.ticks_ms(), t0))
""", lines="PCM ")
    got = np.frombuffer(b"".join(bytes.fromhex(x) for x in r["lines"]), "<i2")
    start = np.flatnonzero(got == 12345)
    assert len(start), "the marker sample never arrived"
    seg = got[start[0]:start[0] + len(sig)]
    n = len(seg)
    assert n > 2000 and np.array_equal(seg, sig[:n])


def test_max98357a_plays_what_it_is_given(twin, tmp_path):
    rec = tmp_path / "out.wav"
    twin.control("speaker_record", path=str(rec))
    on_board(twin, """
amp = part("amp")
amp.set_volume(100)
from array import array
pcm = array("h", [((i * 37) % 2000) - 1000 for i in range(1024)])
bufs = [array("h", pcm) for _ in range(8)]
for buf in bufs:  # back to back, as the app's playback writes
    amp.play(buf, len(buf))
for _ in range(10):
    amp.silence()
amp.close()
out(ok=1)
""")
    twin.control("speaker_stop")
    with wave.open(str(rec), "rb") as w:
        got = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    want = np.array([((i * 37) % 2000) - 1000 for i in range(1024)], np.int16)
    nz = np.flatnonzero(got)
    assert len(nz), "the speaker recorded silence"
    seg = got[nz[0]:nz[0] + 8 * 1024]
    assert np.array_equal(seg, np.tile(want, 8)[:len(seg)]) and len(seg) == 8 * 1024


def test_button_debounces_to_one_press_one_release_and_a_long_press(twin):
    # the press comes from the world while the board polls: run both at once
    proc = subprocess.Popen([MPREMOTE, "connect", twin.port, "exec", PRELUDE + """
b = part("button")
ev = []
t0 = time.ticks_ms()
while time.ticks_diff(time.ticks_ms(), t0) < 4000:
    e = b.poll(time.ticks_ms())
    if e:
        ev.append((e, time.ticks_diff(time.ticks_ms(), t0)))
    time.sleep_ms(1)
out(ev=ev)
"""], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    twin.control("press", button="button", ms=300)  # with contact bounce
    time.sleep(1.0)
    twin.control("press", button="button", ms=1300)
    out, err = proc.communicate(timeout=30)
    line = [x for x in out.splitlines() if x.startswith("RESULT ")]
    assert line, out + err
    ev = [e for e, _t in json.loads(line[0][7:])["ev"]]
    assert ev == [1, 2, 1, 3, 2]  # PRESS, RELEASE, PRESS, LONG, RELEASE: no bounce got through


def test_battery_reads_the_cell_through_the_divider(twin):
    twin.control("battery", level=0.5)
    r = on_board(twin, "bat = part('battery')\nmv, pct = bat.read()\nout(mv=mv, pct=pct)")
    assert abs(r["mv"] - 3840) < 60  # the world's cell at half charge
    assert 35 <= r["pct"] <= 60


def test_led_shows_the_colour(twin):
    on_board(twin, "led = part('led')\nled.set(10, 20, 30)\nout(ok=1)")
    st = twin.control("led")
    assert st["on"]
    if st["part"] == "ws2812":
        assert st["rgb"] == [10, 20, 30]
    on_board(twin, "led = part('led')\nled.set(0, 0, 0)\nout(ok=1)")
    assert not twin.control("led")["on"]

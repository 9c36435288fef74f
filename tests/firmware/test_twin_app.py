"""App flows on both twins, through world control and the link: the host's
side is the link's own Endpoint on the twin's port (tests/firmware/twinhost.py).

Each state's screen is compared with a golden PNG (tests/firmware/golden/
<board>/<state>.png), pixel for pixel, except regions that move on their own
(the thinking dots, the confirmation's countdown). To record new goldens after
a deliberate change of the screens: POCKET_UPDATE_GOLDEN=1, then look at them."""

import os
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from pocket_agent.boards import catalog
from pocket_agent.firmware import adpcm, link
from tests.firmware.twinhost import BoardHost, start_app

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("POCKET_UPDATE_GOLDEN") == "1"
CLOCK = (1699999980, 0, -579)  # 22:13:00 UTC is 12:34:00 local: the clock shows 12:34 for a minute
pytestmark = pytest.mark.slow


@pytest.fixture(params=["pico2w", "esp32s3-devkitc"])
def board(request, tmp_path):
    twin = start_app(request.param, tmp_path / "state")
    twin.control("environment", temperature=21.5, humidity=45.0, pressure=101325)
    twin.control("battery", level=0.8)
    host = BoardHost(twin.port)
    try:
        host.run_until(lambda: host.ep.up, 20, "the app's hello")
        host.send("clock_set", *CLOCK)
        yield twin, host, request.param
    finally:
        host.close()
        twin.stop()


def rows(twin):
    return twin.control("display")["rows"]


def wait_screen(twin, host, pred, timeout=5.0, what="the screen"):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        host.step()
        last = rows(twin)
        if pred(last):
            return last
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}:\n" + "\n".join(last or []))


def text_at(r, y):
    """The 8 pixel rows from y as a string of lit columns (to find text)."""
    return "".join(r[y:y + 8])


def check_golden(name, board, r, mask=()):
    """r: rows of '0'/'1'. mask: (y0, y1) row ranges not compared."""
    from PIL import Image
    path = GOLDEN / board / f"{name}.png"
    h, w = len(r), len(r[0])
    keep = [not any(a <= y < b for a, b in mask) for y in range(h)]
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        img = Image.frombytes("L", (w, h), bytes(255 if c == "1" else 0 for row in r for c in row))
        img.save(path)
        return
    assert path.exists(), f"no golden {path}: record it with POCKET_UPDATE_GOLDEN=1"
    img = Image.open(path).convert("L")
    px = img.load()
    want = ["".join("1" if px[x, y] > 127 else "0" for x in range(w)) for y in range(h)]
    diff = [y for y in range(h) if keep[y] and want[y] != r[y]]
    assert not diff, f"{name} differs from {path} on rows {diff}:\n" + "\n".join(
        f"{y:2d} got  {r[y]}\n   want {want[y]}" for y in diff[:6])


def test_each_state_screen_matches_its_golden(board):
    twin, host, name = board
    bar_hidden = [(0, 8)]  # the status bar's battery can move by a pixel as the cell drains
    r = wait_screen(twin, host, lambda r: "1" in text_at(r, 40), 12, "IDLE with sensors")
    time.sleep(0.3)
    check_golden("idle", name, rows(twin), bar_hidden)

    twin.control("press", button="button")  # held: push-to-talk
    host.run_until(lambda: host.named("audio_start"), 5, "audio_start")
    time.sleep(0.3)
    check_golden("listening", name, rows(twin), bar_hidden)
    twin.control("release", button="button")
    host.run_until(lambda: host.named("audio_end"), 5, "audio_end")
    time.sleep(0.2)
    check_golden("thinking", name, rows(twin), bar_hidden + [(36, 56)])

    host.send("display_text", 2, 0, "Weather")
    host.send("display_text", 0, 0, "It is 21.5 degrees and 45 percent humidity in here: comfortable.")
    host.wait(0.5)
    check_golden("responding", name, rows(twin), bar_hidden)

    host.send("pair", bytes(range(32)))
    host.send("confirm_request", 5, 30000, 1700000000000, bytes(16),
              '{"summary": "Send Alice: running late, there at six", "tool": "send"}')
    host.wait(0.5)
    check_golden("confirm", name, rows(twin), bar_hidden + [(48, 54)])
    twin.control("press", button="button", ms=150)
    host.run_until(lambda: host.named("confirm_result"), 5, "confirm_result")
    assert host.named("confirm_result")[0][:2] == [5, 0]

    twin.control("press", button="button2", ms=100)  # the sensor page
    host.wait(0.5)
    check_golden("sensors", name, rows(twin), bar_hidden + [(48, 56)])  # free heap moves
    twin.control("press", button="button2", ms=100)

    host.close()  # the host goes away
    wait_screen(twin, host, lambda r: r[11].count("1") > 100, 8, "OFFLINE heading")
    time.sleep(0.3)
    check_golden("offline", name, rows(twin), bar_hidden)


def test_push_to_talk_streams_the_mic_to_the_host(board, tmp_path):
    twin, host, _name = board
    t = np.arange(16000 * 2)
    tone = (8000 * np.sin(2 * np.pi * 440 * t / 16000)).astype(np.int16)
    wav = tmp_path / "tone.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(tone.tobytes())
    twin.control("mic_play", path=str(wav))
    t0 = time.monotonic()
    twin.control("press", button="button", ms=1500)
    host.run_until(lambda: host.named("audio_end"), 8, "audio_end")
    starts, ends = host.named("audio_start"), host.named("audio_end")
    chunks = [v for (_ms, e, v) in host.got if e == link.AUDIO_CHUNK]
    assert starts[0][1:] == [1, 16000, 0] and ends[0][2] == 0
    assert ends[0][1] == len(chunks) and 20 <= len(chunks) <= 30, (len(chunks), time.monotonic() - t0)
    assert host.ep.lost_chunks == 0
    # what arrives is the tone the mic heard
    pcm = np.frombuffer(bytes(host.pcm), "<i2").astype(np.float64)
    spec = np.abs(np.fft.rfft(pcm * np.hanning(len(pcm))))
    assert abs(np.argmax(spec) * 16000 / len(pcm) - 440) < 10
    assert np.percentile(np.abs(pcm), 99) > 4000
    buttons = host.named("button")  # held 1.5 s: press, long press, release
    assert [b[:2] for b in buttons[:3]] == [[0, 0], [0, 2], [0, 1]]


def test_answer_audio_plays_on_the_speaker_and_a_press_barges_in(board, tmp_path):
    twin, host, _name = board
    rec = tmp_path / "spk.wav"
    twin.control("speaker_record", path=str(rec))
    t = np.arange(16000 * 3)
    pcm = (6000 * np.sin(2 * np.pi * 330 * t / 16000)).astype(np.int16)
    state = adpcm.new_state()
    host.send("audio_start", 9, 1, 16000, 1)
    for k in range(0, 16000, 1024):  # one second of it
        chunk = pcm[k:k + 1024]
        pred, step = state[0], state[1]
        n = adpcm.encode(state, chunk.tobytes(), host.ep.enc.body, link.AUDIO_DATA, len(chunk))
        host.ep.send_audio(9, k // 1024, pred, step, len(chunk), n)
        host.wait(0.05)
    host.wait(0.3)
    twin.control("press", button="button", ms=800)  # barge-in: the board stops and listens
    host.run_until(lambda: host.named("audio_stop"), 5, "audio_stop")
    assert host.named("audio_stop")[0] == [9]
    host.run_until(lambda: host.named("audio_start"), 5, "the board listening")
    twin.control("speaker_stop")
    with wave.open(str(rec), "rb") as w:
        got = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64)
    loud = np.abs(got) > 1000
    assert loud.sum() > 8000, "the speaker played less than half a second of the answer"
    # volume 60 %: about 0.6 x 6000 at the peaks
    assert 3000 < np.percentile(np.abs(got[loud]), 99) < 4200


def timer_shown(r):
    """A heading bar under the status bar and the wide "press to stop" at the bottom
    (OFFLINE's "no host" there is narrow)."""
    return r[11].count("1") > 100 and any("1" in row[:30] for row in r[56:64])


def test_offline_then_a_timer_fires_without_a_host_and_is_reported_later(board, tmp_path):
    twin, host, name = board
    now = int(time.time())
    host.send("clock_set", now, 0, 0)
    host.send("timer_set", 42, now + 6, 0, "Tea is ready")
    host.wait(0.5)
    port = twin.port
    host.close()  # no host any more
    rec = tmp_path / "alarm.wav"
    twin.control("speaker_record", path=str(rec))
    r = wait_screen(twin, host, timer_shown, 15, "the timer screen")
    check_golden("alarm", name, r, [(0, 8)])
    time.sleep(1.0)
    twin.control("speaker_stop")
    with wave.open(str(rec), "rb") as w:
        got = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    assert (np.abs(got) > 1000).sum() > 1600, "no alarm sound"
    host2 = BoardHost(port)
    try:
        host2.run_until(lambda: host2.named("timer_fired"), 15, "timer_fired after the host returns")
        tid, at = host2.named("timer_fired")[0]
        assert tid == 42 and at >= now + 6
    finally:
        host2.close()
    assert r


def test_bad_input_gets_error_replies_on_the_twin(board):
    twin, host, _name = board
    err = host.request("display_text", 9, 0, "x", reply="info")
    assert err[1] == 1 and "region 9" in err[2]
    sv = host.request("sensor_read", 7, reply="sensor_value")
    assert sv[1:] == [7, 1, []]
    info = host.request("info_get", reply="info")
    assert info[1] == twin.info.get("board", info[1])
    env = host.request("sensor_read", 0, reply="sensor_value")
    assert env[2] == 0 and env[3][0] == 2150 and abs(env[3][1] - 4500) <= 10


@pytest.mark.xfail(strict=True, reason=(
    "issue [firmware] target not met on the twin with the wake word on: the app holds about 127 KB "
    "(64 %) of the 200 KB budget on the 64-bit twin, whose objects are wider than a board's; "
    "bench/heap32.py estimates 59.4 % (Pico 2 W) and 51.9 % (ESP32-S3) on the 32-bit boards, "
    "which test_heap32.py asserts. strict: this fails loudly once the twin meets it too."))
def test_heap_stays_within_budget_on_the_twin(board):
    twin, host, name = board
    for _ in range(3):
        twin.control("press", button="button", ms=500)
        host.run_until(lambda: len(host.named("audio_end")) > _, 8, "a listening cycle")
        host.send("display_text", 0, 0, "ok")
        host.wait(1.0)
    info = host.request("info_get", reply="info")
    total, free = info[4], info[5]
    used = total - free  # what the app holds (the port's own heap at boot is not counted)
    budget = catalog.load(name).heap_budget
    print(f"{name}: heap used by the app {used} bytes = {100 * used / budget:.1f} % of {budget}")
    assert used <= 0.6 * budget  # issue [firmware]: steady state within 60 % of the budget


def test_a_reset_shows_the_boot_screen_until_the_app_runs(board):
    from pocket_agent.hil import display

    def read(r):
        return display.read([[int(c) for c in row] for row in r])

    twin, host, name = board
    host.close()
    twin.control("reset")
    end = time.monotonic() + 30
    while time.monotonic() < end and any("1" in row for row in rows(twin)):
        time.sleep(0.005)  # the reset clears the panel
    screens = []  # each different screen, in order, from the first one drawn on
    while time.monotonic() < end and not (screens and read(screens[-1]).shows("OFFLINE")):
        r = rows(twin)
        if any("1" in row for row in r) and (not screens or r != screens[-1]):
            screens.append(r)
        time.sleep(0.005)
    assert screens, "nothing was drawn after the reset"
    assert read(screens[0]).shows("Pocket starting"), read(screens[0]).text
    check_golden("boot", name, screens[0])  # nothing on it moves: no clock or battery yet
    assert read(screens[-1]).shows("OFFLINE"), [read(r).text for r in screens]


def test_holding_the_button_at_boot_leaves_the_repl(board):
    twin, host, _name = board
    host.close()
    twin.control("press", button="button")  # held through the reset
    boots = twin.status()["boots"]
    twin.control("reset")
    twin.wait_port(timeout=15, boots=boots)
    import serial
    port = serial.Serial(twin.port, timeout=0)
    try:
        seen = b""
        end = time.monotonic() + 3
        while time.monotonic() < end:
            seen += port.read(4096)
            time.sleep(0.02)
        port.write(b"\r")
        time.sleep(0.3)
        seen += port.read(4096)
    finally:
        port.close()
        twin.control("release", button="button")
    assert b"safe mode" in seen and b">>> " in seen
    assert b"\x10\x53" not in seen  # no link frame: the app did not start


def test_no_answer_shows_the_error_screen_then_recovers(board):
    twin, host, name = board
    twin.control("press", button="button", ms=500)
    host.run_until(lambda: host.named("audio_end"), 5, "audio_end")
    wait_screen(twin, host, lambda r: r[11].count("1") > 60, 25, "the ERROR heading")  # 20 s without an answer
    host.send("clock_set", *CLOCK)
    host.wait(0.3)
    check_golden("error", name, rows(twin), [(0, 8)])
    wait_screen(twin, host, idle_like, 6, "IDLE again")


def idle_like(r):
    return r[11].count("1") < 60 and any(row.count("1") > 20 for row in r[14:30])


def test_a_tool_taking_over_is_not_reset_by_the_watchdog(board):
    """mpremote interrupts the app and soft-resets the board (the watchdog keeps running, as
    on the ports); boot.py keeps it fed, so code the tool runs is not cut short."""
    import subprocess
    import sys
    twin, host, _name = board
    host.close()
    mp = str(Path(sys.executable).parent / "mpremote")
    boots = twin.status()["boots"]
    code = "import time\nt = time.ticks_ms()\nwhile time.ticks_diff(time.ticks_ms(), t) < 10000:\n" \
           "    time.sleep_ms(50)\nprint('alive')"
    p = subprocess.run([mp, "connect", twin.port, "exec", code], capture_output=True, text=True, timeout=40)
    assert p.stdout.strip() == "alive", p.stdout + p.stderr
    st = twin.status()
    assert st["reset_cause"] != "wdt" and st["boots"] == boots + 1  # only mpremote's soft reset


def test_the_screen_dims_blanks_and_a_lift_or_a_tap_wakes_it(board, tmp_path):
    import json
    import subprocess
    import sys
    twin, host, name = board
    host.close()
    conf = dict(catalog.load(name).raw)
    conf["parts"] = [dict(p, dim_s=2, blank_s=4) if p["name"] == "display" else p for p in conf["parts"]]
    path = tmp_path / "board.json"
    path.write_text(json.dumps(conf))
    mp = str(Path(sys.executable).parent / "mpremote")
    boots = twin.status()["boots"]
    subprocess.run([mp, "connect", twin.port, "fs", "cp", str(path), ":board.json"],
                   check=True, capture_output=True, timeout=40)
    twin.control("reset")  # the app starts again with the short times
    twin.wait_port(timeout=15, boots=boots + 1)
    twin.control("orientation", pitch=0, roll=0)

    def display():
        return twin.control("display")["state"]

    def until(pred, timeout, what):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            st = display()
            if pred(st):
                return st
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}: {display()}")

    full = until(lambda st: st["on"] and st["contrast"] == 255, 5, "the screen at full brightness")
    until(lambda st: st["on"] and st["contrast"] < 64, 5, "the screen to dim")
    until(lambda st: not st["on"], 5, "the screen to blank")
    twin.control("orientation", pitch=60, roll=0)  # picked up
    until(lambda st: st["on"] and st["contrast"] == 255, 3, "a lift to wake it")
    until(lambda st: not st["on"], 8, "the screen to blank again")
    twin.control("tap")
    until(lambda st: st["on"] and st["contrast"] == 255, 3, "a tap to wake it")
    assert full

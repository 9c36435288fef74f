"""Each driver of the firmware on the board under test, through its REPL.

The firmware is deployed once per board (conftest `firmware`); parts are built
on the board by main.py's own build_part() from the deployed /board.json, so
the composition root's bus set-up runs too. Stimulus and observation come from
`stimulus`: the twin's world, or the rig on hardware (each test names the
capability it needs)."""

import json
import time
import wave

import numpy as np
import pytest

from pocket_agent.hil.board import DRIVER_PRELUDE
from pocket_agent.host.speech.audio import write_wav

pytestmark = [pytest.mark.hil, pytest.mark.usefixtures("firmware")]

PRELUDE = DRIVER_PRELUDE


def on_board(board, code):
    """Run code on the board; what its out(...) printed, as a dict."""
    text = board.exec(PRELUDE + code)
    for line in text.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise AssertionError(f"no result from the board: {text[-2000:]}")


class Running:
    """Code running on the board while the host acts on its surroundings."""

    def __init__(self, board, code, ready="READY"):
        self.t = board.transport()
        try:
            self.t.enter_raw_repl(soft_reset=False, timeout_overall=board.timeout)
            self.t.exec_raw_no_follow(PRELUDE + code)
            self.t.read_until(1, ready.encode() + b"\r\n", timeout=board.timeout)
        except BaseException:
            self.t.close()
            raise

    def result(self, timeout):
        try:
            out, err = self.t.follow(timeout=timeout)
            self.t.exit_raw_repl()
        finally:
            self.t.close()
        assert not err, err.decode(errors="replace")
        for line in out.decode().splitlines():
            if line.startswith("RESULT "):
                return json.loads(line[7:])
        raise AssertionError(f"no result from the board: {out[-2000:]!r}")


def framebuffer_rows(hexbuf, width=128, height=64):
    """MONO_VLSB bytes (byte x + width * page holds 8 pixels down) as rows of 0/1."""
    b = bytes.fromhex(hexbuf)
    return [[b[x + width * (y // 8)] >> (y % 8) & 1 for x in range(width)] for y in range(height)]


def dominant_hz(samples, rate=16000):
    x = np.asarray(samples, float)
    spectrum = np.abs(np.fft.rfft((x - x.mean()) * np.hanning(len(x))))
    return np.argmax(spectrum) * rate / len(x)


# ---- display ----


@pytest.mark.needs("display")
def test_display_shows_the_framebuffer_and_obeys_contrast_invert_and_power(board, stimulus):
    drawn = on_board(board, """
import binascii
d = part("display")
blank = sum(d.buf)
d.text("Pocket 42", 3, 5, 1)
d.rect(0, 20, 128, 20, 1)
d.fill_rect(10, 50, 30, 8, 1)
d.show()
out(buf=binascii.hexlify(d.buf).decode(), blank=blank, w=d.width, h=d.height)
""")
    assert drawn["blank"] == 0  # init clears the panel's random power-up RAM
    want = framebuffer_rows(drawn["buf"], drawn["w"], drawn["h"])
    assert sum(map(sum, want)) > 300
    assert stimulus.display_pixels() == want
    state = stimulus.state()["display"]
    assert state["on"] and state["contrast"] == 0xFF and not state["invert"]

    on_board(board, "d = part('display')\nd.text('Pocket 42', 3, 5, 1)\nd.show()\nd.contrast(40)\nd.invert(True)\nout()")
    state = stimulus.state()["display"]
    assert state["contrast"] == 40 and state["invert"]
    lit = stimulus.display_pixels()
    dark = sum(row.count(0) for row in lit)
    assert 0 < dark < 200  # inverted: only the text's pixels are dark

    on_board(board, "d = part('display')\nd.fill(1)\nd.show()\nd.power(False)\nout()")
    assert not stimulus.state()["display"]["on"]
    assert sum(map(sum, stimulus.display_pixels())) == 0  # off: nothing lit, whatever the RAM holds


# ---- environment sensor ----


@pytest.mark.needs("env")
@pytest.mark.parametrize("temperature, humidity, pressure", [
    (23.45, 56.7, 98765),
    pytest.param(-12.5, 12.0, 70000, marks=pytest.mark.hil_full),
    pytest.param(61.25, 93.5, 107500, marks=pytest.mark.hil_full),
])
def test_bme280_reads_what_the_world_holds(board, stimulus, temperature, humidity, pressure):
    stimulus.environment(temperature=temperature, humidity=humidity, pressure=pressure)
    r = on_board(board, "env = part('env')\nt, h, p = env.read()\nout(t=t, h=h, p=p)")
    assert abs(r["t"] - round(temperature * 100)) <= 1  # 0.01 degC resolution
    assert abs(r["h"] - humidity * 100) <= 10  # 0.1 %RH
    assert abs(r["p"] - pressure) <= 2  # Pa


# ---- IMU ----


def test_mpu6050_answers_who_am_i_and_measures_one_g(board):
    # Gravity is there on any bench: no rig needed.
    r = on_board(board, """
imu = part("imu")
who = bytearray(1)
imu.i2c.readfrom_mem_into(imu.addr, 0x75, who)
out(who=who[0], v=list(imu.read()))
""")
    assert r["who"] == 0x68
    g = np.linalg.norm(r["v"][:3])
    assert 900 < g < 1100, r["v"]
    assert max(abs(x) for x in r["v"][3:]) < 500  # at rest: under 5 deg/s


@pytest.mark.hil_full
@pytest.mark.needs("motion")
def test_mpu6050_follows_a_tilt(board, stimulus):
    try:
        stimulus.orientation(pitch=90, roll=0)
        r = on_board(board, "imu = part('imu')\nout(v=list(imu.read()))")
    finally:
        stimulus.orientation(position="flat")
    ax, ay, az = r["v"][:3]
    assert max(abs(ax), abs(ay)) > 950 and abs(az) < 60


@pytest.mark.needs("motion")
def test_mpu6050_latches_motion_as_the_firmware_watches_for_it(board, stimulus):
    run = Running(board, """
imu = part("imu")
imu.watch_motion()
before = imu.moved()
print("READY")
t0 = time.ticks_ms()
moved = False
while not moved and time.ticks_diff(time.ticks_ms(), t0) < 4000:
    moved = imu.moved()
    time.sleep_ms(5)
out(before=before, moved=moved, ms=time.ticks_diff(time.ticks_ms(), t0))
""")
    # A short shake, not a tap: the twin evaluates motion only at the samples it
    # computes when the board reads, so a 12 ms tap between two reads can be missed.
    stimulus.shake(seconds=0.3, g=1.5)
    r = run.result(timeout=10)
    assert r["before"] is False  # nothing moved the board before the shake
    assert r["moved"] is True, r


# ---- microphone ----


@pytest.mark.needs("audio_in")
def test_inmp441_hears_the_level_and_frequency_played_into_it(board, stimulus, tmp_path):
    amplitude, hz = 8000, 1000
    t = np.arange(1600) / 16000  # 100 ms: whole periods, so it loops without a seam
    tone = np.round(amplitude * np.sin(2 * np.pi * hz * t)).astype("<i2")
    path = tmp_path / "tone.wav"
    write_wav(str(path), tone.tobytes())
    stimulus.mic_play(path, loop=True)
    try:
        r = on_board(board, """
import binascii
mic = part("mic")
for _ in range(10):  # let the stream settle
    mic.read()
levels = []
pcm = bytearray()
for _ in range(12):
    levels.append(mic.read())
    pcm += bytes(memoryview(mic.pcm))
mic.close()
out(levels=levels, pcm=binascii.hexlify(pcm).decode())
""")
    finally:
        stimulus.mic_stop()
    samples = np.frombuffer(bytes.fromhex(r["pcm"]), "<i2")
    want_level = 2 * amplitude / np.pi  # mean |sin|
    assert all(abs(lv - want_level) < 0.05 * want_level for lv in r["levels"]), r["levels"]
    assert abs(dominant_hz(samples) - hz) < 16000 / len(samples) * 1.5

    quiet = on_board(board, "mic = part('mic')\nlv = [mic.read() for _ in range(8)]\nmic.close()\nout(lv=lv)")
    assert max(quiet["lv"][4:]) < 50  # nothing playing: silence


# ---- speaker ----


@pytest.mark.needs("audio_out")
def test_max98357a_tone_reaches_the_amplifier(board, stimulus):
    wav_path = board.artifacts / "speaker.wav"
    stimulus.speaker_record(wav_path)
    on_board(board, """
amp = part("amp")
amp.set_volume(100)
for _ in range(25):  # 25 blocks of 20 ms: half a second of 500 Hz
    amp.tone_block(500, 100)
for _ in range(20):  # deinit drops what the bus still holds (8 KB): push the tone through
    amp.silence()
amp.close()
out()
""")
    stimulus.speaker_stop()
    with wave.open(str(wav_path), "rb") as w:
        rate = w.getframerate()
        got = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    loud = np.flatnonzero(np.abs(got) > 1000)
    assert len(loud) > 0.48 * rate, f"the amplifier played {len(loud)} of {rate // 2} samples of the tone"
    seg = got[loud[0]:loud[-1] + 1]  # may hold underflow silence when the host starves the twin's VM
    assert abs(dominant_hz(seg, rate) - 500) < 10
    assert np.median(np.abs(got[loud])) == 8000  # full volume: a square wave of +-8000


# ---- buttons ----


def _button_names(board):
    return [p["name"] for p in board.definition.raw["parts"] if p["part"] == "button"]


@pytest.mark.needs("button")
@pytest.mark.parametrize("which", [0, pytest.param(1, marks=pytest.mark.hil_full)])
def test_a_bouncing_press_is_one_press_and_one_release(board, stimulus, which):
    names = _button_names(board)
    if which >= len(names):
        pytest.skip(f"{board.name} has {len(names)} button(s)")
    name = names[which]
    run = Running(board, f"""
b = part({name!r})
edges = [0]
def counted(pin):
    edges[0] += 1
    b._irq(pin)
b.pin.irq(counted, b.pin.IRQ_FALLING | b.pin.IRQ_RISING)
ev = []
print("READY")
t0 = time.ticks_ms()
while time.ticks_diff(time.ticks_ms(), t0) < 5000:
    e = b.poll(time.ticks_ms())
    if e:
        ev.append(e)
        if e == 2:  # RELEASE: the press is over
            break
    time.sleep_ms(1)
t1 = time.ticks_ms()
while time.ticks_diff(time.ticks_ms(), t1) < 100:  # late bounce must not make another event
    e = b.poll(time.ticks_ms())
    if e:
        ev.append(e)
    time.sleep_ms(1)
out(ev=ev, edges=edges[0])
""")
    stimulus.press(name, ms=400, bounce=True)  # a press the poll loop sees even when the host starves the VM
    r = run.result(timeout=15)
    assert r["ev"] == [1, 2], r  # PRESS, RELEASE and nothing from the bounce
    if board.twin:
        assert r["edges"] > 2, r  # the world's contacts bounce: the driver had bounce to filter


@pytest.mark.hil_full
@pytest.mark.needs("button")
def test_a_held_button_is_a_long_press(board, stimulus):
    run = Running(board, """
b = part("button")
ev = []
print("READY")
t0 = time.ticks_ms()
while time.ticks_diff(time.ticks_ms(), t0) < 6000 and 2 not in ev:
    e = b.poll(time.ticks_ms())
    if e:
        ev.append(e)
    time.sleep_ms(1)
out(ev=ev)
""")
    stimulus.press("button", ms=1400)
    assert run.result(timeout=15)["ev"] == [1, 3, 2]  # PRESS, LONG, RELEASE


# ---- battery ----


@pytest.mark.needs("battery")
@pytest.mark.parametrize("level", [0.5, pytest.param(0.1, marks=pytest.mark.hil_full),
                                   pytest.param(0.95, marks=pytest.mark.hil_full)])
def test_battery_voltage_through_the_divider(board, stimulus, level):
    cell = stimulus.battery(level=level, drain_per_hour=0)["volts"]
    r = on_board(board, "bat = part('battery')\nmv, pct = bat.read()\nout(mv=mv, pct=pct)")
    assert abs(r["mv"] - cell * 1000) < 50, (r, cell)
    assert 0 <= r["pct"] <= 100


# ---- LED ----


def test_led_shows_the_colour_and_goes_dark(board):
    if not board.twin:
        pytest.skip("no rig capability observes the LED yet: checked on twins")
    world = board.twin.world

    def settles(want, what):
        # A pin write reaches the world on the VM's own wire, not through the control
        # socket the host asks on: wait (with a deadline) until the world shows it.
        deadline = time.monotonic() + 3
        while not want(world.led()):
            assert time.monotonic() < deadline, f"the LED never {what}: {world.led()}"
            time.sleep(0.01)

    on_board(board, "led = part('led')\nled.set(10, 20, 30)\nout()")
    settles(lambda st: st["on"] and st.get("rgb", [10, 20, 30]) == [10, 20, 30], "showed 10, 20, 30")
    on_board(board, "led = part('led')\nled.set(0, 0, 0)\nout()")
    settles(lambda st: not st["on"], "went dark")


# ---- a missing part ----


def test_a_part_that_is_not_there_is_named_with_its_address(board):
    # Addresses nothing on the reference boards answers: what a loose or missing part looks like.
    r = on_board(board, """
from drivers.bme280 import BME280
from drivers.mpu6050 import MPU6050
from drivers.ssd1306 import SSD1306
bus = main.build_bus(board["buses"]["i2c0"], board["port"])
errors = {}
for name, cls, addr in (("bme280", BME280, 0x77), ("mpu6050", MPU6050, 0x69), ("ssd1306", SSD1306, 0x3D)):
    try:
        cls(bus, addr)
        errors[name] = None
    except OSError as e:
        errors[name] = str(e)
out(**errors)
""")
    for kind, addr in (("bme280", 0x77), ("mpu6050", 0x69), ("ssd1306", 0x3D)):
        assert r[kind] and r[kind].startswith(f"{kind} at 0x{addr:02x}"), r

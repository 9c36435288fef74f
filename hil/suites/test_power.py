"""Power cut while the firmware writes its settings.

The firmware's own settings module (firmware/settings.py) rewrites
/settings.json over and over on the board; the power goes (the twin's
supervisor, or the rig's USB hub through uhubctl) right after a write the
board has reported done, at a different moment of the next write each time.
After each reboot the app must boot and the file must hold a whole set of
settings: the last write the board reported done or a later one, never older,
never broken, and the settings no write touched unchanged."""

import json
import random
import time

import pytest
import serial

from pocket_agent.hil.board import LinkHost

pytestmark = [pytest.mark.hil, pytest.mark.usefixtures("firmware"), pytest.mark.needs("power")]

WRITER = """
from settings import Settings
s = Settings()
s.load()
s.set("volume", 45)
s.set("dnd", True)
print("READY")
n = 0
while True:
    n += 1
    s.set("brightness", 10 + n % 90)  # a new value each time, 10..99
    print("D%d" % n)
"""


def brightness_of(n):
    return 10 + n % 90


def write_and_cut(board, done_before_cut, delay_ms):
    """Start the writer, cut the power `delay_ms` after write number
    `done_before_cut` is reported done; the last write seen done."""
    t = board.transport()
    seen = bytearray()
    try:
        t.enter_raw_repl(soft_reset=False, timeout_overall=board.timeout)
        t.exec_raw_no_follow(WRITER)
        t.read_until(1, b"READY\r\n", timeout=board.timeout)
        marker = b"D%d\r\n" % done_before_cut
        deadline = time.monotonic() + 20
        while marker not in seen:
            assert time.monotonic() < deadline, f"the board did not report {done_before_cut} writes: {bytes(seen[-200:])!r}"
            seen += t.serial.read(max(1, t.serial.in_waiting))
        if delay_ms:
            time.sleep(delay_ms / 1000)  # the moment within the next write: the experiment, not a wait
        board.power_cut()
        try:
            seen += t.serial.read(t.serial.in_waiting)  # what it said before the power went
        except (OSError, serial.SerialException):
            pass
    finally:
        try:
            t.close()
        except (OSError, serial.SerialException):
            pass
    done = [int(x[1:]) for x in seen.decode(errors="replace").split() if x.startswith("D") and x[1:].isdigit()]
    return max(done)


def after_reboot(board):
    """Once the app is up again: (its link host, the settings file, the root listing)."""
    host = LinkHost(serial.Serial(board.port, timeout=0))  # the app starts by itself at power-up
    try:
        host.wait_up(timeout=20)
        host.request("info_get", reply="info")  # the log lines the app sends at link up come first
        logs = [v[1] for v in host.named("log")]
    finally:
        host.close(trace_path=board.artifacts / "link-trace.txt")
    out = board.exec("import os\nprint(open('/settings.json').read())\nprint(sorted(os.listdir('/')))")
    text, listing = out.strip().splitlines()[-2:]
    return logs, text, listing


@pytest.mark.parametrize("cuts", [2, pytest.param(12, marks=pytest.mark.hil_full)])
def test_a_power_cut_during_a_settings_write_leaves_the_old_or_the_new_settings(board, cuts):
    rng = random.Random(cuts)
    for k in range(cuts):
        delay_ms = rng.choice([0, 0, 1, 2, 3, 5, 8])
        last_done = write_and_cut(board, done_before_cut=rng.randint(3, 12), delay_ms=delay_ms)
        logs, text, listing = after_reboot(board)
        try:
            saved = json.loads(text)
        except ValueError:
            pytest.fail(f"cut {k} ({delay_ms} ms after write {last_done}): settings.json is broken: {text!r}")
        assert not any("unreadable" in line for line in logs), logs
        assert saved["volume"] == 45 and saved["dnd"] is True, saved  # untouched by the writes
        newer = {brightness_of(n) for n in range(last_done, last_done + 60)}  # done before the cut landed
        assert saved["brightness"] in newer, (
            f"cut {k}: brightness {saved['brightness']} is not from write {last_done} (reported done) "
            f"or the ones after it")
        assert "settings.json.new" not in listing  # the app cleared a write cut short
        if board.twin:  # the app applied what it read
            contrast = board.twin.world.state()["display"]["contrast"]
            assert contrast == saved["brightness"] * 255 // 100, (contrast, saved)

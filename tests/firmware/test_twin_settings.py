"""Settings the host sets are kept on the board's flash, and a power cut in the
middle of saving them leaves the old settings or the new ones, never a broken file."""

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.firmware.twinhost import BoardHost, start_app

pytestmark = pytest.mark.slow
MPREMOTE = str(Path(sys.executable).parent / "mpremote")
BRIGHTNESS, VOLUME, DND = 0, 1, 2


def saved_settings(twin):
    out = subprocess.run([MPREMOTE, "connect", twin.port, "exec", "print(open('settings.json').read())"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def linked(twin):
    host = BoardHost(twin.port)
    host.run_until(lambda: host.ep.up, 20, "the link")
    return host


def power_cut(twin):
    boots = twin.status()["boots"]
    twin.control("power_cut")
    twin.wait_port(boots=boots, timeout=10)


def test_settings_survive_a_power_cut_and_are_applied_at_boot(tmp_path):
    twin = start_app("pico2w", tmp_path / "state")
    try:
        host = linked(twin)
        for setting, value in ((BRIGHTNESS, 40), (VOLUME, 30), (DND, 1)):
            host.send("setting_set", setting, value)
        host.run_until(lambda: host.ep.pending() == 0, 10, "the settings to be acknowledged")
        host.wait(0.5)  # acknowledged on receipt; the app saves right after
        host.close()
        power_cut(twin)
        host = linked(twin)  # the app is up again
        host.wait(0.3)
        host.close()
        assert twin.world.state()["display"]["contrast"] == 40 * 255 // 100
        assert saved_settings(twin) == {"brightness": 40, "volume": 30, "dnd": True}
    finally:
        twin.stop()


def test_a_power_cut_while_settings_are_written_leaves_a_whole_file(tmp_path):
    rng = random.Random(5)
    twin = start_app("esp32s3-devkitc", tmp_path / "state")
    try:
        sent = set()
        for cut in range(3):
            host = linked(twin)
            t_end = time.monotonic() + rng.uniform(0.3, 1.2)
            value = 0
            while time.monotonic() < t_end:  # a stream of changes, each one saved
                if host.ep.pending() < 8:
                    value = rng.randrange(5, 101)
                    host.send("setting_set", BRIGHTNESS, value)
                    sent.add(value)
                host.wait(0.005)
            host.close()
            power_cut(twin)  # no flush: whatever was being written is cut short
        host = linked(twin)  # the app boots after every cut
        host.close()
        saved = saved_settings(twin)
        assert saved["brightness"] in sent and saved["volume"] == 60 and saved["dnd"] is False
        listing = subprocess.run([MPREMOTE, "connect", twin.port, "exec", "import os; print(os.listdir())"],
                                 capture_output=True, text=True, timeout=30).stdout
        assert "settings.json.new" not in listing  # a half-written copy is cleaned up at boot
    finally:
        twin.stop()

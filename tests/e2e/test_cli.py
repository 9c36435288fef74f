"""The commands as a user runs them: `pocket bridge` (with the pipeline, by
default the offline agent) answering a twin, watched through its control
socket; and `pocket demo`, the README's main command, start to finish."""

import os
import signal
import subprocess
import sys
import time
import wave

import pytest

from pocket_agent.hil.stage import MIC_VOICE, MIC_WPM, trim
from pocket_agent.host.bridge.control import Control
from pocket_agent.host.speech.tts import EspeakTTS
from tests.firmware.twinhost import start_app

pytestmark = pytest.mark.slow


def _events(sock, until, timeout):
    """Lines of the bridge's event stream until `until(event)`; returns them."""
    seen = []
    with Control(sock, timeout=timeout) as c:
        c.call("events")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = c.answer()
            seen.append(event)
            if until(event):
                return seen
    raise AssertionError(f"timed out; events: {[(e['kind'], e['data'].get('step')) for e in seen]}")


def test_pocket_bridge_answers_a_board_with_the_offline_agent(tmp_path):
    twin = start_app("pico2w", tmp_path / "twin")
    twin.world.environment(temperature=24.0)
    sock = tmp_path / "bridge.sock"
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_STATE_HOME=str(tmp_path / "state"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "pocket_agent.cli", "bridge", "--port", twin.port, "--no-scan", "--socket", str(sock),
         "--agent-state", str(tmp_path / "agent.sqlite3")],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.05)
        # the recogniser loads in its own process; the board gets paired meanwhile
        _events(sock, lambda e: e["kind"] == "pipeline" and e["data"]["step"] == "ready", 90)
        wav = tmp_path / "say.wav"
        pcm = trim(EspeakTTS(MIC_VOICE, MIC_WPM).synthesize("hey pocket, what's the temperature?").pcm)
        with wave.open(str(wav), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes(pcm)
        twin.world.press("button")
        time.sleep(0.3)
        twin.world.mic_play(str(wav))
        time.sleep(len(pcm) / 32000 + 0.2)
        twin.world.release("button")
        events = _events(sock, lambda e: e["kind"] == "pipeline" and e["data"]["step"] == "reply", 30)
        steps = {e["data"]["step"]: e["data"] for e in events if e["kind"] == "pipeline"}
        assert steps["heard"]["request"] == "what is the temperature"
        assert steps["tool"]["name"] == "read_sensors"
        assert steps["reply"]["text"] == "It is 24.0 C inside."
        assert "audio_chunk" not in {e["kind"] for e in events}  # the socket gives the utterance whole
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=20)
        finally:
            twin.stop()
    assert proc.returncode == 0, err
    assert "agent offline" in err and 'heard "hey pocket what is the temperature"' in err
    assert "Traceback" not in err


def test_pocket_demo_runs_the_scripted_conversation(tmp_path):
    out_dir = tmp_path / "demo"
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pocket_agent.cli", "demo", "--out", str(out_dir)],
                          capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    took = time.monotonic() - t0
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all 8 checks passed" in proc.stdout, proc.stdout
    for phrase in ("what is the temperature\" (", "tool set_timer(seconds=10", "fired on the board",
                   "button: approved", "tool place_order: ran"):
        assert phrase in proc.stdout, phrase
    pngs = sorted(p.name for p in out_dir.glob("*.png"))
    assert pngs == ["1-temperature.png", "2-timer-set.png", "3-timer-fired.png", "4-confirm.png", "5-ordered.png"]
    assert (out_dir / "speaker.wav").stat().st_size > 16000 * 2 * 5  # the answers, spoken
    assert "Traceback" not in proc.stderr
    print(f"pocket demo took {took:.1f} s")

"""End to end on a twin: speech played into the board's I2S mic reaches the
deployed firmware (the mic driver, then the wake-word detector with the model
and threshold from the board definition). "hey pocket" starts a listening
stream to the host; other speech does not."""

import time

import numpy as np
import pytest

from pocket_agent.models.wakeword.audio import write_wav
from tests.firmware.twinhost import BoardHost, start_app

from .conftest import espeak_pcm

pytestmark = pytest.mark.slow

BOARD = "esp32s3-devkitc"
SILENCE = np.zeros(16000, np.int16)


@pytest.fixture
def twin_host(tmp_path):
    twin = start_app(BOARD, tmp_path / "state")
    host = BoardHost(twin.port)
    try:
        host.run_until(lambda: host.ep.up, 20, "the app's hello")
        yield twin, host
    finally:
        host.close()
        twin.stop()


def _play(twin, host, tmp_path, name, pcm):
    path = tmp_path / f"{name}.wav"
    write_wav(path, np.concatenate([SILENCE, pcm, SILENCE]))
    twin.control("mic_play", path=str(path))
    return (len(pcm) + 2 * len(SILENCE)) / 16000


def _back_to_idle(host):
    """Finish the exchange a wake word starts: the board streams until the VAD
    hears silence, the host answers, the answer times out, the board listens again."""
    host.run_until(lambda: host.named("audio_end"), 15, "the end of the stream")
    host.send("display_text", 0, 0, "ok")
    host.wait(5.0)


def _negatives_stay_quiet(twin, host, tmp_path, negatives):
    for i, pcm in enumerate(negatives):
        seconds = _play(twin, host, tmp_path, f"neg{i}", pcm)
        host.wait(seconds + 1.0)
        assert host.named("audio_start") == [], f"negative {i} woke the board"


def test_positives_wake_the_board_and_negatives_do_not(twin_host, tmp_path):
    twin, host = twin_host
    _negatives_stay_quiet(twin, host, tmp_path, [
        espeak_pcm("the rocket is in my other jacket pocket", "en-us", 160, 50),
        espeak_pcm("please put the kettle on and open the window", "en-gb-x-rp+f3", 150, 60),
    ])
    positives = [
        espeak_pcm("hey pocket", "en-us", 150, 50),
        espeak_pcm("hey pocket", "en-gb-x-rp+m4", 170, 40),
        espeak_pcm("hey pocket", "en-029+f3", 140, 70),
    ]
    for i, pcm in enumerate(positives):
        t0 = time.monotonic()
        lost = twin.world.state()["mic"]["samples_lost"]
        seconds = _play(twin, host, tmp_path, f"pos{i}", pcm)
        try:
            host.run_until(lambda: len(host.named("audio_start")) == i + 1, seconds + 6,
                           f"the wake word in positive {i}")
        except AssertionError as exc:  # lost audio (a loaded host starves the VM) or a miss of the model?
            gone = twin.world.state()["mic"]["samples_lost"] - lost
            raise AssertionError(f"{exc}; meanwhile the board left {gone} mic samples unread") from None
        assert time.monotonic() - t0 >= 1.0  # not before the phrase was played
        _back_to_idle(host)


@pytest.mark.xfail(strict=True, reason="known false accept of the committed hey_pocket model: this "
                   "greeting scores 0.997 against the threshold 0.95 (docs/wakeword.md, Known problems)")
def test_a_greeting_that_starts_with_hey_does_not_wake_the_board(twin_host, tmp_path):
    twin, host = twin_host
    _negatives_stay_quiet(twin, host, tmp_path, [espeak_pcm("hey, how are you doing today", "en-us+m4", 170, 45)])

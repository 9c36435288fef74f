"""End to end through the twin: speech synthesized with espeak-ng goes into the
twin's mic, the real firmware streams it over the link to the real bridge,
PocketSphinx hears it, the offline agent runs a tool, and the answer appears on
the twin's display (read from its pixels) and comes out of its speaker."""

import time
import wave

import numpy as np
import pytest

from pocket_agent.host.speech.tts import EspeakTTS

pytestmark = pytest.mark.slow


def correlation(recording, reference):
    """The best normalized correlation of `reference` anywhere in `recording`."""
    rec = np.asarray(recording, float)
    ref = np.asarray(reference, float)
    n = len(rec) + len(ref)
    xc = np.fft.irfft(np.fft.rfft(rec, 2 * n) * np.conj(np.fft.rfft(ref, 2 * n)))
    lag = int(np.argmax(xc[:max(1, len(rec) - len(ref) + 1)]))
    seg = rec[lag:lag + len(ref)]
    ref = ref[:len(seg)]
    return float(np.dot(seg, ref) / (np.linalg.norm(seg) * np.linalg.norm(ref) + 1e-9))


def test_a_spoken_request_is_heard_run_shown_and_spoken(stage, tmp_path):
    stage.world.environment(temperature=23.5)
    recording = tmp_path / "speaker.wav"
    stage.world.speaker_record(str(recording))
    turn = stage.converse("what's the temperature", hands_free=False, until=("shown",))
    assert turn.utterance.mode == "push-to-talk"
    heard = turn.step("heard")
    assert heard["request"] == "what is the temperature", heard  # "hey pocket" taken off
    assert turn.tools == [("read_sensors", {})]
    assert turn.step("tool_done")["status"] == "ran"
    assert turn.screen.shows("It is 23.5 C inside.", body=True), turn.screen.text
    reply = stage.wait_step("reply")
    stage.wait_step("spoken", timeout=10)
    expected = np.frombuffer(EspeakTTS("en-us").synthesize(reply["speech"]).pcm, "<i2")
    deadline = time.monotonic() + 15  # the board plays the answer at the speaker's pace
    while stage.world.state()["amp"]["samples_played"] < len(expected) and time.monotonic() < deadline:
        time.sleep(0.1)
    stage.wait_idle()
    stage.world.speaker_stop()
    with wave.open(str(recording)) as w:
        played = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    assert reply["speech"] == "It is 23.5 degrees inside."
    # what came out of the speaker is that answer, sample for sample (through ADPCM and the volume)
    assert correlation(played, expected) > 0.95


def test_the_wake_word_starts_a_request_and_the_timer_rings_on_the_board(stage):
    turn = stage.converse("set a timer for five seconds", hands_free=True)
    assert turn.utterance.mode == "wake word"  # the board woke on "hey pocket", no button
    assert turn.step("heard")["request"] == "set a timer for five seconds"
    assert turn.tools == [("set_timer", {"seconds": 5, "kind": "timer"})]
    assert turn.screen.shows("Timer set: 5 s", body=True), turn.screen.text
    fired = stage.wait_step("timer_fired", timeout=15)
    # due in whole seconds of the board's clock: 4 to 5 s after it was set, plus the link
    assert 3.9 <= fired["time"] - turn.step("tool_done")["time"] <= 8.0
    _, screen = stage.wait_screen("TIMER", timeout=5)
    assert screen.shows("Timer", body=True)
    stage.press()  # stops the alarm
    stage.wait_idle()


def test_an_order_runs_only_after_the_button_approves_it(stage):
    before = stage.outbox()
    turn = stage.converse("order more coffee", hands_free=False, until=("confirm",))
    assert turn.tools == [("place_order", {"item": "more coffee"})]
    assert turn.screen.shows("Confirm? Order: more coffee", body=True), turn.screen.text
    assert stage.outbox() == before  # nothing ran yet
    mark = stage.mark()
    stage.press()
    assert stage.wait_step("confirmed", after=mark)["approved"]
    done = stage.wait_step("tool_done", after=mark)
    assert done["name"] == "place_order" and done["status"] == "ran"
    stage.wait_screen("Order queued in outbox: more coffee", timeout=5, body=True)
    added = stage.outbox()[len(before):]
    assert [(o["kind"], o["body"], o["status"]) for o in added] == [("order", "more coffee", "queued")]
    action = stage.actions()[-1]
    assert action["tool"] == "place_order" and action["status"] == "ran" and action["approved"]


def test_a_long_press_denies_and_nothing_is_ordered(stage):
    before = stage.outbox()
    turn = stage.converse("order more coffee", hands_free=False, until=("confirm",))
    assert turn.step("confirm")
    mark = stage.mark()
    stage.hold(1500)  # a long press says no
    confirmed = stage.wait_step("confirmed", after=mark)
    assert not confirmed["approved"] and confirmed["reason"] == "denied"
    stage.wait_screen("Cancelled: nothing done.", timeout=5, body=True)
    assert stage.outbox() == before
    assert stage.actions()[-1]["status"] == "denied"


def test_no_answer_in_time_orders_nothing(stage):
    confirmer = stage.pipeline.confirmer
    before = stage.outbox()
    ttl = confirmer.ttl_s
    confirmer.ttl_s = 3.0  # the board counts down the request's own time to live
    try:
        turn = stage.converse("order more coffee", hands_free=False, until=("confirm",))
        assert turn.step("confirm")["ttl_s"] == 3.0
        confirmed = stage.wait_step("confirmed", timeout=15)
        assert not confirmed["approved"] and confirmed["reason"] == "timeout"
        assert 2.5 <= confirmed["took_ms"] / 1000 <= 8
    finally:
        confirmer.ttl_s = ttl
    stage.wait_screen("No answer in time: nothing done.", timeout=5, body=True)
    assert stage.outbox() == before
    assert stage.actions()[-1]["status"] == "timeout"


def test_noise_gets_didnt_catch_that(stage):
    noise = np.random.default_rng(7).normal(0, 2500, 24000).astype("<i2").tobytes()
    mark = stage.mark()
    stage.say("(noise)", pcm=noise)
    heard = stage.wait_step("heard")
    reply = stage.wait_step("reply")
    assert not reply["ok"] and reply["tools"] == [], heard
    stage.wait_screen("Sorry, I didn't catch that.", timeout=5, body=True)
    assert [e for e in stage.steps_since(mark) if e["step"] == "tool"] == []


def test_a_tap_is_broken_off_and_ignored(stage):
    mark = stage.mark()
    stage.press(ms=100)  # shorter than a push-to-talk: the board calls it a tap
    broken = stage.wait_step("broken_off", after=mark, timeout=5)
    time.sleep(1.0)
    assert [e["step"] for e in stage.steps_since(mark)] == ["listening", "broken_off"], broken


def test_a_recogniser_that_dies_is_replaced_and_the_user_asked_again(stage):
    board = stage.pipeline.boards[stage.board_name]
    old = board.asr
    old.proc.kill()
    stage.say("hey pocket, what time is it")
    error = stage.wait_step("error")
    assert "the speech recogniser stopped" in error["text"]
    stage.wait_screen("Speech recognition failed: please say that again.", timeout=5, body=True)
    stage.wait_step("ready", timeout=120)  # a new recogniser for the board
    assert board.asr is not old and old.proc.returncode is not None
    stage.wait_idle()
    turn = stage.converse("what time is it", hands_free=False, until=("shown",))
    assert turn.tools == [("get_time", {})]

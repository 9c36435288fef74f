"""The wake word on injected audio: "hey pocket" in voices the model never trained on
(the held-out evaluation voices of docs/wakeword.md: flite's kal, kal16, awb, rms and slt,
festival's kal and slt) and other speech by the same voices, played into the board's mic
one clip at a time. A detection is the board starting to listen (its audio_start, the
pipeline's `listening` step); the counts go into the JUnit report.

The floors are what the committed model measurably reaches on these clips through the
twins (bench/hil.py --wakeword prints them), less a margin for the one thing that varies
between runs: where the clip falls against the board's 10 ms frames."""

import functools
import time

import numpy as np
import pytest

pytestmark = [pytest.mark.hil, pytest.mark.hil_full, pytest.mark.needs("audio_in")]

# Measured through both twins (bench/hil.py --wakeword) with the model of 2026-11-23 at the
# boards' threshold 0.95: the 42 positives woke esp32s3-devkitc 17 times and pico2w 18 (the
# model before woke them 19-23 times: on these 42 clean clips at one level the new model is
# not better, while on the 340 held-out positives in noise it is; docs/wakeword.md). The same
# clip can go either way from run to run (where it falls against the board's frames), a spread
# of 2 seen over earlier runs; the floor is the lowest count less that spread. The 30 negatives
# woke neither board; 3 of the 20 confusables woke each (docs/wakeword.md: 14 % of held-out
# confusables fire at 0.95).
POSITIVES_FLOOR = 15
CONFUSABLES_CEILING = 5

FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")  # models/wakeword/synth.py FLITE_EVAL
FESTIVAL_VOICES = ("kal_diphone", "cmu_us_slt_arctic_hts")  # FESTIVAL_EVAL
PHRASES = ("hey pocket", "hey, pocket")
STRETCHES = (0.9, 1.0, 1.15)
# Other speech by the same voices (Python docstrings, as the held-out negatives read), and
# phrases that sound near the wake phrase.
OTHER = (
    "Return the canonical string representation of the object.",
    "Open file and return a stream. Raise OSError upon failure.",
    "Pack the values according to the format string and return a bytes object.",
    "Remove and return an arbitrary set element.",
    "Return a new view of the dictionary's keys.",
    "Create a new thread pool with the given number of workers.",
)
# Near the phrase: docs/wakeword.md scores these apart (11 % of held-out confusables fire).
CONFUSABLE = ("Hey, put it back in the pocket, please.", "A pocket watch, a hay bale and a rocket.",
              "Hey rocket.", "Say pocket.")
LEVEL_RMS = 3000  # the clips at about the level the mic gets from the Stage's own speech
WAIT_S = 1.5  # after the clip's end: a detection fires within 0.6 s of the phrase's end


def _level(x):
    x = x.astype(np.float64)
    rms = np.sqrt(np.mean(x[np.abs(x) > 100] ** 2)) if np.any(np.abs(x) > 100) else 1.0
    return np.clip(x * (LEVEL_RMS / rms), -32768, 32767).astype("<i2").tobytes()


@functools.lru_cache(maxsize=None)
def positives(full):
    """[(label, pcm)]: every voice, each phrase at three speeds (`full`), or the plain phrase once."""
    from pocket_agent.hil.stage import trim
    from pocket_agent.models.wakeword import synth

    phrases = PHRASES if full else PHRASES[:1]
    stretches = STRETCHES if full else (1.0,)
    out = []
    for voice in FLITE_VOICES:
        for text in phrases:
            for s in stretches:
                out.append((f"flite {voice} {text!r} x{s}", trim(_level(synth.flite(text, voice, s)))))
    if full:
        for voice in FESTIVAL_VOICES:
            items = [(t, s) for t in phrases for s in STRETCHES]
            for (t, s), clip in zip(items, synth.festival(voice, items)):
                if clip is not None:
                    out.append((f"festival {voice} {t!r} x{s}", trim(_level(clip))))
    return tuple(out)


@functools.lru_cache(maxsize=None)
def negatives(full, texts=OTHER):
    from pocket_agent.hil.stage import trim
    from pocket_agent.models.wakeword import synth

    voices = FLITE_VOICES if full else FLITE_VOICES[:2]
    texts = texts if full else texts[:2]
    return tuple((f"flite {v} {t!r}", trim(_level(synth.flite(t, v)))) for v in voices for t in texts)


def play_and_count(device, clips):
    """Play each clip into the mic; [(label, detected)]. After a detection the board listens
    for a request; nothing follows, so it gives up (NO_SPEECH_MS) and goes back to idle."""
    results = []
    for label, pcm in clips:
        mark = device.mark()
        device.world.mic_play(str(device._write_wav(pcm, "clip.wav")))
        device._wait_mic(timeout=len(pcm) / 32000 + 10)
        try:
            device.wait_step("listening", after=mark, timeout=WAIT_S)
            detected = True
        except AssertionError:
            detected = False
        results.append((label, detected))
        if detected:  # it listens: to nothing (broken off), or to the rest of the clip (answered)
            deadline = time.monotonic() + 20
            while not any(e["step"] in ("broken_off", "reply") for e in device.steps_since(mark)):
                assert time.monotonic() < deadline, [e["step"] for e in device.steps_since(mark)]
                time.sleep(0.05)
            device.wait_idle(timeout=20)
    return results


def run(device, record_property, kind, clips):
    results = play_and_count(device, clips)
    hits = [label for label, d in results if d]
    record_property(f"wakeword_{kind}", len(clips))
    record_property(f"wakeword_{kind}_detected", len(hits))
    with open(device.artifacts / f"wakeword-{kind}.txt", "w") as f:
        for label, d in results:
            f.write(f"{'DETECTED' if d else 'missed  '} {label}\n")
    return hits


def test_other_speech_never_wakes_the_board_and_confusables_seldom(device, record_property):
    hits = run(device, record_property, "negatives", negatives(True))
    confused = run(device, record_property, "confusables", negatives(True, CONFUSABLE))
    assert hits == [], f"false accepts: {hits}"
    assert len(confused) <= CONFUSABLES_CEILING, confused


def test_held_out_positives_wake_the_board(device, record_property):
    clips = positives(True)
    hits = run(device, record_property, "positives", clips)
    assert len(hits) >= POSITIVES_FLOOR, f"{len(hits)} of {len(clips)} held-out positives woke the board"

"""Speech to text with the real PocketSphinx on speech from the real espeak-ng."""

import asyncio

import numpy as np
import pytest

from pocket_agent.host.agent.offline import NOT_CAUGHT
from pocket_agent.host.speech.audio import mic_noise, silence, to_int16
from pocket_agent.host.speech.sphinx import PocketSphinxEngine
from pocket_agent.host.speech.tts import EspeakTTS
from tests.agent.conftest import Rig

pytestmark = pytest.mark.slow
VOICE = "en-us+m3"


@pytest.fixture(scope="module")
def adapted():
    """An engine that has heard this microphone before (live recognition adapts to the channel)."""
    engine = PocketSphinxEngine()
    for text in ("hello there", "what can you do", "how warm is it"):
        engine.transcribe(spoken(text, seed=99))
    return engine, engine.channel_state()


@pytest.fixture
def engine(adapted):
    engine, state = adapted
    engine.restore_channel(state)  # every test starts from the same state, whatever ran before
    return engine


def spoken(text, voice=VOICE, seed=1):
    return mic_noise(silence(0.3) + EspeakTTS(voice=voice).synthesize(text).pcm + silence(0.3), seed=seed)


@pytest.mark.parametrize("text", ["what time is it", "add eggs to the shopping list", "is it stuffy in here",
                                  "read my notes", "turn the volume up"])
def test_requests_are_recognised(engine, text):
    heard = engine.transcribe(spoken(text))
    assert heard.text == text and heard.source == "commands"
    assert 0.1 < heard.confidence <= 1.0


def test_decodes_while_audio_arrives(engine):
    pcm = spoken("note that the wifi password is on the fridge")
    stream = engine.stream()
    partials = []
    for i in range(0, len(pcm), 3200):
        result = stream.feed(pcm[i:i + 3200])
        if result is not None:
            assert not result.final
            partials.append(result.text)
    final = stream.finish()
    assert partials and partials[0] != final.text  # it grew as the words came
    assert final.final and final.text == "note that the wifi password is on the fridge"
    assert engine.transcribe(pcm, 3200).text == final.text  # same audio, same result


def test_channel_state_round_trips(engine):
    state = engine.channel_state()
    engine.transcribe(spoken("read my notes"))
    assert engine.channel_state() != state
    engine.restore_channel(state)
    assert engine.channel_state() == state


def test_silence_is_nothing(engine):
    heard = engine.transcribe(mic_noise(silence(1.5)))
    assert heard.text == "" and heard.confidence == 0.0


def test_free_dictation_goes_to_the_general_model(engine):
    heard = engine.transcribe(spoken("the quick brown fox jumps over the lazy dog"))
    assert heard.source == "dictation" and "fox" in heard.details["dictation"]["text"] or heard.text


def test_bad_chunks_are_refused(engine):
    stream = engine.stream()
    with pytest.raises(ValueError):
        stream.feed(b"\x00\x01\x02")
    stream.finish()
    with pytest.raises(RuntimeError):
        stream.feed(b"\x00\x00")


def test_a_new_utterance_abandons_an_unfinished_one(engine):
    abandoned = engine.stream()
    abandoned.feed(spoken("read my notes")[:16000])
    assert engine.transcribe(spoken("read my notes")).text == "read my notes"
    with pytest.raises(RuntimeError):
        abandoned.finish()


def _hear(rig, engine, pcm):
    return asyncio.run(rig.session.hear(engine.transcribe(pcm), speak=False))


def test_nothing_heard_shows_that_it_did_not_catch_that(engine, tmp_path):
    rig = Rig(tmp_path)
    reply = _hear(rig, engine, mic_noise(silence(1.0)))
    assert reply.text == NOT_CAUGHT == rig.device.screen
    assert [a["tool"] for a in rig.actions()] == ["pair"]


def test_noise_is_not_taken_for_a_request(engine, tmp_path):
    rig = Rig(tmp_path)
    noise = to_int16(np.random.default_rng(3).normal(0, 1000, 32000)).tobytes()
    reply = _hear(rig, engine, noise)
    assert reply.text == NOT_CAUGHT
    assert [a["tool"] for a in rig.actions()] == ["pair"]


def test_spoken_request_to_tool_to_screen_and_speaker(engine, tmp_path):
    """Host side end to end: espeak-ng speech in, a device setting changed, the answer shown and spoken."""
    rig = Rig(tmp_path)
    rig.session.tts = EspeakTTS()
    heard = engine.transcribe(spoken("turn the volume up"))
    assert heard.text == "turn the volume up"
    reply = asyncio.run(rig.session.hear(heard))
    assert rig.device.called("set_setting") == [{"name": "volume", "value": 70}]
    assert rig.device.screen == reply.text == "Volume 70%."
    (played,) = rig.device.audio
    assert 0.8 < len(played) / 32000 < 4.0  # "Volume 70 percent.", spoken
    replay = engine.transcribe(mic_noise(silence(0.3) + played + silence(0.3)))
    assert "volume" in replay.details["dictation"]["text"] + replay.details["commands"]["text"]


def test_pocket_agent_hear_a_wav_file(tmp_path):
    """A plain espeak-ng recording (22 kHz, exact digital silence, no lead-in) through the command line."""
    import json
    import subprocess
    import sys

    wav = tmp_path / "request.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), "add eggs to the shopping list"], check=True)
    out = subprocess.run([sys.executable, "-m", "pocket_agent.cli", "agent", "hear", str(wav), "--json"],
                         capture_output=True, text=True, timeout=300,
                         env={"POCKET_AGENT_HOME": str(tmp_path), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    reply = json.loads(out.stdout)
    assert reply["heard"]["text"] == "add eggs to the shopping list" and reply["heard"]["source"] == "commands"
    assert reply["tools"] == [["add_shopping_item", "ran"]] and reply["screen"] == "Added to shopping:\neggs"

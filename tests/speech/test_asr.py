"""Speech to text with the real PocketSphinx on speech from the real espeak-ng."""

import asyncio

import numpy as np
import pytest

from pocket_agent.host.agent.offline import NOT_CAUGHT
from pocket_agent.host.speech.audio import mic_noise, silence, to_int16
from pocket_agent.host.speech import sphinx
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
    # taken because the audio fits it: the confidence says by how much
    fit = heard.details["grammar"]["fit"] if heard.details["chosen"] == "grammar" else heard.details["commands_fit"]
    assert fit >= sphinx.MIN_FIT
    assert heard.confidence == pytest.approx(sphinx.fit_confidence(fit)) and 0.5 <= heard.confidence <= 1.0


@pytest.mark.parametrize("text", ["what is twenty percent of eighty", "remind me to water the plants in one hour"])
def test_slot_values_come_from_the_grammar_search(engine, text):
    heard = engine.transcribe(spoken(text))
    assert heard.text == text and heard.source == "commands"
    assert heard.details["chosen"] == "grammar" and heard.details["grammar"]["text"] == text
    assert {"grammar", "commands", "dictation"} <= set(heard.details)  # each decoder's reading


def test_the_choice_between_readings():
    whole = {"text": "delete the oldest note", "complete": True}
    commands, dictation = {"text": "delete the old note", "score": -100}, {"text": "the old boat", "score": -50}
    fits = sphinx.MIN_FIT + 1, sphinx.MIN_FIT - 1
    assert sphinx.choose({"grammar": {**whole, "fit": fits[0]}}, 0.0) == ("grammar", whole["text"])
    # the grammar's request wins even when the commands decoder read another that fits as well
    assert sphinx.choose({"grammar": {**whole, "fit": fits[0]}, "commands_reading": "delete the last note",
                          "commands_fit": 0.0}, 0.0) == ("grammar", whole["text"])
    # forced through the grammar, the audio fits it badly; cut off before the grammar's end
    for grammar in ({**whole, "fit": fits[1]}, {**whole, "complete": False, "fit": fits[0]}):
        details = {"grammar": grammar, "commands": commands, "dictation": dictation,
                   "commands_reading": "delete the last note", "commands_fit": fits[0]}
        assert sphinx.choose(details, 100.0) == ("commands", "delete the last note")
        assert sphinx.choose(details, 0.0) == ("dictation", "the old boat")  # dictation fits better by more
        assert sphinx.choose({**details, "commands_fit": fits[1]}, 100.0) == ("dictation", "the old boat")
        assert sphinx.choose({**details, "commands_reading": None}, 100.0) == ("dictation", "the old boat")
    assert sphinx.choose({"commands": commands, "commands_reading": "read my notes", "commands_fit": fits[1]},
                         0.0) == ("", "")
    assert sphinx.fit_confidence(sphinx.MIN_FIT) == pytest.approx(0.5)
    assert 0.0 < sphinx.fit_confidence(-1e9) < sphinx.fit_confidence(sphinx.MIN_FIT) < sphinx.fit_confidence(0.0) < 1.0


def test_the_audio_decides_between_two_readings(engine):
    """A forced alignment scores how well the utterance fits each reading (the grammar search can
    lose the better of two close words; the commands decoder may have heard it)."""
    stream = engine.stream()
    pcm = spoken("what is seven times eight")
    for i in range(0, len(pcm), 3200):
        stream.feed(pcm[i:i + 3200])
    stream.finish()
    assert stream.fit("what is seven times eight") > stream.fit("what is two times eight")
    assert stream.fit("what is seven times eight") > stream.fit("set a timer for ten minutes")


def test_a_wake_phrase_before_the_request_is_part_of_the_grammar():
    from pocket_agent.host.agent import wordgraph
    from pocket_agent.host.agent.grammar import grammar

    engine = PocketSphinxEngine(lead_in=["hey pocket"], dictation=False,
                                accept=lambda text: grammar().parse(text.removeprefix("hey pocket ")) is not None)
    assert engine.grammar_fsg.accept("hey pocket read my notes") and engine.grammar_fsg.accept("read my notes")
    assert not engine.grammar_fsg.accept("read my notes hey pocket")
    assert not wordgraph.build().accepts("hey pocket read my notes")  # without a lead-in: no wake phrase


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
    from pocket_agent.host.agent.grammar import grammar

    heard = engine.transcribe(spoken("the quick brown fox jumps over the lazy dog"))
    assert heard.source == "dictation" and heard.text == heard.details["dictation"]["text"]
    assert grammar().parse(heard.text) is None
    grammar_reading = heard.details.get("grammar", {})  # what the grammar search made of it is turned down
    assert not grammar_reading.get("complete") or grammar_reading["fit"] < sphinx.MIN_FIT


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

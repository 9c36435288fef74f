"""A board's session: transcripts in; the answer on the screen and the speaker."""

import asyncio

from pocket_agent.host.agent.offline import NOT_CAUGHT
from pocket_agent.host.speech.engine import Transcript
from pocket_agent.host.speech.tts import EspeakTTS


def hear(rig, text, confidence, source="commands"):
    return asyncio.run(rig.session.hear(Transcript(text, confidence, source=source)))


def test_nothing_heard_or_too_unsure_is_said_not_guessed(rig):
    rig.session.tts = EspeakTTS()
    assert hear(rig, "", 0.0).text == NOT_CAUGHT
    assert hear(rig, "set a timer for five minutes", 0.05, source="dictation").text == NOT_CAUGHT
    assert rig.device.called("set_timer") == []
    assert rig.device.screen == NOT_CAUGHT and len(rig.device.audio) == 2  # and it says so aloud


def test_a_commands_reading_is_gated_by_the_grammar_not_the_confidence(rig):
    assert hear(rig, "what time is it", 0.05).text.startswith("09:15")


def test_a_confident_transcript_is_answered_on_screen_and_speaker(rig):
    rig.session.tts = EspeakTTS()
    reply = hear(rig, "set a timer for five minutes", 0.6)
    assert rig.device.called("set_timer")[0]["seconds"] == 300
    assert rig.device.screen == reply.text
    assert reply.speech == "Timer set: 5 minutes, ends 09:20"
    assert len(rig.device.audio) == 1 and len(rig.device.audio[0]) > 32000  # over a second of speech

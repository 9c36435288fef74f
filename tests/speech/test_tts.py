"""espeak-ng to 16 kHz mono int16 PCM, plus the text for the screen."""

import numpy as np
import pytest

from pocket_agent.errors import PocketError
from pocket_agent.host.speech.audio import read_wav, resample, write_wav
from pocket_agent.host.speech.tts import EspeakTTS


def samples(speech):
    return np.frombuffer(speech.pcm, dtype="<i2").astype(float)


def test_speech_is_16khz_int16_and_sounds():
    speech = EspeakTTS().synthesize("Timer set: five minutes.")
    x = samples(speech)
    assert speech.rate == 16000 and speech.text == "Timer set: five minutes."
    assert 0.8 < speech.seconds < 4.0
    assert np.sqrt(np.mean(x ** 2)) > 500  # clearly audible, not silence
    spectrum = np.abs(np.fft.rfft(x))
    assert spectrum[: len(spectrum) // 2].sum() > 3 * spectrum[len(spectrum) // 2:].sum()  # most energy below 4 kHz


def test_longer_text_takes_longer():
    tts = EspeakTTS()
    assert tts.synthesize("one two three four five six seven eight").seconds > 2 * tts.synthesize("one").seconds


def test_empty_text_is_no_audio():
    assert EspeakTTS().synthesize("   ").pcm == b""


def test_text_is_never_taken_for_options():
    assert EspeakTTS().synthesize("--version -v xx").seconds > 0.5


def test_an_unknown_voice_is_a_clear_error():
    with pytest.raises(PocketError) as info:
        EspeakTTS(voice="xx-nope").synthesize("hello")
    assert "espeak-ng" in info.value.hint


def test_resampling_keeps_a_tone():
    t = np.arange(22050) / 22050
    y = resample(10000 * np.sin(2 * np.pi * 440 * t), 22050, 16000)
    assert len(y) == 16000
    peak = np.argmax(np.abs(np.fft.rfft(y)))
    assert peak == 440


def test_wav_round_trip(tmp_path):
    speech = EspeakTTS().synthesize("hello")
    write_wav(str(tmp_path / "a.wav"), speech.pcm)
    assert read_wav(str(tmp_path / "a.wav")).tobytes() == speech.pcm
    (tmp_path / "bad.wav").write_bytes(b"RIFF nonsense")
    with pytest.raises(PocketError, match="not a readable WAV"):
        read_wav(str(tmp_path / "bad.wav"))

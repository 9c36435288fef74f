"""PCM helpers: 16 kHz mono int16 is the one format the speech code speaks."""

import io
import wave

import numpy as np

from pocket_agent.errors import PocketError

RATE = 16000


def resample(samples, rate_in, rate_out=RATE):
    """Band-limited resampling of a whole clip (FFT; zero padding keeps the ends clean)."""
    x = np.asarray(samples, dtype=np.float64)
    if rate_in == rate_out or len(x) == 0:
        return x
    pad = 256
    x = np.concatenate([np.zeros(pad), x, np.zeros(pad)])
    n = len(x)
    m = int(round(n * rate_out / rate_in))
    spectrum = np.fft.rfft(x)
    keep = min(len(spectrum), m // 2 + 1)
    y = np.fft.irfft(spectrum[:keep], m) * (m / n)
    edge = int(round(pad * rate_out / rate_in))
    return y[edge:len(y) - edge]


def to_int16(samples):
    return np.clip(np.round(samples), -32768, 32767).astype("<i2")


def read_wav(data):
    """WAV bytes (or a path) -> (int16 samples at 16 kHz, mono)."""
    try:
        src = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else open(data, "rb")
        with src, wave.open(src) as w:
            rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError, OSError) as exc:
        raise PocketError(f"not a readable WAV file: {exc}") from exc
    if width != 2:
        raise PocketError(f"WAV must be 16-bit, not {8 * width}-bit")
    x = np.frombuffer(raw, dtype="<i2").astype(np.float64)
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1)
    return to_int16(resample(x, rate))


def write_wav(path_or_file, pcm, rate=RATE):
    with wave.open(path_or_file, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(pcm))


def mic_noise(pcm, level_dbfs=-60.0, seed=0):
    """Add a microphone's noise floor. Synthetic speech has exact digital silence,
    which no microphone produces and which throws the recogniser's features off."""
    x = np.frombuffer(bytes(pcm), dtype="<i2").astype(np.float64)
    sigma = 32768.0 * 10 ** (level_dbfs / 20)
    x = x + np.random.default_rng(seed).normal(0.0, sigma, len(x))
    return to_int16(x).tobytes()


def silence(seconds, rate=RATE):
    return bytes(2 * int(seconds * rate))

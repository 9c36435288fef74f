"""WAV reading and writing, resampling: the audio plumbing of the wake-word tools."""

import wave
from pathlib import Path

import numpy as np

from pocket_agent.errors import PocketError

RATE = 16000


def resample(x, rate_in, rate_out=RATE):
    """Band-limited resampling (FFT based) of a 1-D signal; returns float64."""
    x = np.asarray(x, dtype=np.float64)
    if rate_in == rate_out or len(x) == 0:
        return x.copy()
    n_out = int(round(len(x) * rate_out / rate_in))
    spec = np.fft.rfft(x)
    keep = min(len(spec), n_out // 2 + 1)
    out_spec = np.zeros(n_out // 2 + 1, dtype=complex)
    out_spec[:keep] = spec[:keep]
    return np.fft.irfft(out_spec, n_out) * (n_out / len(x))


def to_int16(x):
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def read_wav(path, *, rate=RATE, allow_resample=True):
    """Samples of a WAV file as int16 mono at `rate`.

    PCM 8/16/24/32-bit, any channel count (mixed down) and any rate (resampled)
    are accepted; anything else is a PocketError that says what is wrong.
    """
    path = Path(path)
    if not path.exists():
        raise PocketError(f"no such file: {path}")
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, sr, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            raw = w.readframes(n)
    except (wave.Error, EOFError) as exc:
        raise PocketError(
            f"{path}: not a PCM WAV file ({exc})",
            hint="convert it first, e.g. `sox IN -r 16000 -c 1 -b 16 OUT.wav`",
        ) from None
    if width not in (1, 2, 3, 4):
        raise PocketError(f"{path}: {8 * width}-bit samples are not supported (use 8, 16, 24 or 32-bit PCM)")
    usable = len(raw) // (width * channels) * (width * channels)
    if usable == 0:
        raise PocketError(f"{path}: the file holds no audio")
    raw = raw[:usable]
    if width == 1:
        x = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) * 256.0
    elif width == 2:
        x = np.frombuffer(raw, dtype="<i2").astype(np.float64)
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        x = v.astype(np.float64) / 256.0
    else:
        x = np.frombuffer(raw, dtype="<i4").astype(np.float64) / 65536.0
    x = x.reshape(-1, channels).mean(axis=1)
    if sr != rate:
        if not allow_resample:
            raise PocketError(f"{path}: sample rate is {sr} Hz, {rate} Hz is needed")
        x = resample(x, sr, rate)
    return to_int16(x)


def write_wav(path, samples, rate=RATE):
    samples = np.asarray(samples, dtype=np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())


def clips_save(path, clips, meta):
    """Store a list of int16 clips (and one metadata dict each) in one .npz."""
    lengths = np.array([len(c) for c in clips], dtype=np.int64)
    data = np.concatenate(clips).astype(np.int16) if clips else np.zeros(0, np.int16)
    npz_save(path, data=data, lengths=lengths, meta=np.array([repr(m) for m in meta]))


def npz_save(path, **arrays):
    """np.savez to path through a temporary file, so a cache is whole or absent."""
    tmp = Path(str(path) + ".part.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def clips_load(path):
    import ast

    with np.load(path) as z:
        data, lengths, meta = z["data"], z["lengths"], z["meta"]
    ends = np.cumsum(lengths)
    clips = [data[e - n:e] for e, n in zip(ends, lengths)]
    return clips, [ast.literal_eval(m) for m in meta]

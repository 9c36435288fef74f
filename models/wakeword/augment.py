"""Augmentation: room impulse responses, noise, levels, clipping, speed.

Training and evaluation use different noise kinds and different room
generators, so the benchmark hears rooms and noise that training never did:
  training noise: white, pink, brown, random spectral tilt, babble of training voices;
  evaluation noise: mains hum with fan rumble, synthetic music, street rumble with
  passing traffic, rain-like crackle, babble of the evaluation voices.
"""

import numpy as np

from .audio import RATE, resample

TRAIN_NOISES = ["white", "pink", "brown", "tilt", "babble"]
EVAL_NOISES = ["hum", "music", "street", "rain", "babble"]


def _shaped(rng, n, slope_db_per_octave):
    size = 1 << int(np.ceil(np.log2(max(n, 2))))  # a power of two keeps the FFT fast
    spec = np.fft.rfft(rng.standard_normal(size))
    f = np.fft.rfftfreq(size, 1 / RATE)
    f[0] = f[1]
    spec *= (f / 1000.0) ** (slope_db_per_octave / 6.0206)
    x = np.fft.irfft(spec, size)[:n]
    return x / (np.std(x) + 1e-9)


def noise(kind, rng, n, babble_pool=None):
    """Unit-RMS noise of a kind, n samples."""
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind == "pink":
        x = _shaped(rng, n, -3.0)
    elif kind == "brown":
        x = _shaped(rng, n, -6.0)
    elif kind == "tilt":
        x = _shaped(rng, n, rng.uniform(-7.0, 2.0))
    elif kind == "babble":
        x = np.zeros(n)
        for _ in range(rng.integers(3, 7)):
            x += _take(rng, babble_pool, n)
    elif kind == "hum":
        t = np.arange(n) / RATE
        f0 = rng.choice([50.0, 60.0])
        x = sum(rng.uniform(0.2, 1.0) / h * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6.3)) for h in range(1, 8))
        x = x / (np.std(x) + 1e-9) + 0.7 * _shaped(rng, n, -9.0)
    elif kind == "music":
        x = np.zeros(n)
        pos = 0
        while pos < n:
            seg = int(rng.uniform(0.2, 0.8) * RATE)
            t = np.arange(min(seg, n - pos)) / RATE
            env = np.exp(-t * rng.uniform(1.0, 6.0))
            for _ in range(3):
                f = 110.0 * 2 ** (rng.integers(0, 36) / 12.0)
                x[pos:pos + len(t)] += env * sum(np.sin(2 * np.pi * f * h * t) / h ** 1.5 for h in range(1, 6))
            pos += seg
    elif kind == "street":
        x = _shaped(rng, n, -8.0)
        t = np.arange(n) / RATE
        for _ in range(max(1, n // (RATE * 4))):
            c, w = rng.uniform(0, n / RATE), rng.uniform(0.8, 3.0)
            x *= 1.0 + 3.0 * np.exp(-((t - c) / w) ** 2)
    elif kind == "rain":
        x = np.zeros(n)
        k = int(n / RATE * rng.uniform(200, 2000))
        idx = rng.integers(0, n, size=k)
        x[idx] = rng.standard_normal(k) * rng.uniform(0.2, 1.0, size=k)
        x = np.convolve(x, np.exp(-np.arange(40) / 6.0), mode="same") + 0.3 * _shaped(rng, n, -2.0)
    else:
        raise ValueError(kind)
    return x / (np.std(x) + 1e-9)


def _take(rng, pool, n):
    if not pool:
        return rng.standard_normal(n)
    c = pool[rng.integers(len(pool))].astype(np.float64)
    if len(c) < n:
        c = np.tile(c, n // max(1, len(c)) + 1)
    s = rng.integers(0, len(c) - n + 1)
    return c[s:s + n] / (np.std(c[s:s + n]) + 1e-9)


def rir(rng, held_out=False):
    """A synthetic room impulse response (unit direct path)."""
    if held_out:  # sparse early echoes plus a two-slope tail
        rt60 = rng.uniform(0.25, 0.9)
        n = int(rt60 * RATE)
        t = np.arange(n) / RATE
        h = rng.standard_normal(n) * (0.6 * np.exp(-6.9 * t / rt60) + 0.4 * np.exp(-6.9 * t / (rt60 * 0.4)))
        h *= rng.uniform(0.1, 0.4)
        for _ in range(6):
            h[rng.integers(int(0.003 * RATE), int(0.03 * RATE))] += rng.uniform(-0.7, 0.7)
    else:
        rt60 = rng.uniform(0.1, 0.7)
        n = int(rt60 * RATE)
        t = np.arange(n) / RATE
        h = rng.standard_normal(n) * np.exp(-6.9 * t / rt60) * rng.uniform(0.05, 0.35)
        for _ in range(rng.integers(2, 8)):
            h[rng.integers(int(0.002 * RATE), int(0.02 * RATE))] += rng.uniform(-0.5, 0.5)
    h[0] = 1.0
    return h


def reverb(x, h, block=1 << 16):
    """x convolved with h, cut to len(x) (overlap-add in blocks)."""
    size = 1 << int(np.ceil(np.log2(block + len(h) - 1)))
    hf = np.fft.rfft(h, size)
    y = np.zeros(len(x) + size)
    for s in range(0, len(x), block):
        seg = x[s:s + block]
        y[s:s + size] += np.fft.irfft(np.fft.rfft(seg, size) * hf, size)
    return y[:len(x)]


def speed(x, factor):
    """Speed perturbation by resampling: pitch, formants and tempo move together."""
    return resample(x, RATE * factor, RATE)


def active_rms(x):
    """RMS over the louder half of 20 ms blocks (speech level, not silence)."""
    n = len(x) // 320
    if n == 0:
        return float(np.sqrt(np.mean(np.square(x)) + 1e-12))
    b = np.sqrt(np.mean(np.square(x[:n * 320].reshape(n, 320)), axis=1))
    b = np.sort(b)[n // 2:]
    return float(np.sqrt(np.mean(np.square(b))) + 1e-9)


def mix(speech, noise_sig, snr_db):
    """speech + noise scaled so the speech-to-noise ratio is snr_db."""
    if noise_sig is None or snr_db is None:
        return speech
    g = active_rms(speech) / (10 ** (snr_db / 20.0)) / (np.std(noise_sig) + 1e-9)
    return speech + g * noise_sig


def level(x, peak_dbfs, rng=None, clip_prob=0.0):
    """Scale to a peak level in dBFS; sometimes drive it into clipping."""
    peak = np.max(np.abs(x)) + 1e-9
    y = x * (32767.0 * 10 ** (peak_dbfs / 20.0) / peak)
    if rng is not None and rng.random() < clip_prob:
        y = y * rng.uniform(1.5, 4.0)
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def speech_bounds(x, rel_db=-35.0):
    """(first, last) sample of the part louder than rel_db below the peak (10 ms blocks)."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x) // 160
    if n == 0:
        return 0, len(x)
    e = np.sqrt(np.mean(np.square(x[:n * 160].reshape(n, 160)), axis=1))
    on = np.flatnonzero(e > e.max() * 10 ** (rel_db / 20.0))
    return int(on[0] * 160), int((on[-1] + 1) * 160)

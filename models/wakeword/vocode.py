"""Voice perturbation through a vocoder (WORLD, the `pyworld` package): a clip is
analysed into pitch, spectral envelope and aperiodicity, changed, and made again.

What changes, drawn per clip: the pitch (a new median of 80-280 Hz, without
changing the tempo), the vocal tract length (the envelope's frequency axis warped
0.88-1.08x for a voice below 150 Hz, 1.05-1.25x above: men's, women's and
children's voices from one speaker), and the envelope's detail (smoothed across
frequency and time, as statistical voices smooth it). The result also carries a
vocoder's sound, which the held-out engines (flite's statistical voices,
festival's HTS voice) have and espeak-ng has not. statistical() goes further, as a
statistical parametric voice would: few cepstra, and the envelope, aperiodicity
and pitch contour averaged over 30-80 ms (train --festival-statistical). Its
envelope goes through _smooth and back to a log before its own average, and
_smooth keeps its slow per-band loop: either change would move the floats of sets
that trained the measured models.
"""

import importlib.util
from pathlib import Path

import numpy as np

from .audio import RATE

FRAME_MS = 5.0
PITCH_HZ = (80.0, 280.0)
TRACT_LOW, TRACT_HIGH = (0.88, 1.08), (1.05, 1.25)
_world = None


def world():
    """The pyworld extension. Its package __init__ imports pkg_resources, which
    setuptools no longer ships, so the compiled module is loaded by itself."""
    global _world
    if _world is None:
        spec = importlib.util.find_spec("pyworld")
        if spec is None:
            from pocket_agent.errors import PocketError
            raise PocketError("pyworld is not installed", hint="pip install pyworld==0.3.5")
        so = next(Path(spec.submodule_search_locations[0]).glob("pyworld*.so"))
        ext = importlib.util.spec_from_file_location("pyworld.pyworld", so)
        _world = importlib.util.module_from_spec(ext)
        ext.loader.exec_module(_world)
    return _world


def _warp(sp, alpha):
    """Scale the envelope's frequency axis by alpha (> 1: a shorter vocal tract)."""
    bins = np.arange(sp.shape[1], dtype=np.float64)
    src = np.clip(bins / alpha, 0, sp.shape[1] - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, sp.shape[1] - 1)
    t = src - lo
    return sp[:, lo] * (1 - t) + sp[:, hi] * t


def _smooth(sp, n_cep, n_time):
    """Keep n_cep cepstral coefficients of the log envelope, then average n_time frames."""
    log_sp = np.log(np.maximum(sp, 1e-16))
    cep = np.fft.irfft(log_sp, axis=1)
    cep[:, n_cep:cep.shape[1] - n_cep + 1] = 0
    log_sp = np.fft.rfft(cep, axis=1).real[:, :sp.shape[1]]
    if n_time > 1:
        k = np.ones(n_time) / n_time
        pad = np.pad(log_sp, ((n_time // 2, n_time - 1 - n_time // 2), (0, 0)), mode="edge")
        log_sp = np.stack([np.convolve(pad[:, j], k, mode="valid") for j in range(log_sp.shape[1])], axis=1)
    return np.exp(log_sp)


def _new_voice(x, rng):
    """x analysed, and a new voice drawn for it: (x as float64, f0, envelope,
    aperiodicity, the new median pitch in Hz, the pitch factor to it, the tract factor)."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    f0, sp, ap = world().wav2world(x, RATE, frame_period=FRAME_MS)
    voiced = f0[f0 > 0]
    target = float(np.exp(rng.uniform(np.log(PITCH_HZ[0]), np.log(PITCH_HZ[1]))))
    pitch = target / float(np.median(voiced)) if len(voiced) else 1.0
    alpha = float(rng.uniform(*(TRACT_LOW if target < 150 else TRACT_HIGH)))
    return x, f0, sp, ap, target, pitch, alpha


def perturb(x, rng):
    """x: a clip (int16 or float) at 16 kHz -> (float64 clip of the same length and RMS,
    or quieter where that RMS would take its peak past 32000; the settings drawn)."""
    x, f0, sp, ap, target, pitch, alpha = _new_voice(x, rng)
    n_cep = int(rng.integers(18, 60))
    n_time = int(rng.integers(1, 6))
    sp = _smooth(_warp(sp, alpha), n_cep, n_time)
    ap = _warp(ap, alpha)
    y = _synthesize(x, f0 * pitch, sp, ap)
    return y, {"pitch_hz": target, "pitch": pitch, "tract": alpha, "cepstra": n_cep, "frames": n_time}


def _average(a, n):
    """Each row the mean of the n rows around it (edges repeated): a moving average over time."""
    if n <= 1:
        return a
    pad = np.pad(a, ((n // 2, n - 1 - n // 2), (0, 0)), mode="edge")
    c = np.cumsum(np.vstack([np.zeros((1, a.shape[1])), pad]), axis=0)
    return (c[n:] - c[:-n]) / n


def statistical(x, rng):
    """x as a statistical parametric voice (HTS, clustergen) would say it: a new
    pitch and vocal tract as perturb draws them, the envelope kept to 14-29
    cepstral coefficients, and the envelope, aperiodicity and pitch contour
    averaged over 30-80 ms. Such voices smear the short bursts (p, k, t) that a
    recorded voice keeps sharp. -> (float64 clip, the settings drawn)"""
    x, f0, sp, ap, target, pitch, alpha = _new_voice(x, rng)
    n_cep = int(rng.integers(14, 30))
    n_time = int(rng.integers(6, 17))
    sp = np.exp(_average(np.log(np.maximum(_smooth(_warp(sp, alpha), n_cep, 1), 1e-16)), n_time))
    ap = np.clip(_average(_warp(ap, alpha), n_time), 0, 1)
    # the pitch contour: log F0 averaged over the voiced frames only, unvoiced kept
    log_f0 = np.where(f0 > 0, np.log(np.maximum(f0, 1)), 0.0)
    weight = _average((f0 > 0).astype(float)[:, None], n_time)[:, 0]
    f0 = np.where(f0 > 0, np.exp(_average(log_f0[:, None], n_time)[:, 0] / np.maximum(weight, 1e-9)), 0.0)
    y = _synthesize(x, f0 * pitch, sp, ap)
    return y, {"pitch_hz": target, "tract": alpha, "cepstra": n_cep, "frames": n_time}


def _synthesize(x, f0, sp, ap):
    """The clip made from its parameters, as long as x and at its RMS, or quieter
    where that RMS would take its peak past 32000."""
    y = world().synthesize(np.ascontiguousarray(f0), np.ascontiguousarray(sp), np.ascontiguousarray(ap),
                           RATE, FRAME_MS)[:len(x)]
    y = np.pad(y, (0, len(x) - len(y)))
    rms_x, rms_y = np.sqrt(np.mean(x ** 2)), np.sqrt(np.mean(y ** 2))
    if rms_y > 0:
        y *= rms_x / rms_y
    peak = np.abs(y).max()
    if peak > 32000:  # the clip is kept as int16
        y *= 32000 / peak
    return y

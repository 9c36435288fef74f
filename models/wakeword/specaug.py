"""Augmentation of feature windows while training (uint8 log-mel, 0.375 dB units).

Cheap enough to draw afresh for every batch, so no two epochs see the same
speaker or channel:
  warp      vocal-tract length perturbation: the mel axis stretched around the
            band centres by a factor 0.85-1.18 (formants move, timing does not);
  tilt      a smooth random equaliser (slope, bow and a bump, up to about +-9 dB),
            the colour of another engine, microphone or room;
  bandlimit bands above a cutoff (3.4-7 kHz) pushed down to the window's noise
            floor, as an 8 kHz voice or a cheap microphone gives;
  mask      a few mel bands set to the frame mean (spectral masking).
Each applies to positives and negatives alike, so none of them is a cue.
"""

import math

import numpy as np

from .frontend import MEL_HI_HZ, MEL_LO_HZ, N_MEL

WARP_RANGE = (0.85, 1.18)
WARP_STEPS = 25
UNITS_PER_DB = 8 / (10 * math.log10(2))  # LOG_Q units per octave of power


def _mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _imel(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


_LO, _HI = _mel(MEL_LO_HZ), _mel(MEL_HI_HZ)
CENTRES = _imel(_LO + (_HI - _LO) * np.arange(1, N_MEL + 1) / (N_MEL + 1))  # Hz of each band's peak


def _band_of(hz):
    """Fractional band index of a frequency (inverse of CENTRES)."""
    return (_mel(hz) - _LO) / (_HI - _LO) * (N_MEL + 1) - 1.0


def warp_table(alpha):
    """(lower band, fraction) per output band for a warp by alpha: output band at
    frequency f reads the input at f / alpha, linearly between two bands."""
    src = np.clip(_band_of(CENTRES / alpha), 0, N_MEL - 1)
    i0 = np.minimum(np.floor(src).astype(np.int64), N_MEL - 2)
    return i0, (src - i0).astype(np.float32)


def _warp_tables():
    tables = [warp_table(a) for a in np.linspace(*WARP_RANGE, WARP_STEPS)]
    return np.array([t[0] for t in tables]), np.array([t[1] for t in tables])


_WARP = _warp_tables()


def _picked(rng, x, p):
    """Indices of the windows of x (B, T, F) an augmentation applies to: each with chance p."""
    return np.flatnonzero(rng.random(x.shape[0]) < p)


def warp(rng, x, p=0.6):
    """x (B, T, F) uint8 -> copy with a random vocal-tract warp on a share p of windows."""
    pick = _picked(rng, x, p)
    if not len(pick):
        return x
    x = x.copy()
    k = rng.integers(WARP_STEPS, size=len(pick))
    i0, fr = _WARP[0][k], _WARP[1][k]  # (n, F)
    sub = x[pick].astype(np.float32)  # (n, T, F)
    a = np.take_along_axis(sub, i0[:, None, :], axis=2)
    b = np.take_along_axis(sub, i0[:, None, :] + 1, axis=2)
    x[pick] = np.clip(np.rint(a + (b - a) * fr[:, None, :]), 0, 255).astype(np.uint8)
    return x


def tilt(rng, x, p=0.6, max_db=9.0):
    """A smooth random equaliser curve added to a share p of windows."""
    pick = _picked(rng, x, p)
    if not len(pick):
        return x
    x = x.copy()
    u = np.linspace(-1.0, 1.0, N_MEL)
    n = len(pick)
    slope = rng.uniform(-1, 1, (n, 1)) * u
    bow = rng.uniform(-1, 1, (n, 1)) * (u * u - 1 / 3)
    c, w = rng.uniform(-1, 1, (n, 1)), rng.uniform(0.15, 0.5, (n, 1))
    bump = rng.uniform(-1, 1, (n, 1)) * np.exp(-((u - c) / w) ** 2)
    curve = slope + 0.6 * bow + 0.5 * bump
    curve *= (rng.uniform(0.3, 1.0, (n, 1)) * max_db * UNITS_PER_DB) / (np.abs(curve).max(axis=1, keepdims=True) + 1e-6)
    x[pick] = np.clip(x[pick].astype(np.float32) + curve[:, None, :], 0, 255).astype(np.uint8)
    return x


def bandlimit(rng, x, p=0.2):
    """Bands above a random cutoff fall to the window's own floor in each band."""
    pick = _picked(rng, x, p)
    if not len(pick):
        return x
    x = x.copy()
    for b in pick:
        cut = int(np.ceil(_band_of(rng.uniform(3400.0, 7000.0))))
        if cut >= N_MEL:
            continue
        w = x[b].astype(np.float32)
        floor = np.percentile(w[:, cut:], 5, axis=0)
        drop = np.arange(1, N_MEL - cut + 1) * rng.uniform(6.0, 20.0) * UNITS_PER_DB
        w[:, cut:] = np.maximum(w[:, cut:] - drop, np.minimum(floor, w[:, cut:]))
        x[b] = np.clip(np.rint(w), 0, 255).astype(np.uint8)
    return x


def mask(rng, x, p=0.5):
    """Spectral masking: 1-2 runs of 1-4 mel bands in some windows set to the frame mean.

    Exactly the masking that trained the committed hey_pocket.pwm, so that the one
    command reproduces it: a second run takes the mean of the frame after the first
    run, and a run never reaches the top band."""
    B, T, F = x.shape
    x = x.copy()
    for b in np.flatnonzero(rng.random(B) < p):
        for _ in range(rng.integers(1, 3)):
            w = rng.integers(1, 5)
            f0 = rng.integers(0, F - w)
            x[b, :, f0:f0 + w] = x[b].mean(axis=1, keepdims=True).astype(np.uint8)
    return x


def all_of(rng, x):
    return mask(rng, bandlimit(rng, tilt(rng, warp(rng, x))))


def band_and_mask(rng, x):
    return mask(rng, bandlimit(rng, x, p=0.3))


# Training's choices (train.train(aug=...)): masking alone, masking and the band
# limit, or every transform.
AUGMENTS = {"mask": mask, "bandlimit": band_and_mask, "all": all_of}

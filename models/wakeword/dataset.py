"""Turn synthesized clips into augmented feature windows and streams.

A training window holds IN_FRAMES feature frames, enough for OUT_FRAMES model
outputs (the model sees RECEPTIVE frames per output). In a positive window the
phrase ends inside the output span; outputs from 40 to 300 ms after the end
are labelled 1, outputs more than 200 ms before it 0 (a half-said phrase must
not fire), the rest are not scored.
"""

from concurrent.futures import ProcessPoolExecutor

import numpy as np

from . import augment, frontend
from .frontend import FRAME, HOP

RECEPTIVE = 63  # frames: 3 + 4 * (1 + 2 + 4 + 8)
OUT_FRAMES = 16
IN_FRAMES = RECEPTIVE - 1 + OUT_FRAMES
IN_SAMPLES = FRAME + (IN_FRAMES - 1) * HOP
POS_AFTER = (640, 4800)  # samples after the phrase end labelled positive
NEG_BEFORE = 3200  # samples before the end from which outputs are negative


def frame_end(i_out):
    """Sample (window coordinates) where the input frame of output i ends."""
    return (RECEPTIVE - 1 + i_out) * HOP + FRAME


def labels_for(end_sample):
    """Per-output labels (1, 0, or -1 = not scored) for a phrase ending at end_sample."""
    ends = np.array([frame_end(i) for i in range(OUT_FRAMES)])
    lab = np.full(OUT_FRAMES, -1, np.int8)
    lab[ends < end_sample - NEG_BEFORE] = 0
    lab[(ends >= end_sample + POS_AFTER[0]) & (ends <= end_sample + POS_AFTER[1])] = 1
    return lab


_BG = []  # other speech for backgrounds and babble, set once per worker


def _init(bg):
    global _BG
    _BG = bg or []


def _window(args):
    """One augmented window around a clip: (features, end sample in the window)."""
    clip, seed, held_out, noises = args
    bg = _BG
    rng = np.random.default_rng(seed)
    x = clip.astype(np.float64)
    if rng.random() < 0.7:
        x = augment.speed(x, rng.uniform(0.88, 1.12))
    s, e = augment.speech_bounds(x)
    if rng.random() < 0.5:
        x = augment.reverb(x, augment.rir(rng, held_out))
    seg = np.zeros(IN_SAMPLES + 2 * len(x) + 32000)
    base = len(x) + 16000  # room to place the clip anywhere
    target = frame_end(int(rng.integers(0, 11))) - int(rng.integers(0, HOP))
    start = base + target - e
    seg[start:start + len(x)] += x
    ref = augment.active_rms(x[s:e])
    if bg and rng.random() < 0.35:  # other speech before the phrase
        b = bg[rng.integers(len(bg))].astype(np.float64)
        stop = start + s - int(rng.uniform(0.1, 0.5) * 16000)
        b = b[-min(len(b), stop):]
        seg[stop - len(b):stop] += b * (ref / augment.active_rms(b)) * 10 ** (rng.uniform(-6, 3) / 20)
    if bg and rng.random() < 0.3:  # and after it
        b = bg[rng.integers(len(bg))].astype(np.float64)
        go = start + e + int(rng.uniform(0.05, 0.4) * 16000)
        b = b[:max(0, len(seg) - go)]
        seg[go:go + len(b)] += b * (ref / augment.active_rms(b)) * 10 ** (rng.uniform(-6, 3) / 20)
    w = seg[base:base + IN_SAMPLES]
    if rng.random() < 0.85:
        kind = noises[rng.integers(len(noises))]
        n = augment.noise(kind, rng, len(w), bg)
        snr = rng.uniform(-2, 30) if not held_out else rng.choice([10.0, 15.0, 20.0])
        g = ref / (10 ** (snr / 20.0))
        w = w + g * n
    w = w + rng.standard_normal(len(w)) * ref * 1e-4
    pcm = augment.level(w, rng.uniform(-35, 0), rng, clip_prob=0.05)
    return frontend.features(pcm), target


def windows(clips, copies, seed, bg=None, held_out=False, noises=augment.TRAIN_NOISES, workers=2, progress=None):
    """Augmented windows: (features uint8 (n, IN_FRAMES, N_MEL), phrase ends (n,))."""
    jobs = [(c, seed * 1000003 + i * copies + k, held_out, noises)
            for i, c in enumerate(clips) for k in range(copies)]
    feats, ends = [], []
    with ProcessPoolExecutor(workers, initializer=_init, initargs=(bg,)) as ex:
        for f, e in ex.map(_window, jobs, chunksize=32):
            feats.append(f)
            ends.append(e)
            if progress:
                progress()
    return np.stack(feats), np.array(ends)


def _stream(args):
    clips, seed, held_out, keep, noises, snrs = args
    pool = _BG
    rng = np.random.default_rng(seed)
    parts = []
    for c in clips:
        x = c.astype(np.float64)
        if rng.random() < 0.4:
            x = augment.speed(x, rng.uniform(0.9, 1.1))
        parts.append(x)
        parts.append(np.zeros(int(rng.uniform(0.1, 1.5) * 16000)))
    x = np.concatenate(parts) if parts else np.zeros(16000)
    if rng.random() < 0.5:
        x = augment.reverb(x, augment.rir(rng, held_out))
    if noises:
        kind = noises[rng.integers(len(noises))]
        snr = snrs[rng.integers(len(snrs))] if snrs else rng.uniform(-2, 30)
        x = augment.mix(x, augment.noise(kind, rng, len(x), pool), snr)
    x = x + rng.standard_normal(len(x)) * augment.active_rms(x) * 1e-4
    pcm = augment.level(x, rng.uniform(-35, 0), rng, clip_prob=0.03)
    return frontend.features(pcm), pcm if keep else None


def streams(clips, per_stream, seed, held_out=False, noises=augment.TRAIN_NOISES, pool=None, snrs=None,
            workers=2, keep_audio=False):
    """Clips strung into streams of per_stream clips with gaps, augmented; features each."""
    groups = [clips[i:i + per_stream] for i in range(0, len(clips), per_stream)]
    jobs = [(g, seed * 7919 + i, held_out, keep_audio, noises, snrs) for i, g in enumerate(groups)]
    with ProcessPoolExecutor(workers, initializer=_init, initargs=(pool,)) as ex:
        out = list(ex.map(_stream, jobs))
    return [f for f, _ in out], [a for _, a in out]


def noise_streams(n, seconds, seed, noises=augment.TRAIN_NOISES, pool=None, workers=2):
    """Noise alone at random levels."""
    def gen(i):
        rng = np.random.default_rng(seed * 31 + i)
        x = augment.noise(noises[i % len(noises)], rng, int(seconds * 16000), pool)
        return augment.level(x, rng.uniform(-60, -6), rng)
    return [frontend.features(gen(i)) for i in range(n)]

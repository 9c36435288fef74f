"""False rejects against false accepts per hour, on the exact integer pipeline.

Positives are clips in their own noisy segment; one counts as detected when the
detector fires between 200 ms before and 600 ms after the end of the phrase.
False accepts are detections (with the refractory period) in long streams of
other speech and noise, per hour of audio.
"""

import math
from dataclasses import dataclass

import numpy as np

from . import frontend, qmodel
from .frontend import FRAME, HOP, SAMPLE_RATE

EARLY, LATE = 10, 30  # frames around the phrase end where a detection counts


def spectral_motion(samples):
    """How fast a clip's spectrum moves: the mean absolute change of the features
    from one frame to the next over the loud frames (within 6 dB of the loudest).
    Statistical voices move slowly (about 10 units), espeak-ng fast (about 23).
    NaN for a clip of under 5 frames."""
    f = frontend.features(samples).astype(np.float64)
    if len(f) < 5:
        return float("nan")
    e = f.mean(axis=1)
    loud = e > e.max() - 16  # 6 dB in 0.375 dB units
    return float(np.abs(np.diff(f, axis=0))[loud[1:]].mean())


def smoothed(qm, logits):
    w = qm.smooth
    c = np.concatenate([[0], np.cumsum(np.asarray(logits, dtype=np.int64))])
    out = c[1:].copy()
    out[w:] = c[w + 1:] - c[1:-w]
    return out


def end_frame(end_sample):
    """First frame whose window ends at or after the sample."""
    return max(0, int(math.ceil((end_sample - FRAME) / HOP)))


@dataclass
class Scores:
    pos_peak: np.ndarray  # best smoothed sum near each phrase end
    pos_first: list  # per positive: (frames, smoothed sums) near the end, for delays
    neg_sums: list  # smoothed sums of each negative stream
    neg_hours: float


def score(qm, pos_feats, pos_ends, neg_feats, logits_of=None):
    """logits_of(index, features): the model's logits (pass a cache to score one
    model's logits under several smoothing windows); positives come first."""
    logits_of = logits_of or (lambda i, f: qmodel.forward(qm, f))
    peaks, first = [], []
    for i, (f, e) in enumerate(zip(pos_feats, pos_ends)):
        s = smoothed(qm, logits_of(i, f))
        ef = end_frame(e)
        lo, hi = max(0, ef - EARLY), min(len(s), ef + LATE)
        seg = s[lo:hi] if hi > lo else np.array([np.iinfo(np.int64).min // 4])
        peaks.append(int(seg.max()))
        first.append((lo - ef, seg))
    neg = [smoothed(qm, logits_of(len(pos_feats) + i, f)) for i, f in enumerate(neg_feats)]
    hours = sum(len(f) for f in neg_feats) * HOP / SAMPLE_RATE / 3600.0
    return Scores(np.array(peaks), first, neg, hours)


def false_accepts(qm, sums, limit):
    n = 0
    for s in sums:
        last = -10 ** 9
        for t in np.flatnonzero(s >= limit):
            if t - last > qm.refractory:
                n += 1
                last = t
    return n


THRESHOLDS = np.concatenate([np.linspace(0.05, 0.95, 19), 1 - np.logspace(-1.4, -5, 40)])  # the sweep


def curve(qm, sc, thresholds=None):
    """[(threshold, FRR, FA count, FA per hour)] over a threshold sweep."""
    if thresholds is None:
        thresholds = THRESHOLDS
    rows = []
    for th in thresholds:
        lim = qmodel.threshold_sum(qm, th)
        frr = float(np.mean(sc.pos_peak < lim)) if len(sc.pos_peak) else float("nan")
        fa = false_accepts(qm, sc.neg_sums, lim)
        rows.append((float(th), frr, fa, fa / max(sc.neg_hours, 1e-9)))
    return rows


def frr_at(rows, fa_per_hour):
    """The lowest FRR whose false-accept rate is at most fa_per_hour, and its row."""
    ok = [r for r in rows if r[3] <= fa_per_hour]
    if not ok:
        return 1.0, None
    best = min(ok, key=lambda r: (r[1], -r[0]))
    return best[1], best


def delays_ms(qm, sc, threshold):
    """Detection delay after the phrase end (ms) for each detected positive."""
    lim = qmodel.threshold_sum(qm, threshold)
    out = []
    for off, seg in sc.pos_first:
        hit = np.flatnonzero(seg >= lim)
        if len(hit):
            out.append((off + int(hit[0])) * HOP / SAMPLE_RATE * 1000.0)
    return out


def wilson(k, n, z=1.96):
    """95 % Wilson interval for a proportion k / n."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def poisson_ci(k, hours):
    """95 % interval of a false-accept rate from k events in `hours` (exact, chi-square)."""
    from math import exp

    def upper(k):
        lo, hi = k, k + 10 + 5 * math.sqrt(k + 1)
        for _ in range(60):  # P(X <= k; mu) = 0.025
            mid = (lo + hi) / 2
            cdf = sum(exp(-mid) * mid ** i / math.factorial(i) for i in range(k + 1))
            lo, hi = (mid, hi) if cdf > 0.025 else (lo, mid)
        return lo

    def lower(k):
        if k == 0:
            return 0.0
        lo, hi = 0.0, float(k)
        for _ in range(60):  # P(X >= k; mu) = 0.025
            mid = (lo + hi) / 2
            cdf = sum(exp(-mid) * mid ** i / math.factorial(i) for i in range(k))
            lo, hi = (mid, hi) if 1 - cdf < 0.025 else (lo, mid)
        return lo

    return lower(k) / hours, upper(k) / hours


def det_png(path, curves, title):
    """DET-style plot: FRR (%) against false accepts per hour, one line per model."""
    from PIL import Image, ImageDraw

    W, H, L, B, T, R = 640, 440, 70, 50, 40, 20
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    x_lo, x_hi = math.log10(0.05), math.log10(50.0)
    y_hi = 100.0

    def xy(fa, frr):
        x = L + (math.log10(min(max(fa, 0.05), 50.0)) - x_lo) / (x_hi - x_lo) * (W - L - R)
        y = T + (1 - min(frr * 100, y_hi) / y_hi) * (H - T - B)
        return x, y

    for fa in (0.1, 0.5, 1, 5, 10, 50):
        x, _ = xy(fa, 0)
        d.line([(x, T), (x, H - B)], fill=(225, 225, 225))
        d.text((x - 8, H - B + 6), f"{fa:g}", fill="black")
    for frr in range(0, int(y_hi) + 1, 10):
        _, y = xy(0.05, frr / 100)
        d.line([(L, y), (W - R, y)], fill=(225, 225, 225))
        d.text((L - 30, y - 6), f"{frr}%", fill="black")
    d.rectangle([L, T, W - R, H - B], outline="black")
    d.text((L, 12), title, fill="black")
    d.text((W // 2 - 70, H - 22), "false accepts per hour (log)", fill="black")
    d.text((6, T - 20), "false rejects", fill="black")
    colours = [(200, 30, 30), (30, 90, 200), (30, 150, 60), (150, 90, 20)]
    for i, (name, rows) in enumerate(curves):
        pts = sorted({xy(r[3], r[1]) for r in rows})
        if len(pts) > 1:
            d.line(pts, fill=colours[i % 4], width=2)
        d.text((W - R - 200, T + 8 + 14 * i), name, fill=colours[i % 4])
    img.save(path)

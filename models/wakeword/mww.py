"""microWakeWord's hey_jarvis (PyPI pymicro-wakeword) on the same held-out audio,
scored the same way as ours: peak probability near the phrase end for
positives; detections with the same refractory period in negative streams."""

import numpy as np

from . import evaluate

STEP_S = 0.010  # its features come every 10 ms from a 30 ms window
WINDOW_S = 0.030
EARLY_S, LATE_S = 0.2, 0.6  # the same window as evaluate.EARLY / LATE
REFRACTORY_S = 1.0


def available():
    try:
        import pymicro_wakeword  # noqa: F401
    except ImportError:
        return False
    return True


def probabilities(pcm, model_name="hey_jarvis"):
    """Per 10 ms feature frame: the model's smoothed probability (0 between strides)."""
    from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model

    mww = MicroWakeWord.from_builtin(Model(model_name))
    feats = MicroWakeWordFeatures()
    out = [mww.process_streaming_prob(f) or 0.0 for f in feats.process_streaming(np.asarray(pcm, "<i2").tobytes())]
    mww.close()
    return np.array(out, dtype=np.float64)


def cutoff(model_name="hey_jarvis"):
    import json
    from pathlib import Path

    import pymicro_wakeword

    cfg = Path(pymicro_wakeword.__file__).parent / "models" / f"{model_name}.json"
    return float(json.loads(cfg.read_text())["micro"]["probability_cutoff"])


def _end_time(k):
    return k * STEP_S + WINDOW_S


def score(pos_pcm, pos_end_samples, neg_pcm, model_name="hey_jarvis"):
    peaks, firsts = [], []
    for x, e in zip(pos_pcm, pos_end_samples):
        p = probabilities(x, model_name)
        t = _end_time(np.arange(len(p)))
        m = (t >= e / 16000 - EARLY_S) & (t <= e / 16000 + LATE_S)
        peaks.append(float(p[m].max()) if m.any() else 0.0)
        firsts.append((t[m] - e / 16000, p[m]))
    negs = [probabilities(x, model_name) for x in neg_pcm]
    hours = sum(len(x) for x in neg_pcm) / 16000 / 3600
    return np.array(peaks), firsts, negs, hours


def false_accepts(negs, th):
    n = 0
    gap = int(round(REFRACTORY_S / STEP_S))
    for p in negs:
        last = -10 ** 9
        for k in np.flatnonzero(p >= th):
            if k - last > gap:
                n += 1
                last = k
    return n


def curve(peaks, negs, hours, thresholds=None):
    if thresholds is None:
        thresholds = np.concatenate([np.linspace(0.05, 0.95, 19), 1 - np.logspace(-1.4, -5, 40)])
    rows = []
    for th in thresholds:
        fa = false_accepts(negs, th)
        rows.append((float(th), float(np.mean(peaks < th)), fa, fa / max(hours, 1e-9)))
    return rows


def delays_ms(firsts, th):
    out = []
    for dt, p in firsts:
        hit = np.flatnonzero(p >= th)
        if len(hit):
            out.append(float(dt[hit[0]]) * 1000.0)
    return out


frr_at = evaluate.frr_at

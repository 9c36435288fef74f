"""The held-out evaluation audio of a phrase: built once, cached as PCM.

Positives: every evaluation clip (flite voices, festival kal and slt) in its own
4-second segment, in a held-out room half of the time, with held-out noise at
10, 15 or 20 dB SNR or clean, at a level between -35 and 0 dBFS; a quarter are
followed by a spoken command. Negatives: the evaluation voices reading Python
docstrings, and the confusable phrases, strung into streams with held-out
noise at the same SNRs. The PCM is kept so other detectors hear the same audio.
"""

import numpy as np

from . import augment, corpus
from .audio import clips_load, npz_save

SNRS = [None, 20.0, 15.0, 10.0]
SEGMENT = 4 * 16000


def positive_segment(clip, rng, pool, cmd, held_out=True):
    """The clip in its own 4 s segment, as described above -> (PCM, phrase end, SNR or None).
    `held_out=False`: training's room generator and noise kinds instead (validation voices)."""
    x = clip.astype(np.float64)
    s, e = augment.speech_bounds(x)
    if rng.random() < 0.5:
        x = augment.reverb(x, augment.rir(rng, held_out=held_out))
    seg = np.zeros(SEGMENT + len(x))
    start = int(rng.uniform(0.8, 1.6) * 16000)
    seg[start:start + len(x)] += x
    ref = augment.active_rms(x[s:e])
    if cmd is not None and rng.random() < 0.25:
        c = cmd.astype(np.float64)
        go = start + e + int(rng.uniform(0.1, 0.4) * 16000)
        c = c[:max(0, len(seg) - go)]
        seg[go:go + len(c)] += c * ref / augment.active_rms(c)
    seg = seg[:max(SEGMENT, start + e + 16000)]
    snr = SNRS[rng.integers(len(SNRS))]
    if snr is not None:
        kinds = augment.EVAL_NOISES if held_out else augment.TRAIN_NOISES
        kind = kinds[rng.integers(len(kinds))]
        seg = augment.mix(seg, augment.noise(kind, rng, len(seg), pool), snr)
    seg = seg + rng.standard_normal(len(seg)) * ref * 1e-4
    return augment.level(seg, rng.uniform(-35, 0)), start + e, snr


def _negative(clips, rng, pool):
    parts = []
    for c in clips:
        parts += [c.astype(np.float64), np.zeros(int(rng.uniform(0.2, 1.5) * 16000))]
    x = np.concatenate(parts)
    if rng.random() < 0.5:
        x = augment.reverb(x, augment.rir(rng, held_out=True))
    snr = SNRS[rng.integers(len(SNRS))]
    if snr is not None:
        kind = augment.EVAL_NOISES[rng.integers(len(augment.EVAL_NOISES))]
        x = augment.mix(x, augment.noise(kind, rng, len(x), pool), snr)
    x = x + rng.standard_normal(len(x)) * augment.active_rms(x) * 1e-4
    return augment.level(x, rng.uniform(-35, 0))


def _speech_streams(d, speech, pool, seed):
    """Negative streams of other speech: shared by every phrase that has the same
    evaluation speech (the cache links it), so they are built once."""
    src = (d / "eval_speech.npz").resolve()
    path = src.with_name(src.stem + f"_heldout{seed}.npz")
    if path.exists():
        with np.load(path) as z:
            return [z[k] for k in sorted(z.files)]
    rng = np.random.default_rng(seed + 1)
    order = rng.permutation(len(speech))
    out = [_negative([speech[j] for j in order[i:i + 10]], rng, pool) for i in range(0, len(order), 10)]
    npz_save(path, **{f"s{i:05d}": x for i, x in enumerate(out)})
    return out


def build_fresh(phrase, root, seed=4321):
    """Split B: fresh held-out positives (corpus.EVAL_B_*), mixed as above with
    their own draws. False accepts stay those of build()'s speech streams.
    {'pos': [int16], 'pos_end': [sample], 'pos_snr': [...]}"""
    d = corpus.cache_dir(phrase, root)
    path = d / "heldout_b.npz"
    if not path.exists():
        corpus.build(phrase, root, parts=["eval_pos_b", "eval_speech"])
        pos, _ = clips_load(d / "eval_pos_b.npz")
        speech, _ = clips_load(d / "eval_speech.npz")
        rng = np.random.default_rng(seed)
        pool = [speech[i] for i in rng.choice(len(speech), size=min(60, len(speech)), replace=False)]
        arrays, ends, snrs = {}, [], []
        for i, c in enumerate(pos):
            cmd = speech[rng.integers(len(speech))][:3 * 16000]
            x, e, snr = positive_segment(c, rng, pool, cmd)
            arrays[f"pos_{i:05d}"] = x
            ends.append(e)
            snrs.append(-1.0 if snr is None else snr)
        npz_save(path, pos_end=np.array(ends), pos_snr=np.array(snrs), **arrays)
    with np.load(path, allow_pickle=False) as z:
        return {"pos": [z[k] for k in sorted(k for k in z.files if k.startswith("pos_") and k[4:].isdigit())],
                "pos_end": z["pos_end"], "pos_snr": z["pos_snr"]}


def build(phrase, root, seed=1234):
    """{'pos': [int16], 'pos_end': [sample], 'pos_snr': [...], 'neg': [int16], 'neg_kind': [...]}."""
    d = corpus.cache_dir(phrase, root)
    path = d / "heldout.npz"
    if path.exists():
        z = np.load(path, allow_pickle=False)
        out = {"pos": [z[k] for k in sorted(k for k in z.files if k.startswith("pos_"))
                       if not k.startswith(("pos_end", "pos_snr"))],
               "pos_end": z["pos_end"], "pos_snr": z["pos_snr"],
               "neg": [z[k] for k in sorted(k for k in z.files if k.startswith("neg_"))
                       if not k.startswith("neg_kind")],
               "neg_kind": z["neg_kind"]}
        return out
    corpus.build(phrase, root, parts=["eval_pos", "eval_conf", "eval_speech"])
    pos, _ = clips_load(d / "eval_pos.npz")
    conf, _ = clips_load(d / "eval_conf.npz")
    speech, _ = clips_load(d / "eval_speech.npz")
    rng = np.random.default_rng(seed)
    pool = [speech[i] for i in rng.choice(len(speech), size=min(60, len(speech)), replace=False)]
    p_pcm, p_end, p_snr = [], [], []
    for c in pos:
        cmd = speech[rng.integers(len(speech))][:3 * 16000]
        x, e, snr = positive_segment(c, rng, pool, cmd)
        p_pcm.append(x)
        p_end.append(e)
        p_snr.append(-1.0 if snr is None else snr)
    n_pcm, n_kind = list(_speech_streams(d, speech, pool, seed)), []
    n_kind = ["speech"] * len(n_pcm)
    for i in range(0, len(conf), 20):
        n_pcm.append(_negative(conf[i:i + 20], rng, pool))
        n_kind.append("confusable")
    arrays = {f"pos_{i:05d}": x for i, x in enumerate(p_pcm)}
    arrays.update({f"neg_{i:05d}": x for i, x in enumerate(n_pcm)})
    arrays.update(pos_end=np.array(p_end), pos_snr=np.array(p_snr), neg_kind=np.array(n_kind))
    npz_save(path, **arrays)
    return build(phrase, root, seed)

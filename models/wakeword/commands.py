"""The work behind `pocket wakeword ...`: one function per subcommand."""

import os
from pathlib import Path

from pocket_agent.errors import PocketError

MODELS_DIR = Path(__file__).resolve().parent
DEFAULT_MODEL = "hey_pocket"


def cache_root():
    return Path(os.environ.get("POCKET_WAKEWORD_CACHE", Path.home() / ".cache" / "pocket-agent" / "wakeword"))


def model_path(name_or_path):
    """A model given by name (a .pwm beside this module) or by path."""
    name_or_path = name_or_path or DEFAULT_MODEL
    p = Path(name_or_path)
    if p.suffix == ".pwm" or os.sep in str(name_or_path):
        if not p.exists():
            raise PocketError(f"no such model file: {p}")
        return p
    cand = MODELS_DIR / f"{name_or_path.replace(' ', '_')}.pwm"
    if not cand.exists():
        known = ", ".join(sorted(q.stem for q in MODELS_DIR.glob("*.pwm"))) or "none"
        raise PocketError(f"unknown wake-word model {name_or_path!r}", hint=f"known models: {known}; or give a path to a .pwm file")
    return cand


def load_model(name_or_path):
    from . import qmodel

    return qmodel.load(model_path(name_or_path))


def detect_files(files, model=None, threshold=None):
    """[{file, seconds, detections: [seconds]}] using the exact on-device pipeline."""
    from . import frontend, qmodel
    from .audio import read_wav

    qm = load_model(model)
    th = qm.threshold if threshold is None else float(threshold)
    if not 0.0 < th < 1.0:
        raise PocketError(f"threshold must be between 0 and 1, not {th}")
    results = []
    for f in files:
        pcm = read_wav(f)
        logits = qmodel.forward(qm, frontend.features(pcm))
        hits = qmodel.detect(qm, logits, th)
        results.append({"file": str(f), "seconds": round(len(pcm) / 16000, 3),
                        "detections": [round(qmodel.frame_end_seconds(t), 3) for t in hits]})
    return results


def heldout_scores(qm, phrase, root=None, logits_of=None):
    """Scores of a model on the held-out audio of `phrase` (built on first use).

    False accepts per hour come from the streams of other speech; the streams
    of confusable phrases are scored apart (conf_sums), as a share of them.
    logits_of(index, features): the logits in place of qm's own (evaluate.score)."""
    from . import evaluate, frontend, heldout

    logits_of = logits_of or (lambda i, f: qmodel_forward(qm, f))
    data = heldout.build(phrase, root or cache_root())
    kinds = list(data["neg_kind"])
    pos = [frontend.features(x) for x in data["pos"]]
    speech = [frontend.features(x) for x, k in zip(data["neg"], kinds) if k == "speech"]
    sc = evaluate.score(qm, pos, list(data["pos_end"]), speech, logits_of)
    first = len(pos) + len(speech)
    conf = [x for x, k in zip(data["neg"], kinds) if k == "confusable"]
    sc.conf_sums = [evaluate.smoothed(qm, logits_of(first + j, frontend.features(x))) for j, x in enumerate(conf)]
    sc.n_conf = confusable_count(phrase, root)
    return data, sc


def qmodel_forward(qm, feats):
    from . import qmodel

    return qmodel.forward(qm, feats)


def confusable_count(phrase, root=None):
    from . import corpus

    clips, _ = corpus.load(phrase, root or cache_root(), "eval_conf")
    return len(clips)


def confusable_share(qm, sc, threshold):
    """Detections in the confusable streams per confusable phrase spoken."""
    from . import evaluate, qmodel

    n = evaluate.false_accepts(qm, sc.conf_sums, qmodel.threshold_sum(qm, threshold))
    return n / max(sc.n_conf, 1)


def run_eval(model=None, png=None, root=None, log=print):
    """Held-out FRR against false accepts per hour; a DET curve as PNG."""
    from . import evaluate

    qm = load_model(model)
    data, sc = heldout_scores(qm, qm.phrase, root)
    rows = evaluate.curve(qm, sc)
    log(f"model {model_path(model).name}: phrase {qm.phrase!r}; held-out: {len(sc.pos_peak)} positives, "
        f"{sc.neg_hours:.2f} h of other speech (unseen engine flite, unseen festival voices kal and slt, "
        f"unseen texts, unseen noise kinds and rooms), {sc.n_conf} confusable phrases")
    summary = []
    for fa in (1.0, 0.5, 0.1):
        frr, row = evaluate.frr_at(rows, fa)
        k = int(round(frr * len(sc.pos_peak)))
        lo, hi = evaluate.wilson(k, len(sc.pos_peak))
        where = f"threshold {row[0]:.4f}, {row[2]} false accepts" if row else "never reached"
        log(f"  FRR at <= {fa:g} FA/h: {frr:.1%} (95% CI {lo:.1%}-{hi:.1%}; {where})")
        summary.append((fa, frr, lo, hi, row))
    th = qm.threshold
    lim_rows = evaluate.curve(qm, sc, [th])[0]
    log(f"  at the model's threshold {th:.4f}: FRR {lim_rows[1]:.1%}, {lim_rows[2]} false accepts "
        f"({lim_rows[3]:.2f}/h); {confusable_share(qm, sc, th):.1%} of {sc.n_conf} confusable phrases fire")
    png = Path(png or f"det_{model_path(model).stem}.png")
    evaluate.det_png(png, [(qm.phrase, rows)], f"DET, held-out audio: {qm.phrase}")
    log(f"  DET curve: {png}")
    return {"rows": rows, "summary": summary, "scores": sc, "png": str(png)}

"""`pocket wakeword train`: synthesize, augment, train, check, export. One command.

Everything is seeded: the same phrase, seed and machine give the same model.
Before exporting, the integer model (exactly what the board runs) is scored on
held-out validation voices; a model that misses too many is not exported.
"""

import time
from pathlib import Path

import numpy as np

from pocket_agent.errors import PocketError

from . import corpus, dataset, evaluate, net, qmodel, specaug
from .audio import clips_load, npz_save

GATE_FA_PER_HOUR = 0.5
GATE_FRR = 0.25


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())


def babble_pool(speech, seed):
    """The training speech that babble noise is made from, for `seed`."""
    rng = np.random.default_rng(seed)
    return [speech[i] for i in rng.choice(len(speech), size=min(300, len(speech)), replace=False)]


def validation_streams(vspeech, seed, bg):
    """Features of the validation speech strung into streams: three augmented passes."""
    vneg = []
    for k in range(3):
        f, _ = dataset.streams(vspeech, 8, seed + 30 + k, pool=bg)
        vneg.extend(f)
    return vneg


def _features(phrase, root, seed, progress):
    """Augmented training and validation features, cached per phrase and seed."""
    out = corpus.cache_dir(phrase, root) / f"features_seed{seed}.npz"
    if out.exists():
        z = np.load(out, allow_pickle=False)
        neg = [z[k] for k in sorted(k for k in z.files if k.startswith("neg_"))]
        vneg = [z[k] for k in sorted(k for k in z.files if k.startswith("vneg_"))]
        return dict(z), neg, vneg
    d = corpus.cache_dir(phrase, root)
    pos, _ = clips_load(d / "pos_train.npz")
    conf, _ = clips_load(d / "conf_train.npz")
    speech, _ = clips_load(d / "speech_train.npz")
    vpos, _ = clips_load(d / "pos_valid.npz")
    vconf, _ = clips_load(d / "conf_valid.npz")
    vspeech, _ = clips_load(d / "speech_valid.npz")
    bg = babble_pool(speech, seed)
    copies_pos, copies_conf = 6, 3
    total = len(pos) * copies_pos + len(conf) * copies_conf + len(vpos) + len(vconf)
    task = progress.add_task("augmenting", total=total)
    tick = lambda: progress.advance(task)  # noqa: E731
    pf, pe = dataset.windows(pos, copies_pos, seed + 1, bg=bg, progress=tick)
    cf, ce = dataset.windows(conf, copies_conf, seed + 2, bg=bg, progress=tick)
    vpf, vpe = dataset.windows(vpos, 1, seed + 3, bg=bg, progress=tick)
    vcf, vce = dataset.windows(vconf, 1, seed + 4, bg=bg, progress=tick)
    t2 = progress.add_task("negative streams", total=1)
    neg = []
    for k in range(2):  # two differently augmented passes over the other speech
        f, _ = dataset.streams(speech, 12, seed + 10 + k, pool=bg)
        neg.extend(f)
    neg.extend(dataset.noise_streams(40, 30.0, seed + 20, pool=bg))
    vneg = validation_streams(vspeech, seed, bg)
    progress.advance(t2)
    arrays = {"pos": pf, "pos_end": pe, "conf": cf, "conf_end": ce,
              "vpos": vpf, "vpos_end": vpe, "vconf": vcf, "vconf_end": vce}
    arrays.update({f"neg_{i:04d}": f for i, f in enumerate(neg)})
    arrays.update({f"vneg_{i:04d}": f for i, f in enumerate(vneg)})
    npz_save(out, **arrays)
    return arrays, neg, vneg


# Extra speaker sets cached apart so the main cache stays valid: their parts
# (positives, confusables, speech) and the seed offsets of their augmentation.
_EXTRA = {"x": (corpus.X_PARTS, 101, 41, "extra voices"), "p": (corpus.P_PARTS, 121, 61, "festival pitch voices"),
          "v": (corpus.V_PARTS, 141, 81, "vocoded festival voices"),
          "s": (corpus.S_PARTS, 161, 101, "statistical copies")}


def _features_extra(phrase, root, seed, progress, tag):
    """Augmented windows of an extra speaker set (_EXTRA): positives, confusables
    and negative streams."""
    (pos_part, conf_part, speech_part), bg_offset, offset, what = _EXTRA[tag]
    d = corpus.cache_dir(phrase, root)
    out = d / f"features_{tag}_seed{seed}.npz"
    if out.exists():
        z = np.load(out, allow_pickle=False)
        return {k: z[k] for k in ("pos", "pos_end", "conf", "conf_end")}, \
            [z[k] for k in sorted(k for k in z.files if k.startswith("neg_"))]
    pos, _ = clips_load(d / f"{pos_part}.npz")
    conf, _ = clips_load(d / f"{conf_part}.npz")
    speech, _ = clips_load(d / f"{speech_part}.npz")
    old, _ = clips_load(d / "speech_train.npz")
    rng = np.random.default_rng(seed + bg_offset)
    bg = [c for c in (speech + old) if len(c) > 16000]
    bg = [bg[i] for i in rng.choice(len(bg), size=min(300, len(bg)), replace=False)]
    copies_pos, copies_conf = 4, 2
    task = progress.add_task(f"augmenting {what}", total=len(pos) * copies_pos + len(conf) * copies_conf)
    tick = lambda: progress.advance(task)  # noqa: E731
    pf, pe = dataset.windows(pos, copies_pos, seed + offset, bg=bg, progress=tick)
    cf, ce = dataset.windows(conf, copies_conf, seed + offset + 1, bg=bg, progress=tick)
    neg, _ = dataset.streams(speech, 12, seed + offset + 2, pool=bg)
    arrays = {"pos": pf, "pos_end": pe, "conf": cf, "conf_end": ce}
    arrays.update({f"neg_{i:04d}": f for i, f in enumerate(neg)})
    npz_save(out, **arrays)
    return {k: arrays[k] for k in ("pos", "pos_end", "conf", "conf_end")}, neg


def _features_f(phrase, root, seed, progress):
    """Negative streams of the extra festival speech (corpus.F_PARTS), cached apart
    so the main cache stays valid: one augmented pass, 12 clips a stream."""
    d = corpus.cache_dir(phrase, root)
    out = d / f"features_f_seed{seed}.npz"
    if out.exists():
        z = np.load(out, allow_pickle=False)
        return [z[k] for k in sorted(z.files)]
    speech, _ = clips_load(d / "speech_train_f.npz")
    old, _ = clips_load(d / "speech_train.npz")
    rng = np.random.default_rng(seed + 201)
    bg = [old[i] for i in rng.choice(len(old), size=min(300, len(old)), replace=False)]
    task = progress.add_task("festival negative streams", total=1)
    neg, _ = dataset.streams(speech, 12, seed + 50, pool=bg)
    progress.advance(task)
    npz_save(out, **{f"neg_{i:04d}": f for i, f in enumerate(neg)})
    return neg


def _batch(rng, data, neg, n_pos=96, n_conf=48, n_neg=32, neg_len=200, aug="mask"):
    pi = rng.integers(len(data["pos"]), size=n_pos)
    ci = rng.integers(len(data["conf"]), size=n_conf)
    xp = np.concatenate([data["pos"][pi], data["conf"][ci]])
    lp = np.stack([dataset.labels_for(e) for e in data["pos_end"][pi]])
    lc = np.stack([np.where(dataset.labels_for(e) == -1, -1, 0) for e in data["conf_end"][ci]])
    lc[:] = np.where(lc == -1, 0, lc)  # a confusable is negative everywhere
    yp = np.concatenate([lp, lc]).astype(np.int8)
    xn = np.empty((n_neg, neg_len, xp.shape[2]), np.uint8)
    lengths = np.array([len(s) for s in neg])
    ok = np.flatnonzero(lengths >= neg_len)
    for i in range(n_neg):
        s = neg[ok[rng.integers(len(ok))]]
        o = rng.integers(0, len(s) - neg_len + 1)
        xn[i] = s[o:o + neg_len]
    f = specaug.AUGMENTS[aug]
    return f(rng, xp), yp, f(rng, xn)


def _bce(logits, labels, weight):
    """Mean weighted binary cross-entropy over scored frames, and its gradient."""
    m = labels >= 0
    y = (labels == 1).astype(np.float32)
    p = 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))
    w = weight * m
    n = max(float(w.sum()), 1e-6)
    loss = -(w * (y * np.log(p + 1e-7) + (1 - y) * np.log(1 - p + 1e-7))).sum() / n
    return loss, (w * (p - y) / n).astype(np.float32)


def _grads(params, rng, data, neg, q, parts, aug):
    """Loss and gradients on 1/parts of a batch (a batch is split over processes)."""
    xp, yp, xn = _batch(rng, data, neg, 96 // parts, 48 // parts, 32 // parts, aug=aug)
    lp, cp = net.forward(params, xp, q)
    ln, cn = net.forward(params, xn, q)
    wpos = np.where(yp == 1, 2.0, 1.0).astype(np.float32)
    loss_p, gp = _bce(lp, yp, wpos)
    # negatives: the hardest frames matter for false accepts per hour
    yn = np.zeros(ln.shape, np.int8)
    wn = (1.0 + 4.0 / (1.0 + np.exp(-ln))).astype(np.float32)
    loss_n, gn = _bce(ln, yn, wn)
    gp_all = net.backward(params, cp, gp, q)
    gn_all = net.backward(params, cn, gn, q)
    return loss_p + loss_n, {k: gp_all[k] + gn_all[k] for k in params}


def _worker(conn, data, neg):
    while True:
        msg = conn.recv()
        if msg is None:
            return
        params, q, seeds, aug = msg
        conn.send(_grads(params, np.random.default_rng(seeds), data, neg, q, PARTS, aug))


PARTS = 2  # each step's batch is split in two: the parent and one helper process


class _Stepper:
    """Gradient steps with the batch split over two processes (two cores); the
    split is the same with or without the helper, so results do not depend on it."""

    def __init__(self, data, neg, parallel=True, aug="mask"):
        import multiprocessing as mp

        self.data, self.neg, self.aug = data, neg, aug
        self.conn = self.proc = None
        if parallel:
            ctx = mp.get_context("fork")
            self.conn, child = ctx.Pipe()
            self.proc = ctx.Process(target=_worker, args=(child, data, neg), daemon=True)
            self.proc.start()

    def step(self, params, opt, seed, i, q, lr):
        seeds = [[seed, i, r] for r in range(PARTS)]
        if self.conn is not None:
            self.conn.send((params, q, seeds[1], self.aug))
        loss, grads = _grads(params, np.random.default_rng(seeds[0]), self.data, self.neg, q, PARTS, self.aug)
        if self.conn is not None:
            loss2, g2 = self.conn.recv()
        else:
            loss2, g2 = _grads(params, np.random.default_rng(seeds[1]), self.data, self.neg, q, PARTS, self.aug)
        grads = {k: (grads[k] + g2[k]) / PARTS for k in grads}
        opt.step(params, grads, lr)
        return (loss + loss2) / PARTS

    def close(self):
        if self.conn is not None:
            self.conn.send(None)
            self.proc.join(10)


SMOOTHING = (1, 2, 3, 4, 6, 8)  # windows tried on validation (frames)


def validate(qm, data, vneg, logits_of=None):
    """Integer model on validation voices: curve rows and the picked threshold.

    False accepts per hour come from the streams of other speech; confusable
    phrases are reported as the share of them that fire (packed densely, they
    would otherwise stand for hundreds of confusables an hour)."""
    pos = list(data["vpos"])
    ends = list(data["vpos_end"])
    sc = evaluate.score(qm, pos, ends, vneg, logits_of)
    rows = evaluate.curve(qm, sc)
    frr, row = evaluate.frr_at(rows, GATE_FA_PER_HOUR)
    return rows, frr, row, sc


def pick_smoothing(qm, data, vneg, log=print):
    """The averaging window (frames) with the lowest validation FRR, averaged over
    the thresholds that allow 0, 1 and 2 false accepts in the validation speech."""
    cache = {}

    def logits_of(i, f):
        if i not in cache:
            cache[i] = qmodel.forward(qm, f)
        return cache[i]

    hours = sum(len(f) for f in vneg) * 0.02 / 3600
    best = None
    for w in SMOOTHING:
        qm.smooth = w
        rows, _, _, _ = validate(qm, data, vneg, logits_of)
        cost = float(np.mean([evaluate.frr_at(rows, (k + 0.5) / hours)[0] for k in range(3)]))
        log(f"smoothing {w} frames: validation FRR {cost:.1%} (mean at 0, 1, 2 false accepts)")
        if best is None or cost < best[0] - 1e-9:
            best = (cost, w)
    return best[1]


def confusable_rate(qm, feats, threshold):
    """Share of confusable windows in which the detector fires."""
    lim = qmodel.threshold_sum(qm, threshold)
    hits = [evaluate.smoothed(qm, qmodel.forward(qm, f)).max() >= lim for f in feats]
    return float(np.mean(hits)) if hits else float("nan")


def train(phrase, out, root, *, seed=0, steps=5000, qat_steps=1500, channels=48, force=False,
          aug="bandlimit", extra_speakers=False, festival_speech=False, festival_pitch=True,
          festival_vocoded=True, festival_statistical=False, smoothing=3, log=print):
    """The defaults are the recipe of the committed hey_pocket.pwm: the original
    speakers plus festival's voices with moved pitch and through the vocoder,
    masking and the band limit, smoothing over 3 frames. The other changes tried
    scored worse on held-out audio (docs/wakeword.md), so they are off by default;
    the recipe before 23 Nov is festival_pitch=False, festival_vocoded=False, aug="mask".

    aug: the feature augmentation drawn for every batch, a key of specaug.AUGMENTS.
    extra_speakers: also train on corpus.X_PARTS (more espeak-ng languages and
    variants, festival's NSK voices). festival_speech: also train on the negative
    streams of corpus.F_PARTS (about 3x more festival speech). festival_pitch: also
    train on corpus.P_PARTS (festival's diphone voices with moved pitch).
    festival_vocoded: also train on corpus.V_PARTS (festival's clips, P_PARTS
    included, made again through a vocoder with other pitch and vocal tract).
    festival_statistical: also train on corpus.S_PARTS (the same clips made again as a
    statistical voice would say them, negatives alike). smoothing: the
    averaging window in frames, or None to pick it on the validation voices."""
    if aug not in specaug.AUGMENTS:
        raise PocketError(f"unknown feature augmentation {aug!r}", hint=f"one of {', '.join(specaug.AUGMENTS)}")
    if smoothing is not None and not 1 <= smoothing <= 255:
        raise PocketError(f"smoothing window {smoothing} is out of range",
                          hint="1..255 frames, or None to pick it on validation")
    t0 = time.time()
    phrase = " ".join(phrase.lower().split())
    if not phrase:
        raise PocketError("the phrase is empty")
    root = Path(root)
    with _progress() as progress:
        extras = [tag for tag, on in (("x", extra_speakers), ("p", festival_pitch), ("v", festival_vocoded),
                                      ("s", festival_statistical)) if on]
        # the vocoded and statistical sets are made from the pitch set too
        made = extras + (["p"] if festival_vocoded or festival_statistical else [])
        skip = [p for tag in _EXTRA if tag not in made for p in _EXTRA[tag][0]]
        parts = [p for p in corpus.TRAINING_PARTS if p not in skip and (festival_speech or p not in corpus.F_PARTS)]
        corpus.build(phrase, root, seed=0, progress=progress, parts=parts)
        data, neg, vneg = _features(phrase, root, seed, progress)
        for tag in extras:
            xdata, xneg = _features_extra(phrase, root, seed, progress, tag)
            for k in ("pos", "pos_end", "conf", "conf_end"):
                data[k] = np.concatenate([data[k], xdata[k]])
            neg = neg + xneg
        if festival_speech:
            neg = neg + _features_f(phrase, root, seed, progress)
        log(f"feature augmentation: {aug}, {'with' if extra_speakers else 'without'} the extra speakers, "
            f"{'with' if festival_speech else 'without'} the extra festival speech, "
            f"{'with' if festival_pitch else 'without'} festival's pitch-moved voices, "
            f"{'with' if festival_vocoded else 'without'} festival's vocoded voices"
            f"{', with their statistical copies' if festival_statistical else ''}; "
            f"data ready after {time.time() - t0:.0f} s: {len(data['pos'])} positive windows, "
            f"{len(data['conf'])} confusable windows, {sum(len(s) for s in neg) * 0.02 / 3600:.1f} h of negatives")
        rng = np.random.default_rng(seed)
        params = net.init(rng, channels)
        opt = net.Adam(params)
        task = progress.add_task("training", total=steps + qat_steps)
        q = None
        loss_avg = None
        stepper = _Stepper(data, neg, aug=aug)
        for i in range(steps + qat_steps):
            if i == steps:
                q = net.calibrate(params, data["pos"][:256])
            frac = i / (steps + qat_steps)
            lr = 2e-3 * (0.5 * (1 + np.cos(np.pi * frac))) + 1e-5
            loss = stepper.step(params, opt, seed, i, q, lr)
            loss_avg = loss if loss_avg is None else 0.98 * loss_avg + 0.02 * loss
            progress.update(task, advance=1, description=f"training (loss {loss_avg:.3f}{', quantized' if q else ''})")
            if not progress.console.is_terminal and i % 500 == 0:  # a log file still shows progress
                log(f"step {i}/{steps + qat_steps}, loss {loss_avg:.3f}, {time.time() - t0:.0f} s")
        stepper.close()
        qm = net.export(params, q, phrase)
        qm.smooth = pick_smoothing(qm, data, vneg, log) if smoothing is None else smoothing
        rows, frr, row, _ = validate(qm, data, vneg)
    if row is None:
        msg = f"no threshold reaches {GATE_FA_PER_HOUR} false accepts per hour on validation"
    else:
        qm.threshold = row[0]
        conf = confusable_rate(qm, data["vconf"], row[0])
        msg = (f"validation (unseen voices): FRR {frr:.1%} at {row[3]:.2f} FA/h, threshold {row[0]:.4f}; "
               f"{conf:.1%} of confusable phrases fire")
    log(msg)
    size = len(qm.to_bytes())
    if row is None or frr > GATE_FRR:
        if not force:
            qm.save(str(out) + ".rejected")  # kept for a look, never under the model's name
            raise PocketError(f"model not exported: {msg} (the gate is FRR <= {GATE_FRR:.0%})",
                              hint="train longer (--steps), or pass --force to export anyway")
        log("exporting anyway (--force)")
    qm.save(out)
    log(f"wrote {out} ({size} bytes) in {time.time() - t0:.0f} s")
    return qm, rows


ENROLL_COPIES = 40  # augmented windows per enrollment clip (rooms, noise, levels, as training's)
ENROLL_SPEECH_PASSES = 4  # differently augmented passes over the speaker's other speech


def enroll(qm, clips, root, *, speech=(), steps=300, seed=0, lr=3e-4, training=None, log=print):
    """`qm` fine-tuned to hear one speaker too: `clips` are that speaker saying the
    phrase (int16, 16 kHz). Their augmented windows make half of each batch's
    positives; the rest of every batch is training's (its positives, confusables and
    other speech, from the phrase's cache, or `training` = (features, negative streams,
    background speech) as _features gives them), so the model keeps what it knew.
    `speech`: the same speaker saying other things; augmented streams of it make about
    a third of the negative windows, so the model does not learn "this voice means yes".
    Threshold, smoothing and refractory period stay the model's."""
    if not clips:
        raise PocketError("no enrollment clips", hint="give a few recordings of the phrase")
    t0 = time.time()
    params, q = net.from_model(qm)
    if training is None:
        root = Path(root)
        with _progress() as progress:
            corpus.build(qm.phrase, root, seed=0, progress=progress, parts=[
                "pos_train", "conf_train", "speech_train", "pos_valid", "conf_valid", "speech_valid"])
            data, neg, _ = _features(qm.phrase, root, 0, progress)
        other, _ = clips_load(corpus.cache_dir(qm.phrase, root) / "speech_train.npz")
    else:
        data, neg, other = training
    rng = np.random.default_rng(seed)
    bg = [other[i] for i in rng.choice(len(other), size=min(300, len(other)), replace=False)]
    ef, ee = dataset.windows(clips, ENROLL_COPIES, seed + 7, bg=bg)
    keep = rng.choice(len(data["pos"]), size=min(len(ef), len(data["pos"])), replace=False)
    mixed = dict(data, pos=np.concatenate([ef, data["pos"][keep]]),
                 pos_end=np.concatenate([ee, data["pos_end"][keep]]))
    if speech:
        mine = []
        for k in range(ENROLL_SPEECH_PASSES):
            mine.extend(dataset.streams(list(speech), 4, seed + 11 + k, pool=bg)[0])
        # about a third of the streams the negative windows are drawn from
        neg = list(neg) + mine * max(1, len(neg) // (2 * len(mine)))
    opt = net.Adam(params)
    stepper = _Stepper(mixed, neg, aug="bandlimit")
    try:
        for i in range(steps):
            stepper.step(params, opt, seed, i, q, lr)
    finally:
        stepper.close()
    out = net.export(params, q, qm.phrase, qm.smooth, qm.refractory, qm.threshold)
    log(f"enrolled {len(clips)} clips ({len(ef)} windows), {steps} steps in {time.time() - t0:.0f} s")
    return out

"""Adapting the recogniser's acoustic model to what a board hears (MLLR, then MAP).

PocketSphinx's acoustic model was trained on other microphones and other voices. From a few
minutes of speech whose words are known, sphinxtrain (Debian packages, installed by ./run setup)
moves the model toward a board's microphone and the speech it hears, in two steps:

  1. MLLR: one linear transform of all the Gaussian means, estimated through a forced alignment
     of each recording with its words (bw, mllr_solve), applied to the means (mllr_transform);
  2. MAP: each Gaussian's mean and variance moved toward what the same recordings, aligned again
     with the transformed model, say of it, in proportion to how much of it they saw (map_adapt).

The result is a copy of the model with its own means and variances, which every decoder loads
(PocketSphinx's `hmm` setting). The wheel's model ships its mixture weights only in PocketSphinx's
compressed `sendump` form and its model definition in binary; bw reads neither, so both are
converted first (`_prepare`). Features come from sphinx_fe (sphinxbase-utils) with the model's own
settings.

    model_dir = estimate([(pcm, "set a timer for five minutes"), ...], "/path/to/board-model").model
    engine = PocketSphinxEngine(acoustic_model=model_dir)
"""

import os
import re
import shutil
import struct
import subprocess
import tempfile
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pocket_agent.errors import PocketError

SETUP_HINT = "./run setup installs them (Debian's sphinxtrain, sphinxbase-utils and pocketsphinx)"
TOOLS = {"sphinx_fe": "sphinx_fe", "mdef_convert": "pocketsphinx_mdef_convert",
         "bw": "/usr/lib/sphinxtrain/bw", "mllr_solve": "/usr/lib/sphinxtrain/mllr_solve",
         "mllr_transform": "/usr/lib/sphinxtrain/mllr_transform", "map_adapt": "/usr/lib/sphinxtrain/map_adapt"}
# Too little speech gives a model that fits those few words and hurts the rest.
MIN_SECONDS = 30.0
ADAPTED = ("means", "variances")  # the files the adapted model has of its own
# where the agents' state records a board's adapted model:
# {"model": folder, "recordings": n, "seconds": s (may be absent), "made": unix time}
BOARD_SETTING = "asr_adaptation"
# the model's feature settings that sphinx_fe takes; the others (feat, svspec, agc, cmn) are bw's
FE_SETTINGS = ("lowerf", "upperf", "nfilt", "transform", "lifter", "remove_noise")
BW_SETTINGS = ("feat", "svspec", "agc", "varnorm")


@dataclass
class Adaptation:
    model: str  # the adapted model's folder: what PocketSphinxEngine(acoustic_model=...) loads
    used: int  # recordings aligned
    seconds: float  # of audio aligned
    skipped: list = field(default_factory=list)  # (index, why)
    # mean log likelihood per frame of each alignment: the original model, through the first
    # transform, with the transformed means
    loglik: list = field(default_factory=list)


def tools():
    """Paths of sphinxtrain's programs; a clear error when one is missing."""
    found = {}
    for name, program in TOOLS.items():
        path = shutil.which(program)
        if path is None:
            raise PocketError(f"acoustic adaptation needs {program}, which is not installed", hint=SETUP_HINT)
        found[name] = path
    return found


def base_model():
    import pocketsphinx

    return Path(pocketsphinx.get_model_path("en-us/en-us"))


def _s3_shape(path):
    """The dimensions in an s3 Gaussian file's header (codebooks, streams, densities)."""
    with open(path, "rb") as f:
        head = f.read(4096)
    end = head.find(b"endhdr\n")
    if not head.startswith(b"s3\n") or end < 0:
        raise ValueError("no s3 header")
    return struct.unpack_from("<iiii", head, end + 7)[1:]


def check_model(folder):
    """A clear error unless `folder` holds an adapted model this recogniser can load."""
    folder = Path(folder)
    want = _s3_shape(base_model() / "means")
    try:  # its own files as big as the base model's (same shapes, same format), and all the others there
        ok = all(_s3_shape(folder / name) == want and (folder / name).stat().st_size ==
                 (base_model() / name).stat().st_size for name in ADAPTED)
        ok = ok and all((folder / f.name).exists() for f in base_model().iterdir())
    except (OSError, ValueError, struct.error):
        ok = False
    if not ok:
        raise PocketError(f"{folder} is not an adapted acoustic model this recogniser can load",
                          hint="make it again with `pocket speech adapt`")
    return str(folder)


def sendump_weights(path):
    """Mixture weights (senones x streams x codewords) from PocketSphinx's `sendump` file.

    After a header of length-prefixed strings ending with a zero length come the number of
    codewords and of senones, then one byte per (stream, codeword, senone): minus the weight's
    log base 1.0001, shifted right by 10 bits.
    """
    data = Path(path).read_bytes()
    pos = 0
    while True:
        (n,) = struct.unpack_from("<i", data, pos)
        pos += 4 + n
        if n == 0:
            break
    n_code, n_senone = struct.unpack_from("<ii", data, pos)
    pos += 8
    n_stream, rest = divmod(len(data) - pos, n_code * n_senone)
    if rest or n_stream < 1:
        raise PocketError(f"{path} is not a sendump file this code reads")
    q = np.frombuffer(data, np.uint8, offset=pos).reshape(n_stream, n_code, n_senone)
    w = np.power(1.0001, -(q.astype(np.float64) * 1024.0)).transpose(2, 0, 1)
    return w / w.sum(axis=2, keepdims=True)


def _write_mixw(weights, path):
    # sphinxtrain's s3 binary format, without the optional checksum
    with open(path, "wb") as f:
        f.write(b"s3\nversion 1.0\nendhdr\n")
        f.write(struct.pack("<iiiii", 0x11223344, *weights.shape, weights.size))
        f.write(weights.astype("<f4").tobytes())


def _feat_params(model):
    settings = {}
    for line in (model / "feat.params").read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].startswith("-"):
            settings[parts[0][1:]] = parts[1]
    return settings


def _prepare(model, work, found):
    """bw's inputs: the model definition as text and the mixture weights as an s3 file."""
    _run([found["mdef_convert"], "-text", str(model / "mdef"), str(work / "mdef.txt")], "convert the model definition")
    _write_mixw(sendump_weights(model / "sendump"), work / "mixture_weights")


def _run(cmd, what, log=None):
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=3600)
    except OSError as exc:
        raise PocketError(f"could not {what}: {exc}", hint=SETUP_HINT) from exc
    if log is not None:
        log.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise PocketError(f"could not {what} ({Path(cmd[0]).name} exited {done.returncode}): {' | '.join(tail)}")
    return done.stdout + done.stderr


def _pronunciations(words):
    import pocketsphinx

    from .sphinx import EXTRA_PRONUNCIATIONS

    found = {}
    with open(pocketsphinx.get_model_path("en-us/cmudict-en-us.dict"), encoding="utf-8") as f:
        for line in f:
            word, phones = line.split(" ", 1)
            if word in words and word not in found:  # the first pronunciation; bw takes one
                found[word] = phones.strip()
    for word, phones in EXTRA_PRONUNCIATIONS.items():
        if word in words:
            found[word] = phones
    return found


def estimate(recordings, out, work_dir=None):
    """An adapted model in folder `out` (made whole, then put in place) from (16 kHz mono int16 PCM,
    its words) pairs -> Adaptation."""
    from pocket_agent.host.agent.grammar import normalize

    from .sphinx import PocketSphinxEngine

    found = tools()
    model = base_model()
    recordings = [(bytes(pcm), normalize(text)) for pcm, text in recordings]
    known = _pronunciations({w for _, text in recordings for w in text.split()})
    skipped, kept = [], []
    for i, (pcm, text) in enumerate(recordings):
        unknown = [w for w in text.split() if w not in known]
        if not text:
            skipped.append((i, "no words"))
        elif unknown:
            skipped.append((i, f"words the recogniser cannot say: {', '.join(unknown)}"))
        elif len(pcm) < 2 * 16000 * 0.3:
            skipped.append((i, "shorter than 0.3 s"))
        else:
            kept.append((i, pcm, text))
    seconds = sum(len(pcm) for _, pcm, _ in kept) / 32000
    if seconds < MIN_SECONDS:
        raise PocketError(f"{seconds:.0f} s of usable speech is too little to adapt to "
                          f"(at least {MIN_SECONDS:.0f} s: about 15 requests)",
                          hint="record more requests with their words")
    own = work_dir is None
    work = Path(tempfile.mkdtemp(prefix="pocket-adapt-")) if own else Path(work_dir)
    try:
        return _estimate(found, model, work, kept, skipped, seconds, known, PocketSphinxEngine.dither, Path(out))
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


def _estimate(found, model, work, kept, skipped, seconds, known, dither, out):
    (work / "wav").mkdir(parents=True, exist_ok=True)
    (work / "mfc").mkdir(exist_ok=True)
    _prepare(model, work, found)
    ids = []
    for i, pcm, _ in kept:
        uid = f"u{i:05d}"
        ids.append(uid)
        with wave.open(str(work / "wav" / f"{uid}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes(dither(pcm, np.random.default_rng(i)))  # as the decoders hear it
    (work / "ids").write_text("".join(f"{uid}\n" for uid in ids))
    (work / "words").write_text("".join(f"<s> {text} </s> ({uid})\n" for uid, (_, _, text) in zip(ids, kept)))
    (work / "dict").write_text("".join(f"{w} {p}\n" for w, p in sorted(known.items())))
    params = _feat_params(model)
    fe = [found["sphinx_fe"], "-samprate", "16000", "-remove_silence", "no", "-dither", "no"]
    fe += [a for k in FE_SETTINGS if k in params for a in (f"-{k}", params[k])]
    _run(fe + ["-c", str(work / "ids"), "-di", str(work / "wav"), "-do", str(work / "mfc"),
               "-ei", "wav", "-eo", "mfc", "-mswav", "yes"], "compute features")
    common = ["-moddeffn", str(work / "mdef.txt"), "-mixwfn", str(work / "mixture_weights"),
              "-varfn", str(model / "variances"), "-tmatfn", str(model / "transition_matrices"),
              "-ts2cbfn", ".ptm."]
    bw = [found["bw"], *common, "-cmn", "batch", "-dictfn", str(work / "dict"), "-fdictfn", str(model / "noisedict"),
          "-ctlfn", str(work / "ids"), "-lsnfn", str(work / "words"), "-cepdir", str(work / "mfc"), "-timing", "no"]
    bw += [a for k in BW_SETTINGS if k in params for a in (f"-{k}", params[k])]
    loglik, failed = [], set()

    def align(means, extra=()):
        acc = work / f"acc-{len(loglik)}"
        acc.mkdir(exist_ok=True)
        out = _run(bw + ["-meanfn", str(means), "-accumdir", str(acc), *extra], "align the recordings",
                   log=work / f"bw-{len(loglik)}.log")
        failed.update(re.findall(r"(u\d{5}) ignored", out))  # bw: its alignment never reached the end
        stats = re.search(r"overall> stats (\d+) \([^)]*\) (\S+)", out)
        if not stats or int(stats.group(1)) == 0:
            raise PocketError("no recording could be aligned with its words",
                              hint="check that each recording says its text, at 16 kHz")
        loglik.append(float(stats.group(2)))
        return acc

    extra = ()
    for _ in range(2):  # the second alignment goes through the first transform
        acc = align(model / "means", extra)
        solved = work / f"mllr-{len(loglik)}"
        _run([found["mllr_solve"], "-meanfn", str(model / "means"), "-varfn", str(model / "variances"),
              "-outmllrfn", str(solved), "-accumdir", str(acc)], "estimate the transform")
        extra = ("-mllrmat", str(solved))
    means = work / "means.mllr"
    _run([found["mllr_transform"], "-inmeanfn", str(model / "means"), "-outmeanfn", str(means),
          "-mllrmat", str(solved)], "transform the means")
    acc = align(means)
    (work / "model").mkdir()
    _run([found["map_adapt"], *common, "-meanfn", str(means), "-accumdir", str(acc),
          "-mapmeanfn", str(work / "model" / "means"), "-mapvarfn", str(work / "model" / "variances"),
          "-mapmixwfn", str(work / "map_mixw"), "-maptmatfn", str(work / "map_tmat")], "adapt the model")
    if failed:
        skipped += [(int(uid[1:]), "its words could not be aligned with the audio") for uid in sorted(failed)]
    _put(model, work, out)
    return Adaptation(str(out), len(kept) - len(failed), seconds, sorted(skipped), loglik)


def _put(model, work, out):
    """The adapted model in `out`: the base model's other files beside its own, swapped in whole."""
    made = work / "model"
    for f in model.iterdir():
        if f.name not in ADAPTED:
            shutil.copyfile(f, made / f.name)
    check_model(made)
    out.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    shutil.copytree(made, fresh, dirs_exist_ok=True)
    old = out.with_name(f".{out.name}-old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        os.replace(out, old)
    os.replace(fresh, out)
    shutil.rmtree(old, ignore_errors=True)

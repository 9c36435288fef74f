"""Adapting the recogniser's acoustic model to what a board hears (MLLR).

PocketSphinx's acoustic model was trained on other microphones and other voices. One linear
transform of all its Gaussian means (maximum likelihood linear regression), estimated from a few
minutes of speech whose words are known, moves the model toward a board's microphone and the
speech it hears; every decoder then loads it (PocketSphinx's `mllr` setting). Estimating it is
sphinxtrain's job (Debian packages, installed by ./run setup):

  sphinx_fe          the model's own features of each recording (sphinxbase-utils);
  bw                 a forced alignment of each recording with its words, and the statistics;
  mllr_solve         the transform from those statistics (sphinxtrain).

The wheel's model ships its mixture weights only in PocketSphinx's compressed `sendump` form and
its model definition in binary; bw reads neither, so both are converted first (`_prepare`).

    text = estimate([(pcm, "set a timer for five minutes"), ...]).transform
    engine = PocketSphinxEngine(adaptation=text)
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
         "bw": "/usr/lib/sphinxtrain/bw", "mllr_solve": "/usr/lib/sphinxtrain/mllr_solve"}
# Too little speech gives a transform that fits those few words and hurts the rest.
MIN_SECONDS = 30.0
ITERATIONS = 2  # the second alignment uses the first transform
# the model's feature settings that sphinx_fe takes; the others (feat, svspec, agc, cmn) are bw's
FE_SETTINGS = ("lowerf", "upperf", "nfilt", "transform", "lifter", "remove_noise")
BW_SETTINGS = ("feat", "svspec", "agc", "varnorm")


@dataclass
class Adaptation:
    transform: str  # mllr_solve's text: what PocketSphinxEngine(adaptation=...) loads
    used: int  # recordings aligned
    seconds: float  # of audio aligned
    skipped: list = field(default_factory=list)  # (index, why)
    loglik: list = field(default_factory=list)  # mean log likelihood per frame, per alignment pass


def tools():
    """Paths of sphinxtrain's programs; a clear error when one is missing."""
    found = {}
    for name, program in TOOLS.items():
        path = shutil.which(program)
        if path is None:
            raise PocketError(f"acoustic adaptation needs {program}, which is not installed", hint=SETUP_HINT)
        found[name] = path
    return found


def validate(text):
    """Check a transform's shape: as mllr_solve writes it for this model, one class, then for
    each of the 3 streams its length (13) and the matrix A, offset b and variance scale h."""
    sizes = []
    try:
        values = text.split()
        ok = int(values[0]) == 1 and int(values[1]) == 3
        pos = 2
        while ok and pos < len(values):
            n = int(values[pos])
            sizes.append(n)
            [float(v) for v in values[pos + 1:pos + 1 + n * n + 2 * n]]
            pos += 1 + n * n + 2 * n
        ok = ok and pos == len(values) and sizes == [13, 13, 13]
    except (ValueError, IndexError):
        ok = False
    if not ok:
        raise PocketError("the acoustic adaptation is not a transform for this model",
                          hint="make it again with `pocket speech adapt`")
    return text


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


def estimate(recordings, iterations=ITERATIONS, work_dir=None):
    """One transform from (16 kHz mono int16 PCM, its words) pairs -> Adaptation."""
    import pocketsphinx

    from pocket_agent.host.agent.grammar import normalize

    from .sphinx import PocketSphinxEngine

    found = tools()
    model = Path(pocketsphinx.get_model_path("en-us/en-us"))
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
        return _estimate(found, model, work, kept, skipped, iterations, seconds, known, PocketSphinxEngine.dither)
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


def _estimate(found, model, work, kept, skipped, iterations, seconds, known, dither):
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
    bw = [found["bw"], "-moddeffn", str(work / "mdef.txt"), "-mixwfn", str(work / "mixture_weights"),
          "-meanfn", str(model / "means"), "-varfn", str(model / "variances"),
          "-tmatfn", str(model / "transition_matrices"), "-ts2cbfn", ".ptm.", "-cmn", "batch",
          "-dictfn", str(work / "dict"), "-fdictfn", str(model / "noisedict"), "-ctlfn", str(work / "ids"),
          "-lsnfn", str(work / "words"), "-cepdir", str(work / "mfc"), "-timing", "no"]
    bw += [a for k in BW_SETTINGS if k in params for a in (f"-{k}", params[k])]
    loglik, transform = [], None
    failed = set()
    for step in range(max(1, iterations)):
        acc = work / f"acc{step}"
        acc.mkdir(exist_ok=True)
        extra = ["-mllrmat", str(transform)] if transform else []
        out = _run(bw + extra + ["-accumdir", str(acc)], "align the recordings", log=work / f"bw{step}.log")
        failed |= set(re.findall(r"(u\d{5}) ignored", out))  # bw: its alignment never reached the end
        stats = re.search(r"overall> stats (\d+) \([^)]*\) (\S+)", out)
        if not stats or int(stats.group(1)) == 0:
            raise PocketError("no recording could be aligned with its words",
                              hint="check that each recording says its text, at 16 kHz")
        loglik.append(float(stats.group(2)))
        transform = work / f"mllr{step}"
        _run([found["mllr_solve"], "-meanfn", str(model / "means"), "-varfn", str(model / "variances"),
              "-outmllrfn", str(transform), "-accumdir", str(acc)], "solve the transform")
    text = validate(transform.read_text())
    if failed:
        skipped += [(int(uid[1:]), "its words could not be aligned with the audio") for uid in sorted(failed)]
    return Adaptation(text, len(kept) - len(failed), seconds, sorted(skipped), loglik)


def transform_file(text, folder=None):
    """Write a transform where PocketSphinx can read it; the caller removes the file."""
    fd, path = tempfile.mkstemp(prefix="pocket-mllr-", suffix=".txt", dir=folder)
    with os.fdopen(fd, "w") as f:
        f.write(validate(text))
    return path

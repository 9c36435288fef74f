"""Speech engines from Debian: espeak-ng and festival for training, flite (and the
festival voices kept out of training) for evaluation. Each returns int16 16 kHz."""

import shutil
import subprocess
import tempfile
from pathlib import Path

from pocket_agent.errors import PocketError

from .audio import read_wav

# Festival voices used for training and validation (never kal or slt).
FESTIVAL_TRAIN = [
    "ked_diphone", "czech_dita", "czech_krb", "czech_ph", "upc_ca_ona_hts",
    "hy_fi_mv_diphone", "lp_diphone", "msu_ru_nsh_clunits",
]
FESTIVAL_VALID = ["czech_machac", "suo_fi_lj_diphone", "pc_diphone"]
# One Indian English-accented speaker (NSK) whose voices read only their own
# script: the phrase and confusables respelled (texts.RESPELL, CONFUSABLES_NATIVE).
FESTIVAL_TRAIN_NATIVE = ["hindi_NSK_diphone", "marathi_NSK_diphone", "telugu_NSK_diphone"]
# Held out for evaluation only: another engine (flite) and the two festival
# voices the issue keeps out of training.
FLITE_EVAL = ["kal", "kal16", "awb", "rms", "slt"]
FESTIVAL_EVAL = ["kal_diphone", "cmu_us_slt_arctic_hts"]


# The Debian packages behind each festival voice (./run installs them all).
FESTIVAL_PACKAGES = {
    "ked_diphone": "festvox-kdlpc16k", "czech_dita": "festvox-czech-dita",
    "czech_krb": "festvox-czech-krb", "czech_ph": "festvox-czech-ph",
    "czech_machac": "festvox-czech-machac", "upc_ca_ona_hts": "festvox-ca-ona-hts",
    "hy_fi_mv_diphone": "festvox-suopuhe-mv", "suo_fi_lj_diphone": "festvox-suopuhe-lj",
    "lp_diphone": "festvox-italp16k", "pc_diphone": "festvox-itapc16k",
    "msu_ru_nsh_clunits": "festvox-ru",
    "hindi_NSK_diphone": "festvox-hi-nsk festival-hi",
    "marathi_NSK_diphone": "festvox-mr-nsk festival-mr",
    "telugu_NSK_diphone": "festvox-te-nsk festival-te",
    "kal_diphone": "festvox-kallpc16k", "cmu_us_slt_arctic_hts": "festvox-us-slt-hts",
}
_voices_ready = set()


def need(tool, package):
    if not shutil.which(tool):
        raise PocketError(f"{tool} is not installed", hint=f"apt-get install {package}")


def need_festival_voice(voice):
    """Fail with the package to install when festival cannot load `voice`: without
    this check a missing voice gave an empty set, and a model trained without it."""
    need("festival", "festival")
    if voice in _voices_ready:
        return
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "load.scm"
        script.write_text(f"(voice_{voice})\n(print \"voice-loaded\")\n")
        r = subprocess.run(["festival", "-b", str(script)], capture_output=True, timeout=120)
    if b"voice-loaded" not in r.stdout:
        why = r.stderr.decode(errors="replace").strip().splitlines()
        raise PocketError(f"festival cannot load its voice {voice}" + (f" ({why[0]})" if why else ""),
                          hint=f"apt-get install {FESTIVAL_PACKAGES.get(voice, 'the package of that voice')}")
    _voices_ready.add(voice)


def espeak(text, voice="en-us", speed=160, pitch=50, ssml=False):
    need("espeak-ng", "espeak-ng")
    args = ["espeak-ng", "-v", voice, "-s", str(int(speed)), "-p", str(int(pitch)), "-a", "150"]
    if ssml:
        args.append("-m")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.wav"
        src = Path(tmp) / "in.txt"
        src.write_text(text, encoding="utf-8")
        subprocess.run(args + ["-w", str(out), "-f", str(src)], check=True, capture_output=True, timeout=600)
        return read_wav(out)


def _scheme_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# Synthesis up to the pitch targets, which are then moved (scaled by `k`, their
# spread about the mean by `r`, kept within 50-400 Hz, as festival crashes on a
# contour at or below zero) before the waveform is made. Only diphone voices
# follow the targets (FESTIVAL_DIPHONE_TRAIN); HTS and unit-selection voices ignore them.
_SYNTH_F0 = """(define (synth_f0 text k r)
  (let ((u (eval (list (quote Utterance) (quote Text) text))) (ts nil) (m 0))
    (Initialize u) (Text u) (Token_POS u) (Token u) (POS u) (Phrasify u) (Word u)
    (Pauses u) (Intonation u) (PostLex u) (Duration u) (Int_Targets u)
    (set! ts (utt.relation.items u 'Target))
    (mapcar (lambda (t) (set! m (+ m (item.feat t "f0")))) ts)
    (if ts (set! m (/ m (length ts))))
    (mapcar (lambda (t)
              (let ((f (* k (+ m (* r (- (item.feat t "f0") m))))))
                (item.set_feat t "f0" (if (< f 50) 50 (if (> f 400) 400 f)))))
            ts)
    (Wave_Synth u)
    u))"""
FESTIVAL_DIPHONE_TRAIN = ["ked_diphone", "czech_dita", "czech_krb", "czech_ph", "hy_fi_mv_diphone", "lp_diphone"]


def festival(voice, items, timeout=1800, resume=False):
    """Synthesize [(text, duration_stretch), ...] with one festival process. An item
    may add (f0_scale, f0_range) to move a diphone voice's pitch contour. Festival
    stops at the first text its voice cannot say (the rest come back None); with
    `resume` a new process goes on after it. (Off for the sets of the committed
    models, which were made without it.)"""
    need_festival_voice(voice)
    with tempfile.TemporaryDirectory() as tmp:
        head = [f"(voice_{voice})"] + ([_SYNTH_F0] if any(len(it) > 2 for it in items) else [])
        first = 0
        while first < len(items):
            lines = list(head)
            for i in range(first, len(items)):
                text, stretch, *f0 = items[i]
                lines.append(f"(Parameter.set 'Duration_Stretch {stretch:.3f})")
                if f0:
                    lines.append(f"(set! u (synth_f0 {_scheme_string(text)} {f0[0]:.3f} {f0[1]:.3f}))")
                else:
                    lines.append(f"(set! u (Utterance Text {_scheme_string(text)}))")
                    lines.append("(utt.synth u)")
                lines.append(f"(utt.save.wave u \"{tmp}/{i:05d}.wav\" 'riff)")
            script = Path(tmp) / "run.scm"
            script.write_text("\n".join(lines) + "\n", encoding="utf-8")
            subprocess.run(["festival", "-b", str(script)], capture_output=True, timeout=timeout)
            done = first
            while done < len(items) and (Path(tmp) / f"{done:05d}.wav").exists():
                done += 1
            first = done + 1 if resume else len(items)  # past the item it stopped at
        out = []
        for i in range(len(items)):
            p = Path(tmp) / f"{i:05d}.wav"
            out.append(read_wav(p) if p.exists() and p.stat().st_size > 44 else None)
        return out


def flite(text, voice="kal", stretch=1.0, f0=None):
    need("flite", "flite")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.wav"
        args = ["flite", "-voice", voice, "--setf", f"duration_stretch={stretch:.3f}"]
        if f0:
            args += ["--setf", f"int_f0_target_mean={f0:.0f}"]
        subprocess.run(args + ["-t", text, "-o", str(out)], check=True, capture_output=True, timeout=600)
        return read_wav(out)

"""`pocket wakeword detect` end to end on synthesized speech, and its errors."""

import json
import wave

import numpy as np
import pytest

from pocket_agent.cli import main
from pocket_agent.models.wakeword.audio import write_wav

from .conftest import espeak_pcm


def _run(capsys, *argv):
    code = main(["wakeword", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    silence = np.zeros(8000, np.int16)
    pos = [espeak_pcm("hey pocket", "en-us", 150, 50), espeak_pcm("hey pocket", "en-gb-x-rp+m4", 170, 40)]
    neg = [espeak_pcm("the rocket left the launch pad early this morning", "en-us", 160, 50),
           espeak_pcm("please put the keys in your jacket", "en-gb-x-rp+f3", 160, 60)]
    files = {}
    for name, pcm in [("pos0", pos[0]), ("pos1", pos[1]), ("neg0", neg[0]), ("neg1", neg[1])]:
        files[name] = d / f"{name}.wav"
        write_wav(files[name], np.concatenate([silence, pcm, silence]))
    return files


def test_positives_detected_negatives_not(capsys, clips):
    code, out, err = _run(capsys, "detect", "--json", *(str(clips[k]) for k in ("pos0", "pos1", "neg0", "neg1")))
    assert code == 0, err
    res = {r["file"].rsplit("/", 1)[-1]: r for r in json.loads(out)}
    for k in ("pos0", "pos1"):
        r = res[f"{k}.wav"]
        assert len(r["detections"]) == 1, r
        assert 0.5 < r["detections"][0] <= r["seconds"] - 0.2
    for k in ("neg0", "neg1"):
        assert res[f"{k}.wav"]["detections"] == []


def test_plain_output_and_resampled_stereo(capsys, clips, tmp_path):
    from pocket_agent.models.wakeword.audio import read_wav, resample

    pcm = read_wav(clips["pos0"]).astype(np.float64)
    x = np.clip(np.round(resample(pcm, 16000, 44100)), -32768, 32767).astype("<i2")
    path = tmp_path / "stereo44k.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(np.stack([x, x], axis=1).tobytes())
    code, out, _ = _run(capsys, "detect", str(path))
    assert code == 0
    assert out.startswith(str(path) + ": ") and "no detection" not in out


def test_errors_are_clear(capsys, clips, tmp_path):
    code, _, err = _run(capsys, "detect", str(tmp_path / "missing.wav"))
    assert code == 2 and "no such file" in err
    bad = tmp_path / "not.wav"
    bad.write_bytes(b"this is not audio at all")
    code, _, err = _run(capsys, "detect", str(bad))
    assert code == 2 and "not a PCM WAV file" in err and "hint:" in err
    empty = tmp_path / "empty.wav"
    write_wav(empty, np.zeros(0, np.int16))
    code, _, err = _run(capsys, "detect", str(empty))
    assert code == 2 and "no audio" in err
    code, _, err = _run(capsys, "detect", "--model", "hey_nobody", str(clips["pos0"]))
    assert code == 2 and "unknown wake-word model" in err and "hey_pocket" in err
    broken = tmp_path / "broken.pwm"
    from .conftest import MODELS

    broken.write_bytes((MODELS / "hey_pocket.pwm").read_bytes()[:500])
    code, _, err = _run(capsys, "detect", "--model", str(broken), str(clips["pos0"]))
    assert code == 2 and "truncated" in err
    code, _, err = _run(capsys, "detect", "--threshold", "1.5", str(clips["pos0"]))
    assert code == 2 and "threshold" in err


def test_train_refuses_an_unknown_augmentation_before_any_work(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("POCKET_WAKEWORD_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "m.pwm"
    with pytest.raises(SystemExit) as exc:
        main(["wakeword", "train", "--aug", "warp", "--out", str(out)])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert "--aug: invalid choice: 'warp'" in err and "'mask'" in err and "'all'" in err
    assert "Traceback" not in err
    assert not out.exists() and not (tmp_path / "cache").exists()


def test_train_offers_exactly_the_trainings_augmentations():
    from pocket_agent.models import wakeword_cli
    from pocket_agent.models.wakeword import specaug

    assert set(wakeword_cli.AUG_CHOICES) == set(specaug.AUGMENTS)


PINNED = r'''
import ctypes, glob, os, sys
from pocket_agent.models import wakeword_cli
print(wakeword_cli.pin_floats(sys.argv[1]))
import numpy
lib = glob.glob(os.path.join(os.path.dirname(numpy.__file__), "..", "numpy.libs", "libscipy_openblas64_*.so"))
core = b"?"
if lib:
    f = ctypes.CDLL(lib[0]).scipy_openblas_get_corename64_
    f.restype = ctypes.c_char_p
    core = f()
print(core.decode(), numpy._core._multiarray_umath.__cpu_features__.get("X86_V4", False), os.environ["OPENBLAS_NUM_THREADS"])
print(wakeword_cli.pin_floats(sys.argv[1]))
'''


def test_training_pins_numpy_and_blas_to_avx2_code(tmp_path):
    """The same seed trained another model on an AVX-512 machine: the command runs
    numpy and OpenBLAS with AVX2 code, so its floats do not follow the CPU's extras."""
    import os
    import subprocess
    import sys

    from pocket_agent.models.wakeword_cli import FLOAT_ENV

    # a machine may set these itself (OPENBLAS_CORETYPE for its CPU): the check is what the command sets
    env = {k: v for k, v in os.environ.items() if k not in FLOAT_ENV}

    def run(flags):
        info = tmp_path / "cpuinfo"
        info.write_text(f"processor\t: 0\nflags\t\t: fpu sse2 {flags}\n")
        r = subprocess.run([sys.executable, "-c", PINNED, str(info)], capture_output=True, text=True, check=True,
                           env=env)
        return r.stdout.split("\n")

    real = open("/proc/cpuinfo").read()
    if " avx2" in real and " fma" in real:
        first, figures, again, _ = run("avx avx2 fma")
        assert (first, *figures.split(), again) == ("True", "Haswell", "False", "1", "False")
    # a CPU without AVX2: only BLAS's thread count, never a kernel it cannot run
    out = run("avx")
    assert out[0] == "True" and out[1].split()[0] != "Haswell" and out[1].split()[2] == "1"

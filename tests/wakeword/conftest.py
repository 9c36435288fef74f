import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from pocket_agent.models.wakeword import net, qmodel
from pocket_agent.models.wakeword.audio import read_wav

MODELS = Path(__file__).resolve().parents[2] / "models" / "wakeword"


def espeak_pcm(text, voice="en-us", speed=160, pitch=50):
    if not shutil.which("espeak-ng"):
        pytest.fail("espeak-ng is needed (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "s.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(out), text],
                       check=True, capture_output=True)
        return read_wav(out)


@pytest.fixture(scope="session")
def corpus_pcm():
    """A small corpus: speech at several levels, noise, silence, clipping, tiny signals."""
    rng = np.random.default_rng(7)
    speech = espeak_pcm("hey pocket, what is the weather like today")
    parts = [
        np.zeros(4000, np.int16),
        speech,
        (speech.astype(np.int32) // 300).astype(np.int16),  # about -50 dB
        np.clip(speech.astype(np.int32) * 8, -32768, 32767).astype(np.int16),  # clipped
        rng.integers(-2, 3, 6000).astype(np.int16),  # near-silent dither
        np.clip(rng.normal(0, 9000, 8000), -32768, 32767).astype(np.int16),
        np.full(3000, -32768, np.int16),  # DC at full negative scale
        (32767 * np.sin(np.arange(6000) * 0.3)).astype(np.int16),
    ]
    return np.concatenate(parts)


@pytest.fixture(scope="session")
def random_model(corpus_pcm):
    """An untrained model with random weights: exercises every integer path."""
    from pocket_agent.models.wakeword import frontend

    rng = np.random.default_rng(3)
    p = net.init(rng, channels=24)
    for k in p:
        if k.endswith("_b"):
            p[k] = rng.normal(0, 0.3, p[k].shape).astype(np.float32)
    p["out_w"] *= 30
    q = net.calibrate(p, frontend.features(corpus_pcm)[None])
    return net.export(p, q, "hey test", smooth=3, refractory=20, threshold=0.6)


@pytest.fixture(scope="session")
def pocket_model():
    return qmodel.load(MODELS / "hey_pocket.pwm")


class _Stop(Exception):
    pass


def parts_asked(monkeypatch, tmp_path, **kw):
    """The parts train.train() asks corpus.build() for with these options (stopped there)."""
    from pocket_agent.models.wakeword import corpus, train

    asked = []

    def build(phrase, root, *, seed=0, workers=2, progress=None, parts=None):
        asked.append(list(parts))
        raise _Stop

    monkeypatch.setattr(corpus, "build", build)
    with pytest.raises(_Stop):
        train.train("hey pocket", tmp_path / "m.pwm", tmp_path / "cache", **kw)
    return set(asked[0])

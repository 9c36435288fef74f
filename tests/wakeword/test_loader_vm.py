"""The model file's reader (wakeword/modelfile.py) is boot-only: after a load,
good or bad, the running detector holds none of its code."""

import numpy as np
import pytest

from pocket_agent.models.wakeword import frontend, qmodel
from tests import mpy

from .conftest import MODELS
from .test_firmware_vm import PRINT_LOGITS

CODE = r'''
import gc, sys
import wakeword
from wakeword.detector import Detector, ModelError
def held():
    return int("wakeword.modelfile" in sys.modules or hasattr(wakeword, "modelfile"))
d = Detector(%r)
print(held(), d.model.phrase.replace(" ", "_"), len(d.model.act))
try:
    Detector(b"PWWM" + bytes(40))
except ModelError as e:
    print(held(), "refused")
'''


def test_a_load_good_or_bad_leaves_no_reader_behind():
    out = mpy.run(CODE % str(MODELS / "hey_pocket.pwm"), heap="200K").split()
    assert out == ["0", "hey_pocket", "3408", "0", "refused"]


RUN_FROM_FILE = """
import sys
from array import array
from wakeword.detector import Detector
det = Detector(%r, force_python=%s)
print(int(det.model.f is not None), len(det.model.buf))
""" + PRINT_LOGITS


@pytest.mark.parametrize("force", [False, True], ids=["viper", "python"])
def test_a_model_read_from_its_file_a_layer_at_a_time_gives_the_reference_logits(
        corpus_pcm, pocket_model, force):
    pcm = corpus_pcm if not force else corpus_pcm[:20000]  # the plain-Python path is slow
    ref = qmodel.forward(pocket_model, frontend.features(pcm))
    path = str(MODELS / "hey_pocket.pwm")
    out = mpy.run(RUN_FROM_FILE % (path, force), stdin=pcm.astype("<i2").tobytes(), heap="200K").split()
    from_file, held = int(out[0]), int(out[1])
    got = np.array([int(v) for v in out[2:]])
    # the heap holds a 48 x 48 pointwise layer (48 biases and 48 x 48 weights), not the model;
    # the first layer (48 x 3 x 32 weights) is read in two pieces of 24 outputs
    assert from_file == 1 and held == 4 * 48 + 48 * 48
    assert np.array_equal(got, ref), f"first mismatch at frame {np.flatnonzero(got != ref)[0]}"

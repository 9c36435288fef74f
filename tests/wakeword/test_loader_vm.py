"""The model file's reader (wakeword/modelfile.py) is boot-only: after a load,
good or bad, the running detector holds none of its code."""

from tests import mpy

from .conftest import MODELS

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

"""The firmware wake word in the real MicroPython VM against the numpy reference."""

import binascii

import numpy as np
import pytest

from pocket_agent.models.wakeword import frontend, qmodel
from tests import mpy

from .conftest import MODELS

RUN_FEATURES = """
import sys, binascii
from array import array
from wakeword import kernels
kernels.FORCE_PY = {force}
from wakeword.frontend import FrontEnd
fe = FrontEnd(kernels.load())
out = bytearray(32)
chunks = (1, 7, 160, 320, 333, 1000)
c = 0
while True:
    data = sys.stdin.buffer.read(2 * chunks[c % len(chunks)])
    c += 1
    if not data:
        break
    pcm = array('h', data)
    i = 0
    n = len(pcm)
    while n:
        t = fe.push(pcm, i, n)
        i += t
        n -= t
        if fe.ready():
            fe.frame(out, 0)
            print(binascii.hexlify(out).decode())
"""


@pytest.mark.parametrize("force", [False, True], ids=["viper", "python"])
def test_frontend_bit_exact_in_vm(corpus_pcm, force):
    ref = frontend.features(corpus_pcm)
    out = mpy.run(RUN_FEATURES.format(force=force), stdin=corpus_pcm.astype("<i2").tobytes(), heap="200K")
    got = np.array([list(binascii.unhexlify(line)) for line in out.split()], dtype=np.uint8)
    assert got.shape == ref.shape
    mismatch = np.argwhere(got != ref)
    assert len(mismatch) == 0, f"first mismatch at frame/band {mismatch[0]}"
    assert ref.max() > 200 and ref.min() == 0  # the corpus spans the whole range


RUN_DETECTOR = """
import sys
from array import array
from wakeword.detector import Detector
n_model = int.from_bytes(sys.stdin.buffer.read(4), 'little')
det = Detector(sys.stdin.buffer.read(n_model), threshold={threshold}, force_python={force})
hits = []
chunk = 0
sizes = (77, 320, 1, 641, 4000)
while True:
    data = sys.stdin.buffer.read(2 * sizes[chunk % len(sizes)])
    chunk += 1
    if not data:
        break
    if det.feed(array('h', data)):
        hits.append(det.last_frame)
print(det.viper, det.frames, det.limit)
print(' '.join(str(h) for h in hits))
"""

# The model's logit for each frame of the int16 audio on stdin, one per line (`det` is built first).
PRINT_LOGITS = """
m = det.model
fe = det.fe
while True:
    data = sys.stdin.buffer.read(4000)
    if not data:
        break
    pcm = array('h', data)
    i = 0
    while i < len(pcm):
        i += fe.push(pcm, i, len(pcm) - i)
        if fe.ready():
            fe.frame(m.act, m.input_slot())
            print(m.step())
"""

RUN_LOGITS = """
import sys
from array import array
from wakeword.detector import Detector
n_model = int.from_bytes(sys.stdin.buffer.read(4), 'little')
det = Detector(sys.stdin.buffer.read(n_model), force_python={force})
""" + PRINT_LOGITS


def _payload(qm, pcm):
    blob = qm.to_bytes()
    return len(blob).to_bytes(4, "little") + blob + pcm.astype("<i2").tobytes()


@pytest.mark.parametrize("which", ["random", "hey_pocket"])
@pytest.mark.parametrize("force", [False, True], ids=["viper", "python"])
def test_model_logits_bit_exact_in_vm(request, corpus_pcm, which, force):
    qm = request.getfixturevalue("random_model" if which == "random" else "pocket_model")
    pcm = corpus_pcm if not force else corpus_pcm[:40000]  # the plain-Python path is slow
    ref = qmodel.forward(qm, frontend.features(pcm))
    out = mpy.run(RUN_LOGITS.format(force=force), stdin=_payload(qm, pcm), heap="200K")
    got = np.array([int(v) for v in out.split()])
    assert len(got) == len(ref)
    assert np.array_equal(got, ref), f"first mismatch at frame {np.flatnonzero(got != ref)[0]}"
    assert len(set(ref.tolist())) > 10  # the logits really vary


def test_detector_matches_reference(corpus_pcm, random_model):
    qm = random_model
    pcm = np.concatenate([corpus_pcm] * 3)
    ref_logits = qmodel.forward(qm, frontend.features(pcm))
    # a threshold the untrained model crosses now and then
    top = np.percentile(ref_logits, 90) / (1 << qm.logit_q)
    threshold = round(float(1 / (1 + np.exp(-top))), 4)
    ref = qmodel.detect(qm, ref_logits, threshold)
    out = mpy.run(RUN_DETECTOR.format(threshold=threshold, force=False), stdin=_payload(qm, pcm), heap="200K")
    head, hits = (out.strip().split("\n") + [""])[:2]
    viper, frames, limit = head.split()
    assert viper == "True"
    assert int(frames) == len(ref_logits)
    assert int(limit) == qmodel.threshold_sum(qm, threshold)
    assert [int(h) for h in hits.split()] == ref
    assert len(ref) >= 2  # refractory and repeated detections are exercised


RUN_MEMORY = """
import gc, sys
from array import array
gc.collect()
before = gc.mem_alloc()
from wakeword.detector import Detector
det = Detector('{model}', threshold=0.9)
gc.collect()
ram = gc.mem_alloc() - before
pcm = array('h', bytes(2 * 3200))
for i in range(len(pcm)):
    pcm[i] = ((i * 7919) % 4001) - 2000
det.feed(pcm)  # warm up every path once

def stream(det, pcm):  # locals only: a new global name would grow the module's dict
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    for _ in range(20):
        det.feed(pcm)
    a1 = gc.mem_alloc()
    gc.enable()
    return a1 - a0

per_run = stream(det, pcm)
print(ram, per_run, det.frames)
"""


def test_detector_ram_and_no_allocation_per_frame():
    out = mpy.run(RUN_MEMORY.format(model=MODELS / "hey_pocket.pwm"), heap="200K")
    ram, per_run, frames = (int(v) for v in out.split())
    assert frames == 209  # (21 * 3200 - 512) // 320 + 1
    assert ram <= 48 * 1024, f"wake word uses {ram} bytes of heap"
    assert per_run == 0, f"{per_run} bytes allocated while streaming 200 frames"


RUN_BAD = """
from wakeword.detector import Detector, ModelError
import sys
data = sys.stdin.buffer.read()
try:
    Detector(data)
    print('loaded')
except ModelError as e:
    print('ModelError:', e)
print('still running')
"""


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:len(b) // 2], "truncated"),
    (lambda b: b[:20], "truncated"),
    (lambda b: b[:100] + bytes([b[100] ^ 0x55]) + b[101:], "corrupt"),
    (lambda b: b[:4] + (2).to_bytes(2, "little") + b[6:], "version 2"),
    (lambda b: b"RIFF" + b[4:], "not a wake-word model"),
])
def test_bad_model_is_a_clear_error_on_the_board(pocket_model, damage, message):
    blob = damage(pocket_model.to_bytes())
    out = mpy.run(RUN_BAD, stdin=blob, heap="200K")
    assert "ModelError:" in out and message in out, out
    assert "still running" in out


RUN_BYTES = """
import sys
from array import array
from wakeword.detector import Detector
n_model = int.from_bytes(sys.stdin.buffer.read(4), 'little')
blob = sys.stdin.buffer.read(n_model)
pcm = sys.stdin.buffer.read()
for force in (False, True):
    det = Detector(blob, threshold=0.5, force_python=force)
    m = det.model
    det.feed(pcm, 0, len(pcm) // 2)  # int16 little-endian bytes
    a = det.last_logit
    det.reset()
    det.feed(array('h', pcm))
    print(det.frames, a == det.last_logit)
"""


def test_feed_takes_int16_bytes_too(corpus_pcm, random_model):
    pcm = corpus_pcm[:20000]
    out = mpy.run(RUN_BYTES, stdin=_payload(random_model, pcm), heap="200K")
    n = (len(pcm) - 512) // 320 + 1
    assert out.split() == [str(n), "True", str(n), "True"]

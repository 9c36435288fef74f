"""The .pwm format: round trip, version and damage checks, the numpy reference."""

import numpy as np
import pytest

from pocket_agent.errors import PocketError
from pocket_agent.models.wakeword import frontend, qmodel

from .conftest import MODELS


def test_round_trip_is_identical(random_model):
    blob = random_model.to_bytes()
    back = qmodel.from_bytes(blob)
    assert back.to_bytes() == blob
    assert back.phrase == "hey test" and back.smooth == 3 and back.refractory == 20
    for a, b in zip(random_model.layers, back.layers):
        assert np.array_equal(a.weights, b.weights) and np.array_equal(a.bias, b.bias)
        assert (a.kind, a.kernel, a.dilation, a.shift) == (b.kind, b.kernel, b.dilation, b.shift)


def test_save_and_load(tmp_path, random_model):
    path = tmp_path / "m.pwm"
    random_model.save(path)
    assert qmodel.load(path).to_bytes() == random_model.to_bytes()
    assert not list(tmp_path.glob("*.part"))


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:10], "truncated"),
    (lambda b: b[:-1], "truncated"),
    (lambda b: b + b"\0", "truncated or padded"),
    (lambda b: b[:60] + bytes([b[60] ^ 1]) + b[61:], "CRC"),
    (lambda b: b[:4] + (2).to_bytes(2, "little") + b[6:], "version 2"),
    (lambda b: b"XXXX" + b[4:], "not a wake-word model"),
    (lambda b: b[:6] + (99).to_bytes(2, "little") + b[8:], "front end 99"),
])
def test_damaged_files_are_refused(random_model, damage, message):
    with pytest.raises(PocketError, match=message):
        qmodel.from_bytes(damage(random_model.to_bytes()))


def test_committed_models_are_small_and_current():
    for name in ("hey_pocket", "hey_jarvis"):
        path = MODELS / f"{name}.pwm"
        qm = qmodel.load(path)
        assert path.stat().st_size <= 30 * 1024
        assert qm.phrase == name.replace("_", " ")
        assert 0 < qm.threshold < 1


def test_generated_firmware_tables_are_current():
    src = (MODELS.parent.parent / "firmware" / "wakeword" / "fe_tables.py").read_text()
    assert src == frontend.firmware_tables_source()


def test_quarter_wave_twiddles_are_the_rounded_cos_and_sin():
    # The committed models were trained on round(32767 * cos/sin(2 pi k / 512));
    # the quarter-wave lookup must give exactly those, or the features change.
    import math

    t = frontend.tables()
    angle = [2 * math.pi * k / frontend.FRAME for k in range(frontend.FFT_HALF)]
    assert len(t["quarter"]) == frontend.QUARTER == 129
    assert t["cos"] == [round(32767 * math.cos(a)) for a in angle]
    assert t["sin"] == [round(32767 * math.sin(a)) for a in angle]


def test_detect_smoothing_and_refractory(random_model):
    qm = random_model  # smooth 3, refractory 20, logit_q 4
    limit = qmodel.threshold_sum(qm, 0.5)
    assert limit == 0
    logits = np.full(100, -50)
    logits[10:13] = 40  # one short burst: the 3-frame mean crosses once
    logits[20:23] = 40  # inside the refractory period: ignored
    logits[40:43] = 40  # after it: detected
    logits[60] = 90  # one frame alone is smoothed away
    assert qmodel.detect(qm, logits, 0.5) == [11, 41]

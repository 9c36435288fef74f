"""Fine-tuning a model file to one speaker's voice (train.enroll; bench/wakeword.py --enroll)."""

import numpy as np
import pytest

from pocket_agent.errors import PocketError
from pocket_agent.models.wakeword import dataset, evaluate, frontend, net, qmodel, synth, train

from .conftest import MODELS, espeak_pcm


@pytest.mark.parametrize("name", ["hey_pocket", "hey_jarvis"])
def test_a_model_file_turns_back_into_parameters_that_export_to_the_same_file(name):
    qm = qmodel.load(MODELS / f"{name}.pwm")
    params, q = net.from_model(qm)
    again = net.export(params, q, qm.phrase, qm.smooth, qm.refractory, qm.threshold)
    assert again.to_bytes() == qm.to_bytes()
    # the float model under quantization gives the file's integer logits
    feats = frontend.features(espeak_pcm("hey pocket, what time is it"))
    fl, _ = net.forward(params, feats[None].astype(np.uint8), q)
    ints = qmodel.forward(qm, feats)[dataset.RECEPTIVE - 1:]
    assert np.abs(fl[0] * 2 ** qm.logit_q - ints).max() <= 1


def _peak(qm, x):
    pad = np.zeros(8000, np.int16)
    return int(evaluate.smoothed(qm, qmodel.forward(qm, frontend.features(np.concatenate([pad, x, pad])))).max())


def test_enrollment_makes_the_model_hear_the_voice_it_was_given():
    qm = qmodel.load(MODELS / "hey_pocket.pwm")
    # a voice training never heard (flite's slt): three phrases to enroll, two others to test
    enroll = [synth.flite("hey pocket", "slt", s) for s in (0.9, 1.0, 1.15)]
    test = [synth.flite(t, "slt", k, f0=f0) for t, k, f0 in
            (("hey pocket.", 0.95, 200), ("hey pocket", 1.05, None), ("hey pocket!", 1.0, 180))]
    # a small stand-in for the phrase's training cache
    pos = [espeak_pcm("hey pocket", v) for v in ("en-us", "en", "en-us+f3", "en+m3")]
    conf = [espeak_pcm(t, "en-us") for t in ("hey rocket", "pocket", "hey poppet")]
    speech = [espeak_pcm("the weather today is mild with a light breeze from the west and no rain at all", v)
              for v in ("en-us", "en+f2")]
    pf, pe = dataset.windows(pos, 6, 1, bg=speech)
    cf, ce = dataset.windows(conf, 4, 2, bg=speech)
    neg, _ = dataset.streams(speech, 2, 3, pool=speech)
    neg += dataset.noise_streams(2, 10.0, 4, pool=speech)
    data = {"pos": pf, "pos_end": pe, "conf": cf, "conf_end": ce}
    got = train.enroll(qm, enroll, None, steps=80, training=(data, neg, speech), log=lambda m: None)
    assert (got.smooth, got.refractory, got.threshold) == (qm.smooth, qm.refractory, qm.threshold)
    bar = qmodel.threshold_sum(qm, qm.threshold)
    before = [_peak(qm, x) for x in test]
    after = [_peak(got, x) for x in test]
    assert all(b < bar for b in before), (before, bar)  # the model as it is misses them all
    assert sum(a >= bar for a in after) >= 2, (after, bar)


def test_enrollment_needs_clips():
    with pytest.raises(PocketError, match="no enrollment clips"):
        train.enroll(qmodel.load(MODELS / "hey_pocket.pwm"), [], None)

"""The held-out audio writers (models/wakeword/heldout.py), on small made-up sets in a
temporary cache: what they write, where the phrase ends, and that a second call reads
the same audio back."""

import numpy as np
import pytest

from pocket_agent.models.wakeword import corpus, heldout
from pocket_agent.models.wakeword.audio import clips_save

RATE = 16000


def _burst(rng, seconds=0.6, level=8000):
    """A made-up phrase: noise shaped like a word, with silence either side."""
    n = int(seconds * RATE)
    body = rng.standard_normal(n) * np.hanning(n) * level
    return np.concatenate([np.zeros(RATE // 5), body, np.zeros(RATE // 5)]).astype(np.int16)


@pytest.fixture
def cache(tmp_path):
    rng = np.random.default_rng(3)
    d = corpus.cache_dir("hey pocket", tmp_path)
    meta = lambda n: [{"engine": "flite", "voice": "kal", "text": "made up"}] * n  # noqa: E731
    clips_save(d / "eval_pos.npz", [_burst(rng) for _ in range(3)], meta(3))
    clips_save(d / "eval_pos_b.npz", [_burst(rng) for _ in range(2)], meta(2))
    clips_save(d / "eval_conf.npz", [_burst(rng, 0.4) for _ in range(2)], meta(2))
    clips_save(d / "eval_speech.npz", [_burst(rng, 1.0, 3000) for _ in range(5)], meta(5))
    return tmp_path


def _rms(x):
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


def test_positives_sit_in_their_segments_and_read_back_the_same(cache):
    out = heldout.build("hey pocket", cache)
    assert len(out["pos"]) == 3 and len(out["pos_end"]) == 3 and len(out["pos_snr"]) == 3
    for x, end, snr in zip(out["pos"], out["pos_end"], out["pos_snr"]):
        assert x.dtype == np.int16 and len(x) >= heldout.SEGMENT
        assert 0.8 * RATE < end < len(x) - RATE  # the phrase ends inside, with a second after it
        assert snr in (-1.0, 10.0, 15.0, 20.0)
        assert _rms(x[end - RATE // 3:end]) > 2 * _rms(x[:RATE // 2])  # the phrase stands out of its lead-in
    assert list(out["neg_kind"]) == ["speech", "confusable"]  # 5 sentences in one stream, 2 confusables in one
    again = heldout.build("hey pocket", cache)
    for a, b in zip(out["pos"] + out["neg"], again["pos"] + again["neg"]):
        assert np.array_equal(a, b)
    assert np.array_equal(out["pos_end"], again["pos_end"])


def test_split_b_is_built_apart_and_reads_back_the_same(cache):
    fresh = heldout.build_fresh("hey pocket", cache)
    assert len(fresh["pos"]) == 2 and (corpus.cache_dir("hey pocket", cache) / "heldout_b.npz").exists()
    assert not (corpus.cache_dir("hey pocket", cache) / "heldout.npz").exists()  # the main set is not made
    for x, end in zip(fresh["pos"], fresh["pos_end"]):
        assert len(x) >= heldout.SEGMENT and 0.8 * RATE < end < len(x) - RATE
        assert _rms(x[end - RATE // 3:end]) > 2 * _rms(x[:RATE // 2])
    again = heldout.build_fresh("hey pocket", cache)
    assert all(np.array_equal(a, b) for a, b in zip(fresh["pos"], again["pos"]))

"""`pocket wakeword train --festival-speech`: more festival speech in the negatives,
off by default so the default command still makes the committed model."""

import hashlib

import numpy as np
import pytest

from pocket_agent.cli import main
from pocket_agent.models.wakeword import corpus, synth, texts, train

from .conftest import parts_asked


def test_the_extra_festival_set_is_synthesized_only_when_asked(monkeypatch, tmp_path):
    default = parts_asked(monkeypatch, tmp_path)
    assert not set(corpus.F_PARTS) & set(default)
    assert set(default) == set(corpus.TRAINING_PARTS) - set(corpus.X_PARTS + corpus.F_PARTS + corpus.S_PARTS)
    asked = parts_asked(monkeypatch, tmp_path, festival_speech=True)
    assert set(asked) == set(default) | set(corpus.F_PARTS)


def test_cli_passes_the_option_and_leaves_it_off_by_default(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr(train, "train", lambda *a, **kw: seen.append(kw))
    monkeypatch.setenv("POCKET_WAKEWORD_CACHE", str(tmp_path / "cache"))
    assert main(["wakeword", "train", "--out", str(tmp_path / "a.pwm")]) == 0
    assert main(["wakeword", "train", "--festival-speech", "--out", str(tmp_path / "b.pwm")]) == 0
    assert [kw["festival_speech"] for kw in seen] == [False, True]
    assert seen[0]["extra_speakers"] is False and seen[0]["aug"] == "bandlimit"


@pytest.mark.slow
def test_the_extra_festival_speech_is_training_text_read_by_training_voices(monkeypatch, tmp_path):
    monkeypatch.setitem(corpus.COUNTS, "speech_festival_f", 1)
    metas = []
    for root in (tmp_path / "a", tmp_path / "b"):
        d = corpus.build("hey pocket", root, parts=corpus.F_PARTS)
        clips, meta = corpus.load("hey pocket", root, "speech_train_f")
        assert len(clips) == len(meta) >= len(synth.FESTIVAL_TRAIN) - 1  # one voice may fail, not more
        assert not (d / "speech_train.npz").exists()  # only the part asked for
        metas.append(sorted((m["voice"], m["text"]) for m in meta))
    assert metas[0] == metas[1]  # seeded, whatever the thread order
    voices = {v for v, _ in metas[0]}
    assert voices <= set(synth.FESTIVAL_TRAIN)
    assert not voices & set(synth.FESTIVAL_EVAL) and not voices & set(synth.FESTIVAL_VALID)
    # the training half of build()'s own split of the other speech, never the held-out texts
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(b"hey pocket/0").digest()[:4], "little"))
    speech = texts.training_speech("hey pocket", rng)
    train_sents = set(speech[:int(len(speech) * 0.9)])
    held_out = set(texts.evaluation_speech("hey pocket"))
    for _, text in metas[0]:
        sents = text[:-1].split(". ")
        assert len(sents) == 4
        assert set(sents) <= train_sents and not set(sents) & held_out

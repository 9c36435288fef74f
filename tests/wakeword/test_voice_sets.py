"""`pocket wakeword train --festival-pitch / --festival-vocoded`: more speakers from
festival's recorded voices (pitch moved in festival; clips made again through a
vocoder), on by default: the committed model's recipe. `--festival-statistical`:
the same clips made again as a statistical voice would say them."""

from pathlib import Path

import numpy as np
import pytest

from pocket_agent.cli import main
from pocket_agent.errors import PocketError
from pocket_agent.models.wakeword import corpus, evaluate, synth, train, vocode
from pocket_agent.models.wakeword.audio import clips_load, clips_save, to_int16

from .conftest import parts_asked


def _pitch(x):
    """Median F0 (Hz) of the voiced frames, by the vocoder's own estimator."""
    f0, _ = vocode.world().dio(np.ascontiguousarray(x, dtype=np.float64), 16000, f0_floor=40.0)
    return float(np.median(f0[f0 > 0]))


def test_festival_moves_a_diphone_voices_pitch_and_leaves_it_alone_at_one():
    plain, same, up, down = synth.festival("ked_diphone", [
        ("hey pocket", 1.0), ("hey pocket", 1.0, 1.0, 1.0), ("hey pocket", 1.0, 1.5, 1.0), ("hey pocket", 1.0, 0.7, 1.0)])
    assert np.array_equal(plain, same)  # the stepwise synthesis is utt.synth's
    base = _pitch(plain)
    assert 1.3 < _pitch(up) / base < 1.7
    assert _pitch(down) / base < 0.9  # ked's diphones go down less far than asked (0.84 for 0.7)
    assert len(up) == len(plain)  # pitch only: the timing is the voice's


def test_festival_resumes_after_a_text_its_voice_cannot_say():
    items = [("hey pocket", 1.0), ("ei pòchet", 1.0), ("hey pocket", 1.0)]  # lp_diphone stops at the accent
    assert [x is None for x in synth.festival("lp_diphone", items)] == [False, True, True]
    assert [x is None for x in synth.festival("lp_diphone", items, resume=True)] == [False, True, False]


def test_a_festival_voice_that_will_not_load_is_an_error_naming_its_package():
    with pytest.raises(PocketError) as e:
        synth.festival("kal_diphone_missing", [("hey pocket", 1.0)])
    assert "cannot load its voice kal_diphone_missing" in str(e.value)
    assert "unbound variable" in str(e.value) and e.value.hint.startswith("apt-get install")
    synth.FESTIVAL_PACKAGES["kal_diphone_missing"] = "festvox-kal-missing"
    try:
        with pytest.raises(PocketError, match="apt-get install festvox-kal-missing"):
            synth.need_festival_voice("kal_diphone_missing")
    finally:
        del synth.FESTIVAL_PACKAGES["kal_diphone_missing"]


def test_every_festival_voice_of_the_sets_is_installed_and_named_with_its_package():
    voices = (synth.FESTIVAL_TRAIN + synth.FESTIVAL_VALID + synth.FESTIVAL_TRAIN_NATIVE
              + synth.FESTIVAL_EVAL + synth.FESTIVAL_DIPHONE_TRAIN)
    assert set(voices) == set(synth.FESTIVAL_PACKAGES)
    run = (Path(__file__).parents[2] / "run").read_text()
    for voice in synth.FESTIVAL_PACKAGES:
        synth.need_festival_voice(voice)  # ./run installs each
        for package in synth.FESTIVAL_PACKAGES[voice].split():
            assert f" {package}" in run or f"({package}" in run, package


def test_vocoder_keeps_length_and_level_and_moves_the_pitch(tmp_path):
    loud, = synth.festival("ked_diphone", [("hey pocket", 1.0)])
    x = to_int16(loud * 0.25)
    y, settings = vocode.perturb(x, np.random.default_rng(3))
    y2, _ = vocode.perturb(x, np.random.default_rng(3))
    assert np.array_equal(y, y2)  # seeded
    assert len(y) == len(x)
    rms = lambda a: np.sqrt(np.mean(np.asarray(a, np.float64) ** 2))  # noqa: E731
    assert abs(rms(y) / rms(x) - 1) < 0.01
    assert np.abs(vocode.perturb(loud, np.random.default_rng(3))[0]).max() <= 32000  # kept as int16
    ratio = _pitch(y) / _pitch(x)
    assert abs(ratio / settings["pitch"] - 1) < 0.15, (ratio, settings)
    assert 80 <= settings["pitch_hz"] <= 280 and 0.88 <= settings["tract"] <= 1.25
    assert abs(_pitch(y) / settings["pitch_hz"] - 1) < 0.15


def _two_parts(d, first, second, text_a, text_b):
    """Part `first` with a festival clip and an espeak-ng one, part `second` with a
    festival clip; -> the two festival clips."""
    a, b = synth.festival("ked_diphone", [(text_a, 1.0), (text_b, 1.1)])
    clips_save(d / f"{first}.npz", [a, np.zeros(8000, np.int16)], [
        {"engine": "festival", "voice": "ked_diphone", "text": text_a, "stretch": 1.0},
        {"engine": "espeak-ng", "voice": "en-us", "text": text_a}])
    clips_save(d / f"{second}.npz", [b], [
        {"engine": "festival", "voice": "ked_diphone", "text": text_b, "stretch": 1.1}])
    return a, b


def test_vocoded_set_takes_only_festival_clips_with_their_copies(tmp_path, monkeypatch):
    a, b = _two_parts(tmp_path, "pos_train", "pos_train_p", "hey pocket", "hey, pocket")
    clips, meta = corpus._vocoded(tmp_path, ["pos_train", "pos_train_p"], "pos_train_v", 0, 1)
    assert len(clips) == 2 * corpus.V_COPIES["pos_train_v"]
    assert [m["text"] for m in meta] == ["hey pocket"] * 3 + ["hey, pocket"] * 3
    assert all(m["engine"] == "festival" and "pitch" in m["vocoded"] for m in meta)
    assert len({round(m["vocoded"]["pitch"], 6) for m in meta}) == 6  # each copy its own draw
    assert clips[0].dtype == np.int16 and len(clips[0]) == len(a)


def test_statistical_copy_keeps_length_and_level_and_smears_the_spectrum():
    x, = synth.festival("ked_diphone", [("hey pocket, a packet of crisps", 1.0)])
    y, settings = vocode.statistical(x, np.random.default_rng(5))
    assert np.array_equal(y, vocode.statistical(x, np.random.default_rng(5))[0])  # seeded
    assert len(y) == len(x)
    rms = lambda a: np.sqrt(np.mean(np.asarray(a, np.float64) ** 2))  # noqa: E731
    assert abs(rms(y) / rms(x) - 1) < 0.01
    assert 14 <= settings["cepstra"] < 30 and 6 <= settings["frames"] < 17
    assert abs(_pitch(y) / settings["pitch_hz"] - 1) < 0.15
    # slower than the recorded voice and than a vocoder copy that keeps the detail
    plain, _ = vocode.perturb(x, np.random.default_rng(5))
    motion = evaluate.spectral_motion
    assert motion(to_int16(y)) < 0.85 * min(motion(x), motion(to_int16(plain)))


def test_statistical_set_copies_festival_clips_longest_first(tmp_path):
    a, b = _two_parts(tmp_path, "speech_train", "speech_train_p", "hey pocket", "hey, pocket, and more")
    clips, meta = corpus._statistical(tmp_path, ["speech_train", "speech_train_p"], "speech_train_s", 0, 1)
    assert len(clips) == 2 * corpus.S_COPIES["speech_train_s"]
    assert [m["text"] for m in meta] == ["hey, pocket, and more"] * 2 + ["hey pocket"] * 2
    assert [len(c) for c in clips] == [len(b)] * 2 + [len(a)] * 2
    assert len({m["statistical"]["pitch_hz"] for m in meta}) == 4  # each copy its own draw
    again, _ = corpus._statistical(tmp_path, ["speech_train", "speech_train_p"], "speech_train_s", 0, 1)
    assert all(np.array_equal(c, d) for c, d in zip(clips, again))


def test_pitch_set_is_training_diphone_voices_seeded(tmp_path, monkeypatch):
    monkeypatch.setitem(corpus.COUNTS, "pos_festival_p", (3, 1))
    monkeypatch.setitem(corpus.COUNTS, "speech_festival_p", 1)
    metas = []
    for root in (tmp_path / "a", tmp_path / "b"):
        d = corpus.build("hey pocket", root, parts=["pos_train_p", "speech_train_p"])
        assert not (d / "pos_train.npz").exists()  # only the parts asked for
        _, meta = clips_load(d / "pos_train_p.npz")
        metas.append(sorted((m["voice"], m["text"], round(m["f0_scale"], 6)) for m in meta))
    assert metas[0] == metas[1]
    voices = {v for v, _, _ in metas[0]}
    assert voices <= set(synth.FESTIVAL_DIPHONE_TRAIN) and "ked_diphone" in voices
    assert sum(v == "ked_diphone" for v, _, _ in metas[0]) == 3
    assert not voices & set(synth.FESTIVAL_EVAL) and not voices & set(synth.FESTIVAL_VALID)
    assert all(0.6 <= k <= 1.7 for _, _, k in metas[0])


def test_the_voice_sets_are_made_unless_turned_off(monkeypatch, tmp_path):
    default = parts_asked(monkeypatch, tmp_path)
    assert set(corpus.P_PARTS + corpus.V_PARTS) <= default  # the committed model's recipe
    without = parts_asked(monkeypatch, tmp_path, festival_pitch=False, festival_vocoded=False)
    assert without == default - set(corpus.P_PARTS + corpus.V_PARTS)
    assert parts_asked(monkeypatch, tmp_path, festival_vocoded=False) == without | set(corpus.P_PARTS)
    # the vocoded set is made from the pitch set's clips as well
    assert parts_asked(monkeypatch, tmp_path, festival_pitch=False) == default
    assert not set(corpus.S_PARTS) & default  # statistical copies: asked for only
    assert parts_asked(monkeypatch, tmp_path, festival_statistical=True) == default | set(corpus.S_PARTS)
    assert parts_asked(monkeypatch, tmp_path, festival_pitch=False, festival_vocoded=False,
                       festival_statistical=True) == without | set(corpus.P_PARTS + corpus.S_PARTS)


def test_cli_passes_the_options_on_by_default(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr(train, "train", lambda *a, **kw: seen.append(kw))
    monkeypatch.setenv("POCKET_WAKEWORD_CACHE", str(tmp_path / "cache"))
    assert main(["wakeword", "train", "--out", str(tmp_path / "a.pwm")]) == 0
    assert main(["wakeword", "train", "--no-festival-pitch", "--no-festival-vocoded", "--aug", "mask",
                 "--out", str(tmp_path / "b.pwm")]) == 0
    assert main(["wakeword", "train", "--festival-statistical", "--out", str(tmp_path / "c.pwm")]) == 0
    assert [(kw["festival_pitch"], kw["festival_vocoded"], kw["festival_statistical"], kw["aug"])
            for kw in seen] == [(True, True, False, "bandlimit"), (False, False, False, "mask"),
                                (True, True, True, "bandlimit")]

"""Acoustic adaptation with the real sphinxtrain tools on speech from the real espeak-ng: the
adapted model makes the recogniser fit that speech better, bad recordings are left out and named,
and bad input gets a clear error."""

import shutil

import numpy as np
import pytest

from pathlib import Path

from pocket_agent import cli
from pocket_agent.errors import PocketError
from pocket_agent.host.agent.store import Store
from pocket_agent.host.speech import adapt
from pocket_agent.host.speech.audio import mic_noise, silence, write_wav
from pocket_agent.host.speech.sphinx import PocketSphinxEngine
from pocket_agent.host.speech.tts import EspeakTTS
from pocket_agent.host.speech.adapt import BOARD_SETTING as SETTING

VOICE = "en-gb-scotland+m4"  # an accent the unadapted model reads badly
SENTENCES = ["set a timer for ten minutes", "add bread to the shopping list", "what is the humidity",
             "turn the brightness down", "read my notes", "what is seven times eight",
             "remind me to call mum in two hours", "how many grams in a pound", "is it stuffy in here",
             "what day is it today", "delete the oldest note", "set an alarm for seven thirty",
             "turn on do not disturb", "what is the battery level", "convert five miles to kilometres",
             "add eggs and butter to the shopping list", "what time is it"]
OTHER = ["turn the volume up", "what is the temperature", "add milk to the shopping list"]


def spoken(text, seed):
    return mic_noise(silence(0.3) + EspeakTTS(voice=VOICE).synthesize(text).pcm + silence(0.3), seed=seed)


@pytest.fixture(scope="module")
def recordings():
    good = [(spoken(text, i), text) for i, text in enumerate(SENTENCES)]
    short = (spoken("hello", 90)[:16000], "set a timer for ten minutes and then read all of my notes back to me")
    unknown = (spoken("set a timer", 91), "set a zzyzxq timer")
    return good + [short, unknown]


@pytest.fixture(scope="module")
def adapted(recordings, tmp_path_factory):
    return adapt.estimate(recordings, tmp_path_factory.mktemp("adapted") / "model")


@pytest.mark.slow
def test_the_adapted_model_fits_the_voice_better(adapted):
    assert adapted.used == len(SENTENCES) and adapted.seconds >= adapt.MIN_SECONDS
    assert adapted.loglik[1] > adapted.loglik[0]  # aligned again through the first transform: a better fit
    assert adapted.loglik[2] > adapted.loglik[0]  # and with the transformed means

    def fits(engine):
        out = []
        for i, text in enumerate(OTHER):  # sentences the model was not adapted on
            stream = engine.stream()
            stream.feed(spoken(text, 50 + i))
            out.append(stream.fit_per_frame(text))
            stream.cancel()
        return np.array(out)

    before = fits(PocketSphinxEngine(dictation=False))
    after = fits(PocketSphinxEngine(dictation=False, acoustic_model=adapted.model))
    assert (after > before).all(), (before, after)


@pytest.mark.slow
def test_recordings_that_cannot_be_used_are_named(adapted):
    why = dict(adapted.skipped)
    assert set(why) == {len(SENTENCES), len(SENTENCES) + 1}
    assert "could not be aligned" in why[len(SENTENCES)]
    assert "zzyzxq" in why[len(SENTENCES) + 1]


def test_too_little_speech_is_refused(tmp_path):
    pcm = bytes(2 * 16000 * 2)
    with pytest.raises(PocketError, match="too little"):
        adapt.estimate([(pcm, "what time is it")] * 5, tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_a_missing_tool_is_named(monkeypatch, tmp_path):
    monkeypatch.setitem(adapt.TOOLS, "bw", "/nonexistent/bw")
    with pytest.raises(PocketError, match="/nonexistent/bw") as err:
        adapt.estimate([], tmp_path / "model")
    assert "./run setup" in err.value.hint


@pytest.mark.slow
def test_a_damaged_model_is_refused(adapted, tmp_path):
    assert adapt.check_model(adapted.model) == str(adapted.model)
    damaged = tmp_path / "damaged"
    shutil.copytree(adapted.model, damaged)
    means = (damaged / "means").read_bytes()
    (damaged / "means").write_bytes(means[:100])
    for folder in (damaged, tmp_path / "missing"):
        with pytest.raises(PocketError, match="not an adapted acoustic model"):
            adapt.check_model(folder)
    with pytest.raises(PocketError, match="not an adapted acoustic model"):
        PocketSphinxEngine(dictation=False, grammar_search=False, acoustic_model=damaged)
    (damaged / "means").write_bytes(means)
    (damaged / "mdef").unlink()
    with pytest.raises(PocketError, match="not an adapted acoustic model"):
        adapt.check_model(damaged)


def test_the_wheels_mixture_weights_are_read():
    """bw needs them as a file of its own; the wheel has them only compressed."""
    import pocketsphinx

    w = adapt.sendump_weights(pocketsphinx.get_model_path("en-us/en-us/sendump"))
    assert w.shape == (5126, 3, 128)  # senones, streams, codewords: as the model definition says
    assert np.allclose(w.sum(axis=2), 1.0)


@pytest.mark.slow
def test_the_command_keeps_the_board_adaptation(recordings, tmp_path, capsys):
    folder = tmp_path / "recordings"
    folder.mkdir()
    for i, (pcm, text) in enumerate(recordings):
        write_wav(str(folder / f"r{i:02d}.wav"), pcm)
        (folder / f"r{i:02d}.txt").write_text(text + "\n")
    write_wav(str(folder / "no-words.wav"), recordings[0][0])
    state = str(tmp_path / "agent.sqlite3")
    base = ["speech", "adapt", "--board", "pico2w-1", "--state", state]
    assert cli.main(base + [str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"adapted on {len(SENTENCES)} recordings" in out
    assert "skipped no-words.wav: no no-words.txt" in out
    assert f"skipped r{len(SENTENCES) + 1:02d}.wav: words the recogniser cannot say: zzyzxq" in out
    saved = Store(state).setting("pico2w-1", SETTING)
    assert adapt.check_model(saved["model"]) and saved["recordings"] == len(SENTENCES)
    assert saved["model"].startswith(str(tmp_path / "acoustic" / "pico2w-1-"))
    assert cli.main(base + ["--show"]) == 0 and f"adapted on {len(SENTENCES)}" in capsys.readouterr().out
    again = cli.main(base + [str(folder)])  # made again: the new model replaces the old one whole
    assert again == 0 and Store(state).setting("pico2w-1", SETTING)["model"] == saved["model"]
    assert sorted(p.name for p in (tmp_path / "acoustic").iterdir()) == [Path(saved["model"]).name]
    assert cli.main(base + ["--clear"]) == 0
    assert Store(state).setting("pico2w-1", SETTING) is None and not Path(saved["model"]).exists()
    assert cli.main(base + ["--show"]) == 0 and "no adaptation" in capsys.readouterr().out


def test_the_command_says_what_is_wrong_with_a_folder(tmp_path, capsys):
    base = ["speech", "adapt", "--board", "b", "--state", str(tmp_path / "s.sqlite3")]
    assert cli.main(base + [str(tmp_path / "missing")]) != 0
    assert "is not a folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "a.wav").write_bytes(b"RIFF not really")
    (tmp_path / "empty" / "a.txt").write_text("what time is it")
    assert cli.main(base + [str(tmp_path / "empty")]) != 0
    assert "no usable recordings" in capsys.readouterr().err


@pytest.mark.slow
def test_the_bridges_recogniser_takes_the_board_adaptation(adapted, tmp_path, caplog):
    """Built with it, or given it once the board is known (the spare recogniser), it decodes the
    same; given a model it cannot load, it says so and goes on with the model it had."""
    import asyncio

    from pocket_agent.host.pipeline.asr import AsrWorker

    pcm = spoken(OTHER[0], 70)

    async def decode(acoustic_model=None, adapt=None):
        """A new recogniser's first utterance (a fresh channel); `adapt`: given once it is up."""
        worker = AsrWorker(acoustic_model=acoustic_model)
        try:
            await asyncio.wait_for(worker.wait_ready(), 120)
            if adapt:
                worker.adapt(adapt)
                assert not worker.ready.done()  # ready again once the decoders are rebuilt
                await asyncio.wait_for(worker.wait_ready(), 120)
            return (await asyncio.wait_for(worker.decode(pcm), 60))[0]
        finally:
            await worker.close()

    async def run():  # one recogniser at a time: CI's two cores also run another test file
        return [await decode(adapted.model), await decode(adapt=adapted.model),
                await decode(adapt=str(tmp_path / "gone"))]

    built, given, plain = asyncio.run(run())
    assert built.text == given.text
    assert built.details["grammar"]["fit"] == given.details["grammar"]["fit"] != plain.details["grammar"]["fit"]
    assert "not an adapted acoustic model" in caplog.text and "gone" in caplog.text


def test_a_damaged_board_adaptation_is_left_out_with_a_warning(tmp_path, caplog):
    from types import SimpleNamespace

    from pocket_agent.host.pipeline.board import BoardPipeline

    store = Store(tmp_path / "s.sqlite3")
    board = SimpleNamespace(pipeline=SimpleNamespace(store=store), name="b")
    assert BoardPipeline._adaptation(board) is None  # none made
    store.set_setting("b", SETTING, {"model": str(tmp_path / "gone"), "recordings": 1, "seconds": 40, "made": 0})
    assert BoardPipeline._adaptation(board) is None
    assert "unusable" in caplog.text and "pocket speech adapt" in caplog.text

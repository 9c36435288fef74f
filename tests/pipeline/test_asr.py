"""The recogniser's worker process: fed chunk by chunk as a board sends them, it
gives the transcript; the wake phrase is learnt and taken off; a worker that
dies or is closed fails the waiting calls with a clear message instead of
hanging the bridge."""

import asyncio

import pytest

from pocket_agent.errors import PocketError
from pocket_agent.host.pipeline.asr import AsrWorker
from pocket_agent.host.pipeline.wake import command_sentences, strip_wake
from pocket_agent.host.speech.tts import EspeakTTS


def test_the_wake_phrase_is_taken_off_the_front_only():
    assert strip_wake("hey pocket what time is it") == "what time is it"
    assert strip_wake("what time is it hey pocket") == "what time is it hey pocket"
    assert strip_wake("hey pocket") == ""
    assert strip_wake("hey there pocket", "hey pocket") == "hey there pocket"
    assert strip_wake("hey pocket what", "") == "hey pocket what"


def test_half_the_commands_model_sentences_start_with_the_wake_phrase():
    from pocket_agent.host.agent.grammar import grammar

    sentences = command_sentences()
    with_phrase = [s for s in sentences if s.startswith("hey pocket ")]
    assert abs(len(with_phrase) - len(sentences) / 2) <= 1
    # without the phrase, each is a request the agent acts on
    assert all(grammar().parse(strip_wake(s)) is not None for s in with_phrase[::50])


@pytest.mark.slow
def test_a_streamed_utterance_is_heard_and_the_channel_state_comes_back():
    pcm = EspeakTTS("en-us+m1", 160).synthesize("hey pocket, what's the temperature?").pcm

    async def run():
        worker = AsrWorker()
        try:
            load_s = await asyncio.wait_for(worker.wait_ready(), 120)
            worker.start()
            for i in range(0, len(pcm), 1920):  # 60 ms chunks, as the board sends them
                worker.feed(pcm[i:i + 1920])
            assert worker.fed == len(pcm)
            transcript, channel = await asyncio.wait_for(worker.finish(), 30)
            nothing, _ = await worker.finish()  # no utterance open: nothing heard
            return load_s, transcript, channel, nothing
        finally:
            await worker.close()

    load_s, transcript, channel, nothing = asyncio.run(run())
    assert load_s > 0
    assert transcript.text == "hey pocket what is the temperature" and transcript.source == "commands"
    assert transcript.details["grammar"]["text"] == transcript.text  # the grammar search allows the wake phrase
    assert transcript.details["finish_ms"] >= 0
    assert {"commands", "dictation"} <= set(channel)  # each decoder's, to restore next session
    assert nothing is None


def test_a_worker_that_dies_fails_what_waits_on_it_clearly():
    async def run():
        worker = AsrWorker()
        await asyncio.sleep(0.5)  # spawned, still loading
        worker.proc.kill()
        with pytest.raises(PocketError, match="the speech recogniser stopped"):
            await asyncio.wait_for(worker.wait_ready(), 30)
        worker.start()  # calls after the failure do not hang either
        with pytest.raises(PocketError, match="stopped"):
            await asyncio.wait_for(worker.finish(), 5)
        await worker.close()

    asyncio.run(run())


def test_closing_while_it_loads_stops_the_process():
    async def run():
        worker = AsrWorker()
        await asyncio.sleep(0.3)
        await asyncio.wait_for(worker.close(), 10)
        assert worker.proc.returncode is not None
        with pytest.raises(PocketError, match="closed"):
            await worker.finish()

    asyncio.run(run())

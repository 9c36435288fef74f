"""One board's side of the pipeline: its recogniser, its agent session, the turn in progress.

A turn starts when the board ends an utterance (audio_end, reason 0): the
recogniser, which has been fed the chunks as they came, gives the final
transcript; the agent answers (the screen first); then the answer is spoken.
A new utterance, or the user pressing the button while the board speaks
(audio_stop), stops the speech; an utterance broken off (reason 1) is dropped.
"""

import asyncio
import dataclasses
import logging
import time

from pocket_agent.errors import PocketError
from pocket_agent.host.agent.device import DeviceError
from pocket_agent.host.agent.session import AgentSession
from pocket_agent.host.speech.engine import Transcript

from .asr import AsrWorker
from .observe import ObservedDevice
from .wake import strip_wake

log = logging.getLogger("pocket.pipeline")
BROKEN_OFF = 1  # audio_end.reason: a tap, or a wake word with no speech after it
TOO_LATE = "Approval came too\nlate: nothing done."
FAILED = "Sorry, something\nwent wrong."
ASR_FAILED = "Speech recognition\nfailed: please say\nthat again."
# steps of a turn: reported with the time since the end of the utterance (at_ms)
TURN_STEPS = {"heard", "tool", "tool_done", "confirm", "confirmed", "shown", "reply", "spoken"}


class BoardPipeline:
    def __init__(self, pipeline, name, asr=None):
        self.pipeline = pipeline
        self.name = name
        self.board_device = pipeline.bridge.device(name)
        self.device = ObservedDevice(self.board_device, self._observed)
        self.session = AgentSession(self.device, pipeline.store, pipeline.confirmer, llm=pipeline.llm,
                                    registry=pipeline.registry)
        channel = pipeline.store.setting(name, "asr_channel")
        adaptation = self._adaptation()
        if asr is None:
            asr = AsrWorker(channel, pipeline.settings.wake_phrase, adaptation)
        else:
            if channel:
                asr.restore(channel)
            if adaptation:
                asr.adapt(adaptation)
        self.asr = asr
        self.announcing = self._spawn(self._announce(asr))
        self.stream = None  # the board's mic stream being decoded
        self.t_end = None  # time.time() when the current turn's utterance ended
        self.turn = None  # the task answering
        self.speaking = None  # the task speaking the answer
        self.pairing = None

    # -- reporting

    def _adaptation(self):
        """The folder of the board's adapted acoustic model (`pocket speech adapt`), if it has a usable one."""
        from pocket_agent.host.speech.adapt import BOARD_SETTING, check_model

        saved = self.pipeline.store.setting(self.name, BOARD_SETTING)
        if not saved:
            return None
        try:
            return check_model(saved["model"])
        except (PocketError, KeyError, TypeError) as exc:
            log.warning("%s: its speech adaptation is unusable, so the recogniser runs without it (%s); "
                        "make it again with `pocket speech adapt`", self.name, getattr(exc, "message", exc))
            return None

    def report(self, step, **fields):
        if step in TURN_STEPS:
            fields.setdefault("at_ms", self.since_end_ms())
        self.pipeline.report(self.name, step, **fields)

    def _observed(self, _board, step, **fields):
        self.report(step, **fields)
        if step == "confirmed" and fields.get("reason") == "not paired":
            log.warning("%s: the board has no approval key (reflashed?); pairing it again", self.name)
            self.pair(force=True)

    def since_end_ms(self):
        return None if self.t_end is None else round((time.time() - self.t_end) * 1000)

    # -- events from the bridge (called in order, never blocking)

    def on_event(self, kind, data, at):
        if kind == "online":
            self.pair()
        elif kind == "audio_start" and data.get("purpose", 0) == 0:
            self.stream = data["stream"]
            self.asr.start()
            self.report("listening", stream=data["stream"])
        elif kind == "audio_chunk":
            if data["stream"] == self.stream:
                self.asr.feed(data["pcm"])
        elif kind == "audio":
            self._utterance_ended(data, at)
        elif kind == "audio_stop":  # barge-in: the user pressed the button while the board spoke
            self._stop_speaking("barge-in")
        elif kind == "timer_fired":
            self.report("timer_fired", tid=data["tid"], label=data.get("label", ""),
                        delay_s=round(time.time() - data["at"], 1) if data.get("at") else None)
        elif kind == "confirm_result" and data.get("late"):
            self.report("confirm_late", result=data["result"])
            if data["result"] == 0:  # approved, but nobody waits for it any more: nothing ran
                self._spawn(self._show(TOO_LATE))

    def _utterance_ended(self, data, at):
        streamed = data["stream"] == self.stream
        self.stream = None
        if data.get("reason") == BROKEN_OFF:
            if streamed:
                self.asr.cancel()
            self.report("broken_off", stream=data["stream"])
            return
        self._stop_speaking("new utterance")
        if self.turn is not None and not self.turn.done():
            self.turn.cancel()
        pcm = data.get("pcm", b"")
        if not streamed or self.asr.fed < len(pcm):  # chunks missed on the way: decode what the bridge kept
            self.asr.cancel()
            streamed = False
        self.t_end = at
        self.turn = self._spawn(self._answer(data, pcm, streamed))

    # -- the turn

    async def _answer(self, data, pcm, streamed):
        try:
            transcript, channel = await (self.asr.finish() if streamed else self.asr.decode(pcm))
        except PocketError as exc:  # the recogniser failed: say so, and start a new one for the next time
            self.report("error", text=exc.message)
            await self._show(ASR_FAILED)
            if self.asr.failed:
                old, self.asr = self.asr, AsrWorker(self.pipeline.store.setting(self.name, "asr_channel"),
                                                    self.pipeline.settings.wake_phrase, self._adaptation())
                self.announcing = self._spawn(self._announce(self.asr))
                await old.close()
            return
        self.pipeline.store.set_setting(self.name, "asr_channel", channel)
        transcript = transcript or Transcript("", 0.0)
        request = strip_wake(transcript.text, self.pipeline.settings.wake_phrase)
        self.report("heard", text=transcript.text, request=request, confidence=round(transcript.confidence, 2),
                    source=transcript.source or "nothing", audio_s=round(len(pcm) / 32000, 2),
                    lost_chunks=data.get("lost_chunks", 0), finish_ms=transcript.details.get("finish_ms"))
        try:
            reply = await self.session.hear(dataclasses.replace(transcript, text=request), speak=False)
        except DeviceError as exc:
            self.report("error", text=f"the board: {exc.message}")
            return
        except Exception as exc:  # a bug in an agent must not take the board's session down
            log.exception("%s: the agent failed", self.name)
            self.report("error", text=f"{type(exc).__name__}: {exc}")
            await self._show(FAILED)
            return
        self.report("reply", text=reply.text, speech=reply.speech, intent=reply.intent, ok=reply.ok,
                    tools=reply.tools)
        if self.pipeline.tts is not None and reply.speech:
            self.speaking = self._spawn(self._speak(reply.speech))

    async def _speak(self, text):
        loop = asyncio.get_running_loop()
        speech = await loop.run_in_executor(None, self.pipeline.tts.synthesize, text)
        try:
            await self.device.play_audio(speech.pcm)
        except DeviceError as exc:
            self.report("error", text=f"speaking: {exc.message}")
            return
        self.report("spoken", seconds=round(speech.seconds, 2))

    def _stop_speaking(self, why):
        if self.speaking is not None and not self.speaking.done():
            self.speaking.cancel()
            self.report("speech_stopped", why=why)

    async def _show(self, text):
        try:
            await self.board_device.show_text(text)
        except DeviceError as exc:
            log.warning("%s: could not show %r: %s", self.name, text, exc.message)

    async def _announce(self, asr):
        try:
            seconds = await asr.wait_ready()
        except PocketError as exc:
            self.report("error", text=exc.message)
            return
        self.report("ready", load_s=round(seconds, 1))

    # -- pairing: the board signs approvals with a key only it and the host's key file hold

    def pair(self, force=False):
        if self.pairing is not None and not self.pairing.done():
            return
        if force or self.pipeline.confirmer.keyring.get(self.name) is None:
            self.pairing = self._spawn(self._pair())

    async def _pair(self):
        try:
            await self.pipeline.confirmer.pair(self.board_device, self.name)
        except DeviceError as exc:
            log.warning("%s: pairing failed: %s", self.name, exc.message)
            return
        self.report("paired")

    # -- tasks

    def _spawn(self, coro):
        task = asyncio.get_running_loop().create_task(coro, name=f"pipeline {self.name}")
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task):
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("%s: pipeline task failed: %s", self.name, exc, exc_info=exc)

    async def close(self):
        tasks = [t for t in (self.turn, self.speaking, self.pairing, self.announcing)
                 if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.asr.close()

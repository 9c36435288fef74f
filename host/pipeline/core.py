"""The pipeline in the bridge's process: each board's speech to its agent and back.

    audio (the board's mic, chunk by chunk) -> the board's recogniser (PocketSphinx, its own process)
    -> AgentSession (offline agent, or the LLM agent falling back to it) -> the board's screen,
    then espeak-ng speech to its speaker

Every step is reported with its time since the end of the utterance: logged on
`pocket.pipeline`, given to listeners, and published as bridge events of kind
`pipeline` (so `pocket bridge`'s control socket shows them too).
"""

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from pocket_agent.errors import PocketError

from .asr import AsrWorker
from .board import BoardPipeline
from .observe import TimedRegistry
from .wake import WAKE_PHRASE

log = logging.getLogger("pocket.pipeline")
AGENTS = ("offline", "llm", "none")


@dataclass(frozen=True)
class PipelineSettings:
    agent: str = "offline"  # offline | llm (falls back to offline by itself)
    state: Path = None  # the agents' SQLite file (default: the agent's, ~/.local/share/pocket-agent)
    speak: bool = True  # answers also go to the speaker
    voice: str = "en-us"  # espeak-ng voice of the answers
    wake_phrase: str = WAKE_PHRASE  # taken off the front of what was heard

    def __post_init__(self):
        if self.agent not in AGENTS:
            raise PocketError(f"unknown agent {self.agent!r}", hint="the agent is one of: " + ", ".join(AGENTS))


class Pipeline:
    def __init__(self, bridge, settings=PipelineSettings(), listeners=()):
        from pocket_agent.host.agent.llm import LLMAgent, LLMSettings
        from pocket_agent.host.agent.offline import OfflineAgent
        from pocket_agent.host.agent.store import Store
        from pocket_agent.host.agent.toolset import build_registry
        from pocket_agent.host.confirm import Confirmer, default_keyring
        from pocket_agent.host.speech.tts import EspeakTTS

        self.bridge = bridge
        self.settings = settings
        self.listeners = list(listeners)  # callables(step dict), called in the bridge's event loop
        self.store = Store(settings.state)
        self.confirmer = Confirmer(self.store, default_keyring(self.store.path))
        self.registry = TimedRegistry(build_registry(), self.report)
        self.llm = None
        if settings.agent == "llm":
            self.llm = LLMAgent(LLMSettings.load(), self.registry, OfflineAgent(self.registry))
            if not self.llm.settings.configured:
                log.warning("no LLM key configured (POCKET_LLM_API_KEY): the offline agent answers")
        self.tts = EspeakTTS(settings.voice) if settings.speak else None
        self.boards = {}
        self.spare = None  # a recogniser started before any board showed up
        self.queue = None
        self._subscription = None
        self.task = None

    # -- running

    def start(self):
        """Subscribe to the bridge's events (before it starts, to see every board come online)
        and start warming up a recogniser for the first board."""
        self._subscription = self.bridge.subscribe()
        self.queue = self._subscription.__enter__()
        self.spare = AsrWorker(phrase=self.settings.wake_phrase)
        self.task = asyncio.get_running_loop().create_task(self._run(), name="pipeline")

    async def _run(self):
        while True:
            ev = await self.queue.get()
            if ev["kind"] == "pipeline":
                continue
            try:
                self.board(ev["board"]).on_event(ev["kind"], ev["data"], ev["time"])
            except PocketError as exc:  # a board the bridge no longer knows
                log.warning("event %s from %s: %s", ev["kind"], ev["board"], exc.message)

    def board(self, name):
        b = self.boards.get(name)
        if b is None:
            spare, self.spare = self.spare, None
            b = self.boards[name] = BoardPipeline(self, name, asr=spare)
        return b

    async def ready(self, name, timeout=120.0):
        """Wait until the board's recogniser is loaded."""
        await asyncio.wait_for(self.board(name).asr.wait_ready(), timeout)

    async def stop(self):
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        for b in self.boards.values():
            await b.close()
        if self.spare is not None:
            await self.spare.close()
        if self._subscription is not None:
            self._subscription.__exit__(None, None, None)
        self.store.close()

    # -- reporting

    def report(self, board, step, **fields):
        event = {"board": board, "step": step, "time": time.time(), **fields}
        log.info("%s: %s", board, describe(event))
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:  # a listener's bug must not stop the pipeline
                log.exception("pipeline listener failed")
        self.bridge.publish(board, "pipeline", event)


def _args(args):
    return ", ".join(f"{k}={v!r}" for k, v in args.items())


def _at(event):
    return f" +{event['at_ms']} ms" if event.get("at_ms") is not None else ""


def describe(e):
    """One line for a step, as the log and the demo show it."""
    step = e["step"]
    if step == "listening":
        return "listening"
    if step == "ready":
        return f"speech recogniser ready ({e['load_s']:.1f} s to load)"
    if step == "heard":
        said = f'"{e["text"]}"' if e["text"] else "nothing"
        return (f"heard {said} ({e['source']}, confidence {e['confidence']:.2f}, {e['audio_s']:.1f} s of audio"
                + (f", {e['lost_chunks']} chunks lost" if e.get("lost_chunks") else "") + ")" + _at(e))
    if step == "tool":
        return f"tool {e['name']}({_args(e['args'])})" + _at(e)
    if step == "tool_done":
        return f"tool {e['name']}: {e['status']} in {e['took_ms']} ms"
    if step == "confirm":
        return f"asks the user to confirm on the board: {' '.join(e['summary'].split())!r} ({e['ttl_s']:.0f} s)"
    if step == "confirmed":
        return ("button: approved" if e["approved"] else f"not approved: {e['reason']}") + f" after {e['took_ms'] / 1000:.1f} s"
    if step == "shown":
        return f"screen: {' / '.join(e['text'].splitlines())!r}" + _at(e)
    if step == "reply":
        return f"answered{_at(e)}" + ("" if e["ok"] else " (not done)")
    if step == "spoken":
        return f"spoke {e['seconds']:.1f} s of speech" + _at(e)
    if step == "timer_fired":
        after = f" (heard here {e['delay_s']:.1f} s later)" if e.get("delay_s") is not None else ""
        return f"timer {e['label'] or e['tid']!r} fired on the board{after}"
    if step == "broken_off":
        return "utterance broken off: ignored"
    if step == "speech_stopped":
        return f"speech stopped ({e['why']})"
    if step == "confirm_late":
        return f"a confirmation answered after the host stopped waiting (result {e['result']}): nothing ran"
    if step == "paired":
        return "paired: the board has a new approval key"
    if step == "error":
        return f"error: {e['text']}"
    return step

"""One board's conversation: text or a transcript in, an answer on the screen and speaker out.

The session owns the wiring (store, confirmer, tools, agents) so the bridge,
the command line and the tests build it the same way.
"""

import time

from .offline import NOT_CAUGHT, OfflineAgent, Reply
from .tools import ToolContext
from .toolset import build_registry

MIN_CONFIDENCE = 0.2  # for free dictation only (see hear)


class AgentSession:
    def __init__(self, device, store, confirmer, llm=None, tts=None, clock=time.time, registry=None):
        self.device = device
        self.store = store
        self.confirmer = confirmer
        self.registry = registry or build_registry()
        self.offline = OfflineAgent(self.registry)
        self.llm = llm
        self.tts = tts
        self.clock = clock

    @property
    def ctx(self):
        return ToolContext(self.device.board, self.device, self.store, self.confirmer, self.clock)

    async def _show(self, text):
        await self.device.show_text(text)

    async def ask(self, text, speak=True):
        """Answer typed or recognised text; the reply is shown (streamed for the LLM) and spoken."""
        if self.llm is not None:
            reply = await self.llm.reply(self.ctx, text, on_text=self._show)
        else:
            reply = await self.offline.reply(self.ctx, text, on_text=self._show)
        if speak and self.tts is not None:
            await self.device.play_audio(self.tts.synthesize(reply.speech).pcm)
        return reply

    async def hear(self, transcript, speak=True):
        """A recogniser's final result: nothing, or unsure free dictation -> say so instead of guessing.

        A reading from the commands model is already gated: the grammar accepted it and
        it explained the audio about as well as the general model did.
        """
        unsure = transcript.source != "commands" and transcript.confidence < MIN_CONFIDENCE
        if not transcript.text or unsure:
            reply = Reply(NOT_CAUGHT, "Sorry, I didn't catch that.", None, [], ok=False)
            await self._show(reply.text)
            if speak and self.tts is not None:
                await self.device.play_audio(self.tts.synthesize(reply.speech).pcm)
            return reply
        return await self.ask(transcript.text, speak=speak)

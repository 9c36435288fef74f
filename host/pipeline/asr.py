"""Speech to text for one board, in a worker process of its own.

PocketSphinx holds the GIL while it builds a decoder (seconds) and while it
decodes a chunk (tens of ms); in the bridge's process that would stall every
board's link. So each board gets one process (asr_worker.py) with one engine, fed the utterance's chunks as they arrive. Requests go down its
stdin and replies come up its stdout, in order, as length-prefixed pickles;
only `load`, `adapt` and `finish` answer.
"""

import asyncio
import collections
import logging
import pickle
import struct
import sys
import time

from pocket_agent.errors import PocketError

from .wake import WAKE_PHRASE

log = logging.getLogger("pocket.pipeline")

_ANSWERS = {"load", "adapt", "finish"}  # the requests that get a reply


class AsrWorker:
    """One board's recogniser. start/feed/cancel/restore return at once; load and finish are awaited."""

    def __init__(self, channel=None, phrase=WAKE_PHRASE, acoustic_model=None):
        self.proc = None
        self.waiting = collections.deque()  # futures of the requests that answer, oldest first
        self.queued = []  # requests made before the process was up
        self.fed = 0  # bytes fed to the current utterance
        self.failed = None
        self.t0 = time.monotonic()
        self.ready = self._call("load", channel, phrase, acoustic_model)
        self.started = asyncio.get_running_loop().create_task(self._spawn(), name="asr worker")

    async def _spawn(self):
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "pocket_agent.host.pipeline.asr_worker", stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE)
        except OSError as exc:
            self._fail(f"cannot start the speech recogniser: {exc}")
            return
        for frame in self.queued:
            self.proc.stdin.write(frame)
        self.queued = None
        try:
            while True:
                head = await self.proc.stdout.readexactly(4)
                body = await self.proc.stdout.readexactly(struct.unpack("<I", head)[0])
                ok, value = pickle.loads(body)
                fut = self.waiting.popleft()
                if fut is self.ready:
                    self._load_s = time.monotonic() - self.t0
                if not fut.done():
                    fut.set_result(value) if ok else fut.set_exception(PocketError(f"speech recogniser: {value}"))
        except (asyncio.IncompleteReadError, ConnectionError):
            self._fail(f"the speech recogniser stopped (exit code {await self.proc.wait()})")

    def _fail(self, why):
        self.failed = why
        while self.waiting:
            fut = self.waiting.popleft()
            if not fut.done():
                fut.set_exception(PocketError(why, hint="see the bridge's log; restart the bridge"))

    def _call(self, op, *args):
        body = pickle.dumps((op, args))
        frame = struct.pack("<I", len(body)) + body
        fut = None
        if op in _ANSWERS:
            fut = asyncio.get_running_loop().create_future()
            if self.failed:
                fut.set_exception(PocketError(self.failed))
                return fut
            self.waiting.append(fut)
        if self.failed:
            return fut
        if self.proc is None:
            self.queued.append(frame)
        elif self.proc.returncode is None:
            self.proc.stdin.write(frame)
        return fut

    async def wait_ready(self):
        """-> seconds the engine took to load, from the worker's start."""
        await asyncio.shield(self.ready)
        return self.load_s

    @property
    def load_s(self):
        return self._load_s if self.ready.done() else None

    def restore(self, channel):
        """What an earlier session learnt about this board's microphone."""
        self._call("restore", channel)

    def adapt(self, acoustic_model):
        """Rebuild the decoders with the board's adapted acoustic model (host/speech/adapt.py), some
        seconds; the recogniser is ready again once they are (a model it cannot load is logged, and
        the decoders it had stay)."""
        self.ready = self._call("adapt", acoustic_model)
        self.ready.add_done_callback(self._adapted)

    @staticmethod
    def _adapted(fut):
        if not fut.cancelled() and fut.exception() is None and fut.result():
            log.warning("speech recogniser: %s", fut.result())

    def start(self):
        self.fed = 0
        self._call("start")

    def feed(self, pcm):
        self.fed += len(pcm)
        self._call("feed", bytes(pcm))

    def cancel(self):
        self._call("cancel")

    async def finish(self):
        """-> (Transcript or None, the engine's channel state)."""
        return await self._call("finish")

    async def decode(self, pcm, chunk_bytes=3840):
        """A whole utterance at once (when chunks were missed on the way)."""
        self.start()
        for i in range(0, len(pcm), chunk_bytes):
            self.feed(pcm[i:i + chunk_bytes])
        return await self.finish()

    async def close(self):
        """Stop at once, even while the engine is still being built."""
        self.started.cancel()
        await asyncio.gather(self.started, return_exceptions=True)
        self._fail("the speech recogniser was closed")
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

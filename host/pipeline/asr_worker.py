"""The speech recogniser's process: one board's PocketSphinx engine (see asr.py).

Requests arrive on stdin as length-prefixed pickles (op, args); `load` and
`finish` answer on stdout the same way, with (ok, value).
"""

import pickle
import signal
import struct
import sys
import time

from .wake import command_sentences, strip_wake

ANSWERS = {"load", "adapt", "finish"}


class _Worker:
    def __init__(self):
        self.engine = None
        self.stream = None
        self.error = None  # from a request that does not answer; reported by the next finish

    def load(self, channel, phrase, acoustic_model=None):
        self.phrase = phrase
        self.engine = self._engine(acoustic_model)
        if channel:
            self.engine.restore_channel(channel)
        return True

    def _engine(self, acoustic_model):
        from pocket_agent.host.agent.grammar import grammar
        from pocket_agent.host.speech.sphinx import PocketSphinxEngine

        g, phrase = grammar(), self.phrase
        # users say the wake phrase before a request even with push-to-talk: the grammar search allows it
        return PocketSphinxEngine(sentences=command_sentences(phrase), lead_in=(phrase,) if phrase else (),
                                  accept=lambda text: g.parse(strip_wake(text, phrase)) is not None,
                                  acoustic_model=acoustic_model)

    def adapt(self, acoustic_model):
        """The decoders again, with a board's adapted acoustic model; what they learnt of the channel
        stays. -> None, or why the model was not loaded (the decoders it had stay)."""
        channel = self.engine.channel_state()
        try:
            engine = self._engine(acoustic_model)
        except Exception as exc:  # reported; recognition goes on without the adaptation
            return f"the adapted model {acoustic_model} was not loaded ({type(exc).__name__}: {exc})"
        engine.restore_channel(channel)
        self.engine = engine
        return None

    def restore(self, channel):
        self.engine.restore_channel(channel)

    def start(self):
        self.error = None
        self.stream = self.engine.stream()  # abandons an unfinished one

    def feed(self, pcm):
        if self.stream is not None and not self.stream.done:
            self.stream.feed(pcm)

    def cancel(self):
        if self.stream is not None and not self.stream.done:
            self.stream.cancel()
        self.stream = None

    def finish(self):
        stream, self.stream = self.stream, None
        if self.error:
            error, self.error = self.error, None
            raise RuntimeError(error)
        if stream is None or stream.done:
            return None, self.engine.channel_state()
        t0 = time.perf_counter()
        transcript = stream.finish()
        transcript.details["finish_ms"] = round((time.perf_counter() - t0) * 1000)
        return transcript, self.engine.channel_state()


def main():
    # The bridge stops this process (or it sees stdin close); a Ctrl-C at the terminal is the bridge's to handle.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    worker = _Worker()
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write to the reply stream
    while head := inp.read(4):
        op, args = pickle.loads(inp.read(struct.unpack("<I", head)[0]))
        try:
            reply = (True, getattr(worker, op)(*args))
        except Exception as exc:  # reported to the bridge, which goes on
            if op not in ANSWERS:
                worker.error = f"{op}: {type(exc).__name__}: {exc}"
                continue
            reply = (False, f"{type(exc).__name__}: {exc}")
        if op in ANSWERS:
            body = pickle.dumps(reply)
            out.write(struct.pack("<I", len(body)) + body)
            out.flush()


if __name__ == "__main__":
    main()

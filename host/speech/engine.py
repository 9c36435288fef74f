"""The speech-to-text interface: feed 16 kHz int16 chunks as they arrive, get text with a confidence.

An engine makes streams; a stream takes audio as it comes (the board sends it
in small chunks), may offer a partial hypothesis after each chunk, and gives
the final transcript when the utterance ends. Other engines plug in by
implementing these two classes.
"""

import abc
from dataclasses import dataclass, field


@dataclass
class Transcript:
    text: str
    confidence: float  # 0..1; 0 when nothing was heard
    final: bool = True
    source: str = ""  # which part of the engine produced it (e.g. "commands", "dictation")
    details: dict = field(default_factory=dict)


class RecognitionStream(abc.ABC):
    @abc.abstractmethod
    def feed(self, pcm):
        """Add a chunk of 16-bit mono PCM; returns a partial Transcript or None."""

    @abc.abstractmethod
    def finish(self):
        """End of the utterance: the final Transcript (text may be empty)."""


class SpeechEngine(abc.ABC):
    sample_rate = 16000

    @abc.abstractmethod
    def stream(self):
        """Start one utterance."""

    def transcribe(self, pcm, chunk_bytes=3200):
        """A whole clip, fed in chunks as a board would send it."""
        s = self.stream()
        for i in range(0, len(pcm), chunk_bytes):
            s.feed(pcm[i:i + chunk_bytes])
        return s.finish()

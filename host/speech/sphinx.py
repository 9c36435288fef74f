"""PocketSphinx, biased toward the offline agent's requests, still open to free dictation.

Two decoders hear the same audio as it arrives:
  - "commands": a trigram model trained on sentences expanded from the agent's
    grammar (host/agent/grammar.py), so the requests the agent can act on are
    what it expects;
  - "dictation": PocketSphinx's general English model, for anything else.
Both search with the same acoustic model, so their path scores (acoustic plus
weighted language model) compare. At the end the commands result wins unless
dictation explains the audio better by more than `bias`. When the commands
model's best guess is not a request the agent accepts, its next few guesses
(n-best) are tried before giving up on it. The confidence is the per-word
geometric mean of the winner's posterior probability.
"""

import hashlib
import itertools
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from pocket_agent.errors import PocketError

from .engine import RecognitionStream, SpeechEngine, Transcript

# words the grammar uses that CMUdict lacks
EXTRA_PRONUNCIATIONS = {
    "unmute": "AH N M Y UW T", "litre": "L IY T ER", "litres": "L IY T ER Z", "kph": "K EY P IY EY CH",
}
DEFAULT_BIAS = 1000.0  # decoder log units; middle of the best plateau of `bench/agent.py --tune` (tuning voices only)
PARTIAL_EVERY = 5  # chunks between partial hypotheses
NBEST = 10  # commands guesses tried against the grammar
# A faint noise floor is added to all audio: a microphone never outputs exact zeros,
# but files and synthesized speech do, and the log-energy features misbehave on them.
# A recording decoded whole also gets some quiet before and after, since a file may
# start and end on speech. (Streams get no padding: on the tuning voices it did not
# help, and the board's push-to-talk audio starts before the words.)
PAD_SECONDS = 0.25
NOISE_FLOOR_DBFS = -66.0
# Commands model training: chosen by word error rate on the tuning voices (see bench/agent.py)
SENTENCES_PER_TEMPLATE = 150
DISCOUNT_MASS = 0.1


def _cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pocket-agent" / "speech"


def build_command_lm(sentences, folder=None):
    """Train the commands trigram model (ARPA) from sentences; cached by content."""
    from pocketsphinx.lm import ArpaBoLM

    text = "\n".join(sentences) + "\n"
    digest = hashlib.sha256(f"{DISCOUNT_MASS}\n{text}".encode()).hexdigest()[:16]
    folder = Path(folder) if folder else _cache_dir()
    path = folder / f"commands-{digest}.arpa"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    lm = ArpaBoLM(text=text, add_start=True, discount_mass=DISCOUNT_MASS)
    lm.compute()
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    os.close(fd)
    lm.write_file(tmp)
    os.replace(tmp, path)
    return path


class PocketSphinxEngine(SpeechEngine):
    def __init__(self, sentences=None, bias=DEFAULT_BIAS, dictation=True, cache_dir=None, accept=None):
        try:
            import pocketsphinx
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise PocketError("pocketsphinx is not installed", hint="./run setup") from exc
        if sentences is None or accept is None:
            from pocket_agent.host.agent.grammar import grammar

            sentences = grammar().sentences(per_template=SENTENCES_PER_TEMPLATE) if sentences is None else sentences
            accept = accept or (lambda text: grammar().parse(text) is not None)
        self.bias = bias
        self.accept = accept  # text -> bool: is this a request the agent acts on
        dict_path = pocketsphinx.get_model_path("en-us/cmudict-en-us.dict")
        known = _dictionary_words(dict_path) | set(EXTRA_PRONUNCIATIONS)
        usable = [s for s in sentences if all(w in known for w in s.split())]
        lm_path = build_command_lm(usable, cache_dir)
        self.commands = pocketsphinx.Decoder(lm=str(lm_path), samprate=16000, loglevel="FATAL")
        for word, phones in EXTRA_PRONUNCIATIONS.items():
            self.commands.add_word(word, phones, True)
        self.dictation = pocketsphinx.Decoder(samprate=16000, loglevel="FATAL") if dictation else None
        self.vocabulary = sorted({w for s in usable for w in s.split()})
        self._active = None
        self.pad = self.dither(bytes(2 * int(16000 * PAD_SECONDS)), np.random.default_rng(0))

    @staticmethod
    def dither(pcm, rng):
        if NOISE_FLOOR_DBFS is None:
            return pcm
        x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
        x += rng.normal(0.0, 32768.0 * 10 ** (NOISE_FLOOR_DBFS / 20), len(x))
        return np.clip(np.round(x), -32768, 32767).astype("<i2").tobytes()

    def stream(self):
        """One utterance at a time (one engine per board): an unfinished one is abandoned."""
        if self._active is not None and not self._active.done:
            self._active.cancel()
        self._active = _SphinxStream(self)
        return self._active

    def transcribe(self, pcm, chunk_bytes=3200, whole=False):
        """A clip. `whole=True` decodes it in one pass with the clip's own cepstral mean
        (for a recording with no session behind it, e.g. a WAV file); otherwise it is
        streamed in chunks as a board sends it."""
        if not whole:
            return super().transcribe(pcm, chunk_bytes)
        if self._active is not None and not self._active.done:
            self._active.cancel()
        stream = self._active = _SphinxStream(self, whole=True)
        stream.feed(self.pad + bytes(pcm) + self.pad, whole=True)  # feed() dithers
        return stream.finish()

    def channel_state(self):
        """The decoders' running cepstral means: what they have learnt about this microphone.

        Live recognition adapts to the channel over the first utterances; a
        bridge can keep this per board and restore it next session.
        """
        return {name: d.get_cmn() for name, d in self._decoders()}

    def restore_channel(self, state):
        for name, d in self._decoders():
            if name in state:
                d.set_cmn(state[name])

    def _decoders(self):
        return [("commands", self.commands)] + ([("dictation", self.dictation)] if self.dictation else [])


def _dictionary_words(path):
    with open(path, encoding="utf-8") as f:
        return {line.split(" ", 1)[0] for line in f}


class _SphinxStream(RecognitionStream):
    def __init__(self, engine, whole=False):
        self.engine = engine
        self.whole = whole
        self.rng = np.random.default_rng(1)  # the same audio always decodes the same way
        self.decoders = [("commands", engine.commands)] + ([("dictation", engine.dictation)] if engine.dictation else [])
        for _, d in self.decoders:
            d.start_utt()
        self.chunks = 0
        self.samples = 0
        self.done = False

    def feed(self, pcm, whole=False):
        if self.done:
            raise RuntimeError("this recognition stream has finished")
        pcm = bytes(pcm)
        if len(pcm) % 2:
            raise ValueError("PCM chunks hold whole 16-bit samples")
        pcm = self.engine.dither(pcm, self.rng)
        for _, d in self.decoders:
            d.process_raw(pcm, False, whole)
        self.chunks += 1
        self.samples += len(pcm) // 2
        if self.chunks % PARTIAL_EVERY == 0:
            hyp = self.engine.commands.hyp()
            if hyp and hyp.hypstr:
                return Transcript(hyp.hypstr, 0.0, final=False, source="commands")
        return None

    def cancel(self):
        self.done = True
        for _, d in self.decoders:
            d.end_utt()

    def finish(self):
        if self.done:
            raise RuntimeError("this recognition stream has finished")
        self.done = True
        results = {}
        for name, d in self.decoders:
            d.end_utt()
            hyp = d.hyp()
            if hyp is None or not hyp.hypstr.strip():
                continue
            words = [s.word for s in d.seg() if not s.word.startswith(("<", "[", "+"))]
            log_score = d.get_logmath().log(hyp.score) if hyp.score > 0 else -math.inf
            conf = hyp.prob ** (1.0 / max(1, len(words))) if hyp.prob > 0 else 0.0
            results[name] = (hyp.hypstr.strip(), log_score, min(1.0, conf))
        details = {name: {"text": r[0], "score": r[1], "confidence": r[2]} for name, r in results.items()}
        details["seconds"] = self.samples / 16000
        if not results:
            return Transcript("", 0.0, source="", details=details)
        reading = None  # the commands model's best guess the agent accepts
        if "commands" in results:
            if self.engine.accept(results["commands"][0]):
                reading = results["commands"][0]
            else:
                for rank, alt in enumerate(itertools.islice(self.engine.commands.nbest(), 1, NBEST), start=1):
                    if self.engine.accept(alt.hypstr):
                        reading, details["nbest_rank"] = alt.hypstr.strip(), rank
                        break
        details["commands_reading"] = reading
        choice = decide(details, self.engine.bias)
        if choice == "commands":
            return Transcript(reading or results["commands"][0], results["commands"][2], source=choice, details=details)
        return Transcript(results["dictation"][0], results["dictation"][2], source=choice, details=details)


def decide(details, bias):
    """Commands or dictation, from the two decoders' results (kept apart so the bias can be tuned offline)."""
    commands, dictation = details.get("commands"), details.get("dictation")
    if dictation is None:
        return "commands"
    if commands is None:
        return "dictation"
    if dictation["score"] > commands["score"] + bias:
        return "dictation"
    # not a request the agent accepts: free dictation is the better reading
    return "commands" if details.get("commands_reading") else "dictation"

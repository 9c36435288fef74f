"""PocketSphinx, biased toward the offline agent's requests, still open to free dictation.

Three decoders hear the same audio as it arrives, all with the same acoustic model:
  - "grammar": a finite-state grammar search over the agent's templates with
    their slots spelled out as word classes (host/agent/wordgraph.py). What it
    hears is always a request the parser accepts (optionally with a garbage
    loop of single phones beside it, see GARBAGE_PER_PHONE);
  - "commands": a trigram model trained on sentences expanded from the same
    grammar; it reads requests whose free text the grammar does not list;
  - "dictation": PocketSphinx's general English model, for anything else.
At the end the grammar reading wins when it is a whole request and the commands
decoder heard some of it too (grammar_wins); if the commands decoder read another
request, a forced alignment of the two picks the one the audio fits better.
Otherwise the commands result wins unless dictation explains the audio better by
more than `bias` (path scores compare: same acoustic model); when the commands
model's best guess is not a request the agent accepts, its next few guesses
(n-best) are tried before giving up on it. `details` holds each decoder's
reading. The confidence is the per-word geometric mean of the winner's posterior
probability (for a grammar reading: 0.5 plus half its agreement with the
commands decoder).
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

# the acoustic model's context-independent phones: the grammar search's garbage loop
PHONES = ("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z "
          "ZH").split()

# words the grammar uses that CMUdict lacks
EXTRA_PRONUNCIATIONS = {
    "unmute": "AH N M Y UW T", "litre": "L IY T ER", "litres": "L IY T ER Z", "kph": "K EY P IY EY CH",
}
# decoder log units, for when no grammar reading wins; from `bench/agent.py --tune` (tuning voices
# only): requests right / non-requests refused were -1000: 95/129, 22/24; -500: 97/129, 22/24;
# 0 to 500: 99/129, 20/24; 1000: 99/129, 19/24. The top of the best plateau: a request the
# grammar search missed still goes to the commands reading when dictation fits only a little better.
DEFAULT_BIAS = 500.0
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
# Grammar search: probability of each phone in a garbage loop beside the grammar (a penalty per
# phone against "no request"); 0 leaves it out. On the tuning voices (`bench/agent.py --tune
# --garbage X`) the loop also turned down requests the grammar read right, and more so on a
# channel the recogniser had barely heard; requiring the commands decoder to agree (below) kept
# more of them: no loop and agreement: 99/129 requests right, 20/24 non-requests refused (at the
# bias below); the loop at 2e-3 alone: 90/129, 24/24 (5e-5: 95/129, 20/24).
GARBAGE_PER_PHONE = 0.0
# A grammar reading is taken when the commands decoder heard some of it too: this share of its
# words (1 - word edits / words) must be exceeded. A non-request forced through the grammar reads as
# a request the commands decoder did not hear at all.
MIN_AGREEMENT = 0.0
# The grammar search's best path is its own Viterbi path: the lattice's best path
# (bestpath) ignores the grammar's final state and returns cut-off requests.
GRAMMAR_DECODER = {"bestpath": False}


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
    def __init__(self, sentences=None, bias=DEFAULT_BIAS, dictation=True, cache_dir=None, accept=None,
                 grammar_search=True, lead_in=(), garbage=GARBAGE_PER_PHONE):
        """`lead_in`: phrases that may come before a request (a wake phrase) in the grammar search.
        `grammar_search=False` leaves the commands and dictation decoders only."""
        try:
            import pocketsphinx
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise PocketError("pocketsphinx is not installed", hint="./run setup") from exc
        if sentences is None or accept is None:
            from pocket_agent.host.agent.grammar import grammar

            sentences = grammar().sentences(per_template=SENTENCES_PER_TEMPLATE) if sentences is None else sentences
            accept = accept or (lambda text: grammar().parse(text) is not None)
        self.bias = bias
        self.garbage = garbage if grammar_search else None
        self.accept = accept  # text -> bool: is this a request the agent acts on
        dict_path = pocketsphinx.get_model_path("en-us/cmudict-en-us.dict")
        known = _dictionary_words(dict_path) | set(EXTRA_PRONUNCIATIONS)
        usable = [s for s in sentences if all(w in known for w in s.split())]
        lm_path = build_command_lm(usable, cache_dir)
        self.commands = pocketsphinx.Decoder(lm=str(lm_path), samprate=16000, loglevel="FATAL")
        for word, phones in EXTRA_PRONUNCIATIONS.items():
            self.commands.add_word(word, phones, True)
        self.dictation = pocketsphinx.Decoder(samprate=16000, loglevel="FATAL") if dictation else None
        self.grammar = self.grammar_fsg = self.aligner = None
        if grammar_search:
            self.grammar, self.grammar_fsg = _grammar_decoder(pocketsphinx, known, lead_in, garbage)
            self.aligner = pocketsphinx.Decoder(lm=None, samprate=16000, loglevel="FATAL")
            for word, phones in EXTRA_PRONUNCIATIONS.items():
                self.aligner.add_word(word, phones, False)
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
            elif "commands" in state:  # saved before the grammar search existed: same microphone
                d.set_cmn(state["commands"])

    def _decoders(self):
        return ([("grammar", self.grammar)] if self.grammar else []) + [("commands", self.commands)] + (
            [("dictation", self.dictation)] if self.dictation else [])


def _dictionary_words(path):
    with open(path, encoding="utf-8") as f:
        return {line.split(" ", 1)[0] for line in f}


def _garbage_word(phone):
    return f"+{phone.lower()}+"  # a filler-like name: never a word of a transcript


def _grammar_decoder(pocketsphinx, known, lead_in, garbage):
    """A decoder searching the grammar's word graph, with a phone loop beside it for anything else."""
    from pocket_agent.host.agent import wordgraph

    graph = wordgraph.build(lead_in=lead_in)
    missing = [w for w in graph.vocabulary() if w not in known]
    if missing:
        raise PocketError(f"the grammar uses words the recogniser cannot say: {', '.join(missing)}",
                          hint="add their pronunciations to EXTRA_PRONUNCIATIONS in host/speech/sphinx.py")
    decoder = pocketsphinx.Decoder(lm=None, samprate=16000, loglevel="FATAL", **GRAMMAR_DECODER)
    for word, phones in EXTRA_PRONUNCIATIONS.items():
        decoder.add_word(word, phones, False)
    transitions = graph.transitions()
    if garbage:
        for phone in PHONES:
            decoder.add_word(_garbage_word(phone), phone, False)
        loop = graph.states  # a state of its own
        share = garbage / len(PHONES)
        transitions = [(a, z, p * (1 - garbage) if a == wordgraph.START else p, w) for a, z, p, w in transitions]
        for phone in PHONES:
            for a, z in ((wordgraph.START, loop), (loop, loop), (loop, wordgraph.FINAL)):
                transitions.append((a, z, share, _garbage_word(phone)))
    fsg = decoder.create_fsg("grammar", wordgraph.START, wordgraph.FINAL, transitions)
    decoder.add_fsg("grammar", fsg)
    decoder.activate_search("grammar")
    return decoder, fsg


class _SphinxStream(RecognitionStream):
    def __init__(self, engine, whole=False):
        self.engine = engine
        self.whole = whole
        self.rng = np.random.default_rng(1)  # the same audio always decodes the same way
        self.decoders = engine._decoders()
        for _, d in self.decoders:
            d.start_utt()
        # kept for aligning two readings at the end: the audio and the channel as the utterance began
        self.audio = []
        self.cmn = engine.grammar.get_cmn() if engine.grammar else None
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
        if self.engine.aligner:
            self.audio.append(pcm)
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
        results, grammar_path = {}, {}
        for name, d in self.decoders:
            d.end_utt()
            hyp = d.hyp()
            if hyp is None or not hyp.hypstr.strip():
                continue
            words = [s.word for s in d.seg() or () if not s.word.startswith(("<", "[", "+"))]
            log_score = d.get_logmath().log(hyp.score) if hyp.score > 0 else -math.inf
            conf = hyp.prob ** (1.0 / max(1, len(words))) if hyp.prob > 0 else 0.0
            text = " ".join(w for w in hyp.hypstr.split() if not w.startswith("+"))  # no garbage phones
            results[name] = (text, log_score, min(1.0, conf))
            if name == "grammar":
                grammar_path = self._grammar_path(hyp.hypstr)
        details = {name: {"text": r[0], "score": r[1], "confidence": r[2]} for name, r in results.items()}
        details["seconds"] = self.samples / 16000
        if "grammar" in details:
            details["grammar"].update(grammar_path)
        commands = results.get("commands", ("",))[0]
        details["commands_reading"] = self._commands_reading(commands, details)
        if "grammar" in details:
            details["grammar"]["agreement"] = _agreement(details["grammar"]["text"], commands)
        if grammar_wins(details):
            reading = details["chosen_reading"] = details["grammar"]["text"]
            details["chosen"] = "grammar"
            other = details["commands_reading"]
            if other and other.split() != reading.split():
                # the commands decoder read another request; the one the audio fits better wins
                # (the grammar search can lose the better of two close words, e.g. "two" for "seven")
                details["alignment"] = {"grammar": self.fit(reading), "commands": self.fit(other)}
                if details["alignment"]["commands"] > details["alignment"]["grammar"]:
                    reading = details["chosen_reading"] = other
                    details["chosen"] = "commands"
            return Transcript(reading, 0.5 + 0.5 * _agreement(reading, commands), source="commands", details=details)
        if "commands" not in results and "dictation" not in results:
            return Transcript("", 0.0, source="", details=details)
        choice = details["chosen"] = decide(details, self.engine.bias)
        if choice == "commands":
            reading = details["commands_reading"] or commands
            return Transcript(reading, results["commands"][2], source=choice, details=details)
        return Transcript(results["dictation"][0], results["dictation"][2], source=choice, details=details)

    def _commands_reading(self, commands, details):
        """The commands model's best guess the agent accepts: its first, else one of its next few (n-best)."""
        if not commands or self.engine.accept(commands):
            return commands or None
        for rank, alt in enumerate(itertools.islice(self.engine.commands.nbest() or (), 1, NBEST), start=1):
            if self.engine.accept(alt.hypstr):
                details["nbest_rank"] = rank
                return alt.hypstr.strip()
        return None

    def fit(self, text):
        """How well this utterance's audio fits `text`: its score in a forced alignment (higher is better)."""
        aligner = self.engine.aligner
        aligner.set_cmn(self.cmn)
        aligner.set_align_text(text)
        aligner.start_utt()
        aligner.process_raw(b"".join(self.audio), False, self.whole)
        aligner.end_utt()
        hyp = aligner.hyp()
        return aligner.get_logmath().log(hyp.score) if hyp is not None and hyp.score > 0 else -math.inf

    def _grammar_path(self, hypstr):
        """Is the grammar search's path a whole request? Not when it went through the garbage loop
        or was cut off before the grammar's end (the search returns its best partial path then)."""
        garbage = sum(w.startswith("+") for w in hypstr.split())
        complete = (not garbage and self.engine.grammar_fsg.accept(hypstr) and self.engine.accept(hypstr))
        return {"complete": bool(complete), "garbage_phones": garbage}


def _agreement(reading, heard):
    """How much of a reading another decoder heard too: 1 - word edits / words (0 to 1)."""
    words = reading.split()
    return 1 - min(1.0, _edits(words, heard.split()) / max(1, len(words)))


def _edits(a, b):
    d = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        prev, d = d, [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
    return d[len(b)]


def grammar_wins(details):
    """A whole request, read by the grammar search, that the commands decoder heard some of too."""
    reading = details.get("grammar") or {}
    return bool(reading.get("complete")) and reading.get("agreement", 0.0) > MIN_AGREEMENT


def decide(details, bias):
    """Grammar, commands or dictation, from the decoders' results (kept apart so the bias can be tuned offline)."""
    if grammar_wins(details):
        return "grammar"
    commands, dictation = details.get("commands"), details.get("dictation")
    if dictation is None:
        return "commands"
    if commands is None:
        return "dictation"
    if dictation["score"] > commands["score"] + bias:
        return "dictation"
    # not a request the agent accepts: free dictation is the better reading
    return "commands" if details.get("commands_reading") else "dictation"

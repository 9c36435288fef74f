"""PocketSphinx, biased toward the offline agent's requests, still open to free dictation.

Three decoders hear the same audio as it arrives, all with the same acoustic model:
  - "grammar": a finite-state grammar search over the agent's templates with
    their slots spelled out as word classes (host/agent/wordgraph.py). What it
    hears is always a request the parser accepts (optionally with a garbage
    loop of single phones beside it, see GARBAGE_PER_PHONE);
  - "commands": a trigram model trained on sentences expanded from the same
    grammar; it reads requests whose free text the grammar does not list;
  - "dictation": PocketSphinx's general English model, for anything else.
At the end a request is taken only when the audio fits it: a forced alignment
of the reading scores it per frame of speech (`fit`), and MIN_FIT is the bar.
The grammar search's whole request is tried first; then the commands decoder's,
unless dictation explains the audio better by more than `bias` (path scores
compare: same acoustic model); when the commands model's best guess is not a
request the agent accepts, its next few guesses (n-best) are tried. Anything
else is dictation. `details` holds each decoder's reading and the fits. The
confidence of a request is a logistic of its fit (0.5 at MIN_FIT); of
dictation, the per-word geometric mean of its posterior probability.
"""

import hashlib
import itertools
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from pocket_agent.errors import PocketError

from .adapt import check_model
from .engine import RecognitionStream, SpeechEngine, Transcript

# the acoustic model's context-independent phones: the grammar search's garbage loop
PHONES = ("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z "
          "ZH").split()

# words the grammar uses that CMUdict lacks
EXTRA_PRONUNCIATIONS = {
    "unmute": "AH N M Y UW T", "litre": "L IY T ER", "litres": "L IY T ER Z", "kph": "K EY P IY EY CH",
}
# decoder log units, for when no grammar reading wins; from `bench/agent.py --tune --all` (tuning
# voices only, at MIN_FIT): requests right / non-requests refused were -500: 201/258, 45/48; 500:
# 201/258, 44/48; 1500: 201/258, 42/48 (before MIN_FIT, every other tuning case: -1000: 95/129,
# 22/24; 0 to 500: 99/129, 20/24). Kept at 500: -500's one more refusal is one clip, and came after
# the held-out run had measured this setting.
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
# --garbage X`, every other tuning case, before MIN_FIT) the loop also turned down requests the
# grammar read right, and more so on a channel the recogniser had barely heard: the loop at 2e-3:
# 90/129 requests right, 24/24 non-requests refused; 5e-5: 95/129, 20/24; none: 99/129, 20/24.
# What a non-request forced through the grammar reads as is turned down by its fit (MIN_FIT).
GARBAGE_PER_PHONE = 0.0
# A reading is a request when a forced alignment of it scores at least this per frame of speech
# (decoder log units; each frame's score is relative to its best-matching senone, so 0 is a perfect
# fit). From `bench/agent.py --tune --all` (tuning voices only: 258 requests, 48 non-requests; bias
# 500): -40: 207 right, 32 refused; -38: 206, 33; -36: 203, 35; -34: 201, 42; -32: 201, 44; -30:
# 194, 46. The rule it replaced (a grammar reading needed the commands decoder to have heard some of
# it; default beams): 185, 40. The highest setting before requests are lost: a non-request acted on
# costs more than a request not caught. (Switching to the commands reading when it fit better than
# the grammar's by a margin lost requests at every margin tried, 0 to 8.)
MIN_FIT = -32.0
FIT_SCALE = 4.0  # fit units per e-fold of the confidence's logistic
# The grammar search's best path is its own Viterbi path: the lattice's best path
# (bestpath) ignores the grammar's final state and returns cut-off requests. Its beams are wider
# than PocketSphinx's defaults (1e-48, 7e-29, 1e-48): with those, paths through the large graph were
# pruned before the words that decide them, and 19 of 306 tuning clips ended with no whole request.
# On the tuning voices the grammar reading alone was right for 209/258 requests instead of 197/258
# (with -lw 4 or 9, or one share per template instead of per conversion dimension: 197-198); the
# search's CPU time went from 0.15 to 0.20 of real time (the dictation decoder's: 0.46).
GRAMMAR_DECODER = {"bestpath": False, "beam": 1e-70, "wbeam": 1e-50, "pbeam": 1e-70}


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
                 grammar_search=True, lead_in=(), garbage=GARBAGE_PER_PHONE, acoustic_model=None):
        """`lead_in`: phrases that may come before a request (a wake phrase) in the grammar search.
        `grammar_search=False` leaves the commands and dictation decoders only. `acoustic_model`: the
        folder of a board's adapted acoustic model (adapt.py) instead of the wheel's."""
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
        self.acoustic_model = acoustic_model and check_model(acoustic_model)
        acoustic = {"samprate": 16000, "loglevel": "FATAL", **({"hmm": self.acoustic_model} if acoustic_model else {})}
        self.commands = pocketsphinx.Decoder(lm=str(lm_path), **acoustic)
        for word, phones in EXTRA_PRONUNCIATIONS.items():
            self.commands.add_word(word, phones, True)
        self.dictation = pocketsphinx.Decoder(**acoustic) if dictation else None
        self.grammar = self.grammar_fsg = self.aligner = None
        if grammar_search:
            self.grammar, self.grammar_fsg = _grammar_decoder(pocketsphinx, known, lead_in, garbage, acoustic)
            self.aligner = pocketsphinx.Decoder(lm=None, **acoustic)
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


def _grammar_decoder(pocketsphinx, known, lead_in, garbage, acoustic):
    """A decoder searching the grammar's word graph, with a phone loop beside it for anything else."""
    from pocket_agent.host.agent import wordgraph

    graph = wordgraph.build(lead_in=lead_in)
    missing = [w for w in graph.vocabulary() if w not in known]
    if missing:
        raise PocketError(f"the grammar uses words the recogniser cannot say: {', '.join(missing)}",
                          hint="add their pronunciations to EXTRA_PRONUNCIATIONS in host/speech/sphinx.py")
    decoder = pocketsphinx.Decoder(lm=None, **acoustic, **GRAMMAR_DECODER)
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
            if grammar_path["complete"]:
                details["grammar"]["fit"] = self.fit_per_frame(details["grammar"]["text"])
        if choose(details, self.engine.bias)[0] != "grammar":  # only then is the commands reading needed
            reading = details["commands_reading"] = self._commands_reading(results.get("commands", ("",))[0], details)
            if reading:
                details["commands_fit"] = self.fit_per_frame(reading)
        choice, text = choose(details, self.engine.bias)
        details["chosen"] = choice
        if choice == "grammar":
            return Transcript(text, fit_confidence(details["grammar"]["fit"]), source="commands", details=details)
        if choice == "commands":
            return Transcript(text, fit_confidence(details["commands_fit"]), source="commands", details=details)
        if choice == "dictation":
            return Transcript(text, results["dictation"][2], source="dictation", details=details)
        return Transcript("", 0.0, source="", details=details)

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
        return self._align(text)[0]

    def fit_per_frame(self, text):
        """The forced alignment's score per frame of speech (silence left out): comparable across lengths."""
        score, speech = self._align(text)
        return score / max(1, speech)

    def _align(self, text):
        aligner = self.engine.aligner
        aligner.set_cmn(self.cmn)
        aligner.set_align_text(text)
        aligner.start_utt()
        aligner.process_raw(b"".join(self.audio), False, self.whole)
        aligner.end_utt()
        hyp = aligner.hyp()
        if hyp is None or hyp.score <= 0:  # no alignment (the score is a probability here)
            return -math.inf, 0
        speech = sum(s.end_frame - s.start_frame + 1 for s in aligner.seg() or () if s.word not in _NOT_SPEECH)
        return aligner.get_logmath().log(hyp.score), speech

    def _grammar_path(self, hypstr):
        """Is the grammar search's path a whole request? Not when it went through the garbage loop
        or was cut off before the grammar's end (the search returns its best partial path then)."""
        garbage = sum(w.startswith("+") for w in hypstr.split())
        complete = (not garbage and self.engine.grammar_fsg.accept(hypstr) and self.engine.accept(hypstr))
        return {"complete": bool(complete), "garbage_phones": garbage}


_NOT_SPEECH = ("<s>", "</s>", "<sil>")


def fit_confidence(fit):
    """0..1 from a fit per frame of speech: 0.5 at MIN_FIT, near 1 well above it."""
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, (fit - MIN_FIT) / FIT_SCALE))))


def choose(details, bias, min_fit=MIN_FIT):
    """The reading to act on, from the decoders' results: (which, text) with which one of "grammar",
    "commands", "dictation" or "" (nothing). Kept apart so that its settings can be tuned offline."""
    grammar = details.get("grammar") or {}
    if grammar.get("complete") and grammar.get("fit", -math.inf) >= min_fit:
        return "grammar", grammar["text"]
    request = details.get("commands_reading") if details.get("commands_fit", -math.inf) >= min_fit else None
    commands, dictation = details.get("commands"), details.get("dictation")
    if request and commands and (dictation is None or dictation["score"] <= commands["score"] + bias):
        return "commands", request
    if dictation:  # free dictation: not a request, or one the audio does not bear out
        return "dictation", dictation["text"]
    return "", ""

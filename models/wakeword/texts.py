"""Texts to speak: the phrase and its respellings, confusable phrases from the
pronouncing dictionary, and other speech. Training and evaluation draw their
other speech from different sources (license texts and assistant commands for
training; Python's own docstrings for evaluation)."""

import re
from pathlib import Path

CMUDICT = Path("/usr/share/festival/dicts/cmu/cmudict-0.4.out")
LICENSES = Path("/usr/share/common-licenses")

# Respellings steer the engines toward the intended pronunciation; phoneme
# strings ([[...]]) are espeak-ng's own notation.
RESPELL = {
    "hey pocket": {
        "en": ["hey pocket", "hey, pocket", "hey pocket!", "hay pocket", "hey pokket", "hey pockit",
               "hey poc kit", "[[h'eI p'0kIt]]", "[[heI p'A:kIt]]", "[[h'eI p'0k@t]]"],
        "de": ["hey pocket", "hei pockett"], "fr": ["hé pokète", "hey pocket"],
        "es": ["jei pókit", "hey pocket"], "it": ["ei pòchet", "hey pocket"],
        "pl": ["hej pokit", "hey pocket"], "pt": ["rei pókit"], "sv": ["hej pockit"],
        "fi": ["hei pokket"], "cs": ["hej pokit", "hej poket"], "ca": ["ei pòquet"],
        "ru": ["хэй покит", "хей покет"],
        "hi": ["हे पॉकेट", "हेय पॉकिट", "हे पाकेट"], "te": ["హే పాకెట్", "హేయ్ పాకిట్"],
    },
    "hey jarvis": {
        "en": ["hey jarvis", "hey, jarvis", "hey jarvis!", "hay jarvis", "hey jarviss", "hey jar vis",
               "[[h'eI dZ'A@vIs]]", "[[heI dZ'A:rvIs]]"],
        "de": ["hey dschaarwis", "hey jarvis"], "fr": ["hé djarvis", "hey jarvis"],
        "es": ["jei yarvis", "hey jarvis"], "it": ["ei giàrvis", "hey jarvis"],
        "pl": ["hej dżarwis"], "pt": ["rei jarvis"], "sv": ["hej djarvis"],
        "fi": ["hei tsarvis"], "cs": ["hej džárvis"], "ca": ["ei jàrvis"],
        "ru": ["хэй джарвис"],
        "hi": ["हे जार्विस", "हेय जारविस"], "te": ["హే జార్విస్", "హేయ్ జార్విస్"],
    },
}

# Confusables written in the script of festival voices that cannot read English
# (the NSK voices): a voice heard only saying the phrase would teach the model
# "this voice means yes".
CONFUSABLES_NATIVE = {
    "hey pocket": {
        "hi": ["हे रॉकेट", "हे लॉकेट", "पॉकेट", "हे पॉपेट", "हे सॉकेट", "हे जैकेट", "हे बकेट", "हे पिक इट",
               "पॉकेट मनी", "हे पार्किंग"],
        "te": ["హే రాకెట్", "హే లాకెట్", "పాకెట్", "హే సాకెట్", "హే జాకెట్", "హే బకెట్"],
    },
    "hey jarvis": {
        "hi": ["हे ट्रैविस", "हे हार्वेस्ट", "जार्विस", "हे सर्विस", "हे मार्विन", "हे डेविस", "हे जावा",
               "हे जार"],
        "te": ["హే ట్రావిస్", "జార్విస్", "హే సర్వీస్", "హే మార్విన్", "హే డేవిస్"],
    },
}

CARRIERS_TRAIN = ["", "", "", "please ", "uh ", "okay "]
COMMANDS_TRAIN = [
    "what time is it", "set a timer for {n} minutes", "turn on the lights", "turn off the kitchen lights",
    "what is the weather like today", "play some music", "remind me to call {name} tomorrow",
    "how warm is it in here", "add milk to the shopping list", "send a message to {name}",
    "what is on my calendar", "stop", "cancel that", "read my notes", "take a note",
    "how far is the station", "call {name}", "is it going to rain", "volume up", "good morning",
]
NAMES = ["anna", "peter", "maria", "john", "li", "sam", "olga", "ravi", "emma", "tom"]
NUMS = ["two", "five", "ten", "fifteen", "twenty", "forty five"]


def native_confusables(phrase, lang):
    return CONFUSABLES_NATIVE.get(phrase.lower().strip(), {}).get(lang, [])


def words_of(phrase):
    return re.findall(r"[a-z']+", phrase.lower())


def respellings(phrase, lang):
    table = RESPELL.get(phrase.lower().strip())
    if table is None:
        return [phrase, phrase + "!", phrase.replace(" ", ", ", 1)] if lang == "en" else [phrase]
    return table.get(lang) or table["en"][:3]


def _cmudict():
    entries = {}
    if not CMUDICT.exists():
        return entries
    for line in CMUDICT.read_text(encoding="latin-1").splitlines():
        m = re.match(r'\("([a-z\']+)" \w+ \((.*)\)\)$', line.strip())
        if not m:
            continue
        word = m.group(1)
        phones = re.findall(r"[a-z]+[0-9]?", m.group(2).replace("(", " ").replace(")", " "))
        entries.setdefault(word, phones)
    return entries


def _tail(phones, n):
    """Phones from the last stressed vowel on (the rhyme), capped at n phones."""
    for i in range(len(phones) - 1, -1, -1):
        if phones[i][-1:] == "1":
            return tuple(phones[i:])[:n]
    return tuple(phones[-n:])


def confusables(phrase, limit=60):
    """Phrases that sound close: each word swapped for rhymes and near neighbours,
    words on their own, and a few hand-picked ones for known phrases."""
    words = words_of(phrase)
    cmu = _cmudict()
    out = []
    for i, w in enumerate(words):
        if w not in cmu:
            continue
        target = cmu[w]
        rhyme = _tail(target, 4)
        same_start = tuple(target[:2])
        near = []
        for cand, ph in cmu.items():
            if cand == w or not cand.isalpha() or len(cand) < 2 or ph == target:
                continue  # homophones ("hay" for "hey") are the phrase itself
            if _tail(ph, 4) == rhyme or (tuple(ph[:2]) == same_start and abs(len(ph) - len(target)) <= 1):
                near.append(cand)
        near.sort(key=lambda c: (len(c), c))
        for cand in near[:14]:
            out.append(" ".join(words[:i] + [cand] + words[i + 1:]))
        out.append(w)
    extra = {
        "hey pocket": ["hey poppet", "hey rocket", "hey locket", "pocket", "hey pick it", "hey buckets",
                       "a pocket", "hey socket", "hey jacket", "the pocket", "hey pockets of air",
                       "pocket money", "hey bucket", "hey parking", "hey pokemon", "hey pop it"],
        "hey jarvis": ["hey jarvik", "hey travis", "hey harvest", "jarvis", "hey service", "hey jar",
                       "hey marvin", "hey davis", "hey garbage", "hey nervous", "hey java"],
    }.get(phrase.lower().strip(), [])
    seen, result = set(), []
    for t in extra + out:
        if t not in seen and t != phrase.lower():
            seen.add(t)
            result.append(t)
    return result[:limit]


def _sentences(text):
    text = re.sub(r"\s+", " ", text)
    for s in re.split(r"(?<=[.!?;:])\s+", text):
        s = s.strip()
        alpha = re.sub(r"[^A-Za-z ]", "", s)
        if 4 <= len(alpha.split()) <= 40 and len(alpha) > 0.8 * len(s):
            yield " ".join(alpha.lower().split())


def _clean(sents, phrase):
    ws = [w for w in words_of(phrase) if len(w) > 3]
    return [s for s in sents if not any(w in s.split() for w in ws)]


def training_speech(phrase, rng):
    """Other speech for training: license texts, commands, random dictionary words."""
    sents = []
    for p in sorted(LICENSES.glob("*")):
        if p.is_file():
            sents.extend(_sentences(p.read_text(encoding="utf-8", errors="replace")))
    for _ in range(600):
        cmd = COMMANDS_TRAIN[rng.integers(len(COMMANDS_TRAIN))]
        cmd = cmd.format(n=NUMS[rng.integers(len(NUMS))], name=NAMES[rng.integers(len(NAMES))])
        sents.append(CARRIERS_TRAIN[rng.integers(len(CARRIERS_TRAIN))] + cmd)
    cmu = [w for w in _cmudict() if w.isalpha() and len(w) > 2]
    if cmu:
        for _ in range(800):
            sents.append(" ".join(cmu[i] for i in rng.integers(len(cmu), size=rng.integers(3, 9))))
    sents = _clean(sorted(set(sents)), phrase)
    rng.shuffle(sents)
    return sents


def evaluation_speech(phrase):
    """Other speech for evaluation: docstrings of Python's standard library."""
    import importlib
    import inspect

    mods = ["json", "argparse", "pathlib", "subprocess", "collections", "functools", "itertools",
            "inspect", "asyncio", "logging", "socket", "threading", "unittest", "re", "datetime",
            "decimal", "fractions", "statistics", "random", "string", "textwrap", "csv", "sqlite3",
            "zipfile", "tarfile", "shutil", "tempfile", "os", "io", "pickle", "copy", "heapq",
            "calendar", "locale", "email.message", "http.client", "urllib.parse", "smtplib",
            "ftplib", "wave", "sched", "queue", "contextlib", "dataclasses", "enum", "pprint",
            "traceback", "warnings", "weakref", "ssl", "hashlib", "uuid", "difflib", "configparser",
            "mailbox", "shelve", "gzip", "doctest", "cmd", "shlex", "platform", "multiprocessing",
            "ipaddress", "html.parser", "http.server", "xmlrpc.client", "socketserver", "timeit"]
    sents = []
    for m in mods:
        try:
            mod = importlib.import_module(m)
        except Exception:  # a module missing from this Python is just skipped
            continue
        for _, obj in inspect.getmembers(mod):
            if inspect.isfunction(obj) or inspect.isclass(obj):
                doc = inspect.getdoc(obj)
                if doc:
                    sents.extend(_sentences(doc))
    return _clean(sorted(set(sents)), phrase)

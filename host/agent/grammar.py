"""What the offline agent understands: one table, read by the parser and the recogniser.

Each intent has templates in a small notation:
    word          a literal word
    (a|b c)       one of the alternatives
    [a b]         optional words
    {type}        a slot; {type:name} names it when a template has two of a type
The parser compiles templates to regular expressions; the speech recogniser
expands the same templates into sentences to build its language model, so what
the agent can do and what the recogniser expects to hear never drift apart.
"""

import random
import re
from dataclasses import dataclass, field

from . import calc, numbers

# (intent, templates). Order matters: the first template that matches wins.
INTENTS = [
    ("cancel", ["(never mind|nevermind|cancel that|forget it)"]),
    ("help", ["what can you do", "help [me]", "what do you do"]),
    ("time", ["what time is it [now|right now]", "what is the time [now|please]",
              "[tell me] the time [please]", "do you have the time"]),
    ("date", ["what is [the] date [today]", "what is today's date", "what day is [it] today",
              "what day is it", "what date is it [today]", "what is today"]),
    ("timer_set", ["set a timer for {duration} (for|called|named) {text:label}",
                   "(set|start) a {duration} timer [for {text:label}]",
                   "(set|start) [a] timer for {duration}", "timer for {duration}",
                   "count down {duration}"]),
    ("timer_list", ["how (much|long) (time is|is) left [on the timer|on my timer]",
                    "(list|show) [me] [my|the] timers", "what timers (are|do i have) [set|running]",
                    "how much time is left"]),
    ("timer_cancel", ["(cancel|stop|delete|clear) (the|my|all) (timer|timers)",
                      "(cancel|stop|delete|clear) all [my|the] timers"]),
    ("alarm_set", ["set an alarm (for|at) {clock}", "wake me [up] at {clock}",
                   "set [an] alarm for {clock}", "alarm (for|at) {clock}"]),
    ("alarm_list", ["(what|which) alarms (are set|do i have)", "(list|show) [me] [my|the] alarms"]),
    ("alarm_cancel", ["(cancel|delete|turn off|clear) (the|my|all) (alarm|alarms)",
                      "(cancel|delete|clear) all [my|the] alarms"]),
    ("reminder_add", ["remind me to {text} in {duration}", "remind me in {duration} to {text}",
                      "remind me to {text} at {clock}", "remind me at {clock} to {text}",
                      "remind me about {text} in {duration}"]),
    ("reminder_list", ["(what are|list|show|read) [me] my reminders", "what reminders do i have"]),
    ("note_list", ["(list|show|read) [me] my notes", "what are my notes", "what notes do i have",
                   "how many notes do i have"]),
    ("note_read", ["read [me] (the|my) (last|latest|first|newest|oldest) note",
                   "read [me] note [number] {number}"]),
    ("note_delete", ["(delete|remove) (the|my) (last|latest|first|newest|oldest) note",
                     "(delete|remove) note [number] {number}",
                     "(delete|remove|clear) all [of] [my|the] notes"]),
    ("note_add", ["(add|make|take|write) a note [that|saying] {text}", "note that {text}",
                  "remember that {text}", "add {text} to my notes"]),
    ("shopping_remove", ["(remove|delete|take) {item} (from|off) [the|my] shopping list"]),
    ("shopping_clear", ["(clear|empty) [the|my] shopping list"]),
    ("shopping_list", ["what is on [the|my] shopping list", "(read|show) [me] [the|my] shopping list",
                       "what do i need to buy", "what is on the list"]),
    ("shopping_add", ["(add|put) {item} (to|on) [the|my] shopping list", "(add|put) {item} on the list",
                      "add {item} to the list"]),
    ("air", ["is it stuffy [in here]", "is the air (stuffy|ok|okay|fresh|good) [in here]",
             "how is the air [in here]", "(do|should) i (need to open|open) a window",
             "what is the air like [in here]"]),
    ("temperature", ["what is the temperature [in here|inside|in the room|now]",
                     "how (warm|hot|cold) is it [in here|inside]", "what temperature is it [in here]"]),
    ("humidity", ["what is the humidity [in here|inside]", "how humid is it [in here|inside]"]),
    ("pressure", ["what is the [air|barometric] pressure"]),
    ("battery", ["what is the battery [level]", "how much battery [is left|do i have]",
                 "how is the battery", "battery level"]),
    ("convert", ["convert {number} {unit:source} (to|into|in) {unit:target}",
                 "what is {number} {unit:source} in {unit:target}",
                 "how many {unit:target} (is|are|in) {number} {unit:source}",
                 "{number} {unit:source} (in|to) {unit:target}"]),
    ("calculate", ["(what is|calculate|how much is) {expression}"]),
    ("brightness", ["set [the] brightness to {level} [percent]",
                    "(turn|make) [the] (brightness|screen) {direction}", "brightness {direction}"]),
    ("volume", ["set [the] volume to {level} [percent]", "(turn|make) [it|the volume] {direction}",
                "volume {direction}", "{mute}"]),
    ("dnd", ["(turn|switch) {switch} do not disturb", "turn do not disturb {switch}",
             "{switch} do not disturb", "do not disturb {switch}"]),
    ("message", ["send a message to {name} saying {text}", "(send|text) {name} [a message] saying {text}",
                 "tell {name} [that] {text}", "message {name} {text}"]),
    ("order", ["(order|buy|purchase) {item}"]),
    ("device_info", ["what device is this", "(device|system) info", "what (board|device) (is this|are you)"]),
    ("greeting", ["(hello|hi|hey) [there]", "good (morning|afternoon|evening)"]),
]

# Sample values for slots that hold names or free text. They teach the
# recogniser the shape of such requests; other words still parse.
ITEMS = ["milk", "eggs", "bread", "butter", "apples", "bananas", "coffee", "tea", "rice", "pasta",
         "tomatoes", "cheese", "chicken", "yogurt", "orange juice", "toilet paper", "dish soap",
         "batteries", "olive oil", "onions", "potatoes", "carrots", "sugar", "flour", "cereal",
         "a pizza", "two pizzas", "more coffee", "a new charger", "printer paper", "dog food",
         "cat food", "shampoo", "toothpaste", "lemons", "garlic", "salt", "honey", "beans", "soup"]
NAMES = ["mom", "dad", "anna", "john", "sarah", "david", "maria", "alex", "emma", "james",
         "grandma", "grandpa", "lisa", "peter", "tom", "kate", "my sister", "my brother", "paul", "laura"]
PHRASES = ["buy a birthday present for anna", "the wifi password is on the fridge",
           "call the plumber about the leak", "pick up the kids at four", "water the plants",
           "book a table for friday", "check the car tires", "pay the electricity bill",
           "i will be late", "dinner is ready", "call me back", "see you at six", "i am on my way",
           "happy birthday", "take out the trash", "feed the cat", "send the report",
           "the meeting moved to tuesday", "bring an umbrella", "return the library books",
           "renew my passport", "clean the kitchen", "the keys are in the drawer", "walk the dog",
           "stretch my legs", "drink some water", "check the oven", "go to the gym",
           "the parking spot is on level three", "ask about the holiday plans", "thank you for the flowers",
           "i love you", "meet me at the station", "can you pick up some bread", "start the washing machine"]
LABELS = ["pasta", "tea", "eggs", "laundry", "the oven", "pizza", "bread", "a break", "homework", "rice"]

_SWITCH = ["on", "off", "enable", "disable"]
_DIRECTION = ["up", "down", "brighter", "dimmer", "louder", "quieter", "higher", "lower"]
_MUTE = ["mute", "unmute"]
_LEVEL_WORDS = ["max", "maximum", "minimum", "half", "full", "off", "zero"]

_NUM = "|".join(sorted(set(numbers.NUMBER_WORDS) | {"hundred"}, key=len, reverse=True))
_NUMBER_RE = rf"(?:minus |negative )?(?:\d+(?:\.\d+)?|(?:{_NUM})(?: (?:{_NUM}))*)"
_DUR_UNITS = "seconds|second|secs|sec|minutes|minute|mins|min|hours|hour|hrs|hr|days|day|h|m|s"
_DUR_PART = rf"(?:{_NUMBER_RE}|half an?|an?)(?: and a half)? (?:{_DUR_UNITS})(?: and a half)?"
_CLOCK_TAIL = r"(?: (?:am|pm|in the morning|in the afternoon|in the evening|at night|tonight|o'clock))?"
_CLOCK = (rf"(?:noon|midday|midnight|\d{{1,2}}:\d{{2}}{_CLOCK_TAIL}"
          rf"|(?:(?:a )?quarter|half|{_NUMBER_RE}(?: minutes?)?) (?:past|after|to|till|before) {_NUMBER_RE}{_CLOCK_TAIL}"
          rf"|{_NUMBER_RE}(?: oh {_NUMBER_RE})?{_CLOCK_TAIL})")
_OPS = "|".join(re.escape(w) for w in calc.OPERATOR_WORDS + ["multiplied", "x", "+", "-", "*", "/", "^"])
_UNIT_RE = "|".join(re.escape(u) for u in sorted(calc.UNITS, key=len, reverse=True))

SLOT_PATTERNS = {
    "number": _NUMBER_RE,
    "duration": rf"{_DUR_PART}(?:(?: and)? {_DUR_PART})*",
    "clock": _CLOCK,
    "text": r".+?",
    "item": r".+?",
    "name": r"(?!(?:me|us|you|it)\b)[a-z']+(?: [a-z']+){0,2}?",
    "unit": rf"(?:degrees )?(?:{_UNIT_RE})",
    "expression": rf"(?:{_NUMBER_RE}|{_OPS})(?: (?:{_NUMBER_RE}|{_OPS}))*",
    "level": rf"(?:{_NUMBER_RE}|{'|'.join(_LEVEL_WORDS)})",
    "direction": "|".join(_DIRECTION),
    "switch": "|".join(_SWITCH),
    "mute": "|".join(_MUTE),
}


@dataclass
class Intent:
    name: str
    slots: dict = field(default_factory=dict)
    text: str = ""


# ---------------------------------------------------------------- templates


def _parse_template(template):
    """Template text -> a tree of ('seq', [..]), ('alt', [seq..]), ('opt', seq), ('word', w), ('slot', type, name)."""
    tokens = re.findall(r"\(|\)|\[|\]|\||\{[^}]+\}|[^\s()\[\]|{}]+", template)
    pos = 0

    def seq(stop):
        nonlocal pos
        items, alts = [], []
        while pos < len(tokens) and tokens[pos] not in stop:
            tok = tokens[pos]
            pos += 1
            if tok == "(":
                items.append(("alt", seq(")")[1]))
                pos += 1
            elif tok == "[":
                items.append(("opt", ("alt", seq("]")[1])))
                pos += 1
            elif tok == "|":
                alts.append(("seq", items))
                items = []
            elif tok.startswith("{"):
                kind, _, name = tok[1:-1].partition(":")
                if kind not in SLOT_PATTERNS:
                    raise ValueError(f"unknown slot type {kind} in {template!r}")
                items.append(("slot", kind, name or kind))
            else:
                items.append(("word", tok))
        alts.append(("seq", items))
        return ("seq", alts[0][1]) if len(alts) == 1 else ("alt", alts), alts

    tree, _ = seq(())
    return tree


def _regex(node):
    kind = node[0]
    if kind == "word":
        return re.escape(node[1]) + " "
    if kind == "slot":
        return f"(?P<{node[2]}>{SLOT_PATTERNS[node[1]]}) "
    if kind == "seq":
        return "".join(_regex(n) for n in node[1])
    if kind == "alt":
        return "(?:" + "|".join(_regex(n) for n in node[1]) + ")"
    if kind == "opt":
        return "(?:" + _regex(node[1]) + ")?"
    raise ValueError(kind)


def _expand(node, rng, sample):
    kind = node[0]
    if kind == "word":
        return [node[1]]
    if kind == "slot":
        return sample(node[1], rng).split()
    if kind == "seq":
        return [w for n in node[1] for w in _expand(n, rng, sample)]
    if kind == "alt":
        return _expand(rng.choice(node[1]), rng, sample)
    if kind == "opt":
        return _expand(node[1], rng, sample) if rng.random() < 0.5 else []
    raise ValueError(kind)


class Grammar:
    def __init__(self, intents=INTENTS):
        self.intents = intents
        self._trees = [(name, t, _parse_template(t)) for name, templates in intents for t in templates]
        self._compiled = [(name, t, re.compile(_regex(tree))) for name, t, tree in self._trees]

    def templates(self):
        """(intent, template text, parsed tree) for every template, in order."""
        return list(self._trees)

    def parse(self, text):
        """Text -> Intent, or None when no template matches. Slot values are converted."""
        norm = normalize(text)
        if not norm:
            return None
        for name, _, rx in self._compiled:
            m = rx.fullmatch(norm + " ")
            if not m:
                continue
            try:
                slots = {k: _convert(k, v) for k, v in m.groupdict().items() if v is not None}
            except ValueError:
                continue
            if name == "convert" and calc.same_unit(slots["source"], slots["target"]):
                continue  # "five miles in miles" is no request (and a recogniser's likely mishearing)
            return Intent(name, slots, norm)
        return None

    def sentences(self, per_template=40, seed=1):
        """Expand every template into example sentences, as the recogniser will hear them."""
        rng = random.Random(seed)
        out = []
        for name, _, tree in self._trees:
            seen = set()
            for _ in range(per_template):
                words = _expand(tree, rng, sample_slot)
                seen.add(" ".join(words))
            if name == "convert":  # units drawn apart may be one unit twice: no request
                seen = {s for s in seen if self.parse(s) is not None}
            out.extend(sorted(seen))
        return out

    def vocabulary(self):
        """Every word the templates and slot samples can produce."""
        words = set()
        for s in self.sentences(per_template=60):
            words.update(s.split())
        return sorted(words)


def _convert(name, value):
    value = value.strip()
    if name in ("number", "level") and value in _LEVEL_WORDS:
        return {"max": 100, "maximum": 100, "full": 100, "minimum": 0, "half": 50, "off": 0, "zero": 0}[value]
    if name in ("number", "level"):
        return numbers.parse_number(value)
    if name == "duration":
        return numbers.parse_duration(value)
    if name == "clock":
        return numbers.parse_clock(value)
    if name == "expression":
        calc.tokenize(value)  # raises ValueError unless it reads as a sum; the tool does the sum
        return value
    if name in ("source", "target"):
        calc.convert(1, value, value)  # raises ValueError for an unknown unit
    return value


# ---------------------------------------------------------------- text


_CONTRACTIONS = {"what's": "what is", "it's": "it is", "how's": "how is", "i'm": "i am",
                 "what're": "what are", "there's": "there is", "today's": "today's",
                 "don't": "do not", "do-not-disturb": "do not disturb", "dnd": "do not disturb",
                 "wanna": "want to", "gonna": "going to"}


def normalize(text):
    """Lower case, spoken forms, no punctuation: the form both typed and heard text take."""
    t = " " + text.lower().strip() + " "
    t = t.replace("’", "'").replace("%", " percent ")
    t = re.sub(r"\b([ap])\.\s?m\.?(?=\s)", r"\1m", t)
    t = re.sub(r"(?<=\d)\s*([ap])m\b", r" \1m", t)
    t = re.sub(r"(?<!\d)[.,!?;](?!\d)|[.,!?;](?=\s|$)|[\"“”]", " ", t)
    t = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", t)
    words = [_CONTRACTIONS.get(w, w) for w in t.split()]
    text = " ".join(words)
    for a, b in (("multiplied by", "multiplied by"), ("km/h", "kph")):
        text = text.replace(a, b)
    return text


def sample_slot(kind, rng):
    """One example value of a slot, in spoken form, for the recogniser's training text."""
    if kind == "number":
        return numbers.to_words(rng.choice([rng.randint(0, 20), rng.randint(20, 100), rng.randint(100, 1000),
                                            rng.randint(1, 12) * 5]))
    if kind == "level":
        return rng.choice([numbers.to_words(rng.randint(0, 10) * 10), numbers.to_words(rng.randint(1, 100)),
                           rng.choice(_LEVEL_WORDS)])
    if kind == "duration":
        unit = rng.choice(["seconds", "minutes", "minutes", "hours"])
        n = rng.choice([1, 2, 3, 5, 10, 15, 20, 25, 30, 40, 45, 90, rng.randint(1, 60)])
        if n == 1:
            return rng.choice(["a", "one"]) + " " + unit[:-1] + rng.choice(["", " and a half"])
        text = f"{numbers.to_words(n)} {unit}"
        if unit == "hours" and rng.random() < 0.3:
            text += f" and {numbers.to_words(rng.randint(1, 59))} minutes"
        return rng.choice([text, text, "half an hour", "an hour"]) if rng.random() < 0.2 else text
    if kind == "clock":
        hour, minute = rng.randint(0, 23), rng.choice([0, 0, 15, 30, 45, rng.randint(0, 59)])
        form = rng.random()
        if form < 0.5:
            return numbers.clock_words(hour, minute)
        if form < 0.8:
            h12 = hour % 12 or 12
            return numbers.to_words(h12) + ("" if minute == 0 else " " + numbers.to_words(minute) if minute >= 10
                                            else " oh " + numbers.to_words(minute))
        return rng.choice(["noon", "midnight", "half past " + numbers.to_words(hour % 12 or 12),
                           "quarter to " + numbers.to_words(hour % 12 or 12), numbers.to_words(hour % 12 or 12) + " o'clock"])
    if kind == "text":
        return rng.choice(PHRASES + LABELS)
    if kind == "item":
        return rng.choice(ITEMS)
    if kind == "name":
        return rng.choice(NAMES)
    if kind == "unit":
        return rng.choice(calc.SPOKEN_UNITS)
    if kind == "expression":
        a, b = numbers.to_words(rng.randint(0, 100)), numbers.to_words(rng.randint(1, 100))
        op = rng.choice(["plus", "minus", "times", "divided by", "multiplied by", "to the power of"])
        return rng.choice([f"{a} {op} {b}", f"{a} squared", f"the square root of {b}", f"{a} percent of {b}",
                           f"{a} {op} {b} {rng.choice(['plus', 'minus', 'times'])} {numbers.to_words(rng.randint(1, 20))}"])
    if kind in ("direction", "switch", "mute"):
        return rng.choice({"direction": _DIRECTION, "switch": _SWITCH, "mute": _MUTE}[kind])
    raise ValueError(kind)


GRAMMAR = None


def grammar():
    """The shared grammar (built on first use, not at import)."""
    global GRAMMAR
    if GRAMMAR is None:
        GRAMMAR = Grammar()
    return GRAMMAR

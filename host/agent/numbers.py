"""Spoken numbers, durations and clock times, both ways.

The recogniser writes numbers as words ("twenty five"), a typed request may use
digits ("25", "7:30"); both parse to the same values. The word forms are also
what the speech language model is trained on, so the two stay in step.
"""

import re

UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
         "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
         "seventeen", "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
SCALES = {"hundred": 100, "thousand": 1000, "million": 1000000}
_SMALL = {w: i for i, w in enumerate(UNITS)}
_SMALL.update({w: 10 * i for i, w in enumerate(TENS) if w})
_SMALL.update({"oh": 0, "a": 1, "an": 1})

NUMBER_WORDS = sorted(set(UNITS) | {t for t in TENS if t} | set(SCALES) | {"point", "and", "oh", "a", "half", "minus", "negative"})


def to_words(value):
    """Write a number the way a person says it (integers; one decimal place)."""
    if value < 0:
        return "minus " + to_words(-value)
    if value != int(value):
        whole, frac = f"{value:.10g}".split(".")
        return to_words(int(whole)) + " point " + " ".join(UNITS[int(d)] for d in frac)
    n = int(value)
    if n < 20:
        return UNITS[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + UNITS[n % 10])
    for word, scale in sorted(SCALES.items(), key=lambda kv: -kv[1]):
        if n >= scale:
            head, rest = divmod(n, scale)
            text = to_words(head) + " " + word
            return text if rest == 0 else text + " " + to_words(rest)
    raise ValueError(n)


def parse_number(text):
    """'twenty five' -> 25, 'three point five' -> 3.5, '12' -> 12, 'a hundred' -> 100.

    Raises ValueError when the words are not a number.
    """
    words = text.replace("-", " ").split()
    if not words:
        raise ValueError("empty number")
    sign = 1
    if words[0] in ("minus", "negative"):
        sign, words = -1, words[1:]
    if len(words) == 1 and re.fullmatch(r"\d+(\.\d+)?", words[0]):
        return sign * _num(words[0])
    if "point" in words:
        i = words.index("point")
        digits = words[i + 1:]
        if not digits or any(d not in _SMALL or _SMALL[d] > 9 for d in digits):
            raise ValueError(text)
        frac = float("0." + "".join(str(_SMALL[d]) for d in digits))
        return sign * (_integer(words[:i]) + frac)
    return sign * _integer(words)


def _num(s):
    return float(s) if "." in s else int(s)


def _integer(words):
    if not words:
        raise ValueError("missing digits")
    total, current, seen = 0, 0, False
    for i, w in enumerate(words):
        if w == "and" and seen:
            continue
        if w.isdigit():
            current += int(w)
        elif w in ("a", "an") and i + 1 < len(words) and words[i + 1] in SCALES:
            current += 1
        elif w in _SMALL and w not in ("a", "an"):
            current += _SMALL[w]
        elif w in SCALES:
            scale = SCALES[w]
            if scale == 100:
                current = (current or 1) * 100
            else:
                total += (current or 1) * scale
                current = 0
        else:
            raise ValueError(f"not a number word: {w}")
        seen = True
    return total + current


_DURATION_UNIT = {"second": 1, "seconds": 1, "sec": 1, "secs": 1, "s": 1,
                  "minute": 60, "minutes": 60, "min": 60, "mins": 60, "m": 60,
                  "hour": 3600, "hours": 3600, "hr": 3600, "hrs": 3600, "h": 3600,
                  "day": 86400, "days": 86400}


def parse_duration(text):
    """'five minutes' -> 300, 'an hour and a half' -> 5400, '1 h 30 min' -> 5400."""
    words = text.replace("-", " ").split()
    total, pending, i = 0.0, [], 0
    last_unit = None
    while i < len(words):
        w = words[i]
        if w in _DURATION_UNIT:
            unit = _DURATION_UNIT[w]
            if pending in (["half", "an"], ["half", "a"]):
                amount = 0.5
            elif pending in (["a"], ["an"], ["one"]):
                amount = 1
            elif pending:
                amount = parse_number(" ".join(pending))
            else:
                raise ValueError(f"no amount before {w}")
            total += amount * unit
            last_unit, pending = unit, []
        elif w == "and" and i + 2 < len(words) and words[i + 1] == "a" and words[i + 2] == "half":
            if pending:  # "one and a half hours"
                pending = [str(parse_number(" ".join(pending)) + 0.5)]
            elif last_unit:
                total += 0.5 * last_unit
            i += 2
        elif w == "and" and not pending:
            pass
        else:
            pending.append(w)
        i += 1
    if pending or total <= 0:
        raise ValueError(f"not a duration: {text}")
    return int(round(total))


def duration_words(seconds):
    """300 -> 'five minutes', 5400 -> 'one hour thirty minutes'."""
    parts = []
    for name, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            parts.append(f"{to_words(n)} {name}{'s' if n != 1 else ''}")
    return " ".join(parts) or "zero seconds"


def duration_short(seconds):
    """300 -> '5 min', 5400 -> '1 h 30 min', 45 -> '45 s'."""
    h, rest = divmod(int(seconds), 3600)
    m, s = divmod(rest, 60)
    parts = [f"{h} h"] if h else []
    if m:
        parts.append(f"{m} min")
    if s and not h:
        parts.append(f"{s} s")
    return " ".join(parts) or "0 s"


_AMPM = {"am": "am", "a.m.": "am", "a m": "am", "pm": "pm", "p.m.": "pm", "p m": "pm",
         "in the morning": "am", "in the afternoon": "pm", "in the evening": "pm", "at night": "pm",
         "tonight": "pm"}


def parse_clock(text):
    """A time of day -> (hour 0-23, minute). 'seven thirty pm' -> (19, 30), '7:05' -> (7, 5).

    An hour with no am/pm is returned as said (1-12) with `None` for the half of
    the day, so the caller can pick the next such time: (7, 30, None).
    """
    t = " " + text.strip() + " "
    half = None
    for word, value in sorted(_AMPM.items(), key=lambda kv: -len(kv[0])):
        if f" {word} " in t:
            half = value
            t = t.replace(f" {word} ", " ")
    words = t.split()
    if words in (["noon"], ["midday"]):
        return 12, 0, "pm"
    if words == ["midnight"]:
        return 0, 0, "am"
    if words and words[-1] == "o'clock":
        words = words[:-1]
    minute = 0
    relation = next((i for i, w in enumerate(words) if w in ("past", "after", "to", "till", "before")), 0)
    if relation and relation < len(words) - 1:  # "a quarter past seven", "twenty five to eight"
        head = " ".join(words[:relation])
        hour = _hour(" ".join(words[relation + 1:]))
        if head in ("quarter", "a quarter"):
            offset = 15
        elif head == "half":
            offset = 30
        else:
            offset = int(parse_number(head.replace(" minutes", "").replace(" minute", "")))
        if words[relation] in ("past", "after"):
            minute = offset
        else:
            hour, minute = (hour - 1) % 12 or 12, 60 - offset
        return _check(hour, minute, half)
    if len(words) == 1 and re.fullmatch(r"\d{1,2}:\d{2}", words[0]):
        h, m = words[0].split(":")
        return _check(int(h), int(m), half)
    if not words:
        raise ValueError("no time given")
    hour = _hour(words[0])
    rest = words[1:]
    if rest:
        if rest[0] == "oh" and len(rest) == 2:
            minute = int(parse_number(rest[1]))
        elif rest[0].isdigit():
            minute = int(rest[0])
        else:
            minute = int(parse_number(" ".join(rest)))
    return _check(hour, minute, half)


def _hour(text):
    h = parse_number(text)
    if h != int(h):
        raise ValueError(text)
    return int(h)


def _check(hour, minute, half):
    if not (0 <= minute < 60) or not (0 <= hour < 24):
        raise ValueError(f"not a time: {hour}:{minute:02d}")
    if half and hour > 12:
        raise ValueError(f"not a time: {hour} {half}")
    if half == "pm" and hour < 12:
        hour += 12
    elif half == "am" and hour == 12:
        hour = 0
    if hour > 12 or hour == 0:
        half = half or ("pm" if hour >= 12 else "am")
    return hour, minute, half


def clock_words(hour, minute):
    """(19, 30) -> 'seven thirty p.m.' (the recogniser's spelling)."""
    h12 = hour % 12 or 12
    if minute == 0:
        mins = ""
    elif minute < 10:
        mins = " oh " + UNITS[minute]
    else:
        mins = " " + to_words(minute)
    return f"{to_words(h12)}{mins} {'p.m.' if hour >= 12 else 'a.m.'}"


def clock_short(hour, minute):
    return f"{hour:02d}:{minute:02d}"

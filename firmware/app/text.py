# Text for a small screen: word wrap to a width in characters, and the
# fixed-width numbers the status bar and sensor view show. Pure functions.


def wrap(text, width, limit=64):
    """Lines of at most `width` characters: words kept whole where they fit,
    long words cut, newlines kept. At most `limit` lines."""
    lines = []
    for para in text.split("\n"):
        line = ""
        for word in para.split():
            while len(word) > width:  # a word longer than a line is cut
                if line:
                    lines.append(line)
                    line = ""
                lines.append(word[:width])
                word = word[width:]
            if not word:
                continue
            if not line:
                line = word
            elif len(line) + 1 + len(word) <= width:
                line = line + " " + word
            else:
                lines.append(line)
                line = word
        lines.append(line)
        if len(lines) >= limit:
            return lines[:limit]
    while len(lines) > 1 and not lines[-1]:
        lines.pop()
    return lines


def printable(text):
    """The 8x8 font has ASCII only: other characters become a close ASCII
    letter where one is obvious, else '?'."""
    out = []
    for ch in text:
        o = ord(ch)
        if 32 <= o < 127 or ch == "\n":
            out.append(ch)
        elif ch in "\u2018\u2019":
            out.append("'")
        elif ch in "\u201c\u201d":
            out.append('"')
        elif ch in "\u2013\u2014":
            out.append("-")
        elif ch == "\u00b0":
            out.append("o")
        elif ch == "\t":
            out.append(" ")
        else:
            out.append(_fold.get(ch, "?"))
    return "".join(out)


_fold = {"\u00e9": "e", "\u00e8": "e", "\u00ea": "e", "\u00e0": "a", "\u00e1": "a", "\u00e2": "a",
         "\u00e4": "a", "\u00f6": "o", "\u00f3": "o", "\u00fc": "u", "\u00fa": "u", "\u00ed": "i",
         "\u00f1": "n", "\u00e7": "c", "\u00df": "ss", "\u20ac": "EUR", "\u00a3": "GBP"}


def clock(unix, offset_min):
    """'HH:MM' of local time."""
    t = (unix + offset_min * 60) % 86400
    return "%02d:%02d" % (t // 3600, (t // 60) % 60)


def centi(v, unit):
    """A value in hundredths, one decimal: centi(2153, 'C') -> '21.5C'."""
    sign = "-" if v < 0 else ""
    v = -v if v < 0 else v
    return "%s%d.%d%s" % (sign, v // 100, (v % 100) // 10, unit)

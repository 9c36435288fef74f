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


# characters the 8x8 font lacks, and the ASCII shown for each
_FROM = "\u2018\u2019\u201c\u201d\u2013\u2014\u00b0\t\u00e9\u00e8\u00ea\u00e0\u00e1\u00e2\u00e4\u00f6\u00f3\u00fc\u00fa\u00ed\u00f1\u00e7"
_TO = "''\"\"--o eeeaaaaoouuinc"


def printable(text):
    """The 8x8 font has ASCII only: other characters become a close ASCII
    letter where one is obvious, else '?'."""
    out = []
    for ch in text:
        o = ord(ch)
        if 32 <= o < 127 or ch == "\n":
            out.append(ch)
        else:
            k = _FROM.find(ch)
            out.append(_TO[k] if k >= 0 else "?")
    return "".join(out)


def clip(text, nbytes):
    """text cut so that its UTF-8 takes at most nbytes, at a character boundary."""
    b = text.encode()
    if len(b) <= nbytes:
        return text
    while nbytes and (b[nbytes] & 0xC0) == 0x80:  # a continuation byte: back off
        nbytes -= 1
    return b[:nbytes].decode()


def clock(unix, offset_min):
    """'HH:MM' of local time."""
    t = (unix + offset_min * 60) % 86400
    return "%02d:%02d" % (t // 3600, (t // 60) % 60)


def centi(v, unit):
    """A value in hundredths, one decimal: centi(2153, 'C') -> '21.5C'."""
    sign = "-" if v < 0 else ""
    v = -v if v < 0 else v
    return "%s%d.%d%s" % (sign, v // 100, (v % 100) // 10, unit)

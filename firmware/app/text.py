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


# characters the 8x8 font lacks (code points), and the ASCII shown for each
_FROM = (0x2018, 0x2019, 0x201C, 0x201D, 0x2013, 0x2014, 0xB0, 0x09, 0xE9, 0xE8, 0xEA, 0xE0,
         0xE1, 0xE2, 0xE4, 0xF6, 0xF3, 0xFC, 0xFA, 0xED, 0xF1, 0xE7)
_TO = b"''\"\"--o eeeaaaaoouuinc"


def printable(text):
    """The 8x8 font has ASCII only: other characters become a close ASCII
    letter where one is obvious, else '?'.

    Works on the UTF-8 bytes: MicroPython interns every character a loop
    over a str yields, for good, so host text with many distinct characters
    would grow the qstr pool without end, and the pool grows in big pieces."""
    b = text.encode()
    out = bytearray(len(b))  # one byte out per character: never longer
    n = i = 0
    end = len(b)
    while i < end:
        c = b[i]
        if c < 0x80:
            i += 1
            if 32 <= c < 127 or c == 10:
                out[n] = c
                n += 1
                continue
        elif c < 0xC0:  # a stray continuation byte
            i += 1
        else:  # a UTF-8 sequence: its code point
            k = 4 if c >= 0xF0 else 3 if c >= 0xE0 else 2
            c &= 0x7F >> k
            for j in range(i + 1, min(i + k, end)):
                c = (c << 6) | (b[j] & 0x3F)
            i += k
        k = _FROM.index(c) if c in _FROM else -1
        out[n] = _TO[k] if k >= 0 else 63  # '?'
        n += 1
    return str(out if n == end else memoryview(out)[:n], "ascii")


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

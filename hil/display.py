"""Read the text on a display snapshot, as a person looking at the screen would.

The firmware draws with MicroPython's framebuf font (8x8), at 1x, inverted in
title bars, and at 2x for big titles and the clock. The glyphs are taken from
the MicroPython VM itself (once per process), and every 8x8 window of the
snapshot is compared with them exactly, so only what the firmware really drew
is read: a line of text is a row of glyphs on an 8-pixel pitch.
"""

import functools
import re
import subprocess
from dataclasses import dataclass

import numpy as np

_FONT_CODE = """
import framebuf
b = bytearray(8)
fb = framebuf.FrameBuffer(b, 8, 8, framebuf.MONO_VLSB)
out = []
for c in range(33, 127):
    fb.fill(0)
    fb.text(chr(c), 0, 0, 1)
    out.append(bytes(b).hex())
print(' '.join(out))
"""


@functools.lru_cache(maxsize=1)
def font():
    """{64-bit key of a glyph's 8x8 cell: character}, from the VM's framebuf."""
    from pocket_agent.tools.twin.vm import micropython_exe

    out = subprocess.run([micropython_exe(), "-c", _FONT_CODE], capture_output=True, text=True, timeout=30,
                         check=True).stdout.split()
    if len(out) != 94:
        raise RuntimeError(f"unexpected font dump from MicroPython: {len(out)} glyphs")
    return {int.from_bytes(bytes.fromhex(h), "little"): chr(33 + i) for i, h in enumerate(out)}


@dataclass
class Line:
    y: int  # top row, in the snapshot's pixels
    x: int  # left column of the first glyph
    text: str
    style: str  # "text", "inverted" (a title bar) or "big" (2x)


STATUS_BAR = 10  # rows at the top: link, clock, battery


def words(text):
    """Lower-case words and numbers, in reading order."""
    return re.findall(r"[a-z0-9]+(?:\.[0-9]+)?", text.lower())


@dataclass
class Screen:
    lines: list

    @property
    def text(self):
        return "\n".join(line.text for line in self.lines)

    @property
    def body(self):
        """The text below the status bar."""
        return "\n".join(line.text for line in self.lines if line.y >= STATUS_BAR)

    def words(self, body=False):
        return words(self.body if body else self.text)

    def shows(self, phrase, body=False):
        """Does the screen (or only its body) show these words in this order, line breaks and
        punctuation aside?"""
        want, have = words(phrase), self.words(body)
        return any(have[i:i + len(want)] == want for i in range(len(have) - len(want) + 1)) if want else True


def _keys(px):
    """The 64-bit key of the 8x8 window at every (y, x) of a 0/1 image."""
    h, w = px.shape
    if h < 8 or w < 8:
        return np.zeros((0, 0), np.uint64)
    p = px.astype(np.uint64)
    cols = np.zeros((h - 7, w), np.uint64)
    for r in range(8):
        cols |= p[r:r + h - 7, :] << np.uint64(r)
    keys = np.zeros((h - 7, w - 7), np.uint64)
    for c in range(8):
        keys |= cols[:, c:c + w - 7] << np.uint64(8 * c)
    return keys


def _lines(px, style, scale=1, dy=0, dx=0, min_alnum=1):
    glyphs = font()
    keys = _keys(px)
    if keys.size == 0:
        return []
    table = np.array(sorted(glyphs), np.uint64)
    ys, xs = np.nonzero(np.isin(keys, table))
    by_row = {}
    for y, x in zip(ys.tolist(), xs.tolist()):
        by_row.setdefault(y, []).append(x)
    found = []
    for y, row in by_row.items():
        best = None
        for residue in {x % 8 for x in row}:
            at = sorted(x for x in row if x % 8 == residue)
            chars = []
            for x in range(at[0], at[-1] + 1, 8):
                k = int(keys[y, x])
                chars.append(glyphs.get(k, " " if k == 0 else "?"))
            text = "".join(chars)
            score = sum(c.isalnum() for c in text)
            if best is None or score > best[0]:
                best = (score, at[0], text)
        if best[0] >= min_alnum:
            found.append((best[0], Line(dy + scale * y, dx + scale * best[1], best[2], style)))
    return found


def read(rows):
    """A snapshot (rows of 0/1, top first, as `twin.world.display_pixels()` gives) -> Screen."""
    px = np.asarray(rows, np.uint8)
    found = _lines(px, "text") + _lines(1 - px, "inverted")
    for py in (0, 1):
        for qx in (0, 1):
            found += _lines(px[py::2, qx::2], "big", scale=2, dy=py, dx=qx, min_alnum=2)
    kept = []
    for score, line in sorted(found, key=lambda f: -f[0]):  # a line hides weaker readings it overlaps
        if not any(_overlap(line, k) for k in kept):
            kept.append(line)
    return Screen(sorted(kept, key=lambda line: (line.y, line.x)))


def _overlap(a, b):
    sa, sb = (16 if a.style == "big" else 8), (16 if b.style == "big" else 8)
    return (a.y < b.y + sb and b.y < a.y + sa) and (a.x < b.x + sb * len(b.text) and b.x < a.x + sa * len(a.text))


def read_png(path):
    """A display PNG (any scale) -> Screen."""
    from PIL import Image

    im = Image.open(path).convert("L")
    px = (np.asarray(im) > 127).astype(np.uint8)
    if px.shape[1] > 128 and px.shape[1] % 128 == 0:  # a scaled snapshot
        s = px.shape[1] // 128
        px = px[::s, ::s]
    return read(px)

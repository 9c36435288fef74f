"""Text for a 128x64 screen: 21 columns of a 6x8 font, 8 rows, ASCII only."""

import textwrap

COLS = 21
ROWS = 8
_ASCII = {"°": " ", "…": "...", "’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "×": "x", "÷": "/"}


def ascii_only(text):
    text = "".join(_ASCII.get(c, c) for c in text)
    return text.encode("ascii", "replace").decode("ascii")


def fit(text, cols=COLS, rows=ROWS):
    """Wrap to the screen; when it does not fit, the last row ends in '..'."""
    lines = []
    for paragraph in ascii_only(text).split("\n"):
        wrapped = textwrap.wrap(paragraph, cols, break_long_words=True, break_on_hyphens=False)
        lines.extend(wrapped or [""])
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) > rows:
        lines = lines[:rows]
        lines[-1] = lines[-1][:cols - 2].rstrip() + ".."
    return "\n".join(lines)

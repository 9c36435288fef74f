"""The grammar as a word graph: every sentence the offline agent acts on, as a finite-state network.

The speech recogniser searches this graph (PocketSphinx's finite-state grammar
search), so what it hears is always a request the parser accepts. It is built
from the same templates as the parser (grammar.py). Slots become small
sub-graphs of their class instead of word loops:
  - numbers 0-999 (and "a hundred", "N thousand", "N point D"), levels 0-100,
    durations, clock times and sums are spelled out word by word;
  - units are their word lists, a conversion's two of the same dimension;
    directions and switches are their word lists;
  - free text, shopping items and names are the device's known phrases, items
    and contacts (other free text is left to dictation).
A loop over a large vocabulary makes the search slow and a sentence anything
at all; these classes keep the graph small and every path meaningful.
"""

from . import calc, numbers
from .grammar import _DIRECTION, _LEVEL_WORDS, _MUTE, _SWITCH, ITEMS, LABELS, NAMES, PHRASES, grammar

START, FINAL = 0, 1
_UNITS = numbers.UNITS  # zero .. nineteen
_TENS = [t for t in numbers.TENS if t]
_DUR_UNITS = ["seconds", "second", "minutes", "minute", "hours", "hour"]
_AMPM = ["a.m.", "p.m.", "o'clock", "in the morning", "in the afternoon", "in the evening", "at night", "tonight"]
_OPERATORS = ["plus", "minus", "times", "divided by", "multiplied by", "to the power of", "percent of", "over"]


class WordGraph:
    """States are ints (START, FINAL, then new ones); arcs carry a word or None (no word)."""

    def __init__(self):
        self.states = 2
        self.arcs = []

    def state(self):
        self.states += 1
        return self.states - 1

    def words(self, a, z, phrases):
        """a -> z by any one of the phrases (each one or more words)."""
        for phrase in phrases:
            ws = phrase.split()
            cur = a
            for i, w in enumerate(ws):
                nxt = z if i == len(ws) - 1 else self.state()
                self.arcs.append((cur, nxt, w))
                cur = nxt

    def skip(self, a, z):
        self.arcs.append((a, z, None))

    def vocabulary(self):
        return sorted({w for _, _, w in self.arcs if w})

    def transitions(self):
        """(from, to, probability, word): word arcs only, each state's way out sharing its probability evenly.

        Skips are folded into the word arcs around them (PocketSphinx's grammar
        search follows one null transition at most, so a chain of them, as
        optional words and slots make, would cut paths off).
        """
        out, skips = {}, {}
        for a, z, w in self.arcs:
            (out if w else skips).setdefault(a, []).append((z, w))

        memo = {}

        def reach(state):  # states reachable by skips alone, with the share of probability that gets there
            if state in memo:
                return memo[state]
            shares, todo = {state: 1.0}, [state]
            memo[state] = shares
            while todo:
                cur = todo.pop()
                ways = len(out.get(cur, ())) + len(skips.get(cur, ()))
                for z, _ in skips.get(cur, ()):
                    if z not in shares:
                        shares[z] = shares[cur] / ways
                        todo.append(z)
            return shares

        arcs = {}
        live = [START]
        seen = {START}
        while live:
            a = live.pop()
            for mid, share in reach(a).items():
                ways = len(out.get(mid, ())) + len(skips.get(mid, ()))
                for z, w in out.get(mid, ()):
                    targets = [z] + ([FINAL] if z != FINAL and FINAL in reach(z) else [])
                    for t in targets:
                        arcs[(a, t, w)] = arcs.get((a, t, w), 0.0) + share / ways
                        if t not in seen:
                            seen.add(t)
                            live.append(t)
        total = {}
        for (a, _, _), p in arcs.items():
            total[a] = total.get(a, 0.0) + p
        return [(a, z, p / total[a], w) for (a, z, w), p in arcs.items()]

    def accepts(self, text):
        """Is this word sequence a path from START to FINAL? (for tests; a plain set search)"""
        if getattr(self, "_out", (None,))[0] != len(self.arcs):
            out = {}
            for a, z, w in self.arcs:
                out.setdefault(a, []).append((z, w))
            self._out = (len(self.arcs), out)
        out = self._out[1]

        def closure(states):
            todo, seen = list(states), set(states)
            while todo:
                for z, w in out.get(todo.pop(), ()):
                    if w is None and z not in seen:
                        seen.add(z)
                        todo.append(z)
            return seen

        current = closure({START})
        for word in text.split():
            current = closure({z for a in current for z, w in out.get(a, ()) if w == word})
        return FINAL in current


# ---------------------------------------------------------------- slot classes


def _under_hundred(g, a, z, zero=True):
    """0-99 (1-99 without zero)."""
    g.words(a, z, (_UNITS if zero else _UNITS[1:]) + _TENS)
    mid = g.state()
    g.words(a, mid, _TENS)
    g.words(mid, z, _UNITS[1:10])


def _number(g, a, z, most=1000, zero=True):
    """0-999, N thousand [...], N point D; 0-100 when most=100."""
    _under_hundred(g, a, z, zero)
    if most <= 100:
        g.words(a, z, ["one hundred", "a hundred"])
        return
    hundreds = g.state()
    g.words(a, hundreds, [u + " hundred" for u in _UNITS[1:10]] + ["a hundred"])
    g.skip(hundreds, z)
    rest = g.state()
    g.skip(hundreds, rest)
    g.words(hundreds, rest, ["and"])
    _under_hundred(g, rest, z, zero=False)
    thousands = g.state()
    g.words(a, thousands, [u + " thousand" for u in _UNITS[1:11]] + ["a thousand"])
    g.skip(thousands, z)
    g.skip(thousands, hundreds)
    g.skip(thousands, rest)
    point = g.state()
    _under_hundred(g, a, point)
    digits = g.state()
    g.words(point, digits, ["point"])
    g.words(digits, z, _UNITS[:10])


def _minutes(g, a, z):
    """1-59."""
    g.words(a, z, _UNITS[1:] + _TENS[:4])
    mid = g.state()
    g.words(a, mid, _TENS[:4])
    g.words(mid, z, _UNITS[1:10])


def _duration(g, a, z):
    amount, counted, unit = g.state(), g.state(), g.state()
    _number(g, a, amount, zero=False)
    g.skip(amount, counted)
    g.words(amount, counted, ["and a half"])  # "one and a half hours"
    g.words(a, counted, ["a", "an", "half an", "half a"])
    g.words(counted, unit, _DUR_UNITS)
    g.skip(unit, z)
    g.words(unit, z, ["and a half"])
    more, more_amount = g.state(), g.state()
    g.words(unit, more, ["and"])
    g.skip(unit, more)
    _number(g, more, more_amount, zero=False)
    g.words(more_amount, z, _DUR_UNITS)


def _clock(g, a, z):
    g.words(a, z, ["noon", "midday", "midnight"])
    said, hour = g.state(), g.state()
    g.words(a, hour, _UNITS[1:13])
    g.skip(hour, said)
    g.words(hour, said, ["oh " + u for u in _UNITS[1:10]])
    _minutes(g, hour, said)
    offset, counted, relation = g.state(), g.state(), g.state()
    g.words(a, relation, ["quarter", "a quarter", "half"])
    _minutes(g, a, offset)
    g.skip(offset, relation)
    g.words(offset, relation, ["minutes", "minute"])
    g.words(relation, counted, ["past", "to", "after", "till", "before"])
    g.words(counted, said, _UNITS[1:13])
    g.skip(said, z)
    g.words(said, z, _AMPM)


def _expression(g, a, z):
    operand, after = g.state(), g.state()
    g.skip(a, operand)
    g.words(a, operand, ["the square root of"])
    _number(g, operand, after)
    g.skip(after, z)
    g.words(after, z, ["squared", "cubed"])
    operator = g.state()
    g.words(after, operator, _OPERATORS)
    g.skip(operator, a)


def _slot(g, a, z, kind, units):
    if kind == "number":
        _number(g, a, z)
    elif kind == "level":
        _number(g, a, z, most=100)
        g.words(a, z, _LEVEL_WORDS)
    elif kind == "duration":
        _duration(g, a, z)
    elif kind == "clock":
        _clock(g, a, z)
    elif kind == "expression":
        _expression(g, a, z)
    elif kind == "unit":
        g.words(a, z, units or calc.SPOKEN_UNITS)
    elif kind in ("direction", "switch", "mute"):
        g.words(a, z, {"direction": _DIRECTION, "switch": _SWITCH, "mute": _MUTE}[kind])
    elif kind == "text":
        g.words(a, z, PHRASES + LABELS)
    elif kind == "item":
        g.words(a, z, ITEMS)
    elif kind == "name":
        g.words(a, z, NAMES)
    else:
        raise ValueError(f"no word graph for slot type {kind}")


def _node(g, a, z, node, units=None):
    kind = node[0]
    if kind == "word":
        g.words(a, z, [node[1]])
    elif kind == "slot":
        _slot(g, a, z, node[1], units)
    elif kind == "seq":
        if not node[1]:
            g.skip(a, z)
        cur = a
        for i, part in enumerate(node[1]):
            nxt = z if i == len(node[1]) - 1 else g.state()
            _node(g, cur, nxt, part, units)
            cur = nxt
    elif kind == "alt":
        for part in node[1]:
            _node(g, a, z, part, units)
    elif kind == "opt":
        g.skip(a, z)
        _node(g, a, z, node[1], units)
    else:
        raise ValueError(kind)


def build(g=None, lead_in=()):
    """The word graph of every template in the grammar, optionally after one of `lead_in` (a wake phrase)."""
    g = g or grammar()
    graph = WordGraph()
    begin = START
    if lead_in:
        begin = graph.state()
        graph.skip(START, begin)
        graph.words(START, begin, lead_in)
    for _, template, tree in g.templates():
        for units in _unit_dimensions() if "{unit" in template else [None]:
            entry = graph.state()
            graph.skip(begin, entry)
            _node(graph, entry, FINAL, tree, units)
    return graph


def _unit_dimensions():
    dims = {}
    for name in calc.SPOKEN_UNITS:
        dims.setdefault(calc.UNITS[name][0], []).append(name)
    return list(dims.values())

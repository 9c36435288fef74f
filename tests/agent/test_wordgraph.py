"""The grammar's word graph (what the recogniser's grammar search may hear) agrees with the parser."""

import random

from pocket_agent.host.agent import calc, wordgraph
from pocket_agent.host.agent.grammar import grammar


def _walk(graph, rng, longest=20):
    out = {}
    for a, z, w in graph.arcs:
        out.setdefault(a, []).append((z, w))
    state, words = wordgraph.START, []
    while state != wordgraph.FINAL and len(words) < longest:
        state, word = rng.choice(out[state])
        if word:
            words.append(word)
    return " ".join(words) if state == wordgraph.FINAL else None


def _same_units(text):
    """The first and last unit named in a conversion are one unit."""
    found, words = [], text.split()
    units = sorted(calc.SPOKEN_UNITS, key=lambda u: -len(u.split()))
    i = 0
    while i < len(words):
        unit = next((u for u in units if words[i:i + len(u.split())] == u.split()), None)
        if unit:
            found.append(unit)
        i += len(unit.split()) if unit else 1
    return len(found) >= 2 and calc.same_unit(found[0], found[-1])


def test_every_path_through_the_graph_is_a_request_the_parser_accepts():
    graph, rng = wordgraph.build(), random.Random(7)
    walks = [w for w in (_walk(graph, rng) for _ in range(800)) if w]
    assert len(walks) > 600
    # all but a conversion from a unit to itself, which the parser refuses after the search
    refused = [w for w in walks if grammar().parse(w) is None]
    assert len(refused) < len(walks) / 20
    assert all(_same_units(w) for w in refused), refused
    reached = {grammar().parse(w).name for w in walks if w not in refused}
    assert len(reached) == len({name for name, _ in grammar().intents})


def _can_convert(intent):
    try:
        calc.convert(1, intent.slots["source"], intent.slots["target"])
        return True
    except ValueError:
        return False


def test_the_graph_holds_the_sentences_the_language_model_is_trained_on():
    """All but conversions between units of different dimensions, which no one can complete."""
    graph = wordgraph.build()
    sentences = grammar().sentences(per_template=15, seed=3)
    missing = [s for s in sentences if not graph.accepts(s)]
    assert missing and all(grammar().parse(s).name == "convert" and not _can_convert(grammar().parse(s))
                           for s in missing)
    assert graph.accepts("convert five miles to kilometers") and not graph.accepts("convert five miles to kilograms")


def test_slot_classes_are_spelled_out_not_open():
    graph = wordgraph.build()
    assert graph.accepts("set a timer for twenty five minutes")
    assert graph.accepts("wake me up at a quarter past seven")
    assert graph.accepts("set an alarm for six thirty a.m.")
    assert graph.accepts("what is one hundred minus thirty five")
    assert not graph.accepts("set a timer for twenty banana minutes")
    assert not graph.accepts("set an alarm for six seventy a.m.")  # minutes stop at 59
    assert not graph.accepts("set the volume to three hundred")  # levels stop at 100
    assert not graph.accepts("tell me a joke about penguins")


def test_transitions_share_each_state_evenly():
    graph = wordgraph.build()
    total = {}
    for a, _, p, *_ in graph.transitions():
        total[a] = total.get(a, 0.0) + p
    assert all(abs(t - 1.0) < 1e-9 for t in total.values())

"""The grammar the parser and the recogniser share; spoken numbers, sums and units."""

import pytest

from pocket_agent.host.agent import calc, numbers
from pocket_agent.host.agent.grammar import INTENTS, Grammar, grammar, normalize


@pytest.mark.parametrize("text,value", [
    ("twenty five", 25), ("three point five", 3.5), ("12", 12), ("a hundred", 100),
    ("one hundred and twelve", 112), ("two thousand and five", 2005), ("minus four", -4), ("0.25", 0.25)])
def test_spoken_numbers(text, value):
    assert numbers.parse_number(text) == value


@pytest.mark.parametrize("value", [0, 7, 13, 40, 99, 100, 101, 999, 1000, 12345, 2.5])
def test_numbers_round_trip_through_words(value):
    assert numbers.parse_number(numbers.to_words(value)) == value


@pytest.mark.parametrize("text,seconds", [
    ("five minutes", 300), ("an hour and a half", 5400), ("1 h 30 min", 5400), ("one and a half hours", 5400),
    ("half an hour", 1800), ("two minutes and thirty seconds", 150), ("a minute", 60)])
def test_durations(text, seconds):
    assert numbers.parse_duration(text) == seconds


@pytest.mark.parametrize("text,clock", [
    ("seven thirty pm", (19, 30, "pm")), ("7:05", (7, 5, None)), ("noon", (12, 0, "pm")),
    ("half past seven", (7, 30, None)), ("quarter to eight", (7, 45, None)), ("seven oh five p.m.", (19, 5, "pm")),
    ("19:30", (19, 30, "pm")), ("ten o'clock", (10, 0, None)), ("twelve am", (0, 0, "am")),
    ("a quarter past seven", (7, 15, None)), ("twenty five to eight", (7, 35, None))])
def test_clock_times(text, clock):
    assert numbers.parse_clock(text) == clock


@pytest.mark.parametrize("bad", ["seven sixty", "twenty five pm", "hello"])
def test_bad_clock_times(bad):
    with pytest.raises(ValueError):
        numbers.parse_clock(bad)


def test_sums_follow_precedence():
    assert calc.evaluate("five plus three times two") == 11
    assert calc.evaluate("two to the power of three squared") == 512  # 2^(3^2), as written
    for bad in ["ten divided by zero", "plus plus", "seven"]:
        with pytest.raises(ValueError):
            calc.evaluate(bad)


def test_a_conversion_to_the_same_unit_is_no_request():
    assert grammar().parse("convert five miles to kilometers").name == "convert"
    assert grammar().parse("thirty one mile to miles") is None


def test_unit_conversion():
    assert calc.convert(0, "celsius", "fahrenheit")[0] == pytest.approx(32)
    assert calc.convert(1, "mile", "feet")[0] == pytest.approx(5280)
    with pytest.raises(ValueError, match="cannot convert"):
        calc.convert(1, "kilograms", "miles")


def test_normalize_typed_and_heard_text_alike():
    assert normalize("What's the time?") == "what is the time"
    assert normalize("Set an alarm for 7:30 A.M.") == "set an alarm for 7:30 am"
    assert normalize("set brightness to 50%") == "set brightness to 50 percent"
    assert normalize("what is 3.5 times 2") == "what is 3.5 times 2"


def test_every_generated_sentence_parses_back_to_an_intent():
    """The recogniser is trained on these sentences: each must be one the agent acts on."""
    g = grammar()
    failures = [s for s in g.sentences(per_template=15, seed=3) if g.parse(s) is None]
    assert failures == []


def test_each_intent_is_reachable_from_its_own_templates():
    g = grammar()
    reached = {g.parse(s).name for s in g.sentences(per_template=15, seed=4)}
    assert reached == {name for name, _ in INTENTS}


def test_template_notation():
    g = Grammar([("t", ["(set|start) [a] timer for {duration}"])])
    assert g.parse("start timer for 2 minutes").slots == {"duration": 120}
    assert g.parse("set a timer for") is None
    with pytest.raises(ValueError, match="unknown slot"):
        Grammar([("t", ["say {nonsense}"])])

"""Spoken arithmetic and unit conversion.

A table of about thirty everyday units is simpler than a units library for
this: the hard part is the spoken names, which a library would not give us.
"""

import math
import re

from .numbers import parse_number

# operator words -> token, longest first when matching
_OPERATORS = [
    ("percent of", "%"), ("multiplied by", "*"), ("divided by", "/"), ("to the power of", "^"), ("raised to", "^"),
    ("plus", "+"), ("add", "+"), ("minus", "-"), ("less", "-"), ("times", "*"), ("x", "*"),
    ("over", "/"), ("+", "+"), ("-", "-"), ("*", "*"), ("/", "/"), ("^", "^"),
]
_PREFIX = [("the square root of", "sqrt"), ("square root of", "sqrt")]
_POSTFIX = [("squared", "sq"), ("cubed", "cube")]
OPERATOR_WORDS = ["plus", "minus", "times", "multiplied", "divided", "by", "over", "to", "the",
                  "power", "of", "squared", "cubed", "square", "root", "percent"]


def tokenize(text):
    """Words -> numbers and operators. Raises ValueError if anything is left over."""
    t = " " + re.sub(r"([+*/^()])", r" \1 ", text.lower()) + " "
    t = re.sub(r"(\d)\s*-\s*(\d)", r"\1 - \2", t)
    t = re.sub(r" what's | what is | how much is | calculate | equals? |\?", " ", t)
    for words, tok in _PREFIX + _POSTFIX + _OPERATORS:
        t = t.replace(f" {words} ", f" \x00{tok}\x00 ")
    tokens = []
    for chunk in re.split(r"\x00", t):
        chunk = chunk.strip()
        if not chunk:
            continue
        if chunk in {tok for _, tok in _OPERATORS + _PREFIX + _POSTFIX}:
            tokens.append(chunk)
        else:
            tokens.append(parse_number(chunk))
    return tokens


def evaluate(text):
    """Evaluate a spoken sum: 'twelve times seven' -> 84. Raises ValueError on nonsense."""
    tokens = tokenize(text)
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def take():
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def atom():
        tok = take() if peek() is not None else None
        if tok == "sqrt":
            value = atom()
            if value < 0:
                raise ValueError("no square root of a negative number")
            return math.sqrt(value)
        if tok == "-":
            return -atom()
        if not isinstance(tok, (int, float)):
            raise ValueError("expected a number")
        while peek() in ("sq", "cube"):
            tok = tok ** (2 if take() == "sq" else 3)
        return tok

    def power():
        base = atom()
        if peek() == "^":
            take()
            exponent = power()
            if abs(exponent) > 64:
                raise ValueError("that power is too large")
            return base ** exponent
        return base

    def product():
        value = power()
        while peek() in ("*", "/", "%"):
            op, rhs = take(), power()
            if op == "/" and rhs == 0:
                raise ValueError("cannot divide by zero")
            value = value * rhs if op == "*" else value * rhs / 100 if op == "%" else value / rhs
        return value

    def total():
        value = product()
        while peek() in ("+", "-"):
            op, rhs = take(), product()
            value = value + rhs if op == "+" else value - rhs
        return value

    result = total()
    if pos != len(tokens):
        raise ValueError("could not follow that sum")
    if len(tokens) < 2 and not any(isinstance(t, str) for t in tokens):
        raise ValueError("that is just a number")
    return result


def format_number(value):
    """84.0 -> '84', 2.3333 -> '2.333', 1e12 -> '1e+12'."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    if isinstance(value, int):
        return str(value) if abs(value) < 10 ** 12 else f"{value:.4g}"
    return f"{value:.4g}" if abs(value) >= 1e6 or abs(value) < 1e-3 else f"{round(value, 3):g}"


# unit -> (dimension, factor to the base unit); temperature is handled apart
_UNIT_TABLE = {
    "length": {("meter", "meters", "metre", "metres", "m"): 1.0,
               ("kilometer", "kilometers", "kilometre", "kilometres", "km"): 1000.0,
               ("centimeter", "centimeters", "centimetre", "centimetres", "cm"): 0.01,
               ("millimeter", "millimeters", "millimetre", "millimetres", "mm"): 0.001,
               ("mile", "miles", "mi"): 1609.344, ("yard", "yards", "yd"): 0.9144,
               ("foot", "feet", "ft"): 0.3048, ("inch", "inches", "in"): 0.0254},
    "mass": {("gram", "grams", "g"): 1.0, ("kilogram", "kilograms", "kilo", "kilos", "kg"): 1000.0,
             ("pound", "pounds", "lb", "lbs"): 453.59237, ("ounce", "ounces", "oz"): 28.349523125,
             ("stone", "stones"): 6350.29318},
    "volume": {("liter", "liters", "litre", "litres", "l"): 1.0,
               ("milliliter", "milliliters", "millilitre", "millilitres", "ml"): 0.001,
               ("gallon", "gallons", "gal"): 3.785411784, ("cup", "cups"): 0.2365882365,
               ("pint", "pints"): 0.473176473, ("quart", "quarts"): 0.946352946,
               ("tablespoon", "tablespoons", "tbsp"): 0.01478676478125,
               ("teaspoon", "teaspoons", "tsp"): 0.00492892159375},
    "speed": {("kilometers per hour", "kilometres per hour", "kph", "km/h"): 1.0,
              ("miles per hour", "mph"): 1.609344, ("meters per second", "metres per second"): 3.6},
    "time": {("second", "seconds"): 1.0, ("minute", "minutes"): 60.0, ("hour", "hours"): 3600.0,
             ("day", "days"): 86400.0, ("week", "weeks"): 604800.0},
}
_TEMPERATURE = {"celsius": "C", "centigrade": "C", "degrees celsius": "C", "c": "C",
                "fahrenheit": "F", "degrees fahrenheit": "F", "f": "F", "kelvin": "K", "k": "K"}
UNITS = {}
for _dim, _entries in _UNIT_TABLE.items():
    for _names, _factor in _entries.items():
        for _name in _names:
            UNITS[_name] = (_dim, _factor, _names[1] if len(_names) > 1 else _names[0])
for _name, _scale in _TEMPERATURE.items():
    UNITS[_name] = ("temperature", _scale, {"C": "celsius", "F": "fahrenheit", "K": "kelvin"}[_scale])
# spoken names only: what the grammar offers the recogniser
_WRITTEN_ONLY = {"m", "km", "cm", "mm", "mi", "yd", "ft", "in", "g", "kg", "lb", "lbs", "oz", "l", "ml", "gal",
                 "tbsp", "tsp", "km/h", "c", "f", "k", "s", "h", "hr", "hrs"}
SPOKEN_UNITS = sorted(n for n in UNITS if n not in _WRITTEN_ONLY)


def _unit(name):
    name = name.strip().lower()
    if name.startswith("degrees ") and name not in UNITS:
        name = name[len("degrees "):]
    if name not in UNITS:
        raise ValueError(f"unknown unit: {name}")
    return UNITS[name]


def same_unit(a, b):
    """Do two unit names mean the same unit ('mile', 'miles')?"""
    return _unit(a) == _unit(b)


def convert(amount, from_unit, to_unit):
    """convert(10, 'miles', 'kilometers') -> (16.09344, 'miles', 'kilometers')."""
    dim_a, fa, name_a = _unit(from_unit)
    dim_b, fb, name_b = _unit(to_unit)
    if dim_a != dim_b:
        raise ValueError(f"cannot convert {name_a} to {name_b}")
    if dim_a == "temperature":
        kelvin = {"C": amount + 273.15, "F": (amount - 32) * 5 / 9 + 273.15, "K": amount}[fa]
        value = {"C": kelvin - 273.15, "F": (kelvin - 273.15) * 9 / 5 + 32, "K": kelvin}[fb]
    else:
        value = amount * fa / fb
    return value, name_a, name_b

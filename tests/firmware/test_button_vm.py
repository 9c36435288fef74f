"""The button driver in the real VM, with only the far side of its GPIO pin stood in:
a pin whose level the test sets and whose interrupt it fires, as an edge would."""

from tests import mpy

PIN = """
import sys, time
class Pin:
    IN = 1
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8
    level = 1
    def __init__(self, n, mode=None, pull=None):
        self.handler = None
    def value(self):
        return Pin.level
    def irq(self, handler, trigger):
        self.handler = handler
class machine:
    pass
machine.Pin = Pin
sys.modules["machine"] = machine
from drivers.button import Button, PRESS, RELEASE, LONG
b = Button(15, active=0, pull="up", long_ms=1000)
def edge(level):
    Pin.level = level
    b.pin.handler(b.pin)
def poll(after_ms):
    time.sleep_ms(after_ms)
    return b.poll(time.ticks_ms())
"""


def run(script):
    return mpy.run(PIN + script).split()


def test_a_press_between_two_polls_is_reported_then_its_release():
    out = run("""
time.sleep_ms(40)
edge(0); edge(1)  # down and up again while the loop was stalled
print(poll(5), poll(5), poll(40), poll(5))
""")
    assert out == ["1", "0", "2", "0"]  # the release once the lockout is over


def test_the_first_bounce_of_a_press_is_not_a_press_and_release():
    out = run("""
time.sleep_ms(40)
edge(0); edge(1)  # the contact bounces: a poll reads it open
a = poll(2)
edge(0)  # and closed for good
print(a, poll(40), poll(1005))
""")
    assert out == ["1", "0", "3"]  # one press, held long; no release in between


def test_bounce_after_a_release_is_no_new_press():
    out = run("""
time.sleep_ms(40)
edge(0)
a = poll(5)
edge(1)
r = poll(40)
edge(0); edge(1)  # contact bounce within the lockout of the release
print(a, r, poll(2), poll(40))
""")
    assert out == ["1", "2", "0", "0"]


def test_a_held_press_is_press_then_long_then_release():
    out = run("""
time.sleep_ms(40)
edge(0)
p = poll(5)
l = poll(1005)
edge(1)
print(p, l, poll(40), poll(5))
""")
    assert out == ["1", "3", "2", "0"]

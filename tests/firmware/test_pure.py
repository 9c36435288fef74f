"""The firmware's pure modules (state machine, VAD, text layout) in both VMs:
CPython imports them from pocket_agent.firmware, MicroPython from firmware/."""

import pytest

from pocket_agent.firmware import vad
from pocket_agent.firmware.app import states, text
from tests import mpy
from tests.firmware import flow_cases

VM_PATH = (mpy.FIRMWARE, mpy.ROOT / "tests" / "firmware")


def test_state_machine_cpython():
    assert flow_cases.run(states) == 9


def test_state_machine_micropython():
    out = mpy.run("import flow_cases\nfrom app import states\nprint(flow_cases.run(states))", path=VM_PATH)
    assert out.strip() == "9"


@pytest.mark.parametrize("txt,width,want", [
    ("hello world", 16, ["hello world"]),
    ("the quick brown fox jumps", 10, ["the quick", "brown fox", "jumps"]),
    ("abcdefghijklmnopqrstuvwxyz", 10, ["abcdefghij", "klmnopqrst", "uvwxyz"]),
    ("a\n\nb", 10, ["a", "", "b"]),
    ("exactlyten exactlyten", 10, ["exactlyten", "exactlyten"]),
    ("", 10, [""]),
])
def test_wrap(txt, width, want):
    assert text.wrap(txt, width) == want
    out = mpy.run("from app.text import wrap\nprint(wrap(%r, %d))" % (txt, width), path=VM_PATH)
    assert out.strip() == repr(want)


def test_wrap_bounds_lines_and_text_is_printable():
    assert len(text.wrap("word " * 500, 15, 64)) == 64
    assert text.printable("caf\u00e9 \u201cok\u201d 21\u00b0 \u2603") == 'cafe "ok" 21o ?'
    assert text.clock(0, 60) == "01:00" and text.clock(86399, 0) == "23:59"
    assert text.centi(2153, "C") == "21.5C" and text.centi(-250, "C") == "-2.5C"


PRINTABLE_CASES = [
    "caf\u00e9 \u201cok\u201d 21\u00b0 \u2603",
    "tab\there, a bell\x07, an emoji \U0001F600 and \u4e2d\u6587\n\u00e7a \u2014 fin",
    "plain ASCII stays as it is: 0-9 ~",
    "",
]


def test_printable_is_the_same_in_both_vms():
    assert text.printable("a\tb\x07\u00e9\U0001F600\n") == "a b?e?\n"
    out = mpy.run("from app.text import printable\n"
                  "for s in %r:\n    print(repr(printable(s)))" % (PRINTABLE_CASES,), path=VM_PATH)
    assert out.splitlines() == [repr(text.printable(s)) for s in PRINTABLE_CASES]


def test_printable_interns_no_characters_of_host_text():
    # A loop over a str interns each character MicroPython yields, for good: host text
    # with many distinct characters would grow the qstr pool until a growth finds no room.
    out = mpy.run(
        "import micropython\nfrom app.text import printable\n"
        "s = bytes(b for i in range(300) for b in chr(0x4E00 + i).encode()).decode()\n"
        "s2 = bytes(range(33, 127)).decode()\n"
        "micropython.qstr_info()\n"
        "print(printable(s) == '?' * 300, printable(s2) == s2)\n"
        "micropython.qstr_info()\n", path=VM_PATH)
    before, after = mpy.qstr_counts(out)
    assert out.splitlines()[1] == "True True"
    assert before == after, out


def test_the_big_clock_interns_no_characters():
    # The clock's digits came one by one (a loop over the str), each interned for good: on the
    # pico2w twin the 7th qstr pool (14 KB) came with a new digit some 30 cycles into a soak,
    # and the largest free block fell from 14.7 KB to 1.9 KB.
    out = mpy.run(
        "import framebuf, micropython\nfrom app.ui import Painter\n"
        "fb = framebuf.FrameBuffer(bytearray(128 * 8), 128, 64, framebuf.MONO_VLSB)\n"
        "p = Painter(fb)\n"
        "micropython.qstr_info()\n"
        "for t in ('01:23', '45:67', '89:##', '%^&*'):\n"
        "    p.big(t, 0, 0)\n"
        "micropython.qstr_info()\n", path=VM_PATH)
    before, after = mpy.qstr_counts(out)
    assert before == after, out


def _levels():
    # 1 s of room noise, 1 s of speech with a short pause, 1.5 s of noise
    seq = [30 + (k * 7) % 11 for k in range(50)]
    seq += [900 + (k * 37) % 300 for k in range(20)] + [35] * 5 + [1100] * 25
    seq += [30 + (k * 5) % 13 for k in range(75)]
    return seq


def _run_vad(v, levels):
    return [(i, e) for i, lv in enumerate(levels) if (e := v.feed(lv))]


def test_vad_finds_start_and_end_of_speech():
    events = _run_vad(vad.Vad(), _levels())
    # start after 120 ms of speech (6 frames), end after 800 ms (40 frames) of quiet;
    # the 100 ms pause inside does not end it
    assert events == [(50 + 5, vad.START), (100 + 39, vad.END)]


def test_vad_same_in_micropython():
    levels = _levels()
    out = mpy.run("import vad\nv = vad.Vad()\nprint([(i, e) for i, e in ((i, v.feed(x)) for i, x in enumerate(%r)) if e])"
                  % (levels,), path=VM_PATH)
    assert out.strip() == repr(_run_vad(vad.Vad(), levels))


def test_vad_steady_noise_is_not_speech():
    v = vad.Vad()
    # a fan that starts loud and stays: it may start "speech" once, which must end,
    # after which the floor has adapted and it stays quiet
    events = _run_vad(v, [400] * 1000)
    assert len(events) <= 2
    assert not v.active

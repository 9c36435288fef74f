"""Reading the display: the text the firmware drew, from its pixels, with the VM's
own font; checked on the firmware's golden screens (tests/firmware/golden)."""

from pathlib import Path

import pytest

from pocket_agent.hil import display

GOLDEN = Path(__file__).resolve().parent.parent / "firmware" / "golden"


@pytest.mark.parametrize("board", ["pico2w", "esp32s3-devkitc"])
def test_every_golden_screen_reads_as_drawn(board):
    read = {p.stem: display.read_png(p) for p in sorted((GOLDEN / board).glob("*.png"))}
    assert read["confirm"].text.splitlines() == ["12:34", "Confirm?", "Send Alice:", "running late,",
                                                 "there at six", "press=OK hold=no"]
    assert [line.style for line in read["confirm"].lines][:2] == ["text", "inverted"]  # the title bar
    idle = read["idle"].text.splitlines()
    assert idle[:3] == ["12:34", "12:34", "21.5C 45.0%"] and idle[3] in ("hold to talk", "say the word")
    assert [line.style for line in read["idle"].lines][1] == "big"  # the 2x clock
    assert read["thinking"].body == "Thinking"
    assert read["responding"].shows("It is 21.5 degrees and 45 percent humidity")
    assert read["alarm"].shows("TIMER Tea is ready press to stop", body=True)
    assert read["listening"].body == "Listening\nrelease to send"


def test_the_status_bar_is_not_the_body():
    s = display.read_png(GOLDEN / "pico2w" / "listening.png")
    assert s.shows("12:34") and not s.shows("12:34", body=True)


def test_a_blank_or_noisy_panel_reads_as_nothing():
    import numpy as np

    assert display.read(np.zeros((64, 128), np.uint8)).lines == []
    noise = (np.random.default_rng(3).random((64, 128)) > 0.5).astype(np.uint8)
    assert sum(c.isalnum() for c in display.read(noise).text) <= 2  # no text appears out of noise

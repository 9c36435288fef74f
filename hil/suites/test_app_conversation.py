"""An end-to-end conversation with the offline agent on the whole device: speech into the
board's mic, the real firmware streaming it over the link, the bridge's pipeline hearing it
and running a tool, the answer on the board's screen and out of its speaker."""

import numpy as np
import pytest

# The fast subset's push-to-talk flow (test_app_flows.py) asks for the temperature too.
pytestmark = [pytest.mark.hil, pytest.mark.hil_full, pytest.mark.needs("audio_in", "display")]


def speaker_peak(device):
    """The loudest sample the speaker played so far in this test (its recording grows as it plays)."""
    with open(device.artifacts / "speaker.wav", "rb") as f:
        f.seek(44)
        x = np.frombuffer(f.read(), "<i2")
    return int(np.abs(x.astype(np.int32)).max()) if len(x) else 0


@pytest.mark.needs("audio_out")
def test_the_temperature_is_read_from_the_board_shown_and_spoken(device, record_property):
    device.world.environment(temperature=23.5)
    turn = device.converse("what's the temperature", hands_free=False, until=("shown",))
    assert turn.step("heard")["request"] == "what is the temperature", turn.step("heard")
    assert turn.tools == [("read_sensors", {})]
    assert turn.step("tool_done")["status"] == "ran"
    assert turn.screen.shows("It is 23.5 C inside.", body=True), turn.screen.text
    record_property("answer_on_screen_ms", turn.screen_ms)
    spoken = device.wait_step("spoken", timeout=20)
    assert device.wait_step("reply")["speech"] == "It is 23.5 degrees inside."
    device.wait_idle(timeout=20)  # by then the board has played all of it
    assert speaker_peak(device) > 1000, "nothing came out of the speaker"
    assert spoken["seconds"] > 0.5


@pytest.mark.needs("button")
def test_a_timer_set_by_voice_rings_on_the_board(device, record_property):
    turn = device.converse("set a timer for five seconds", hands_free=True)
    assert turn.step("heard")["request"] == "set a timer for five seconds", turn.step("heard")
    assert turn.tools == [("set_timer", {"seconds": 5, "kind": "timer"})]
    assert turn.screen.shows("Timer set: 5 s", body=True), turn.screen.text
    record_property("woke_by", turn.utterance.mode)
    fired = device.wait_step("timer_fired", timeout=20)
    # due in whole seconds of the board's clock: 4 to 5 s after it was set, plus the link
    assert 3.9 <= fired["time"] - turn.step("tool_done")["time"] <= 8.0
    device.wait_screen("TIMER press to stop", timeout=5, body=True)
    device.snap("timer-rings")
    device.press()  # stops the alarm
    device.wait_idle(timeout=10)

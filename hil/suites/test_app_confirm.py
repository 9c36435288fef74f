"""The confirmation flow on the whole device: "order more coffee" asks on the board's screen;
a press approves (and only then the order goes into the outbox ledger), a long press denies,
no answer in time denies; nothing is ordered unless approved."""

import pytest

pytestmark = [pytest.mark.hil, pytest.mark.needs("audio_in", "button", "display")]


def ask_for_coffee(device):
    before = device.outbox()
    turn = device.converse("order more coffee", hands_free=False, until=("confirm",))
    assert turn.tools == [("place_order", {"item": "more coffee"})], turn.steps
    assert turn.screen.shows("Confirm? Order: more coffee", body=True), turn.screen.text
    assert device.outbox() == before  # nothing ran yet
    return before, turn


def test_a_press_approves_and_the_order_is_in_the_outbox(device):
    before, _ = ask_for_coffee(device)
    mark = device.mark()
    device.press()
    assert device.wait_step("confirmed", after=mark)["approved"]
    done = device.wait_step("tool_done", after=mark)
    assert done["name"] == "place_order" and done["status"] == "ran"
    device.wait_screen("Order queued in outbox: more coffee", timeout=5, body=True)
    device.snap("approved")
    added = device.outbox()[len(before):]
    assert [(o["kind"], o["body"], o["status"]) for o in added] == [("order", "more coffee", "queued")]
    action = device.actions()[-1]
    assert action["tool"] == "place_order" and action["status"] == "ran" and action["approved"]


@pytest.mark.hil_full
def test_a_long_press_denies_and_nothing_is_ordered(device):
    before, _ = ask_for_coffee(device)
    mark = device.mark()
    device.hold(1500)  # a long press says no
    confirmed = device.wait_step("confirmed", after=mark)
    assert not confirmed["approved"] and confirmed["reason"] == "denied"
    device.wait_screen("Cancelled: nothing done.", timeout=5, body=True)
    device.snap("denied")
    assert device.outbox() == before
    assert device.actions()[-1]["status"] == "denied"
    assert [e for e in device.steps_since(mark) if e["step"] == "tool_done" and e["status"] == "ran"] == []


@pytest.mark.hil_full
def test_no_answer_in_time_denies_and_nothing_is_ordered(device):
    confirmer = device.pipeline.confirmer
    ttl = confirmer.ttl_s
    confirmer.ttl_s = 3.0  # the board counts down the request's own time to live
    try:
        before, turn = ask_for_coffee(device)
        assert turn.step("confirm")["ttl_s"] == 3.0
        confirmed = device.wait_step("confirmed", timeout=15)
        assert not confirmed["approved"] and confirmed["reason"] == "timeout"
        assert 2.5 <= confirmed["took_ms"] / 1000 <= 8
    finally:
        confirmer.ttl_s = ttl
    device.wait_screen("No answer in time: nothing done.", timeout=5, body=True)
    device.snap("timed-out")
    assert device.outbox() == before
    assert device.actions()[-1]["status"] == "timeout"
    assert [e for e in device.steps_since(turn.start) if e["step"] == "tool_done" and e["status"] == "ran"] == []

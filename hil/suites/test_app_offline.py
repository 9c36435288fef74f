"""Offline mode: the bridge stops and the board carries on by itself (it says so, its clock
runs, a timer it holds rings); when the bridge comes back the session resumes and what the
board kept for the host (the fired timer) reaches it."""

import time

import pytest

pytestmark = [pytest.mark.hil, pytest.mark.needs("audio_in", "button", "display")]


def clock_now():
    """The board's clock as it should read now (the host sets it to local time), and a
    minute either side (the minute may turn between the two reads)."""
    now = time.time()
    return {time.strftime("%H:%M", time.localtime(now + d)) for d in (-60, 0, 60)}


@pytest.mark.hil_full
def test_the_board_runs_offline_and_the_session_resumes(device):
    turn = device.converse("set a timer for twenty seconds", hands_free=False)
    assert turn.tools == [("set_timer", {"seconds": 20, "kind": "timer"})], turn.steps
    set_at = turn.step("tool_done")["time"]
    assert [k for k, _, _ in device.pending()] == ["timer"]
    device.wait_idle(timeout=20)

    boot_id = device.session.ep.peer["boot_id"]
    device.stop_bridge()
    stopped_at = time.time()
    _, screen = device.wait_screen("no host", timeout=10, body=True)  # the link's dead_after: 3.5 s
    device.snap("offline")
    assert screen.shows("OFFLINE", body=True), screen.text
    assert screen.lines[0].text in clock_now(), screen.text  # its clock still runs
    assert [line.text for line in screen.lines if line.style == "big"][0] in clock_now(), screen.text
    device.press()  # asked to listen with no host: it says so rather than listen
    device.wait_screen("Offline No host: I can't listen now.", timeout=5, body=True)
    device.snap("no-host")
    assert time.time() - set_at < 19, "the bridge took too long to stop: the timer may already have rung"

    _, rang = device.wait_screen("TIMER press to stop", timeout=30, body=True)  # the board's own timer
    rang_at = time.time()
    device.snap("timer-offline")
    assert 18 <= rang_at - set_at <= 24, rang_at - set_at
    device.press()
    device.wait_screen("no host", timeout=5, body=True)
    time.sleep(1.0)  # offline a moment longer: what the board keeps for the host waits

    mark = device.event_mark()
    device.start_bridge()
    online = device.wait_event("online", after=mark, timeout=20)
    assert online["data"]["peer"]["boot_id"] == boot_id, online  # the same boot: the board ran on
    fired = device.wait_event("timer_fired", after=mark, timeout=10)  # kept on the board while offline
    assert fired["data"]["at"] <= stopped_at + 25
    device.wait_step("timer_fired", after=0, where=lambda e: e.get("delay_s") is not None and e["delay_s"] > 1)
    assert device.pending() == [], "the fired timer is still pending on the host"
    assert not device.screen().shows("TIMER"), "the timer rang again after the resync"
    device.wait_idle(timeout=10)
    device.snap("online-again")
    turn = device.converse("what's the temperature", hands_free=False, until=("shown",))
    assert turn.tools == [("read_sensors", {})]


@pytest.mark.hil_full
def test_a_timer_that_rang_offline_does_not_ring_again_on_resume(device):
    bridge_device = device.bridge.device(device.board_name)
    device.call(bridge_device.set_timer(4242, 6, "Tea"))
    device.stop_bridge()
    device.wait_screen("TIMER Tea", timeout=15, body=True)
    device.press()
    device.wait_screen("no host", timeout=5, body=True)
    mark = device.event_mark()
    device.start_bridge()
    device.wait_event("timer_fired", after=mark, timeout=10)
    device.wait_event("log", after=mark, timeout=10, where=lambda d: "synced" in d.get("text", ""))
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:  # the board fires a due timer within a tick: 2 s is ample
        assert not device.screen().shows("TIMER"), "the timer rang again"
        time.sleep(0.05)
    fired = [e for e in device.events_since(mark) if e["kind"] == "timer_fired"]
    assert len(fired) == 1, fired

"""The offline agent completes tasks through tools, and its answers fit the screen."""

import datetime
import json

import pytest

from pocket_agent.host.agent.offline import NOT_CAUGHT
from pocket_agent.host.agent.screen import COLS, ROWS, fit


def fits(text):
    lines = text.split("\n")
    return len(lines) <= ROWS and all(len(line) <= COLS for line in lines) and text.isascii()


def test_time_and_date(rig):
    reply = rig.ask("What's the time?")
    assert reply.text.startswith("09:15") and "Tuesday" in reply.text
    assert reply.tools == [("get_time", "ran")]
    assert "Tuesday" in rig.ask("what day is it today").text


def test_timer_is_set_on_the_device_and_fires_there_without_the_host(rig):
    reply = rig.ask("set a timer for five minutes")
    assert reply.tools == [("set_timer", "ran")]
    (call,) = rig.device.called("set_timer")
    assert call["seconds"] == 300 and call["kind"] == "timer"
    assert "ends 09:20" in reply.text
    rig.session = None  # the host is gone; only the device's own clock moves on
    rig.clock.advance(299)
    assert rig.device.fired() == []
    rig.clock.advance(1)
    assert rig.device.fired() == ["Timer"]


def test_labelled_timer_and_cancel(rig):
    rig.ask("set a ten minute timer for pasta")
    assert rig.device.called("set_timer")[0]["label"] == "pasta"
    assert "pasta" in rig.ask("how much time is left").text
    reply = rig.ask("cancel all timers")
    assert "Cancelled 1 timer" in reply.text
    assert rig.device.timers == {}
    assert rig.ask("list my timers").text == "No timers set."


def test_alarm_picks_the_next_such_time(rig):
    rig.ask("set an alarm for 7:30 am")  # it is 09:15: tomorrow morning
    call = rig.device.called("set_timer")[-1]
    assert call["kind"] == "alarm" and call["seconds"] == (22 * 3600 + 15 * 60)
    rig.ask("wake me up at six thirty")  # no am/pm: the next 6:30 is this evening
    assert rig.device.called("set_timer")[-1]["seconds"] == 9 * 3600 + 15 * 60
    assert "18:30" in rig.ask("list my alarms").text


def test_reminders(rig):
    reply = rig.ask("remind me to call mom in 20 minutes")
    assert "09:35" in reply.text and "call mom" in reply.text
    rig.ask("remind me at 5 pm to take out the trash")
    assert rig.device.called("set_timer")[-1] == {"timer_id": 2, "seconds": 7 * 3600 + 45 * 60,
                                                  "label": "take out the trash", "kind": "reminder"}
    listing = rig.ask("what are my reminders").text
    assert listing.index("call mom") < listing.index("trash")
    rig.clock.advance(20 * 60)
    assert rig.device.fired() == ["call mom"]


def test_notes_add_list_read_delete(rig):
    rig.ask("add a note buy a birthday present for anna")
    rig.ask("note that the wifi password is on the fridge")
    listing = rig.ask("read my notes").text
    assert listing.startswith("2 notes:") and "1. buy a birthday" in listing
    assert "wifi" in rig.ask("read the last note").text
    assert "birthday" in rig.ask("read note one").text
    reply = rig.ask("delete note 1")
    assert reply.tools == [("delete_note", "ran")]
    assert rig.device.called("confirm")[0]["summary"] == "Delete note 1?"
    assert [n["text"] for n in rig.store.notes(rig.device.board)] == ["the wifi password is on the fridge"]
    assert rig.ask("read note five").text == "No note 5: there is\n1."


def test_deleting_a_note_needs_the_button(make_rig):
    rig = make_rig(button="deny")
    rig.ask("add a note water the plants")
    reply = rig.ask("delete the last note")
    assert reply.tools == [("delete_note", "denied")] and "nothing done" in reply.text
    assert len(rig.store.notes(rig.device.board)) == 1


def test_shopping_list(rig):
    rig.ask("add milk to the shopping list")
    rig.ask("put orange juice on my shopping list")
    rig.ask("add milk to the shopping list")
    listing = rig.ask("what's on my shopping list").text
    assert listing == "Shopping:\n- milk x2\n- orange juice"
    rig.ask("remove milk from the shopping list")
    assert rig.ask("read the shopping list").text == "Shopping:\n- orange juice"
    reply = rig.ask("remove bread from the shopping list")
    assert not reply.ok and "not on" in reply.text


@pytest.mark.parametrize("sensors,stuffy", [
    ({"temperature_c": 21.0, "humidity_pct": 40.0}, False),
    ({"temperature_c": 25.5, "humidity_pct": 65.0}, True),
    ({"temperature_c": 20.0, "humidity_pct": 72.0}, True),
    ({"temperature_c": 21.0, "humidity_pct": 40.0, "co2_ppm": 1600}, True),
    ({"temperature_c": 27.0, "humidity_pct": 65.0, "co2_ppm": 600}, False),
])
def test_is_it_stuffy(make_rig, sensors, stuffy):
    rig = make_rig(sensors=sensors)
    reply = rig.ask("is it stuffy in here")
    assert reply.text.startswith(("Stuffy", "Getting stuffy", "Warm") if stuffy else ("Not stuffy", "Air is fresh"))
    assert rig.device.called("read_sensors")


def test_sensor_questions(make_rig):
    rig = make_rig(sensors={"temperature_c": 23.44, "humidity_pct": 51.2, "battery_pct": 64})
    assert rig.ask("how warm is it").text == "It is 23.4 C inside."
    assert rig.ask("what's the humidity").text == "Humidity 51%."
    assert rig.ask("how much battery is left").text == "Battery 64%."
    reply = rig.ask("what is the air pressure")
    assert not reply.ok and "no\npressure" in reply.text


@pytest.mark.parametrize("request_,answer", [
    ("what is twelve times seven", "84"),
    ("what is 12 times 7", "84"),
    ("calculate two to the power of ten", "1024"),
    ("what is the square root of eighty one", "9"),
    ("how much is twenty percent of fifty", "10"),
    ("what is one hundred divided by eight", "12.5"),
    ("convert 10 miles to kilometers", "16.093 kilometers"),
    ("what is 100 degrees fahrenheit in celsius", "37.778 celsius"),
    ("how many cups in two liters", "8.454 cups"),
])
def test_arithmetic_and_units(rig, request_, answer):
    assert rig.ask(request_).text.split("\n")[-1] == answer


def test_bad_arithmetic_is_reported_not_crashed(rig):
    reply = rig.ask("what is five divided by zero")
    assert not reply.ok and reply.speech == "Cannot divide by zero."
    assert rig.actions("calculate")[-1]["status"] == "failed"


def test_device_settings(rig):
    rig.ask("set the brightness to 30%")
    rig.ask("turn the volume up")
    rig.ask("mute")
    rig.ask("turn on do not disturb")
    assert rig.device.settings == {"brightness": 30, "volume": 0, "dnd": True}
    rig.ask("unmute")
    assert rig.device.settings["volume"] == 70
    rig.ask("set the brightness to 250")
    assert rig.device.settings["brightness"] == 100


def test_message_and_order_go_to_the_outbox_only_after_the_button(rig):
    reply = rig.ask("send a message to mom saying I will be late")
    assert reply.tools == [("send_message", "ran")] and "queued" in reply.text
    assert rig.device.called("confirm")[0]["summary"] == "Send to Mom:\ni will be late"
    rig.ask("order two pizzas")
    outbox = rig.store.outbox(rig.device.board)
    assert [(o["kind"], o["recipient"], o["body"], o["status"]) for o in outbox] == [
        ("message", "mom", "i will be late", "queued"), ("order", None, "two pizzas", "queued")]
    log = rig.actions("send_message")
    assert log[0]["status"] == "ran" and log[0]["approved"] is not None


@pytest.mark.parametrize("button,status,words", [("deny", "denied", "Cancelled"),
                                                 ("timeout", "timeout", "No answer in time")])
def test_denied_or_unanswered_message_does_nothing_and_says_so(make_rig, button, status, words):
    rig = make_rig(button=button)
    reply = rig.ask("send a message to dad saying call me back")
    assert reply.tools == [("send_message", status)] and words in reply.text and "nothing done" in reply.text
    assert "queued" not in reply.text
    assert rig.store.outbox(rig.device.board) == []
    assert rig.actions("send_message")[0]["status"] == status


def test_not_understood(rig):
    reply = rig.ask("tell me a joke about penguins")
    assert reply.text == NOT_CAUGHT and reply.tools == [] and not reply.ok
    assert rig.device.screen == NOT_CAUGHT


def test_every_answer_fits_the_screen(rig):
    rig.ask("add a note " + "a very long note about many different things " * 5)
    for request in ["what time is it", "read my notes", "what can you do", "what device is this",
                    "is it stuffy", "set a timer for an hour and a half", "how much time is left"]:
        text = rig.ask(request).text
        assert fits(text), text
        assert rig.device.screen == text


def test_screen_fit_truncates_visibly():
    text = fit("word " * 100)
    assert len(text.split("\n")) == ROWS and text.endswith("..")
    assert fit("23.5°C – ok") == "23.5 C - ok"


def test_a_failing_device_is_reported_and_the_session_goes_on(rig):
    from pocket_agent.host.agent.device import DeviceError

    rig.device.fail["read_sensors"] = DeviceError("sensor bus timed out")
    reply = rig.ask("is it stuffy")
    assert not reply.ok and reply.speech == "Sensor bus timed out."
    del rig.device.fail["read_sensors"]
    assert rig.ask("is it stuffy").ok


def test_the_log_records_every_tool_call(rig):
    rig.ask("set a timer for 5 minutes")
    rig.ask("what is 2 plus 2")
    rig.ask("send a message to anna saying hi")
    rows = [(a["tool"], a["status"]) for a in rig.actions()]
    assert rows == [("pair", "paired"), ("set_timer", "ran"), ("calculate", "ran"), ("send_message", "ran")]
    assert json.loads(rig.actions("set_timer")[0]["args"]) == {"seconds": 300, "kind": "timer"}
    assert datetime.datetime.fromtimestamp(rig.actions()[1]["created"]).hour == 9

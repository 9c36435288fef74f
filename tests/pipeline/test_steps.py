"""Each step the pipeline reports reads as one line (the log and the demo print these)."""

from pocket_agent.host.pipeline import describe


def _e(step, **fields):
    return {"board": "kitchen", "step": step, "time": 0.0, **fields}


def test_every_step_reads_as_one_line():
    lines = {
        "ready": describe(_e("ready", load_s=3.25)),
        "heard": describe(_e("heard", text="hey pocket what time is it", request="what time is it",
                             confidence=0.72, source="commands", audio_s=2.1, lost_chunks=2, at_ms=412)),
        "nothing": describe(_e("heard", text="", request="", confidence=0.0, source="nothing", audio_s=0.8,
                               lost_chunks=0, at_ms=90)),
        "tool": describe(_e("tool", name="set_timer", args={"seconds": 10}, at_ms=415)),
        "tool_done": describe(_e("tool_done", name="set_timer", status="ran", ok=True, text="", took_ms=3)),
        "confirm": describe(_e("confirm", summary="Order:\nmore coffee", ttl_s=30.0)),
        "confirmed": describe(_e("confirmed", approved=False, reason="denied", took_ms=2500)),
        "shown": describe(_e("shown", text="Timer set:\n10 s", at_ms=430)),
        "reply": describe(_e("reply", text="x", speech="x", intent="timer_set", ok=False, tools=[], at_ms=431)),
        "spoken": describe(_e("spoken", seconds=2.94, at_ms=600)),
        "timer_fired": describe(_e("timer_fired", tid=4, label="Tea", delay_s=0.2)),
        "broken_off": describe(_e("broken_off", stream=3)),
        "confirm_late": describe(_e("confirm_late", result=0)),
        "error": describe(_e("error", text="the board: offline")),
    }
    assert lines["heard"] == ('heard "hey pocket what time is it" (commands, confidence 0.72, 2.1 s of audio, '
                              "2 chunks lost) +412 ms")
    assert lines["nothing"] == "heard nothing (nothing, confidence 0.00, 0.8 s of audio) +90 ms"
    assert lines["tool"] == "tool set_timer(seconds=10) +415 ms"
    assert lines["confirm"] == "asks the user to confirm on the board: 'Order: more coffee' (30 s)"
    assert lines["confirmed"] == "not approved: denied after 2.5 s"
    assert lines["shown"] == "screen: 'Timer set: / 10 s' +430 ms"
    assert lines["reply"] == "answered +431 ms (not done)"
    assert lines["timer_fired"] == "timer 'Tea' fired on the board (heard here 0.2 s later)"
    assert all("\n" not in line and line for line in lines.values())

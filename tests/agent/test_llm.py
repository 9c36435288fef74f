"""The LLM agent against a local server speaking the OpenAI wire format (no LLM runs here)."""

import asyncio
import json
import socket

import pytest

from pocket_agent.host.agent.llm import LLMAgent, LLMSettings
from pocket_agent.host.agent.offline import OfflineAgent
from pocket_agent.host.agent.toolset import build_registry

from .conftest import Rig
from .openai_stub import OpenAIStub, error, text, tool_calls


def llm_rig(tmp_path, base_url, key="test-key", button="approve", **settings):
    registry = build_registry()
    agent = LLMAgent(LLMSettings(base_url=base_url, api_key=key, model="pocket-test", timeout_s=5, **settings),
                     registry, OfflineAgent(registry))
    rig = Rig(tmp_path, button=button, llm=agent)
    rig.session.registry = registry
    return rig


def screens(rig):
    return [c["text"] for c in rig.device.called("show_text")]


def test_streams_text_to_the_screen(tmp_path):
    with OpenAIStub([text("Penguins cannot fly, but they swim very well.", pieces=4)]) as stub:
        rig = llm_rig(tmp_path, stub.base_url)
        reply = rig.ask("tell me about penguins")
    assert reply.text == "Penguins cannot fly,\nbut they swim very\nwell."
    assert len(screens(rig)) >= 4 and screens(rig)[-1] == reply.text  # partial screens, then the whole
    body = stub.requests[0]
    assert body["model"] == "pocket-test" and body["stream"] is True
    assert body["messages"][-1] == {"role": "user", "content": "tell me about penguins"}
    assert stub.headers[0]["authorization"] == "Bearer test-key"
    names = {t["function"]["name"] for t in body["tools"]}
    assert {"read_sensors", "show_text", "notify", "ask_confirmation", "set_timer", "send_message"} <= names


def test_tool_call_runs_on_the_device_and_the_result_goes_back(tmp_path):
    turns = [tool_calls(("set_timer", {"seconds": 300, "label": "tea"})), text("Your tea timer is set.")]
    with OpenAIStub(turns) as stub:
        rig = llm_rig(tmp_path, stub.base_url)
        reply = rig.ask("tea timer, five minutes")
    assert rig.device.called("set_timer") == [{"timer_id": 1, "seconds": 300, "label": "tea", "kind": "timer"}]
    assert reply.tools == [("set_timer", "ran")] and reply.text == "Your tea timer is\nset."
    sent = stub.requests[1]["messages"]
    assert sent[-2]["tool_calls"][0]["function"] == {"name": "set_timer", "arguments": '{"seconds": 300, "label": "tea"}'}
    result = json.loads(sent[-1]["content"])
    assert sent[-1]["tool_call_id"] == "call_0" and result["ok"] and result["timer_id"] == 1


def test_several_tool_calls_in_one_turn(tmp_path):
    turns = [tool_calls(("read_sensors", {}), ("add_note", {"text": "check the heating"})), text("Noted.")]
    with OpenAIStub(turns) as stub:
        rig = llm_rig(tmp_path, stub.base_url)
        reply = rig.ask("read the sensors and note to check the heating")
    assert reply.tools == [("read_sensors", "ran"), ("add_note", "ran")]
    assert [n["text"] for n in rig.store.notes(rig.device.board)] == ["check the heating"]
    assert [m["tool_call_id"] for m in stub.requests[1]["messages"] if m["role"] == "tool"] == ["call_0", "call_1"]


def test_malformed_tool_call_is_reported_to_the_model_and_logged(tmp_path):
    turns = [tool_calls(("set_timer", '{"seconds": 300,,')), tool_calls(("set_timer", {"seconds": "soon"})),
             text("Sorry, I could not set that.")]
    with OpenAIStub(turns) as stub:
        rig = llm_rig(tmp_path, stub.base_url)
        reply = rig.ask("set a timer")
    assert rig.device.called("set_timer") == []
    first = json.loads(stub.requests[1]["messages"][-1]["content"])
    second = json.loads(stub.requests[2]["messages"][-1]["content"])
    assert not first["ok"] and "not valid JSON" in first["error"]
    assert not second["ok"] and "seconds must be integer" in second["result"]
    assert reply.tools == [("set_timer", "invalid"), ("set_timer", "invalid")] and not reply.ok
    assert [a["status"] for a in rig.actions("set_timer")] == ["invalid", "invalid"]


def test_unknown_tool_is_reported(tmp_path):
    with OpenAIStub([tool_calls(("launch_rocket", {})), text("I cannot do that.")]) as stub:
        rig = llm_rig(tmp_path, stub.base_url)
        reply = rig.ask("launch")
    assert reply.tools == [("launch_rocket", "invalid")]
    assert "No tool named launch_rocket" in json.loads(stub.requests[1]["messages"][-1]["content"])["result"]


def test_a_tool_that_raises_is_reported_and_the_session_goes_on(tmp_path):
    with OpenAIStub([tool_calls(("read_sensors", {})), text("The sensor failed."), text("Hello again.")]) as stub:
        rig = llm_rig(tmp_path, stub.base_url)
        rig.device.fail["read_sensors"] = RuntimeError("I2C bus stuck")
        reply = rig.ask("how warm is it")
        assert reply.tools == [("read_sensors", "failed")]
        result = json.loads(stub.requests[1]["messages"][-1]["content"])
        assert not result["ok"] and "I2C bus stuck" in result["result"]
        assert rig.ask("hello").text == "Hello again."


def test_consequential_tool_needs_the_button(tmp_path):
    turns = [tool_calls(("send_message", {"recipient": "anna", "body": "running late"})),
             text("The user declined, nothing was sent.")]
    with OpenAIStub(turns) as stub:
        rig = llm_rig(tmp_path, stub.base_url, button="deny")
        reply = rig.ask("tell anna I'm running late")
    assert rig.store.outbox(rig.device.board) == []
    assert reply.tools == [("send_message", "denied")]
    assert json.loads(stub.requests[1]["messages"][-1]["content"])["status"] == "denied"
    assert "nothing was sent" in reply.speech


def test_the_screen_never_claims_done_without_a_tool_call(tmp_path):
    with OpenAIStub([text("Done! I've sent the message to Anna.", pieces=6)]) as stub:
        rig = llm_rig(tmp_path, stub.base_url)
        reply = rig.ask("message anna")
    assert reply.text == "No action was taken."
    assert not any("sent" in s or "Done" in s for s in screens(rig))
    assert rig.store.outbox(rig.device.board) == []


@pytest.mark.parametrize("said,claims", [
    ("Done.", True), ("I've set a timer.", True), ("The message has been sent.", True), ("Added milk.", True),
    ("Nothing was sent.", False), ("I have not added it.", False), ("It wasn't sent.", False),
    ("It is 21 degrees.", False)])
def test_what_counts_as_claiming_an_action(said, claims):
    from pocket_agent.host.agent.llm import claims_action

    assert claims_action(said) is claims


def test_endpoint_down_falls_back_to_offline_and_says_so(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here
    rig = llm_rig(tmp_path, f"http://127.0.0.1:{port}/v1")
    reply = rig.ask("set a timer for 5 minutes")
    assert reply.text.startswith("LLM unreachable:\noffline agent.")
    assert "Timer set" in reply.text and rig.device.called("set_timer")[0]["seconds"] == 300


def test_server_error_falls_back(tmp_path):
    with OpenAIStub([error(500)]) as stub:
        rig = llm_rig(tmp_path, stub.base_url)
        reply = rig.ask("what time is it")
    assert reply.text.startswith("LLM unreachable") and "09:15" in reply.text


def test_a_rejected_key_falls_back(tmp_path):
    with OpenAIStub([error(401, "bad key")]) as stub:
        rig = llm_rig(tmp_path, stub.base_url)
        assert rig.ask("what time is it").text.startswith("LLM unreachable")


def test_no_key_gives_a_clear_message_and_the_offline_agent(tmp_path):
    with OpenAIStub([text("should not be asked")]) as stub:
        rig = llm_rig(tmp_path, stub.base_url, key=None)
        reply = rig.ask("what time is it")
    assert reply.text.startswith("No LLM key set:\noffline agent.") and "09:15" in reply.text
    assert stub.requests == []


def test_endpoint_lost_after_a_tool_ran_does_not_run_it_again(tmp_path):
    with OpenAIStub([tool_calls(("add_note", {"text": "buy stamps"})), error(503)]) as stub:
        rig = llm_rig(tmp_path, stub.base_url)
        reply = rig.ask("note: buy stamps")
    assert len(rig.store.notes(rig.device.board)) == 1
    assert "Ran: add_note" in reply.text


def test_memory_is_per_board_and_bounded(tmp_path):
    turns = [text(f"answer {i}") for i in range(8)]
    with OpenAIStub(turns) as stub:
        rig = llm_rig(tmp_path, stub.base_url, memory_messages=4)
        for i in range(8):
            rig.ask(f"question {i}")
    last = stub.requests[-1]["messages"]
    assert [m["content"] for m in last[1:]] == ["question 5", "answer 5", "question 6", "answer 6", "question 7"]
    assert list(rig.session.llm.memory) == [rig.device.board]


def test_a_model_that_keeps_calling_tools_is_stopped(tmp_path):
    with OpenAIStub([tool_calls(("get_time", {}))] * 10) as stub:
        rig = llm_rig(tmp_path, stub.base_url, max_tool_rounds=2)
        reply = rig.ask("loop")
    assert len(stub.requests) == 3 and reply.text.startswith("Stopped") and not reply.ok


def test_settings_from_file_and_environment(tmp_path):
    cfg = tmp_path / "agent.toml"
    cfg.write_text('[llm]\nbase_url = "http://localhost:11434/v1"\nmodel = "llama3.2"\napi_key = "from-file"\n')
    s = LLMSettings.load(env={}, path=cfg)
    assert (s.base_url, s.model, s.api_key) == ("http://localhost:11434/v1", "llama3.2", "from-file")
    s = LLMSettings.load(env={"POCKET_LLM_API_KEY": "from-env", "POCKET_LLM_TIMEOUT": "3"}, path=cfg)
    assert s.api_key == "from-env" and s.timeout_s == 3.0 and s.model == "llama3.2"
    assert "from-env" not in repr(s)
    assert not LLMSettings.load(env={}, path=tmp_path / "missing.toml").configured

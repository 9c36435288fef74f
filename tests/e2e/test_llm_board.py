"""The LLM agent through the twin: `pocket bridge --agent llm` against a local
server that speaks the OpenAI wire format (a stand-in, because no LLM runs
here): the transcript reaches the model, its tool call runs on the board, its
streamed answer shows on the display; with the endpoint down the offline agent
answers and the screen says so."""

import os

import pytest

from pocket_agent.hil.stage import Stage
from tests.agent.openai_stub import OpenAIStub, error, text, tool_calls

from .conftest import BOARD

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def llm(tmp_path_factory):
    state = tmp_path_factory.mktemp("e2e-llm")
    with OpenAIStub() as stub:
        env = {"POCKET_LLM_BASE_URL": stub.base_url, "POCKET_LLM_API_KEY": "test-key",
               "POCKET_LLM_MODEL": "stub-model", "POCKET_LLM_TIMEOUT": "5",
               "XDG_CONFIG_HOME": str(state / "config")}  # no agent.toml of this machine's user
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            with Stage(BOARD, state, agent="llm") as stage:
                stage.world.environment(temperature=19.5, humidity=40.0)
                yield stage, stub
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


@pytest.fixture(scope="module")
def streamed(llm):
    """One turn with the model: a tool call, then its answer streamed in four pieces."""
    stage, stub = llm
    stage.wait_idle()
    stub.turns[:] = [tool_calls(("read_sensors", {})), text("It is 19.5 degrees in here.", pieces=4)]
    mark = stage.mark()
    stage.say("hey pocket, what's the temperature")
    stage.wait_step("reply", after=mark)
    stage.wait_step("spoken", after=mark, timeout=10)
    return stage, stub, stage.steps_since(mark)


def test_the_model_hears_the_request_and_its_tool_call_runs_on_the_board(streamed):
    stage, stub, steps = streamed
    assert stub.requests[0]["messages"][-1] == {"role": "user", "content": "what is the temperature"}
    assert [(e["name"], e["args"]) for e in steps if e["step"] == "tool"] == [("read_sensors", {})]
    tool_reply = [m for m in stub.requests[1]["messages"] if m["role"] == "tool"][0]
    assert '"temperature_c": 19.5' in tool_reply["content"]  # the twin's own reading went to the model
    shown = [e["text"] for e in steps if e["step"] == "shown"]
    assert len(shown) >= 2 and shown[-1] == "It is 19.5 degrees in\nhere.", shown  # streamed to the board


def test_the_streamed_answer_stands_whole_on_the_screen(streamed):
    stage, _stub, _steps = streamed
    stage.wait_screen("It is 19.5 degrees in here.", timeout=3, body=True)


def test_with_the_endpoint_down_the_offline_agent_answers_and_says_so(llm):
    stage, stub = llm
    stage.wait_idle()
    stub.turns[:] = [error(503)]
    turn = stage.converse("what's the temperature", hands_free=False, until=("reply",))
    assert turn.tools == [("read_sensors", {})]  # the offline agent ran it
    assert turn.screen.shows("LLM unreachable: offline agent. It is 19.5 C inside.", body=True), turn.screen.text

"""`pocket agent`: the offline agent from the command line against a simulated device."""

import json
import subprocess
import sys

import pytest

from pocket_agent import cli


def pocket(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "pocket_agent.cli", *args], capture_output=True, text=True,
                          env={"POCKET_AGENT_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
                          timeout=120)


def test_ask_shows_the_screen_and_the_tool(tmp_path):
    out = pocket(tmp_path, "agent", "ask", "set a timer for 5 minutes")
    assert out.returncode == 0, out.stderr
    assert "|Timer set:" in out.stdout and "tool set_timer: ran" in out.stdout


def test_state_persists_between_runs_and_the_log_shows_approvals(tmp_path):
    pocket(tmp_path, "agent", "ask", "add a note feed the cat")
    out = pocket(tmp_path, "agent", "ask", "read my notes", "--json")
    assert json.loads(out.stdout)["screen"] == "1 note:\n1. feed the cat"
    pocket(tmp_path, "agent", "ask", "order more coffee", "--button", "approve")
    denied = pocket(tmp_path, "agent", "ask", "order a boat", "--button", "deny")
    assert denied.returncode == 1 and "Cancelled" in denied.stdout
    log = pocket(tmp_path, "agent", "log").stdout
    assert "place_order          ran       approved" in log and "place_order          denied" in log


def test_a_confirmation_without_a_terminal_is_declined(tmp_path):
    out = pocket(tmp_path, "agent", "ask", "send a message to mom saying hi")
    assert "Cancelled" in out.stdout and out.returncode == 1


def test_parse_runs_nothing(tmp_path, capsys):
    assert cli.main(["agent", "parse", "what's 12 times 7"]) == 0
    assert "calculate(expression=12 times 7)" in capsys.readouterr().out


def test_llm_without_a_key_says_so_and_answers_offline(tmp_path):
    out = pocket(tmp_path, "agent", "ask", "what time is it", "--llm")
    assert out.stdout.startswith("+") and "|No LLM key set:" in out.stdout and "tool get_time: ran" in out.stdout


def test_mcp_without_a_bridge_is_a_clear_error(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("POCKET_BRIDGE_CONTROL_SOCKET", str(tmp_path / "no-bridge.sock"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert cli.main(["mcp"]) == 2
    err = capsys.readouterr().err
    assert "no bridge is running" in err and "hint: start one with `pocket bridge`" in err


@pytest.mark.parametrize("args", [["agent", "hear", "/nonexistent.wav"]])
def test_a_missing_wav_is_a_clear_error(tmp_path, args):
    out = pocket(tmp_path, *args)
    assert out.returncode == 2 and "not a readable WAV file" in out.stderr and "Traceback" not in out.stderr

"""The HIL plugin's whole-device fixture: what it skips before starting anything, and the
link trace it writes."""

import json

from pocket_agent.hil import plugin

pytest_plugins = ["pytester"]


def test_a_device_test_needing_what_the_rig_lacks_skips_without_starting_the_device(pytester):
    pytester.makepyfile(test_app="""
        import pytest

        @pytest.mark.needs("audio_in", "button")
        def test_speak(device):
            raise AssertionError("never runs")

        @pytest.mark.needs("rocket")
        def test_launch(device):
            raise AssertionError("never runs")
    """)
    # a "real board" on a port nobody opens: a started device would fail to reach it
    result = pytester.runpytest("--board", "pico2w", "--port", "/dev/ttyNOBODY", "--rig", "button",
                                "-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(skipped=2)
    out = result.stdout.str()
    assert "needs audio_in, which this rig lacks" in out
    assert "needs rocket, which this rig lacks" in out
    result = pytester.runpytest("--board", "pico2w", "-p", "no:cacheprovider", "-rs", "-k", "launch")
    result.assert_outcomes(skipped=1)
    assert "needs rocket, which the twin lacks" in result.stdout.str()


def test_the_link_trace_keeps_audio_as_its_length(tmp_path):
    path = tmp_path / "link.jsonl"
    plugin._write_jsonl(path, [{"kind": "audio", "data": {"stream": 3, "pcm": b"\0" * 640}},
                               {"kind": "online", "data": {"reset": True}}])
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows[0]["data"] == {"stream": 3, "pcm": "<640 bytes>"}
    assert rows[1] == {"kind": "online", "data": {"reset": True}}

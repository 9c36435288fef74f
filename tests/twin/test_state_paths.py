"""A twin whose state directory is deep still gets a control socket it can bind."""

from pocket_agent.tools.twin import control, state


def test_a_deep_state_directory_gets_a_short_control_socket(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    st = state.TwinState("board", deep)
    assert len(str(st.dir / "control.sock")) > state.SOCKET_PATH_MAX
    assert len(str(st.control)) <= state.SOCKET_PATH_MAX
    assert state.TwinState("board", deep).control == st.control  # every client finds the same one
    assert state.TwinState("other", deep).control != st.control


def test_a_shallow_state_directory_keeps_the_socket_beside_the_flash(tmp_path):
    st = state.TwinState("b", tmp_path)
    assert st.control == tmp_path / "twins" / "b" / "control.sock"


def test_a_twin_under_a_deep_state_directory_runs_and_answers(tmp_path):
    from pocket_agent.tools.twin import launcher

    deep = tmp_path / ("s" * 70) / ("t" * 40)
    twin = launcher.start("pico2w", state_dir=deep)
    try:
        assert control.running(deep) == ["pico2w"]
        assert twin.control("status")["board"] == "pico2w"
    finally:
        twin.stop()

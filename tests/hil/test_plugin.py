"""The HIL plugin itself: the board fixture, the reset ladder, skips and the summary."""

import pytest

pytest_plugins = ["pytester"]


def test_a_board_no_reset_brings_back_is_an_infrastructure_failure(pytester):
    pytester.makepyfile(test_bench="""
        import pytest

        pytestmark = pytest.mark.hil

        def test_install_a_main_py_that_never_lets_go(board):
            board.exec(
                "f = open('main.py', 'w')\\n"
                "f.write('import time\\\\nwhile True:\\\\n    try:\\\\n        time.sleep_ms(5)\\\\n    except KeyboardInterrupt:\\\\n        pass\\\\n')\\n"
                "f.close()")
            t = board.transport()  # a hard reset, so main.py runs
            t.enter_raw_repl(soft_reset=False)
            t.exec_raw_no_follow("import time, machine\\ntime.sleep_ms(100)\\nmachine.reset()")
            t.close()
            import time
            time.sleep(0.5)  # the reset happens 100 ms after the exec

        def test_next_test_cannot_get_a_board(board):
            pass

        @pytest.mark.needs("rocket")
        def test_needs_a_missing_capability(board):
            pass
    """)
    result = pytester.runpytest("--board", "pico2w", "-p", "no:cacheprovider", "-o", "timeout=120",
                                "--hil-timeout", "1.5")
    result.assert_outcomes(passed=1, errors=1, skipped=1)
    out = result.stdout.str()
    assert "infrastructure: pico2w" in out and "power cycle" in out
    result = pytester.runpytest("--board", "pico2w", "-p", "no:cacheprovider", "-rs", "-k", "capability")
    assert "needs rocket, which the twin lacks" in result.stdout.str()
    assert "HIL bench" in out and "soft reset x1" in out


def test_real_board_needs_exactly_one_board_name(pytester):
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest("--port", "/dev/ttyACM9")
    assert result.ret != 0
    assert "needs exactly one --board" in result.stderr.str()

"""pytest plugin of the HIL bench (registered as `pocket_hil`).

    pytest hil/suites                       every board's twin
    pytest hil/suites --board pico2w        one board's twin
    pytest hil/suites --board pico2w --port /dev/ttyACM0 --rig button,audio_in
                                            a real board, with what its rig can do

Tests get the board through the `board` fixture, reset to a known state by an
escalating ladder (soft reset, machine.reset(), reset line, power cycle). A
board that no rung brings back is an infrastructure error, not a test failure.
Tests that need a stimulus only a twin or a rig can give are marked
`@pytest.mark.needs("button")` and skipped, with the reason, when it is missing.
"""

import time
from pathlib import Path

import pytest

from .board import InfrastructureError, open_board, twin_boards

# What a twin's world can do; a real board can do what its rig says.
TWIN_CAPABILITIES = {"button", "audio_in", "audio_out", "display", "env", "motion", "battery", "power", "usb"}


def pytest_addoption(parser):
    g = parser.getgroup("pocket-hil", "Pocket Agent hardware-in-the-loop bench")
    g.addoption("--board", action="append", default=None, help="board to test (repeatable; default: all twins)")
    g.addoption("--port", default=None, help="serial port of a real board (without it, the board's twin runs)")
    g.addoption("--board-serial", default=None, help="USB serial number of a real board, instead of --port")
    g.addoption("--rig", default="", help="what the real board's rig provides: comma list of " + ", ".join(sorted(TWIN_CAPABILITIES)))
    g.addoption("--uhubctl", default=None, help="LOCATION:PORT of the USB hub port that powers the real board")
    g.addoption("--hil-artifacts", default="artifacts/hil", help="where serial logs, snapshots and JUnit XML go")
    g.addoption("--hil-full", action="store_true", help="run the full suite, not only the fast subset")
    g.addoption("--soak", type=int, default=5, help="cycles of the soak test (CI uses a short run)")
    g.addoption("--hil-timeout", type=float, default=5.0, help="seconds each step of a reset may take")


def pytest_configure(config):
    config.addinivalue_line("markers", "needs(*capabilities): skip unless the board or its rig provides them")
    config.addinivalue_line("markers", "hil_full: only with --hil-full")
    config.addinivalue_line("markers", "hil: a test of the HIL bench (gets the board fixture)")
    real = config.getoption("--port") or config.getoption("--board-serial")
    boards = config.getoption("--board")
    if real and (not boards or len(boards) != 1):
        raise pytest.UsageError("a real board (--port or --board-serial) needs exactly one --board NAME")
    config._hil_summary = {}


def pytest_generate_tests(metafunc):
    if "hil_board" in metafunc.fixturenames:
        boards = metafunc.config.getoption("--board") or twin_boards()
        metafunc.parametrize("hil_board", boards, indirect=True, scope="session")


def pytest_collection_modifyitems(config, items):
    full = config.getoption("--hil-full")
    for item in items:
        if item.get_closest_marker("hil_full") and not full:
            item.add_marker(pytest.mark.skip(reason="part of the full HIL suite: run with --hil-full"))


@pytest.fixture(scope="session")
def hil_board(request, tmp_path_factory):
    """The board under test for the whole session (a twin is started once per board)."""
    config = request.config
    uhub = config.getoption("--uhubctl")
    try:
        b = open_board(
            request.param,
            port=config.getoption("--port"),
            serial_number=config.getoption("--board-serial"),
            state_dir=tmp_path_factory.mktemp("hil-state"),
            uhubctl=tuple(uhub.split(":", 1)) if uhub else None,
            timeout=config.getoption("--hil-timeout"),
        )
    except InfrastructureError as exc:
        pytest.fail(f"infrastructure: {exc}", pytrace=False)
    rig = {c.strip() for c in config.getoption("--rig").split(",") if c.strip()}
    b.capabilities = TWIN_CAPABILITIES if b.is_twin else rig
    yield b
    b.close()


@pytest.fixture
def artifacts(request, hil_board):
    """This test's folder for its serial log, display snapshots and speaker recording."""
    root = Path(request.config.getoption("--hil-artifacts"))
    name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    path = root / hil_board.name / name
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def board(hil_board, request, record_property, artifacts):
    """The board, reset to a known state, with its properties in the JUnit report.

    On a twin every byte of the serial link is logged to the test's serial.log,
    the speaker is recorded to speaker.wav and the display is saved as
    display-end.png when the test ends."""
    for mark in request.node.iter_markers("needs"):
        missing = set(mark.args) - hil_board.capabilities
        if missing:
            pytest.skip(f"needs {', '.join(sorted(missing))}, which {'the twin' if hil_board.is_twin else 'this rig'} lacks")
    t0 = time.monotonic()
    try:
        rung = hil_board.reset()
    except InfrastructureError as exc:
        pytest.fail(f"infrastructure: {exc}", pytrace=False)
    record_property("board", hil_board.name)
    record_property("target", "twin" if hil_board.is_twin else "hardware")
    record_property("port", hil_board.port)
    record_property("reset", rung)
    record_property("reset_seconds", round(time.monotonic() - t0, 3))
    summary = request.config._hil_summary.setdefault(hil_board.name, {"reset": {}})
    summary["reset"][rung] = summary["reset"].get(rung, 0) + 1
    twin = hil_board.twin
    if twin:
        twin.control("capture", path=str((artifacts / "serial.log").resolve()))
        twin.world.speaker_record((artifacts / "speaker.wav").resolve())
    hil_board.artifacts = artifacts
    yield hil_board
    if twin and twin.proc.poll() is None:
        try:
            twin.world.speaker_stop()
            twin.world.display_png((artifacts / "display-end.png").resolve(), scale=2)
        finally:
            twin.control("capture", path=None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    callspec = getattr(item, "callspec", None)
    board = callspec.params.get("hil_board") if callspec else None
    if board and (report.when == "call" or report.outcome != "passed"):
        summary = item.config._hil_summary.setdefault(board, {"reset": {}})
        key = "infrastructure" if "infrastructure:" in str(report.longrepr or "") else report.outcome
        summary[key] = summary.get(key, 0) + 1
        summary["seconds"] = summary.get("seconds", 0.0) + report.duration


def pytest_terminal_summary(terminalreporter, config):
    summary = getattr(config, "_hil_summary", None)
    if not summary:
        return
    tr = terminalreporter
    tr.section("HIL bench")
    tr.write_line(f"{'board':18} {'passed':>6} {'failed':>6} {'skipped':>7} {'infra':>6} {'seconds':>8}  resets")
    for name, s in sorted(summary.items()):
        resets = ", ".join(f"{k} x{v}" for k, v in sorted(s["reset"].items()))
        tr.write_line(f"{name:18} {s.get('passed', 0):6} {s.get('failed', 0):6} {s.get('skipped', 0):7} "
                      f"{s.get('infrastructure', 0):6} {s.get('seconds', 0.0):8.1f}  {resets}")

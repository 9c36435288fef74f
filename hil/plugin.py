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
    g.addoption("--soak", type=int, default=2, help="wake -> answer cycles of the soak test (CI's short run: 2)")
    g.addoption("--hil-timeout", type=float, default=5.0, help="seconds each step of a reset may take")


def pytest_configure(config):
    config.addinivalue_line("markers", "needs(*capabilities): skip unless the board or its rig provides them")
    config.addinivalue_line("markers", "hil_full: only with --hil-full")
    config.addinivalue_line("markers", "hil: a test of the HIL bench (gets the board fixture)")
    real = config.getoption("--port") or config.getoption("--board-serial")
    boards = config.getoption("--board")
    if real and (not boards or len(boards) != 1):
        raise pytest.UsageError("a real board (--port or --board-serial) needs exactly one --board NAME")
    config.pluginmanager.register(HilSummary(), "hil-summary")


def pytest_generate_tests(metafunc):
    for name in ("hil_board", "hil_device"):
        if name in metafunc.fixturenames:
            boards = metafunc.config.getoption("--board") or twin_boards()
            metafunc.parametrize(name, boards, indirect=True, scope="session")


def pytest_collection_modifyitems(config, items):
    full = config.getoption("--hil-full")
    for item in items:
        if item.get_closest_marker("hil_full") and not full:
            item.add_marker(pytest.mark.skip(reason="part of the full HIL suite: run with --hil-full"))
        if "device" in getattr(item, "fixturenames", ()):
            _skip_device_test(config, item)


def _skip_device_test(config, item):
    """A whole-device test that needs what the board lacks is skipped before its device starts."""
    real = config.getoption("--port") or config.getoption("--board-serial")
    have = {c.strip() for c in config.getoption("--rig").split(",") if c.strip()} if real else TWIN_CAPABILITIES
    for mark in item.iter_markers("needs"):
        missing = set(mark.args) - have
        if missing:
            item.add_marker(pytest.mark.skip(
                reason=f"needs {', '.join(sorted(missing))}, which {'this rig' if real else 'the twin'} lacks"))
            return


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


def _test_folder(request, board_name):
    root = Path(request.config.getoption("--hil-artifacts"))
    name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    path = root / board_name / name
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def artifacts(request, hil_board):
    """This test's folder for its serial log, display snapshots and speaker recording."""
    return _test_folder(request, hil_board.name)


def _skip_unless_capable(request, capabilities, is_twin):
    for mark in request.node.iter_markers("needs"):
        missing = set(mark.args) - capabilities
        if missing:
            pytest.skip(f"needs {', '.join(sorted(missing))}, which {'the twin' if is_twin else 'this rig'} lacks")


@pytest.fixture
def board(hil_board, request, record_property, artifacts):
    """The board, reset to a known state, with its properties in the JUnit report.

    On a twin every byte of the serial link is logged to the test's serial.log,
    the speaker is recorded to speaker.wav and the display is saved as
    display-end.png when the test ends."""
    _skip_unless_capable(request, hil_board.capabilities, hil_board.is_twin)
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
    board = (callspec.params.get("hil_board") or callspec.params.get("hil_device")) if callspec else None
    if board:
        # the summary is built from reports, which pytest-xdist's workers hand to the controller
        report.user_properties.append(("hil_board", board))


class HilSummary:
    """The per-board table at the end of a run, built from the tests' reports, so it is
    whole also when pytest-xdist's workers ran the tests and only hand reports back."""

    def __init__(self):
        self.boards = {}

    def pytest_runtest_logreport(self, report):
        props = dict(report.user_properties)
        board = props.get("hil_board")
        if not board:
            return
        s = self.boards.setdefault(board, {"reset": {}})
        if report.when == "setup":
            rung = props.get("reset")
            if rung:
                s["reset"][rung] = s["reset"].get(rung, 0) + 1
            if "device_started_in" in props:  # once per device: one per xdist worker that had app tests
                s.setdefault("starts", []).append(props["device_started_in"])
        if report.when == "call" or report.outcome != "passed":
            key = "infrastructure" if "infrastructure:" in str(report.longrepr or "") else report.outcome
            s[key] = s.get(key, 0) + 1
            s["seconds"] = s.get("seconds", 0.0) + report.duration

    def pytest_terminal_summary(self, terminalreporter):
        if not self.boards:
            return
        tr = terminalreporter
        tr.section("HIL bench")
        tr.write_line(f"{'board':18} {'passed':>6} {'failed':>6} {'skipped':>7} {'infra':>6} {'seconds':>8}  resets")
        for name, s in sorted(self.boards.items()):
            resets = ", ".join(f"{k} x{v}" for k, v in sorted(s["reset"].items()))
            starts = s.get("starts")
            if starts:
                each = " / ".join(f"{t:.1f}" for t in starts)
                resets += (", " if resets else "") + f"device started in {each} s"
            tr.write_line(f"{name:18} {s.get('passed', 0):6} {s.get('failed', 0):6} {s.get('skipped', 0):7} "
                          f"{s.get('infrastructure', 0):6} {s.get('seconds', 0.0):8.1f}  {resets}")


# -- the whole device: firmware deployed, the bridge with the offline agent, the pipeline

@pytest.fixture(scope="session")
def hil_device(request, tmp_path_factory):
    """The whole Pocket Agent for one board, started once per board: on a twin, a Stage
    (hil/stage.py); on a real board the same against its port, acted on through its rig."""
    from pocket_agent.errors import PocketError

    from .stage import Stage

    config = request.config
    port = config.getoption("--port")
    serial_number = config.getoption("--board-serial")
    if serial_number and not port:
        from pocket_agent.boards import catalog

        from .board import find_port

        port = find_port(catalog.load(request.param), serial_number)
        if not port:
            pytest.fail(f"infrastructure: no board with serial number {serial_number} is connected", pytrace=False)
    stage = Stage(request.param, tmp_path_factory.mktemp("hil-device"), port=port)
    t0 = time.monotonic()
    try:
        stage.start()
    except (PocketError, OSError, TimeoutError, AssertionError) as exc:
        pytest.fail(f"infrastructure: the {request.param} device did not start: {exc}", pytrace=False)
    rig = {c.strip() for c in config.getoption("--rig").split(",") if c.strip()}
    stage.capabilities = TWIN_CAPABILITIES if stage.twin else rig
    stage.started_in = time.monotonic() - t0
    stage.start_reported = False
    yield stage
    stage.stop()


@pytest.fixture
def device(hil_device, request, record_property):
    """The device on its idle screen, with this test's artifacts: display PNGs at the key
    moments (stage.snap, and each answer converse() waits for), display-end.png, speaker.wav,
    the pipeline's steps (steps.jsonl), the link events (link.jsonl) and the bridge's log
    lines for the board during the test (bridge.log)."""
    stage = hil_device  # tests that need what the rig lacks were skipped at collection
    folder = _test_folder(request, stage.board)
    if not stage.bridge_running:  # a test that stopped the host and failed before bringing it back
        stage.start_bridge()
    try:
        _to_idle(stage)
    except AssertionError as exc:
        pytest.fail(f"infrastructure: {exc}", pytrace=False)
    twin = stage.twin
    if twin is not None:
        stage.world.environment(temperature=21.5, humidity=45.0)
        stage.world.speaker_record((folder / "speaker.wav").resolve())
    log_file = stage.state_dir / "bridge-logs" / f"{stage.board_name}.log"
    log_from = log_file.stat().st_size if log_file.exists() else 0
    steps, events = stage.mark(), stage.event_mark()
    stage._said = steps
    stage.artifacts, stage._snaps = folder, 0
    peer = stage.session.ep.peer or {}
    record_property("board", stage.board)
    record_property("target", "twin" if twin is not None else "hardware")
    record_property("port", stage.port or twin.port)
    record_property("firmware", peer.get("software", "?"))
    if not stage.start_reported:  # once per device, for the summary's "device started in"
        record_property("device_started_in", round(stage.started_in, 1))
        stage.start_reported = True
    yield stage
    stage.artifacts = None
    _write_jsonl(folder / "steps.jsonl", stage.steps_since(steps))
    _write_jsonl(folder / "link.jsonl", [e for e in stage.events_since(events)])
    if log_file.exists():
        with open(log_file, "rb") as f:
            f.seek(log_from)
            (folder / "bridge.log").write_bytes(f.read())
    if twin is not None and twin.proc.poll() is None:
        stage.world.speaker_stop()
        stage.world.display_png((folder / "display-end.png").resolve(), scale=2)


def _to_idle(stage, timeout=30.0):
    """Every app test starts from the idle screen. A timer's alarm or a notice over it is
    dismissed with a press, as a person would."""
    deadline = time.monotonic() + timeout
    while True:
        s = stage.screen()
        if s.shows("TIMER") or s.shows("press to stop"):
            stage.press()
        left = deadline - time.monotonic()
        try:
            return stage.wait_idle(timeout=min(5.0, max(left, 0.1)))
        except AssertionError:
            if left <= 0:
                raise


def _write_jsonl(path, rows):
    import json

    def plain(v):  # audio as its length: the trace is for reading
        return f"<{len(v)} bytes>" if isinstance(v, (bytes, bytearray)) else repr(v)

    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r, default=plain) + "\n")

"""Suite-level fixtures of the HIL bench: the project's firmware deployed once
per board, its version and hash in every test's JUnit properties, the app
running with the host's end of its link, and the stimulus (the twin's world, or
the rig's driver on hardware)."""

import pytest

from pocket_agent.hil.board import LinkHost

# Identifies what is on the board: every file deploy put there, hashed on the board itself.
FIRMWARE_ID = """
import json, hashlib, binascii
paths = json.load(open('/.pocket-deploy.json'))['files']
h = hashlib.sha256()
for p in paths:
    f = open(p, 'rb')
    while True:
        b = f.read(512)
        if not b:
            break
        h.update(b)
    f.close()
    h.update(p.encode())
try:
    from app.run import FIRMWARE
except ImportError:
    FIRMWARE = 'unknown'
print(FIRMWARE)
print(binascii.hexlify(h.digest()).decode()[:16])
"""


@pytest.fixture(scope="session")
def firmware(hil_board):
    """Deploy the project's firmware (firmware/ and its models) to the board once;
    {"version", "hash"} of what the board then holds. Deploy leaves the board at
    its REPL (no reset), so nothing runs until a test starts the app."""
    from pocket_agent.tools import deploy

    twin = hil_board.twin
    try:
        if twin:
            deploy.deploy(hil_board.name, twin=twin.name, state_dir=twin.state_dir, reset=False,
                          out=lambda *a, **k: None)
        else:
            deploy.deploy(hil_board.name, port=hil_board.port, reset=False, out=lambda *a, **k: None)
        version, digest = _identify(hil_board)
    except Exception as exc:  # noqa: BLE001  the bench could not set the board up
        pytest.fail(f"infrastructure: deploying the firmware to {hil_board.name} failed: {exc}", pytrace=False)
    hil_board.firmware = {"version": version, "hash": digest}
    return hil_board.firmware


def _identify(board):
    lines = board.exec(FIRMWARE_ID).strip().splitlines()
    return lines[-2], lines[-1]


@pytest.fixture(autouse=True)
def _firmware_properties(request, record_property):
    """Every test on a board runs with the project's firmware on it, and says which."""
    if "board" not in request.fixturenames:
        return
    fw = request.getfixturevalue("firmware")
    record_property("firmware", fw["version"])
    record_property("firmware_hash", fw["hash"])


@pytest.fixture
def app(board):
    """The app running on the board (started as at power-up) and the host's end
    of its link, up. The link trace goes to the test's link-trace.txt."""
    host = LinkHost.start_app(board)
    try:
        host.wait_up(timeout=20)
        yield host
    finally:
        host.close(trace_path=board.artifacts / "link-trace.txt")


@pytest.fixture
def stimulus(board):
    """What acts on the board's surroundings: the twin's world, or on hardware
    the rig's driver (an object with the world's methods that the farm's own
    conftest puts in `board.rig`; see docs/hil.md)."""
    if board.twin:
        return board.twin.world
    rig = getattr(board, "rig", None)
    if rig is None:
        pytest.fail("infrastructure: --rig names this capability but no rig driver is set (board.rig)",
                    pytrace=False)
    return rig

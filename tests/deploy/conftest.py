"""Deploy tests drive twins as a user's board: through their port only."""

import shutil
from pathlib import Path

import pytest

from tests.twin.conftest import Port, friendly_prompt, mpremote, start_twin, state_dir  # noqa: F401

APP = Path(__file__).resolve().parent / "app"


@pytest.fixture
def app(tmp_path):
    """A copy of the representative app, free to edit."""
    dest = tmp_path / "app"
    shutil.copytree(APP, dest)
    return dest


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No cache, twin or bridge of the machine leaks into a test."""
    monkeypatch.setenv("POCKET_DEPLOY_CACHE", str(tmp_path / "mpy-cache"))
    monkeypatch.setenv("POCKET_STATE_DIR", str(tmp_path / "state-root"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("POCKET_BRIDGE_CONTROL_SOCKET", str(tmp_path / "no-bridge.sock"))


def board_files(port):
    """{path: sha256 hex} of every file on the board, read through the port."""
    code = (
        "import os, hashlib, binascii\n"
        "def w(d):\n"
        "    for e in os.ilistdir(d):\n"
        "        p = (d.rstrip('/') + '/' + e[0])\n"
        "        if e[1] == 0x4000:\n"
        "            w(p)\n"
        "        else:\n"
        "            h = hashlib.sha256()\n"
        "            with open(p, 'rb') as f:\n"
        "                while True:\n"
        "                    b = f.read(2048)\n"
        "                    if not b:\n"
        "                        break\n"
        "                    h.update(b)\n"
        "            print(p, binascii.hexlify(h.digest()).decode())\n"
        "w('/')\n"
    )
    out = mpremote(port, "exec", code)
    return dict(line.split() for line in out.splitlines() if line.strip())

"""Deploy while the bridge holds the board's port: the port is borrowed and given back.

The board runs an app that speaks the link (tests/link/board_app.py with the
firmware's link modules), deployed by deploy itself; the bridge has it online.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from pocket_agent.host.bridge.control import Control
from pocket_agent.tools.deploy import deploy, ports

ROOT = Path(__file__).resolve().parents[2]


def wait(cond, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def link_app(dest):
    dest.mkdir()
    for name in ("link.py", "linkio.py", "adpcm.py", "approval.py"):
        shutil.copy(ROOT / "firmware" / name, dest / name)
    shutil.copy(ROOT / "tests" / "link" / "board_app.py", dest / "main.py")
    return dest


def bridge_states(sock):
    with Control(sock) as c:
        return [b["state"] for b in c.call("status")["boards"]]


def test_deploy_borrows_the_port_from_the_bridge(start_twin, tmp_path, monkeypatch):
    twin = start_twin("pico2w")
    app = link_app(tmp_path / "app")
    quiet = lambda *_: None  # noqa: E731
    deploy("pico2w", twin.port, firmware_dir=app, models_dir="/nonexistent", out=quiet)  # soft-resets into main.py
    sock = tmp_path / "bridge.sock"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("POCKET_BRIDGE_CONTROL_SOCKET", str(sock))
    log = open(tmp_path / "bridge.log", "wb")
    bridge = subprocess.Popen(
        [sys.executable, "-m", "pocket_agent.cli", "bridge", "--port", twin.port, "--no-scan",
         "--socket", str(sock), "--state-db", str(tmp_path / "bridge.sqlite"), "--log-dir", str(tmp_path / "logs")],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        wait(lambda: sock.exists() and bridge_states(sock) == ["online"], what="the bridge to have the board online")
        assert any(pid == bridge.pid for pid, _ in ports.holders(twin.port))

        (app / "main.py").write_text((app / "main.py").read_text() + "\n# changed\n")
        said = []
        result = deploy("pico2w", twin.port, firmware_dir=app, models_dir="/nonexistent", out=said.append)
        assert any("borrowed" in line and "from the bridge" in line for line in said), said
        assert [op.path for op in result.plan.writes] == ["/main.py"]
        # The bridge takes its port back and the app comes online again.
        wait(lambda: bridge_states(sock) == ["online"], what="the board to come back online in the bridge")
        assert any(pid == bridge.pid for pid, _ in ports.holders(twin.port))
    finally:
        bridge.terminate()
        try:
            bridge.wait(10)
        except subprocess.TimeoutExpired:
            bridge.kill()
            bridge.wait()
        log.close()

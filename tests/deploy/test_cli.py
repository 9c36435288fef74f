"""`pocket deploy` from the command line: messages a user sees."""

import grp
import os
import pwd
import shutil
import subprocess
import sys

import pytest

from pocket_agent.cli import main


def test_unknown_board_lists_the_known_ones(capsys):
    assert main(["deploy", "--board", "pico3"]) == 2
    err = capsys.readouterr().err
    assert "unknown board 'pico3'" in err and "known boards: esp32s3-devkitc, pico2w" in err


def test_no_board_found_says_how_to_get_one(capsys, tmp_path):
    assert main(["deploy", "--board", "pico2w", "--state-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no Raspberry Pi Pico 2 W on a breadboard found (USB 2E8A:0005)" in err
    assert "pocket sim --board pico2w" in err


def test_dry_run_on_a_named_twin(start_twin, app, tmp_path, capsys):
    twin = start_twin("pico2w", name="desk")
    (tmp_path / "no-models").mkdir()
    code = main(["deploy", "--board", "pico2w", "--twin", "desk", "--state-dir", str(twin.state_dir),
                 "--app", str(app), "--models", str(tmp_path / "no-models"), "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    assert "+ /gadget/fast.mpy (new" in out and "8 to write" in out and "dry run: nothing was changed" in out


def test_a_missing_models_folder_is_named(capsys, tmp_path):
    assert main(["deploy", "--board", "pico2w", "--models", str(tmp_path / "nope"), "--dry-run"]) == 2
    assert f"no models folder {tmp_path / 'nope'}" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv")
def test_no_permission_names_the_group_to_join(start_twin):
    """The port is owned as udev leaves /dev/ttyACM0 (a user and a group, mode 660),
    and the command runs without root's power to override file permissions."""
    twin = start_twin("pico2w")
    pty = os.path.realpath(twin.port)
    os.chown(pty, pwd.getpwnam("nobody").pw_uid, grp.getgrnam("dialout").gr_gid)
    os.chmod(pty, 0o660)
    proc = subprocess.run(
        ["setpriv", "--inh-caps=-all", "--bounding-set=-all",
         sys.executable, "-m", "pocket_agent.cli", "deploy", "--board", "pico2w", "--port", pty],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert f"no permission to open {pty}" in proc.stderr
    assert "sudo usermod -aG dialout $USER" in proc.stderr

"""The package layout and the command line."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pocket_agent import cli
from pocket_agent.boards import catalog
from pocket_agent.errors import PocketError

from . import mpy


def test_wheel_installs_only_pocket_agent(tmp_path):
    """A built wheel puts one import name in site-packages: pocket_agent."""
    root = Path(__file__).resolve().parent.parent
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(root)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("pocket_agent-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        tops = {name.split("/")[0] for name in zf.namelist()}
        names = zf.namelist()
    assert {t for t in tops if not t.endswith(".dist-info")} == {"pocket_agent"}
    assert "pocket_agent/boards/pico2w.json" in names
    assert "pocket_agent/tools/twin/rom/rom.py" in names


def test_every_subcommand_has_help(capsys):
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert "sim" in sub.choices and "boards" in sub.choices
    for name in sub.choices:
        with pytest.raises(SystemExit) as exit_info:
            cli.main([name, "--help"])
        assert exit_info.value.code == 0
        assert "usage: pocket " + name in capsys.readouterr().out


def test_unknown_board_lists_known_boards():
    with pytest.raises(PocketError) as info:
        catalog.load("esp8266")
    assert "esp32s3-devkitc" in info.value.hint and "pico2w" in info.value.hint


def test_boards_cover_esp32s3_and_pico2w():
    ports = {catalog.load(n).port for n in catalog.names()}
    assert ports == {"esp32", "rp2"}


def test_micropython_vm_is_the_pinned_one():
    out = mpy.run("import sys; print(sys.implementation.name, sys.implementation.version[:2])")
    assert out.split() == ["micropython", "(1,", "29)"]


def test_pocket_command_runs_as_a_program():
    out = subprocess.run([sys.executable, "-m", "pocket_agent.cli", "boards"], capture_output=True, text=True)
    assert out.returncode == 0 and "pico2w" in out.stdout

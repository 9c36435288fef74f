"""The REPL and the tools that use it, on the board under test."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.hil
MPREMOTE = str(Path(sys.executable).parent / "mpremote")


def mpremote(board, *args, timeout=30):
    proc = subprocess.run([MPREMOTE, "connect", board.port, *args], capture_output=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode().replace("\r\n", "\n")


def test_exec_and_eval(board):
    assert mpremote(board, "exec", "print(sum(range(10)))") == "45\n"
    assert mpremote(board, "eval", "2 ** 10") == "1024\n"


def test_files_round_trip(board, tmp_path):
    data = bytes(range(256)) * 16
    (tmp_path / "blob.bin").write_bytes(data)
    mpremote(board, "fs", "cp", str(tmp_path / "blob.bin"), ":hil_blob.bin")
    mpremote(board, "fs", "cp", ":hil_blob.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == data
    mpremote(board, "fs", "rm", ":hil_blob.bin")


def test_ctrl_c_interrupts_running_code(board):
    t = board.transport()
    try:
        t.enter_raw_repl(soft_reset=False)
        t.exec_raw_no_follow("import time\nprint('start')\nwhile True:\n    time.sleep_ms(1)\n")
        assert t.read_until(1, b"start\r\n", timeout=5).endswith(b"start\r\n")
        t.serial.write(b"\x03")
        out, err = t.follow(timeout=5)
        assert b"KeyboardInterrupt" in err
        t.exit_raw_repl()
    finally:
        t.close()

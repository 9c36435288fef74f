"""The twin's flash: LittleFS2 on a file-backed NOR block device, reached only through the board."""

import subprocess
import sys
import time

import pytest

from pocket_agent.boards import catalog
from pocket_agent.errors import PocketError
from pocket_agent.tools.twin import launcher, state as twin_state

from .conftest import mpremote


def test_files_persist_across_runs_and_wipe_erases(start_twin, state_dir):
    twin = start_twin("pico2w")
    mpremote(twin.port, "exec", "f = open('notes.txt', 'w'); f.write('keep me'); f.close()")
    twin.stop()
    files = twin_state.read_files(state_dir / "twins" / "pico2w" / "flash.bin", catalog.load("pico2w"))
    assert files["/notes.txt"] == b"keep me"  # the image is a real LittleFS2 filesystem
    twin = start_twin("pico2w")
    assert mpremote(twin.port, "fs", "cat", ":notes.txt").endswith("keep me")
    twin.stop()
    twin = start_twin("pico2w", wipe=True)
    assert mpremote(twin.port, "exec", "import os; print(os.listdir())") == "[]\n"


def test_fresh_esp32_flash_gets_the_ports_boot_py(start_twin):
    twin = start_twin("esp32s3-devkitc", wipe=True)
    out = mpremote(twin.port, "fs", "cat", ":boot.py")
    assert "This file is executed on every boot" in out


def test_full_flash_gives_enospc(twin):
    out = mpremote(twin.port, "exec", (
        "import os\n"
        "chunk = bytes(16384)\n"
        "n = 0\n"
        "try:\n"
        "    with open('fill.bin', 'wb') as f:\n"
        "        while True:\n"
        "            f.write(chunk)\n"
        "            n += 1\n"
        "except OSError as e:\n"
        "    print('OSError', e.errno, n * 16384)\n"
        "os.remove('fill.bin')\n"
        "print(os.statvfs('/')[3] > 100)\n"
    ), timeout=120)
    err, errno, written, freed = out.split()
    assert (err, errno, freed) == ("OSError", "28", "True")
    assert int(written) > catalog.load(twin.info["board"]).flash.fs_size * 0.8


def test_power_cut_in_the_middle_of_a_write_leaves_a_filesystem_that_mounts(start_twin, state_dir):
    board = catalog.load("pico2w")
    twin = start_twin("pico2w")
    mpremote(twin.port, "exec", "f = open('before.txt', 'w'); f.write('safe'); f.close()")
    # Start a long write and cut the power while it runs.
    # Block i of the file always holds the byte i % 256, however often it is rewritten.
    writer = subprocess.Popen(
        [sys.executable, "-m", "mpremote", "connect", twin.port, "exec",
         "print('writing')\nwith open('big.bin', 'wb') as f:\n    while True:\n        for i in range(1000):\n"
         "            f.write(bytes([i % 256]) * 512)\n        f.flush()\n        f.seek(0)\n"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    boots = twin.status()["boots"]
    assert writer.stdout.readline() == b"writing\r\n"
    time.sleep(0.5)  # well into the writing
    assert writer.poll() is None
    twin.control("power_cut")
    writer.kill()
    writer.wait()
    twin.wait_port(boots=boots)
    out = mpremote(twin.port, "exec", "import os\nprint(open('before.txt').read(), sorted(os.listdir()))")
    assert out.startswith("safe ['before.txt'")
    twin.stop()
    files = twin_state.read_files(state_dir / "twins" / "pico2w" / "flash.bin", board)
    assert files["/before.txt"] == b"safe"
    big = files.get("/big.bin", b"")
    assert len(big) % 512 == 0
    assert all(big[i:i + 512] == bytes([(i // 512) % 256]) * 512 for i in range(0, len(big), 512))


def test_corrupt_flash_image_says_so_and_hints_at_wipe(state_dir):
    board = catalog.load("pico2w")
    st = twin_state.TwinState("pico2w", state_dir)
    st.dir.mkdir(parents=True)
    twin_state.erase_flash(st.flash, board.flash.size)
    with open(st.flash, "r+b") as f:
        f.seek(board.flash.fs_offset)
        f.write(b"\x13\x37" * 8192)  # garbage where the superblocks live
    before = st.flash.read_bytes()
    with pytest.raises(PocketError) as info:
        launcher.start("pico2w", state_dir=state_dir)
    assert "does not hold a filesystem" in str(info.value) and "--wipe" in str(info.value)
    assert "Traceback" not in str(info.value)
    assert st.flash.read_bytes() == before  # nothing was reformatted behind the user's back


def test_flash_image_of_the_wrong_size_is_refused(state_dir):
    st = twin_state.TwinState("pico2w", state_dir)
    st.dir.mkdir(parents=True)
    st.flash.write_bytes(b"\xff" * 4096)
    with pytest.raises(PocketError) as info:
        launcher.start("pico2w", state_dir=state_dir)
    assert "4096 bytes" in str(info.value) and "--wipe" in str(info.value)


def test_filesystem_damaged_while_running_is_handled_as_the_port_does(start_twin, state_dir):
    for name in ("pico2w", "esp32s3-devkitc"):
        board = catalog.load(name)
        twin = start_twin(name)
        mpremote(twin.port, "exec", "f = open('old.txt', 'w'); f.write('x'); f.close()")
        with open(state_dir / "twins" / name / "flash.bin", "r+b") as f:  # a flash fault, not a tool
            f.seek(board.flash.fs_offset)
            f.write(b"\x5a" * (2 * board.flash.block_size))
        boots = twin.status()["boots"]
        twin.control("reset")
        twin.wait_port(boots=boots)
        if name == "pico2w":  # rp2's _boot.py formats what does not mount
            assert mpremote(twin.port, "exec", "import os; print(os.listdir())") == "[]\n"
            continue
        from .conftest import Port

        p = Port(twin.port)  # esp32's inisetup refuses to format a used flash, until Ctrl-C
        try:
            p.send(b"\r")
            p.expect(b"The filesystem appears to be corrupted.", timeout=10)
            p.send(b"\x03")
            out = p.expect(b">>> ", timeout=10)
            assert b"KeyboardInterrupt" in out
        finally:
            p.close()
        twin.stop()


def test_binary_noise_at_the_repl_is_a_syntax_error_not_a_crash(twin):
    from .conftest import Port, friendly_prompt

    p = Port(twin.port)
    try:
        friendly_prompt(p)
        boots = twin.status()["boots"]
        p.send(b"\xff\xfe\x80abc\xc3\r")
        out = p.expect(b">>> ")
        assert b"SyntaxError" in out or b"Error" in out
        p.send(b"6*7\r")
        assert p.expect(b">>> ").endswith(b"42\r\n>>> ")
        assert twin.status()["boots"] == boots
    finally:
        p.close()

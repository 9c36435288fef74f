"""One flashable image per board: flashed onto a twin, the app boots from it and deploy finds nothing to send."""

import struct

import littlefs
import pytest

from pocket_agent.boards import catalog
from pocket_agent.cli import main
from pocket_agent.tools.deploy import deploy, image, remote
from pocket_agent.tools.flash import images
from tests.flash.conftest import esp_image, pico_image

from .conftest import Port, friendly_prompt


def boots_the_app(twin, board):
    port = Port(twin.port)
    try:
        friendly_prompt(port)
        port.send(b"\x04")
        out = port.expect(b"modules from", timeout=15)
        assert f"app: 1.0 on {board}".encode() in out
        rest = port.expect(b"\r\n", timeout=5)
        assert b"app.mpy gadget/fast.mpy gadget/__init__.mpy" in rest
    finally:
        port.close()


@pytest.mark.parametrize("board, firmware, suffix", [
    ("esp32s3-devkitc", esp_image, ".bin"),
    ("pico2w", pico_image, ".uf2"),
])
def test_a_combined_image_flashed_onto_a_twin_boots_the_app(start_twin, app, tmp_path, board, firmware, suffix):
    fw = tmp_path / ("micropython" + suffix)
    fw.write_bytes(firmware())
    out = tmp_path / ("combined" + suffix)
    models = tmp_path / "models"
    models.mkdir()
    (models / "tiny.pwm").write_bytes(b"PWM" + bytes(61))
    # The twin's VM is x64: its image carries modules for x64 (a board's, for its definition's arch).
    assert main(["deploy", "--board", board, "--app", str(app), "--image", str(out), "--firmware", str(fw),
                 "--models", str(models), "--arch", "x64"]) == 0
    assert images.check(catalog.load(board), out.read_bytes()).kind in ("esp", "uf2")
    twin = start_twin(board)
    assert main(["flash", "--board", board, "--port", twin.port, "--firmware", str(out)]) == 0
    boots_the_app(twin, board)
    again = deploy(board, twin.port, firmware_dir=app, models_dir=models, out=lambda *_: None)
    assert again.plan.empty, again.plan  # the image's files and manifest are what deploy would send


def test_the_uf2_covers_the_filesystem_as_one_numbered_file(app, tmp_path):
    board = catalog.load("pico2w")
    fw = tmp_path / "fw.uf2"
    fw.write_bytes(pico_image())
    out = image.build("pico2w", tmp_path / "all.uf2", fw, firmware_dir=app, models_dir="/nonexistent",
                      out=lambda *_: None)
    data = out.read_bytes()
    region = bytearray(b"\xff" * board.flash.fs_size)
    numbers, totals = [], set()
    for off in range(0, len(data), 512):
        flags, addr, size, no, count, fam = struct.unpack_from("<6I", data, off + 8)
        if fam == images.ABSOLUTE_FAMILY:
            continue
        assert fam == 0xE48BFF59
        numbers.append(no)
        totals.add(count)
        pos = addr - image.XIP_BASE - board.flash.fs_offset
        if pos >= 0:
            region[pos:pos + size] = data[off + 32:off + 32 + size]
    assert numbers == list(range(len(numbers))) and totals == {len(numbers)}
    fs = littlefs.LittleFS(context=littlefs.UserContext(buffer=region), mount=False,
                           block_size=board.flash.block_size, block_count=board.flash.fs_blocks)
    fs.mount()
    assert sorted(fs.listdir("/")) == sorted(["app.mpy", "boot.py", "main.py", "board.json", "gadget",
                                             remote.MANIFEST[1:]])
    with fs.open("/gadget/fast.mpy", "rb") as f:
        assert f.read(4)[2] >> 2 == 7  # armv7emsp: the board definition's arch by default
    fs.unmount()


def test_an_image_needs_a_firmware(app, tmp_path, capsys):
    assert main(["deploy", "--board", "pico2w", "--image", str(tmp_path / "x.uf2")]) == 2
    assert "give --firmware FILE or --version V" in capsys.readouterr().err

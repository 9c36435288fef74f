"""pocket flash on twins and onto a BOOTSEL drive; guidance when the board is not where it should be."""

import pytest

from pocket_agent.cli import main
from pocket_agent.errors import PocketError
from pocket_agent.tools import flash
from pocket_agent.tools.flash import rp2

from .conftest import esp_image, mpremote, pico_image


def files_on(port):
    return mpremote(port, "exec", "import os\nprint(sorted(os.listdir('/')))").strip()


@pytest.mark.parametrize("board, image, after", [
    ("pico2w", pico_image, "[]"),
    ("esp32s3-devkitc", esp_image, "['boot.py']"),  # the ESP32 port writes boot.py when it formats
])
def test_flashing_a_twin_erases_and_formats_its_flash(start_twin, tmp_path, board, image, after):
    twin = start_twin(board)
    (tmp_path / "data.txt").write_text("kept until the flash is erased\n")
    mpremote(twin.port, "fs", "cp", str(tmp_path / "data.txt"), ":data.txt")
    assert "data.txt" in files_on(twin.port)
    fw = tmp_path / "fw"
    fw.write_bytes(image())
    boots = twin.status()["boots"]
    assert main(["flash", "--board", board, "--port", twin.port, "--firmware", str(fw)]) == 0
    assert twin.status()["boots"] > boots
    assert files_on(twin.port) == after


def test_a_wrong_image_leaves_the_twin_alone(start_twin, tmp_path, capsys):
    twin = start_twin("pico2w", name="bench")
    (tmp_path / "data.txt").write_text("x\n")
    mpremote(twin.port, "fs", "cp", str(tmp_path / "data.txt"), ":data.txt")
    fw = tmp_path / "fw.bin"
    fw.write_bytes(esp_image())
    boots = twin.status()["boots"]
    assert main(["flash", "--board", "pico2w", "--twin", "bench", "--firmware", str(fw)]) == 2
    assert "takes a .uf2 file" in capsys.readouterr().err
    assert twin.status()["boots"] == boots and "data.txt" in files_on(twin.port)


def test_the_one_running_twin_is_found_without_a_port(start_twin, tmp_path, capsys):
    start_twin("esp32s3-devkitc")
    assert main(["flash", "--board", "esp32s3-devkitc", "--version", "1.29.0"]) == 0
    out = capsys.readouterr().out
    assert "version 1.29.0 is not downloaded for it" in out and "flash erased" in out


def test_a_twin_of_another_board_is_refused(start_twin, tmp_path):
    twin = start_twin("esp32s3-devkitc")
    fw = tmp_path / "fw.uf2"
    fw.write_bytes(pico_image())
    with pytest.raises(PocketError) as info:
        flash.flash("pico2w", twin.port, firmware=fw, out=lambda *_: None)
    assert "is a esp32s3-devkitc, not a pico2w" in info.value.message


def bootsel_drive(path, board_id="RP2350"):
    path.mkdir()
    (path / "INFO_UF2.TXT").write_text(f"UF2 Bootloader v1.0\nModel: Raspberry Pi {board_id}\nBoard-ID: {board_id}\n")
    return path


def test_the_uf2_is_copied_to_the_bootsel_drive(tmp_path):
    drive = bootsel_drive(tmp_path / "RP2350")
    image = pico_image()
    fw = tmp_path / "RPI_PICO2_W-20250911-v1.29.0.uf2"
    fw.write_bytes(image)
    assert main(["flash", "--board", "pico2w", "--firmware", str(fw), "--drive", str(drive)]) == 0
    assert (drive / "firmware.uf2").read_bytes() == image


def test_bootsel_drives_are_told_apart_by_chip(tmp_path):
    a = bootsel_drive(tmp_path / "a")
    bootsel_drive(tmp_path / "b", board_id="RPI-RP2")
    (tmp_path / "c").mkdir()
    assert rp2.bootsel_drives("rp2350", [tmp_path / n for n in "abc"]) == [a]


def test_a_folder_that_is_no_bootsel_drive(tmp_path, capsys):
    fw = tmp_path / "fw.uf2"
    fw.write_bytes(pico_image())
    (tmp_path / "usbstick").mkdir()
    assert main(["flash", "--board", "pico2w", "--firmware", str(fw), "--drive", str(tmp_path / "usbstick")]) == 2
    err = capsys.readouterr().err
    assert "is not a BOOTSEL drive" in err and "hold the BOOTSEL button" in err


def test_no_board_in_bootsel_mode_says_how_to_get_there(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(rp2, "mount_points", lambda: [])
    monkeypatch.setattr(rp2, "picotool", lambda: None)
    fw = tmp_path / "fw.uf2"
    fw.write_bytes(pico_image())
    assert main(["flash", "--board", "pico2w", "--firmware", str(fw)]) == 2
    err = capsys.readouterr().err
    assert "no RP2350 BOOTSEL drive found" in err
    assert "hold the BOOTSEL button while you plug the board in" in err


def test_missing_and_empty_files(tmp_path, capsys):
    assert main(["flash", "--board", "pico2w", "--firmware", str(tmp_path / "nope.uf2")]) == 2
    assert "no such firmware file" in capsys.readouterr().err
    (tmp_path / "empty.uf2").write_bytes(b"")
    assert main(["flash", "--board", "pico2w", "--firmware", str(tmp_path / "empty.uf2")]) == 2
    assert "is empty" in capsys.readouterr().err
    assert main(["flash", "--board", "pico2w"]) == 2
    assert "give --firmware FILE or --version V" in capsys.readouterr().err

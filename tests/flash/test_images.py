"""Every wrong file is refused with what it is and what to get instead, before anything is written."""

import pytest

from pocket_agent.boards import catalog
from pocket_agent.errors import PocketError
from pocket_agent.tools.flash import images

from .conftest import RP2040, RP2350_ARM, esp_image, pico_image, uf2

ESP = catalog.load("esp32s3-devkitc")
PICO = catalog.load("pico2w")


def refused(board, data):
    with pytest.raises(PocketError) as info:
        images.check(board, data, "fw")
    return info.value


def test_the_right_images_pass_without_warnings():
    assert images.check(ESP, esp_image()).chip == "ESP32-S3"
    pico = images.check(PICO, pico_image())
    assert pico.kind == "uf2" and pico.chip == "RP2350 (Arm, secure)" and not pico.warnings
    assert images.check(PICO, pico_image(family=0xE48BFF5A)).chip == "RP2350 (RISC-V)"


def test_an_rp2040_image_is_not_for_a_pico_2():
    err = refused(PICO, pico_image(family=RP2040))
    assert err.message == "fw is a UF2 file for RP2040; Raspberry Pi Pico 2 W on a breadboard has an RP2350"
    assert "a Pico (RP2040) image does not run on a Pico 2" in err.hint


def test_an_image_for_another_esp32_is_refused():
    err = refused(ESP, esp_image(chip_id=0))
    assert err.message == "fw is an image for ESP32; ESP32-S3-DevKitC-1 (N16R8) on a breadboard has an ESP32-S3"
    assert "ESP32_GENERIC_S3" in err.hint
    assert "ESP32-C3" in refused(ESP, esp_image(chip_id=5)).message


def test_formats_crossed_between_boards():
    assert "takes an ESP32 .bin image" in refused(ESP, pico_image()).message
    assert "takes a .uf2 file" in refused(PICO, esp_image()).message


def test_an_app_image_is_not_a_full_image():
    err = refused(ESP, esp_image(full=False))
    assert "app image without bootloader and partition table" in err.message
    assert "full firmware .bin" in err.hint


def test_an_image_that_would_reach_the_filesystem():
    err = refused(ESP, esp_image(size=ESP.flash.fs_offset + 4096))
    assert "would overwrite the filesystem at 0x310000" in err.message


@pytest.mark.parametrize("data, what", [
    (b"\x7fELF" + b"\0" * 100, "is an ELF file"),
    (b":020000040800F2\n", "is an Intel HEX file"),
    (b"PK\x03\x04" + b"\0" * 100, "is a zip archive"),
    (b"<html>404</html>", "is neither an ESP32 image nor a UF2 file"),
])
def test_files_that_are_no_image(data, what):
    assert what in refused(PICO, data).message


def test_a_damaged_uf2():
    data = bytearray(pico_image())
    data[512 + 508] ^= 0xFF  # the end magic of the second block
    assert "damaged UF2 file (block at byte 512 is not a UF2 block)" in refused(PICO, bytes(data)).message
    assert "whole number of 512-byte blocks" in refused(PICO, pico_image()[:700]).message


def test_an_image_for_another_board_with_the_same_chip_warns():
    plain_pico2 = images.check(PICO, pico_image(text=b"Raspberry Pi Pico 2"))
    assert plain_pico2.warnings and "'Raspberry Pi Pico 2 W'" in plain_pico2.warnings[0]
    no_psram = images.check(ESP, esp_image(text=b"Generic ESP32S3 module"))
    assert "Octal-SPIRAM" in no_psram.warnings[0]


def test_uf2_payload_is_read_across_blocks():
    payload = bytes(range(256)) * 3
    families, out = images.read_uf2(uf2(payload, RP2350_ARM))
    assert families == {RP2350_ARM} and out == payload

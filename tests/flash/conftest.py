"""Firmware images made here, byte for byte as their formats say, and isolated state."""

import struct

import pytest

from pocket_agent.tools.flash import images
from tests.twin.conftest import mpremote, start_twin, state_dir  # noqa: F401

RP2350_ARM = 0xE48BFF59
RP2040 = 0xE48BFF56
ABSOLUTE = 0xE48BFF57


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No real twins, caches or network of the machine leak into a test."""
    monkeypatch.setenv("POCKET_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("POCKET_FIRMWARE_CACHE", str(tmp_path / "firmware-cache"))
    monkeypatch.setenv("POCKET_OFFLINE", "1")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("POCKET_BRIDGE_CONTROL_SOCKET", str(tmp_path / "no-bridge.sock"))


def uf2(payload, family, base=0x10000000, first_absolute=False):
    """A UF2 file: 256 bytes of payload per 512-byte block."""
    chunks = [payload[i:i + 256] for i in range(0, len(payload), 256)]
    blocks = []
    if first_absolute:
        chunks = [b"\xef" * 256] + chunks
    for n, chunk in enumerate(chunks):
        fam = ABSOLUTE if first_absolute and n == 0 else family
        addr = 0x10FFFF00 if first_absolute and n == 0 else base + 256 * (n - first_absolute)
        head = struct.pack("<8I", images.UF2_MAGIC0, images.UF2_MAGIC1, images.UF2_FLAG_FAMILY,
                           addr, 256, n, len(chunks), fam)
        blocks.append(head + chunk.ljust(476, b"\0") + struct.pack("<I", images.UF2_MAGIC_END))
    return b"".join(blocks)


def esp_image(chip_id=9, full=True, size=1_500_000, text=b"Generic ESP32S3 module with Octal-SPIRAM"):
    """An ESP32 flash image: the bootloader's header at 0 (magic, segments, flash mode,
    size/freq, entry, extended header with the chip id) and, for a full image,
    the partition table at 0x8000."""
    head = struct.pack("<BBBBI", images.ESP_MAGIC, 3, 2, 0x4F, 0x403C8000)
    ext = struct.pack("<BBBBHBHHB", 0xEE, 0, 0, 0, chip_id, 0, 0, 0xFFFF, 0) + b"\0" * 3 + b"\1"
    data = bytearray(b"\xff" * size)
    data[:len(head) + len(ext)] = head + ext
    if full:
        data[0x8000:0x8002] = images.PARTITION_MAGIC
    data[0x10000:0x10000 + len(text)] = text
    return bytes(data)


def pico_image(family=RP2350_ARM, text=b"Raspberry Pi Pico 2 W"):
    payload = bytes(range(256)) * 8 + b"MicroPython v1.29.0 on 2026-01-01; " + text + b" with RP2350\0"
    return uf2(payload.ljust(4096, b"\0"), family, first_absolute=True)

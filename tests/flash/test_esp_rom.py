"""The ESP32-S3 twin's ROM loader, driven by unmodified esptool (--no-stub), and pocket flash through it."""

import subprocess
import sys
from pathlib import Path

from pocket_agent.cli import main
from pocket_agent.tools.twin import state as twin_state

from .conftest import esp_image, mpremote

ESPTOOL = str(Path(sys.executable).parent / "esptool")


def esptool(port, *args, check=True):
    proc = subprocess.run([ESPTOOL, "--port", port, "--no-stub", "--before", "no-reset", *args],
                          capture_output=True, text=True, timeout=120)
    if check and proc.returncode:
        raise AssertionError(f"esptool {args} failed: {proc.stdout}{proc.stderr}")
    return proc.stdout + proc.stderr


def into_bootloader(twin):
    mpremote(twin.port, "exec", "import machine; machine.bootloader()", check=False, timeout=10)
    for _ in range(200):
        st = twin.status()
        if st["vm_state"] == "bootloader" and st["port"]:
            return
        import time

        time.sleep(0.02)
    raise AssertionError("the twin did not enter its bootloader")


def flash_bytes(twin, offset, size):
    st = twin_state.TwinState(twin.name, twin.state_dir)
    with open(st.flash, "rb") as f:
        f.seek(offset)
        return f.read(size)


def test_unmodified_esptool_detects_writes_and_verifies(start_twin, tmp_path):
    twin = start_twin("esp32s3-devkitc")
    (tmp_path / "keep.txt").write_text("the filesystem is not in the image's way\n")
    mpremote(twin.port, "fs", "cp", str(tmp_path / "keep.txt"), ":keep.txt")
    into_bootloader(twin)

    out = esptool(twin.port, "--after", "no-reset", "chip-id")
    assert "Detecting chip type... ESP32-S3" in out and "Connected to ESP32-S3" in out
    assert "Detected flash size: 16MB" in esptool(twin.port, "--after", "no-reset", "flash-id")

    image = esp_image(size=96 * 1024)
    (tmp_path / "fw.bin").write_bytes(image)
    out = esptool(twin.port, "--after", "no-reset", "write-flash", "--flash-mode", "dio", "--flash-freq", "80m",
                  "--flash-size", "16MB", "0", str(tmp_path / "fw.bin"))
    assert "Hash of data verified." in out
    assert "Verification successful (digest matched)" in esptool(
        twin.port, "--after", "no-reset", "verify-flash", "0", str(tmp_path / "fw.bin"))
    written = flash_bytes(twin, 0, len(image))
    assert written[4:] == image[4:] and written[0] == 0xE9  # esptool set the flash mode bytes 2..3

    # As on the chip, the ROM loader cannot erase the whole flash: that needs the stub.
    assert "ROM does not support function erase_flash" in esptool(twin.port, "erase-flash", check=False)

    boots = twin.status()["boots"]
    esptool(twin.port, "--after", "watchdog-reset", "chip-id", check=False)  # the port goes as it resets
    twin.wait_port(boots=boots)
    assert "keep.txt" in mpremote(twin.port, "fs", "ls")


class Wire:
    def __init__(self):
        self.sent = b""

    def send(self, data):
        self.sent += data


def rom_session(tmp_path, size=1 << 20):
    """The ROM loader alone, on a flash file, with the wire to the host recorded."""
    from types import SimpleNamespace

    from pocket_agent.tools.twin import esp_rom

    flash = tmp_path / "flash.bin"
    flash.write_bytes(b"\x00" * size)
    sup = SimpleNamespace(state=SimpleNamespace(flash=flash), board=SimpleNamespace(flash=SimpleNamespace(size=size)),
                          to_host=Wire(), loop=None)
    return esp_rom.RomLoader(sup), sup.to_host, flash


def command(op, data, chk=0):
    import struct

    from pocket_agent.tools.twin import esp_rom

    return esp_rom.slip(struct.pack("<BBHI", 0, op, len(data), chk) + data)


def responses(wire):
    import struct

    out = []
    for frame in wire.sent.split(b"\xc0"):
        if frame:
            _, op, size, value = struct.unpack_from("<BBHI", frame)
            body = frame[8:8 + size]
            out.append((op, value, body[:-4], body[-4], body[-3]))  # data, status, error
    wire.sent = b""
    return out


def test_a_block_with_a_bad_checksum_is_refused_and_a_resent_one_is_written_once(tmp_path):
    import struct

    from pocket_agent.tools.twin import esp_rom

    rom, wire, flash = rom_session(tmp_path)
    block = bytes(range(256)) * 4
    good = 0xEF
    for b in block:
        good ^= b
    rom.feed(command(esp_rom.FLASH_BEGIN, struct.pack("<IIIII", 4096, 4, 1024, 0x1000, 0)))
    assert responses(wire) == [(esp_rom.FLASH_BEGIN, 0, b"", 0, 0)]
    assert Path(flash).read_bytes()[0x1000:0x2000] == b"\xff" * 4096  # the ROM erases up front
    data = struct.pack("<IIII", len(block), 0, 0, 0) + block
    rom.feed(command(esp_rom.FLASH_DATA, data, good ^ 1))
    assert responses(wire) == [(esp_rom.FLASH_DATA, 0, b"", 1, esp_rom.ERR_BAD_CRC)]
    rom.feed(command(esp_rom.FLASH_DATA, data, good))
    rom.feed(command(esp_rom.FLASH_DATA, data, good))  # a resend of a block already written
    assert [r[3:] for r in responses(wire)] == [(0, 0), (0, 0)]
    assert Path(flash).read_bytes()[0x1000:0x1400] == block
    assert Path(flash).read_bytes()[0x1400:0x2000] == b"\xff" * 3072
    rom.feed(command(esp_rom.SPI_FLASH_MD5, struct.pack("<IIII", 0x1000, 1024, 0, 0)))
    import hashlib

    assert responses(wire) == [(esp_rom.SPI_FLASH_MD5, 0, hashlib.md5(block).hexdigest().encode(), 0, 0)]
    rom.feed(command(0x66, b""))  # a command this ROM does not know
    assert responses(wire) == [(0x66, 0, b"", 1, esp_rom.ERR_INVALID_MESSAGE)]


def test_pocket_flash_writes_the_image_through_the_rom_loader(start_twin, tmp_path, capsys):
    twin = start_twin("esp32s3-devkitc")
    (tmp_path / "old.txt").write_text("erased by flashing\n")
    mpremote(twin.port, "fs", "cp", str(tmp_path / "old.txt"), ":old.txt")
    image = esp_image(size=128 * 1024)
    (tmp_path / "fw.bin").write_bytes(image)
    assert main(["flash", "--board", "esp32s3-devkitc", "--port", twin.port, "--firmware", str(tmp_path / "fw.bin")]) == 0
    out = capsys.readouterr().out
    assert "connected to ESP32-S3" in out and "(ROM loader, no stub)" in out
    assert "writing 131072 bytes at 0x0 (flash mode dio, 80m, 16MB)" in out and "verifying" in out
    assert flash_bytes(twin, 8, len(image) - 8) == image[8:]
    assert twin.status()["vm_state"] == "running"
    assert "old.txt" not in mpremote(twin.port, "fs", "ls")

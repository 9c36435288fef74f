"""What a firmware file is, and whether it fits the board, checked before anything is written.

ESP32 images: byte 0 is 0xE9; the extended header holds the chip id (u16 at
offset 12), which esptool's targets name. A full MicroPython download for the
ESP32-S3 starts with the bootloader at 0 and has the partition table at 0x8000.

UF2 (Raspberry Pi): 512-byte blocks, each with three magics and, when flag
0x2000 is set, a family id at offset 28 that says which chip the block is for.
"""

import struct
from dataclasses import dataclass, field

from pocket_agent.errors import PocketError

ESP_MAGIC = 0xE9
PARTITION_TABLE_AT = 0x8000
PARTITION_MAGIC = b"\xaa\x50"

UF2_MAGIC0, UF2_MAGIC1, UF2_MAGIC_END = 0x0A324655, 0x9E5D5157, 0x0AB16F30
UF2_FLAG_FAMILY = 0x2000
UF2_FLAG_NOT_MAIN = 0x0001
UF2_FAMILIES = {
    0xE48BFF56: "RP2040",
    0xE48BFF57: "absolute",  # RP2350 images may start with one such block (erratum E10)
    0xE48BFF58: "data",
    0xE48BFF59: "RP2350 (Arm, secure)",
    0xE48BFF5A: "RP2350 (RISC-V)",
    0xE48BFF5B: "RP2350 (Arm, non-secure)",
    0xC47E5767: "ESP32-S3",
    0xBFDD4EEE: "ESP32-S2",
    0xD42BA06C: "ESP32-C3",
    0x1C5F21B0: "ESP32",
    0x68ED2B88: "SAMD21",
    0x55114460: "SAMD51",
    0xADA52840: "nRF52840",
    0x57755A57: "STM32F4",
}
# Which UF2 families each MCU of a board definition takes; "absolute" blocks ride along.
UF2_FOR_MCU = {"rp2350": {0xE48BFF59, 0xE48BFF5A, 0xE48BFF5B}, "rp2040": {0xE48BFF56}}
ABSOLUTE_FAMILY = 0xE48BFF57
UF2_NEUTRAL = {ABSOLUTE_FAMILY}


@dataclass
class Image:
    kind: str  # "esp" or "uf2"
    chip: str  # what the image says it is for
    size: int
    payload: bytes = field(repr=False, default=b"")  # UF2: the data of its blocks, in order
    warnings: list = field(default_factory=list)


def _esp_chips():
    from esptool.targets import CHIP_DEFS

    return {getattr(cls, "IMAGE_CHIP_ID", None): cls.CHIP_NAME for cls in CHIP_DEFS.values()}


def esp_chip_name(mcu):
    from esptool.targets import CHIP_DEFS

    cls = CHIP_DEFS.get(mcu)
    return cls.CHIP_NAME if cls else mcu.upper()


def read_uf2(data):
    """(families seen, payload bytes in block order). ValueError if not UF2."""
    if len(data) < 512 or len(data) % 512:
        raise ValueError("a UF2 file is a whole number of 512-byte blocks")
    families = set()
    payload = bytearray()
    for off in range(0, len(data), 512):
        m0, m1, flags, _addr, size, _blk, _count, fam = struct.unpack_from("<8I", data, off)
        (end,) = struct.unpack_from("<I", data, off + 508)
        if (m0, m1, end) != (UF2_MAGIC0, UF2_MAGIC1, UF2_MAGIC_END):
            raise ValueError(f"block at byte {off} is not a UF2 block")
        if flags & UF2_FLAG_NOT_MAIN:
            continue
        if flags & UF2_FLAG_FAMILY:
            families.add(fam)
        payload += data[off + 32:off + 32 + min(size, 476)]
    return families, bytes(payload)


def identify(data, name="the file"):
    """An Image for `data`, or a PocketError saying what the file is not."""
    if data[:4] == struct.pack("<I", UF2_MAGIC0):
        try:
            families, payload = read_uf2(data)
        except ValueError as exc:
            raise PocketError(f"{name} is a damaged UF2 file ({exc})",
                              hint="download it again") from None
        chips = sorted(UF2_FAMILIES.get(f, f"family {f:#010x}") for f in families - UF2_NEUTRAL)
        return Image("uf2", ", ".join(chips) or "unknown", len(data), payload)
    if data[:1] == bytes([ESP_MAGIC]) and len(data) >= 24:
        (chip_id,) = struct.unpack_from("<H", data, 12)
        return Image("esp", _esp_chips().get(chip_id, f"chip id {chip_id}"), len(data))
    if data[:4] == b"\x7fELF":
        raise PocketError(f"{name} is an ELF file, not a flashable image",
                          hint="download the .bin (ESP32) or .uf2 (Pico) from the board's MicroPython page")
    if data[:1] == b":":
        raise PocketError(f"{name} is an Intel HEX file, not a flashable image",
                          hint="download the .bin (ESP32) or .uf2 (Pico) from the board's MicroPython page")
    if data[:2] == b"PK":
        raise PocketError(f"{name} is a zip archive", hint="unpack it and give the .bin or .uf2 inside")
    raise PocketError(f"{name} is neither an ESP32 image nor a UF2 file",
                      hint="download the firmware from the board's MicroPython page (see `pocket flash --help`)")


def holds_filesystem(board, data, offset=0):
    """Does an ESP32 image go on to fill the filesystem with LittleFS (a combined image)?"""
    start = board.flash.fs_offset - offset
    head = data[start:start + 2 * board.flash.block_size]
    return len(data) == start + board.flash.fs_size and b"littlefs" in head


def check(board, data, name="the file"):
    """The Image, if it is right for `board`; a PocketError that says why not otherwise."""
    image = identify(data, name)
    if board.port == "esp32":
        want = esp_chip_name(board.mcu)
        if image.kind != "esp":
            raise PocketError(
                f"{name} is a UF2 file for {image.chip}; {board.title} takes an ESP32 .bin image",
                hint=f"download {board.raw.get('firmware_board', 'the board')}'s .bin from its MicroPython page")
        if image.chip != want:
            raise PocketError(f"{name} is an image for {image.chip}; {board.title} has an {want}",
                              hint=f"download the {want} build ({board.raw.get('firmware_board', '')})")
        offset = board.raw["flash"].get("image_offset", 0)
        if offset == 0 and data[PARTITION_TABLE_AT:PARTITION_TABLE_AT + 2] != PARTITION_MAGIC:
            raise PocketError(
                f"{name} is an {want} app image without bootloader and partition table; "
                "it cannot be written at offset 0",
                hint="use the full firmware .bin from the MicroPython download page, not a build's "
                "micropython.bin")
        if len(data) > board.flash.fs_offset - offset and not holds_filesystem(board, data, offset):
            raise PocketError(f"{name} is {len(data)} bytes and would overwrite the filesystem at "
                              f"{board.flash.fs_offset:#x}", hint="is this the right board's image?")
    elif board.port == "rp2":
        if image.kind != "uf2":
            raise PocketError(f"{name} is an ESP32 image for {image.chip}; {board.title} takes a .uf2 file",
                              hint=f"download {board.raw.get('firmware_board', 'the board')}'s .uf2")
        families, _ = read_uf2(data)
        wanted = UF2_FOR_MCU.get(board.mcu, set())
        if not families & wanted or families - wanted - UF2_NEUTRAL:
            raise PocketError(
                f"{name} is a UF2 file for {image.chip}; {board.title} has an {board.mcu.upper()}",
                hint=f"download the {board.raw.get('firmware_board', board.mcu)} build; a Pico (RP2040) "
                "image does not run on a Pico 2")
    text = image.payload if image.kind == "uf2" else data
    model = board.machine.rsplit(" with ", 1)[0]
    if model.encode() not in text:
        image.warnings.append(
            f"{name} does not name {model!r}: it may be MicroPython for another board with the same chip "
            "(pins, Wi-Fi or PSRAM may not work)")
    return image

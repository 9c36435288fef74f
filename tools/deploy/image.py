"""One flashable image per board: MicroPython plus a LittleFS partition that already holds the app.

    ESP32-S3: the firmware .bin at its offset, 0xFF up to the filesystem, then
              the filesystem: one .bin for esptool write-flash 0 (or pocket flash).
    Pico 2 W: the firmware's UF2 blocks followed by UF2 blocks for every flash
              sector the filesystem uses: one .uf2 to copy to the BOOTSEL drive.

The filesystem is built with littlefs-python in the geometry MicroPython mounts
(the board's block size and count, its program size), and carries deploy's
manifest, so a later `pocket deploy` sends only what changed.
"""

import os
import struct
from pathlib import Path

import littlefs

from pocket_agent.errors import PocketError

from . import mpy, remote, sync, tree

PROG_SIZE = {"esp32": 32, "rp2": 256}  # what the ports pass to VfsLfs2
XIP_BASE = 0x10000000  # where the RP2350's flash is mapped, as UF2 addresses are
UF2_PAGE = 256
DISK_VERSION = 0x00020000  # littlefs 2.0 on-disk format: every MicroPython with lfs2 mounts it


def filesystem(board, entries):
    """The filesystem region (fs_size bytes) holding `entries` and the manifest."""
    fl = board.flash
    fs = littlefs.LittleFS(block_size=fl.block_size, block_count=fl.fs_blocks,
                           prog_size=PROG_SIZE[board.port], read_size=32, lookahead_size=32,
                           disk_version=DISK_VERSION)
    manifest = sync.manifest_bytes(board.name, [e.path for e in entries])
    files = [(e.path, e.data) for e in entries] + [(remote.MANIFEST, manifest)]
    try:
        for path, data in files:
            parent = path.rsplit("/", 1)[0]
            if parent:
                fs.makedirs(parent, exist_ok=True)
            with fs.open(path, "wb") as f:
                f.write(data)
        if board.port == "esp32" and not any(p == "/boot.py" for p, _ in files):
            with fs.open("/boot.py", "w") as f:  # as the ESP32 port's first boot writes it
                f.write("# This file is executed on every boot (including wake-boot from deepsleep)\n")
    except littlefs.LittleFSError as exc:
        raise PocketError(f"the app does not fit the {fl.fs_size // 1024} KiB filesystem of {board.name} ({exc})") from None
    region = bytes(fs.context.buffer)
    fs.unmount()
    if len(region) != fl.fs_size:
        raise PocketError(f"littlefs-python made {len(region)} bytes, not {fl.fs_size}")
    return region


def esp32_image(board, firmware, region):
    offset = board.raw["flash"].get("image_offset", 0)
    if offset + len(firmware) > board.flash.fs_offset:
        raise PocketError(f"the firmware ({len(firmware)} bytes) reaches the filesystem at {board.flash.fs_offset:#x}")
    pad = board.flash.fs_offset - offset - len(firmware)
    return firmware + b"\xff" * pad + region


def rp2_image(board, firmware_uf2, region, family):
    """The firmware's blocks plus blocks for the sectors the filesystem uses,
    numbered as one file of the firmware's family."""
    from pocket_agent.tools.flash import images

    blocks = [firmware_uf2[i:i + 512] for i in range(0, len(firmware_uf2), 512)]
    keep, main = [], []
    for b in blocks:
        flags, _addr, _size, _no, _count, fam = struct.unpack_from("<6I", b, 8)
        (main if (flags & images.UF2_FLAG_FAMILY and fam == family) else keep).append(b)
    pages = []
    sector = board.flash.block_size
    base = XIP_BASE + board.flash.fs_offset
    for s in range(0, len(region), sector):
        chunk = region[s:s + sector]
        if chunk.count(0xFF) == len(chunk):
            continue  # an erased sector: LittleFS does not read blocks it does not use
        for p in range(0, sector, UF2_PAGE):
            pages.append((base + s + p, chunk[p:p + UF2_PAGE]))
    total = len(main) + len(pages)
    out = list(keep)
    n = 0
    for b in main:
        out.append(b[:20] + struct.pack("<II", n, total) + b[28:])
        n += 1
    for addr, data in pages:
        head = struct.pack("<8I", images.UF2_MAGIC0, images.UF2_MAGIC1, images.UF2_FLAG_FAMILY,
                           addr, UF2_PAGE, n, total, family)
        out.append(head + data + b"\0" * (476 - UF2_PAGE) + struct.pack("<I", images.UF2_MAGIC_END))
        n += 1
    return b"".join(out)


def build(board_name, out_path, firmware, *, arch=None, firmware_dir=tree.FIRMWARE_DIR,
          models_dir=tree.MODELS_DIR, out=print):
    """Write the combined image to `out_path`. `firmware` is the MicroPython
    image (a path); `arch` the .mpy arch (default: the board definition's)."""
    from pocket_agent.boards import catalog
    from pocket_agent.tools.flash import images, read_image

    board = catalog.load(board_name)
    data = read_image(firmware)
    fw = images.check(board, data, str(firmware))
    for w in fw.warnings:
        out("warning: " + w)
    arch = arch or board.mpy_arch
    entries = tree.build(tree.collect(board, firmware_dir=firmware_dir, models_dir=models_dir),
                         mpy.Compiler(arch), warn=out)
    region = filesystem(board, entries)
    if board.port == "esp32":
        image = esp32_image(board, data, region)
    else:
        families, _ = images.read_uf2(data)
        main = sorted(families & images.UF2_FOR_MCU[board.mcu])
        image = rp2_image(board, data, region, main[0])
    out_path = Path(out_path)
    tmp = out_path.with_name(out_path.name + ".part")
    tmp.write_bytes(image)
    os.replace(tmp, out_path)
    out(f"wrote {out_path}: MicroPython ({len(data)} bytes) and a {board.flash.fs_size // 1024} KiB filesystem "
        f"with {len(entries)} files (modules for {arch})")
    return out_path

"""`pocket flash`: put MicroPython on a board (esptool for ESP32-S3, UF2 for the Pico 2 W).

    flash("pico2w", firmware="RPI_PICO2_W-20250911-v1.29.0.uf2")

The image is checked against the board before anything is written (chip,
UF2 family, full image or not). On a twin, flashing erases its flash as
esptool erase-flash does; the next boot formats the filesystem.
"""

import struct
import time
from pathlib import Path

from pocket_agent.errors import PocketError

from . import esp, images, releases, rp2

PORT_BACK_S = 20.0


def read_image(path):
    p = Path(path)
    if not p.exists():
        raise PocketError(f"no such firmware file: {p}")
    if p.is_dir():
        raise PocketError(f"{p} is a folder; give the firmware file inside it")
    data = p.read_bytes()
    if not data:
        raise PocketError(f"{p} is empty", hint="download it again")
    return data


def enter_bootloader_via_repl(port, out=print):
    """Ask MicroPython on `port` to reboot into the chip's bootloader. False if
    nothing answers as MicroPython does."""
    from pocket_agent.tools.deploy.link import Link

    try:
        link = Link.open(port)
    except PocketError:
        return False
    with link:
        try:
            link.enter_raw(soft_reset=False, timeout=3.0)
        except PocketError:
            return False
        out(f"asking MicroPython on {port} to enter the bootloader")
        try:
            link.start("import machine\nmachine.bootloader()\n")
        except PocketError:
            pass  # the port went away under the last bytes: the board did as asked
    return True


def _load_image(board, firmware, version, out):
    if firmware:
        data = read_image(firmware)
        name = str(firmware)
    else:
        path = releases.resolve(board, version, out=out,
                                validate=lambda data, url: images.check(board, data, url))
        data = read_image(path)
        name = str(path)
    image = images.check(board, data, name)
    for w in image.warnings:
        out("warning: " + w)
    return data, image


def flash(board_name, port=None, *, firmware=None, version=None, twin=None, state_dir=None, out=print,
          stub=True, drive=None):
    from pocket_agent.boards import catalog
    from pocket_agent.tools.deploy import ports

    board = catalog.load(board_name)
    if not firmware and not version:
        raise PocketError("which firmware? give --firmware FILE or --version V",
                          hint=f"official images: {releases.DOWNLOAD_PAGE.format(board=board.raw.get('firmware_board'))}")
    twin_ref = ports.named_twin(twin, state_dir) if twin else (ports.twin_of(port, state_dir) if port else None)
    if not (port or twin_ref or drive or ports.usb_ports(board)
            or (board.port == "rp2" and rp2.bootsel_drives(board.mcu))):
        running = ports.running_twins(board.name, state_dir)
        if len(running) == 1:
            twin_ref = running[0]  # no real board around: its one running twin
    if twin_ref:
        return flash_twin(board, twin_ref, firmware, version, out)
    if board.port == "esp32":
        data, _ = _load_image(board, firmware, version, out)
        return flash_esp32(board, port, data, out=out, stub=stub)
    data, _ = _load_image(board, firmware, version, out)
    return flash_rp2(board, port, data, firmware, out=out, drive=drive)


def flash_twin(board, twin_ref, firmware, version, out):
    """Erase the twin's flash as esptool erase-flash does (the next boot formats
    the filesystem). An ESP32-S3 twin then also gets the image written through
    its ROM loader with esptool, as a board would: esptool itself checks the
    chip, writes and verifies."""
    if twin_ref.board and twin_ref.board != board.name:
        raise PocketError(f"twin {twin_ref.name!r} is a {twin_ref.board}, not a {board.name}",
                          hint=f"use --board {twin_ref.board}")
    data = None
    if firmware:
        data, _ = _load_image(board, firmware, None, out)
    elif version:
        releases.normalise(version)
        out(f"a twin runs the MicroPython of its VM; version {version} is not downloaded for it")
    status = twin_ref.control("status")
    twin_ref.control("erase_flash")
    status = _wait_twin(twin_ref, status["boots"])
    out(f"twin {twin_ref.name}: flash erased; MicroPython formatted the filesystem on boot")
    if data is not None and board.port == "rp2":
        _copy_uf2_to_twin(board, twin_ref, data, status, out)
    if data is not None and board.port == "esp32":
        if not enter_bootloader_via_repl(twin_ref.link, out):
            twin_ref.control("bootloader")
        _wait_link(twin_ref)
        esp.flash(board, twin_ref.link, data, out=out, stub=False, erase=False, connect_mode="no-reset",
                  after=None)
        twin_ref.control("reset")  # the RESET button: a pty has no RTS line to pull
        _wait_twin(twin_ref, status["boots"])
        out(f"twin {twin_ref.name}: image written and verified through its ROM loader; it booted again")
    return "twin"


def _copy_uf2_to_twin(board, twin_ref, data, status, out):
    """What the RP2350's boot ROM does with a UF2 copied to its drive: erase each
    sector a block lands in, then program the block; then reboot. The twin's VM
    is stopped (bootloader state) while its flash file is written."""
    from pocket_agent.tools.deploy.image import XIP_BASE
    from pocket_agent.tools.twin import state as twin_state

    wanted = images.UF2_FOR_MCU[board.mcu]
    # Through the REPL, as on a Pico: that also waits until the boot (and its format) is done.
    if not enter_bootloader_via_repl(twin_ref.link, out):
        twin_ref.control("bootloader")
    _wait_state(twin_ref, "bootloader")
    flash_file = twin_state.TwinState(twin_ref.name, twin_ref.state_dir).flash
    erased = set()
    written = 0
    with open(flash_file, "r+b") as f:
        for off in range(0, len(data), 512):
            flags, addr, size, _no, _count, fam = struct.unpack_from("<6I", data, off + 8)
            if not flags & images.UF2_FLAG_FAMILY or fam not in wanted or flags & images.UF2_FLAG_NOT_MAIN:
                continue
            pos = addr - XIP_BASE
            if pos < 0 or pos + size > board.flash.size:
                continue
            sector = pos // board.flash.block_size
            if sector not in erased:
                f.seek(sector * board.flash.block_size)
                f.write(b"\xff" * board.flash.block_size)
                erased.add(sector)
            f.seek(pos)
            f.write(data[off + 32:off + 32 + size])
            written += size
    twin_ref.control("reset")
    _wait_twin(twin_ref, status["boots"])
    out(f"twin {twin_ref.name}: {written} bytes of the UF2 written to flash, as the boot ROM does; it booted again")


def _wait_state(twin_ref, state, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = twin_ref.control("status")
        if st["vm_state"] == state:
            return st
        time.sleep(0.02)
    raise PocketError(f"twin {twin_ref.name!r} did not enter its bootloader")


def _wait_link(twin_ref, timeout=5.0):
    import os

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = twin_ref.control("status")
        if st["vm_state"] == "bootloader" and st["port"] and os.path.exists(twin_ref.link):
            return st
        time.sleep(0.02)
    raise PocketError(f"twin {twin_ref.name!r} did not enter its bootloader")


def _wait_twin(twin_ref, boots, timeout=10.0):
    import os

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = twin_ref.control("status")
        if st["vm_state"] == "running" and st["boots"] > boots and st["port"] and os.path.exists(twin_ref.link):
            return st
        time.sleep(0.02)
    raise PocketError(f"twin {twin_ref.name!r} did not come back after its flash was erased")


def flash_esp32(board, port, data, *, out=print, stub=True):
    from pocket_agent.tools.deploy import ports

    if not port:
        usb = ports.usb_ports(board)
        if len(usb) > 1:
            raise PocketError(f"several {board.title} boards are plugged in: {', '.join(usb)}",
                              hint="say which with --port")
        port = usb[0] if usb else None
    if not port:
        raise PocketError(f"no {board.title} found on USB", hint="give its port with --port, or put it in "
                          "download mode first: " + esp.ENTER_DOWNLOAD_MODE)
    from pocket_agent.tools.deploy import borrow

    with borrow.port(port, out) as usable:
        return _flash_esp32(board, usable, data, out=out, stub=stub)


def _flash_esp32(board, port, data, *, out=print, stub=True):
    from pocket_agent.tools.deploy import ports

    ports.check_can_open(port)
    before = set(ports.usb_ports(board))
    if enter_bootloader_via_repl(port, out):
        time.sleep(1.0)  # the port re-enumerates as the ROM's own USB device
        from serial.tools import list_ports

        def rom_port():
            now = [p.device for p in list_ports.comports() if p.vid == board.vid]
            fresh = [p for p in now if p not in before or p == port]
            return fresh[0] if fresh else (port if Path(port).exists() else None)

        port = esp.wait_for_port(rom_port) or port
        mode = "no-reset"
    else:
        mode = "default-reset"
    chip = esp.flash(board, port, data, out=out, stub=stub, connect_mode=mode)
    out(f"flashed {chip} on {port}; it is booting MicroPython")
    return port


def flash_rp2(board, port, data, firmware, *, out=print, drive=None):
    from pocket_agent.tools.deploy import ports

    drives = [Path(drive)] if drive else rp2.bootsel_drives(board.mcu)
    if drive and not (Path(drive) / "INFO_UF2.TXT").exists():
        raise PocketError(f"{drive} is not a BOOTSEL drive (it has no INFO_UF2.TXT)",
                          hint=rp2.ENTER_BOOTSEL)
    if not drives:
        if not port:
            usb = ports.usb_ports(board)
            port = usb[0] if len(usb) == 1 else None
        if port:
            from pocket_agent.tools.deploy import borrow

            with borrow.port(port, out) as usable:
                entered = enter_bootloader_via_repl(usable, out)
            if entered:
                drives = rp2.wait_for_drive(board.mcu)
    if not drives and rp2.picotool():
        path = firmware
        if not path:
            raise PocketError("picotool needs the image as a file", hint="pass it with --firmware")
        rp2.load_with_picotool(path, out)
        return "picotool"
    if not drives:
        dev = rp2.unmounted_drive(board.mcu)
        if dev:
            raise PocketError(f"the board is in BOOTSEL mode ({dev}) but its drive is not mounted",
                              hint=f"mount it (`udisksctl mount -b {dev}`) and run again, or give --drive DIR")
        raise PocketError(f"no {board.mcu.upper()} BOOTSEL drive found", hint=rp2.ENTER_BOOTSEL)
    if len(drives) > 1:
        raise PocketError(f"several BOOTSEL drives: {', '.join(map(str, drives))}", hint="say which with --drive")
    out(f"copying {len(data)} bytes to {drives[0]}")
    rp2.copy_uf2(data, drives[0])
    back = esp.wait_for_port(lambda: (ports.usb_ports(board) or [None])[0], timeout=PORT_BACK_S) if not drive else None
    out(f"flashed; MicroPython is running on {back}" if back else
        "copied; the board reboots into the new firmware when the drive goes away")
    return str(drives[0])

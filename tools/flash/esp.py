"""Flashing an ESP32-S3 with esptool, used as a library.

Connect (esptool resets the chip into its ROM loader, or the caller has put
it there), check the chip, then erase, write at the board's image offset with
its flash mode, frequency and size, verify by MD5 and reset.
"""

import time

from pocket_agent.errors import PocketError

from . import images

ENTER_DOWNLOAD_MODE = ("hold the BOOT button (GPIO0), press and release RESET (EN), then release BOOT; "
                       "the board's port may change name in this mode")


def flash_size_arg(size):
    mb = size // (1 << 20)
    return f"{mb}MB" if mb else f"{size // 1024}KB"


def wrong_mode(port, exc):
    return PocketError(
        f"no ESP32 ROM loader answers on {port} ({exc})",
        hint="put the board in download mode: " + ENTER_DOWNLOAD_MODE + ". If MicroPython runs on it, "
        "`pocket flash` does this itself through the REPL; a main.py that ignores Ctrl-C needs the buttons.")


def flash(board, port, data, *, out=print, stub=True, erase=True, connect_mode="default-reset",
          baud=460800, connect_attempts=3, after="hard-reset"):
    """Write `data` (a full image) to the ESP32 on `port`. Returns esptool's chip name."""
    import esptool.cmds as cmds
    from esptool.util import FatalError

    fl = board.raw["flash"]
    offset = fl.get("image_offset", 0)
    mode, freq, size = fl.get("mode", "keep"), fl.get("freq", "keep"), flash_size_arg(board.flash.size)
    try:
        esp = cmds.detect_chip(port, connect_mode=connect_mode, connect_attempts=connect_attempts)
    except FatalError as exc:
        raise wrong_mode(port, exc) from None
    except OSError as exc:
        raise PocketError(f"cannot open {port}: {exc}") from None
    try:
        want = images.esp_chip_name(board.mcu)
        if esp.CHIP_NAME != want:
            raise PocketError(f"the chip on {port} is an {esp.CHIP_NAME}, but {board.title} has an {want}",
                              hint="pick the right board with --board (see `pocket boards`), or another --port")
        out(f"connected to {esp.CHIP_NAME} on {port}" + ("" if stub else " (ROM loader, no stub)"))
        if stub:
            esp = cmds.run_stub(esp)
            if baud and baud != esp._port.baudrate:
                try:
                    esp.change_baud(baud)
                except FatalError:
                    pass  # a USB port ignores the rate anyway
        cmds.attach_flash(esp)
        if erase:
            if esp.IS_STUB:
                out("erasing the whole flash")
                cmds.erase_flash(esp)
            else:
                # The ROM loader cannot erase the chip; blanking the start of the filesystem
                # makes MicroPython format it on the next boot, as after a full erase.
                out(f"blanking the filesystem at {board.flash.fs_offset:#x} (the ROM loader cannot erase the chip)")
                blank = b"\xff" * (2 * board.flash.block_size)
                cmds.write_flash(esp, [(board.flash.fs_offset, blank)], flash_mode="keep", flash_freq="keep",
                                 flash_size="keep", no_progress=True)
        out(f"writing {len(data)} bytes at {offset:#x} (flash mode {mode}, {freq}, {size})")
        cmds.write_flash(esp, [(offset, data)], flash_mode=mode, flash_freq=freq, flash_size=size,
                         no_progress=True, compress=True)
        out("verifying")
        cmds.verify_flash(esp, [(offset, data)], flash_mode=mode, flash_freq=freq, flash_size=size)
        if after:
            cmds.reset_chip(esp, after)
        return esp.CHIP_NAME
    except FatalError as exc:
        raise PocketError(f"esptool: {exc}", hint="reset the board into download mode and run again: "
                          + ENTER_DOWNLOAD_MODE) from None
    finally:
        try:
            esp._port.close()
        except Exception:  # noqa: BLE001 - closing a port that already went away
            pass


def wait_for_port(find, timeout=10.0):
    """Poll `find()` (returns a port or None) until it answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        port = find()
        if port:
            return port
        time.sleep(0.2)
    return None

# The twin's boot ROM: what a port's main.c and _boot.py do before user code.
# The supervisor starts the VM with this script and a JSON config in the
# environment; the VM then only ever sees the board's flash, never host files.
import sys
import os
import json
import time

cfg = json.loads(os.getenv("POCKET_TWIN_CONFIG"))
rom_dir = cfg["rom"]

import umachine  # noqa: E402,F401  the unix port's own machine, used by the shim
import vfs  # noqa: E402
import rom_flash  # noqa: E402
import rom_console  # noqa: E402
import machine  # noqa: E402  the twin's machine module, loaded before the host files go
import neopixel  # noqa: E402,F401  frozen into the ports' firmware

machine._setup(cfg)

flash_file = open(cfg["flash"], "r+b")
ctl = open("/dev/fd/%d" % cfg["ctl_fd"], "wb")
ack = open("/dev/fd/%d" % cfg["ack_fd"], "rb")

fl = cfg["fs"]
bdev = rom_flash.FlashArea(flash_file, fl["offset"], fl["size"], fl["block_size"])
vfs.umount("/")
sys.path[:] = ["", ".frozen", "/lib"]
sys.modules["umachine"] = sys.modules["machine"]
rom_console.install(cfg, ctl, ack, rom_dir)
del cfg["flash"], cfg["rom"]

_ESP32_BOOT_PY = """\
# This file is executed on every boot (including wake-boot from deepsleep)
#import esp
#esp.osdebug(None)
#import webrepl
#webrepl.start()
"""
_ESP32_CORRUPT = """\
The filesystem appears to be corrupted. If you had important data there, you
may want to make a flash snapshot to try to recover it. Otherwise, perform
factory reprogramming of MicroPython firmware (completely erase flash, followed
by firmware programming).
"""


def mount_flash():
    """What the ports' _boot.py does: mount the filesystem, or set it up.

    rp2 formats whatever does not mount; esp32 formats only erased flash and
    otherwise says the filesystem is corrupted, until Ctrl-C.
    """
    progsize = fl["progsize"]
    try:
        vfs.mount(vfs.VfsLfs2(bdev, progsize=progsize), "/")
        return
    except OSError:
        pass
    if cfg["port"] == "esp32":
        first = bytearray(fl["block_size"])
        bdev.readblocks(0, first)
        if first != b"\xff" * len(first):
            rom_console.set_intr(3)
            try:
                while True:
                    rom_console.cooked(_ESP32_CORRUPT)
                    time.sleep(3)
            except KeyboardInterrupt as e:
                rom_console.set_intr(-1)
                rom_console.cooked(rom_console.format_exception(e))
                return
        rom_console.cooked("Performing initial setup\n")
    vfs.VfsLfs2.mkfs(bdev, progsize=progsize)
    vfs.mount(vfs.VfsLfs2(bdev, progsize=progsize), "/")
    if cfg["port"] == "esp32":
        with open("boot.py", "w") as f:
            f.write(_ESP32_BOOT_PY)


mount_flash()
os.chdir("/")

try:
    rom_console.run(cfg["mode"], cfg["port"], cfg["safe_boot"])
except rom_console.Restart:
    pass
except rom_console.PowerOff:
    pass
except BaseException as e:  # a ROM bug: report it to the twin's log, not the port
    sys.print_exception(e, sys.stderr)
    sys.exit(1)

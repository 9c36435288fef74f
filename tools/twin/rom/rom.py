# The twin's boot ROM: what a port's main.c and _boot.py do before user code.
# The supervisor starts the VM with this script and a JSON config in the
# environment; the VM then only ever sees the board's flash, never host files.
import sys
import os
import json

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

fl = cfg["fs"]
bdev = rom_flash.FlashArea(flash_file, fl["offset"], fl["size"], fl["block_size"])
vfs.umount("/")
if fl["format"]:
    vfs.VfsLfs2.mkfs(bdev, progsize=fl["progsize"])
vfs.mount(vfs.VfsLfs2(bdev, progsize=fl["progsize"]), "/")
if fl["format"] and cfg["port"] == "esp32":
    with open("boot.py", "w") as f:
        f.write("# This file is executed on every boot (including wake-boot from deepsleep)\n")
sys.path[:] = ["", ".frozen", "/lib"]
os.chdir("/")
sys.modules["umachine"] = sys.modules["machine"]

rom_console.install(cfg, ctl, rom_dir)
del cfg["flash"], cfg["rom"]

try:
    rom_console.run(cfg["mode"], cfg["port"], cfg["safe_boot"])
except rom_console.Restart:
    pass
except rom_console.PowerOff:
    pass
except BaseException as e:  # a ROM bug: report it to the twin's log, not the port
    sys.print_exception(e, sys.stderr)
    sys.exit(1)

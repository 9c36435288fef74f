"""Flashing an RP2350 board: copy the UF2 to its BOOTSEL drive, or use picotool when it is installed.

In BOOTSEL mode the chip's boot ROM shows a USB drive (label RP2350) whose
INFO_UF2.TXT says "Board-ID: RP2350"; a UF2 file copied onto it is written to
flash, and the chip reboots into it when the last block lands.
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

from pocket_agent.errors import PocketError

BOOTSEL_TIMEOUT_S = 15.0
ENTER_BOOTSEL = ("hold the BOOTSEL button while you plug the board in (or while you press RUN, if "
                 "your board has one), then release it: a drive named RP2350 appears")


def mount_points():
    """Mounted filesystems that could be a BOOTSEL drive."""
    points = []
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 2 and parts[2] in ("vfat", "msdos", "fuseblk", "exfat"):
                    points.append(parts[1].replace("\\040", " "))
    except OSError:
        pass
    for base in ("/Volumes", f"/media/{os.environ.get('USER', '')}", f"/run/media/{os.environ.get('USER', '')}"):
        if os.path.isdir(base):
            points += [os.path.join(base, n) for n in sorted(os.listdir(base))]
    return points


def bootsel_drives(mcu, places=None):
    """Mounted BOOTSEL drives of chip `mcu` (e.g. rp2350)."""
    want = f"Board-ID: {mcu.upper()}"
    found = []
    for p in (places if places is not None else mount_points()):
        info = Path(p) / "INFO_UF2.TXT"
        try:
            if want in info.read_text(errors="replace"):
                found.append(Path(p))
        except OSError:
            continue
    return sorted(set(found))


def unmounted_drive(mcu):
    """A BOOTSEL block device that is present but not mounted (Linux), or None."""
    dev = Path("/dev/disk/by-label") / mcu.upper()
    return str(dev) if dev.exists() else None


def wait_for_drive(mcu, places=None, timeout=BOOTSEL_TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while True:
        drives = bootsel_drives(mcu, places)
        if drives or time.monotonic() > deadline:
            return drives
        time.sleep(0.2)


def copy_uf2(data, drive, name="firmware.uf2"):
    """Write the UF2 onto the drive. The chip reboots as the last block lands,
    so an error once every byte is out is expected, not a failure."""
    dest = Path(drive) / name
    written = 0
    try:
        with open(dest, "wb") as f:
            for i in range(0, len(data), 64 * 1024):
                written += f.write(data[i:i + 64 * 1024])
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        if written < len(data):
            raise PocketError(f"copying the firmware to {drive} failed after {written} bytes ({exc})",
                              hint="the board left BOOTSEL mode: " + ENTER_BOOTSEL + ", then run again") from None
    return written


def picotool():
    return shutil.which("picotool")


def load_with_picotool(path, out=print):
    """picotool load -x -f: reboots a running board into BOOTSEL, writes, verifies and runs it."""
    args = [picotool(), "load", "--verify", "--execute", "--force", str(path)]
    out("running " + " ".join(args))
    proc = subprocess.run(args, capture_output=True, text=True, timeout=180)
    if proc.returncode != 0:
        text = (proc.stderr or proc.stdout).strip()
        if "No accessible RP-series devices" in text or "no accessible" in text.lower():
            raise PocketError("picotool found no board in BOOTSEL mode", hint=ENTER_BOOTSEL)
        if "permission" in text.lower() or "access" in text.lower():
            raise PocketError(f"picotool cannot open the board: {text}",
                              hint="install the udev rules that come with picotool (or run it with sudo)")
        raise PocketError(f"picotool failed: {text}")
    return proc.stdout

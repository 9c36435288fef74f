"""A board for bridge tests before (and besides) the twin: tests/link/board_app.py
in the real MicroPython VM, its stdin/stdout on the master side of a pty, the
bridge on the slave side through a stable symlink (as a twin's port is)."""

import os
import subprocess
import tty
from pathlib import Path

from tests import mpy

APP = Path(__file__).resolve().parents[1] / "link" / "board_app.py"


class PtyBoard:
    def __init__(self, link_path, name="vm1"):
        self.link = Path(link_path)
        self.name = name
        self.proc = None
        self.master = None

    def plug(self):
        """Start the app on a fresh pty (a new device node, as after re-enumeration)."""
        master, slave = os.openpty()
        tty.setraw(slave)
        tty.setraw(master)
        path = os.ttyname(slave)
        self.proc = subprocess.Popen(
            [mpy.micropython_exe(), "-X", "heapsize=200K", str(APP), self.name],
            stdin=master, stdout=master, stderr=subprocess.PIPE,
            env=dict(os.environ, MICROPYPATH=str(mpy.FIRMWARE)))
        self.slave = slave  # held open, or the app would see a hang-up before the bridge opens it
        self.master = master
        tmp = self.link.with_suffix(".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(path)
        tmp.replace(self.link)
        return path

    def unplug(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc.stderr.close()
            self.proc = None
        if self.master is not None:
            os.close(self.master)
            os.close(self.slave)
            self.master = None
        self.link.unlink(missing_ok=True)

    def __enter__(self):
        self.plug()
        return self

    def __exit__(self, *exc):
        self.unplug()

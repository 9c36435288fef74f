"""Run code in the real MicroPython VM (the unix port from PyPI).

Firmware modules are tested here directly, without a twin: the VM gets
firmware/ on its path, so `import link` works as on the board.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"


def micropython_exe():
    exe = Path(sys.executable).parent / "micropython"
    if exe.exists():
        return str(exe)
    found = shutil.which("micropython")
    if not found:
        raise RuntimeError("micropython is not installed: run ./run setup")
    return found


def run(code, *, path=(FIRMWARE,), heap=None, stdin=None, timeout=120, check=True, cwd=None):
    """Run `code` in a fresh VM and return its stdout as text.

    `path` is put ahead of sys.path; `heap` caps the heap (e.g. "200K"). A
    non-zero exit raises with stderr and stdout attached, unless check=False.
    """
    prelude = "import sys\n" + "".join(f"sys.path.insert(0, {str(p)!r})\n" for p in reversed(path))
    args = [micropython_exe()]
    if heap:
        args += ["-X", f"heapsize={heap}"]
    args += ["-c", prelude + code]
    proc = subprocess.run(
        args, input=stdin, capture_output=True, timeout=timeout, cwd=cwd or ROOT,
        env=dict(os.environ, MICROPYPATH=""),
    )
    out = proc.stdout.decode("utf-8", "replace")
    if check and proc.returncode != 0:
        raise AssertionError(
            f"micropython exited {proc.returncode}\n--- stdout\n{out}\n--- stderr\n{proc.stderr.decode()}"
        )
    return out


def qstr_counts(text):
    """The n_qstr figure of each `micropython.qstr_info()` report in a VM's output, in order:
    the strings the VM has interned for good."""
    return [int(line.split("n_qstr=")[1].split(",")[0]) for line in text.splitlines() if "n_qstr=" in line]

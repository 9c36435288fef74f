"""Type-check firmware/ against the stubs of each MicroPython port.

The stubs (micropython-esp32-stubs, micropython-rp2-stubs, pinned in
STUBS) go into their own directories under .venv/stubs/ (`./run setup` puts
them there; ensure() does it when they are missing), and mypy runs once per
port with that port's stubs as its standard library. A call to an API that
one port lacks fails here, before it reaches a board.

    .venv/bin/python -m tests.firmware.static      # prints mypy's findings per port
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
CONFIG = Path(__file__).with_name("mypy.ini")
STUBS = {"esp32": "micropython-esp32-stubs==1.29.0.post1", "rp2": "micropython-rp2-stubs==1.29.0.post1"}
STUB_ROOT = Path(sys.prefix) / "stubs"


def stub_dir(port):
    return STUB_ROOT / port


def ensure(port):
    """The port's stubs directory, installed with pip if it is not there yet."""
    d = stub_dir(port)
    if not (d / "machine.pyi").exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "--target", str(d), STUBS[port]], check=True, capture_output=True)
    return d


def firmware_files():
    return sorted(str(p.relative_to(FIRMWARE)) for p in FIRMWARE.rglob("*.py") if p.name != "__init__.py")


def findings(output):
    """mypy's errors in firmware/ (errors inside the stub packages are theirs)."""
    out = []
    for line in output.splitlines():
        path, sep, rest = line.partition(":")
        if sep and ": error:" in line and not path.startswith(str(STUB_ROOT)):
            out.append(line)
    return out


def check(port, files=None):
    """(exit code, mypy's output) for firmware/ against the port's stubs."""
    stubs = ensure(port)
    cmd = [sys.executable, "-m", "mypy", "--config-file", str(CONFIG), "--custom-typeshed-dir", str(stubs),
           "--cache-dir", str(ROOT / "build" / ("mypy-" + port)), *(files or firmware_files())]
    env = {"MYPYPATH": str(stubs), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(cmd, cwd=FIRMWARE, capture_output=True, text=True, env=env, timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


def main():
    worst = 0
    for port in STUBS:
        _code, out = check(port)
        errors = findings(out)
        print(f"== {port}: {len(errors)} errors in firmware/")
        for line in errors:
            print(line)
        worst = max(worst, 1 if errors else 0)
    return worst


if __name__ == "__main__":
    sys.exit(main())

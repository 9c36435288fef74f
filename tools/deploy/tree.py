"""What goes onto a board: the app from firmware/, compiled; the board definition; the models.

    /boot.py, /main.py         stay source (the board runs them by name)
    /<module>.mpy, /<pkg>/...  every other module of firmware/, compiled for the board
    /board.json                the board definition, read by the app's composition root
    /<model>.pwm               model files found under models/
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

from pocket_agent.errors import PocketError

from . import mpy

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE_DIR = ROOT / "firmware"
MODELS_DIR = ROOT / "models"
SOURCE_ONLY = ("boot.py", "main.py")  # run by name at the root of the board's flash
MODEL_SUFFIXES = (".pwm",)
SKIP_DIRS = ("__pycache__",)
SKIP_SUFFIXES = (".pyc", ".md")
BOARD_JSON = "/board.json"


@dataclass
class Entry:
    path: str  # on the board, absolute
    data: bytes
    origin: str  # where it came from, for the plan
    kind: str  # "mpy", "source", "data"

    @property
    def sha(self):
        return hashlib.sha256(self.data).hexdigest()


def app_files(firmware_dir):
    """(board path, host path) of every file of the app, sorted."""
    firmware_dir = Path(firmware_dir)
    if not firmware_dir.is_dir():
        raise PocketError(f"no app to deploy: {firmware_dir} is not a folder")
    found = []
    for p in sorted(firmware_dir.rglob("*")):
        rel = p.relative_to(firmware_dir)
        if not p.is_file() or any(part.startswith(".") or part in SKIP_DIRS for part in rel.parts):
            continue
        if p.suffix in SKIP_SUFFIXES:
            continue
        if rel.as_posix() == "__init__.py":
            continue  # makes firmware/ a package on the host only
        found.append(("/" + rel.as_posix(), p))
    return found


def model_files(models_dir):
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return []
    found = {}
    for p in sorted(models_dir.rglob("*")):
        if p.is_file() and p.suffix in MODEL_SUFFIXES and "__pycache__" not in p.parts:
            dest = "/" + p.name
            if dest in found:
                raise PocketError(f"two model files would both be {dest} on the board: {found[dest]} and {p}",
                                  hint="rename one of them")
            found[dest] = p
    return sorted(found.items())


@dataclass
class Source:
    path: str  # on the board, once built
    host: Path
    kind: str  # "mpy", "source", "data"
    data: bytes = None  # for a board definition given as a Board object


def collect(board, *, firmware_dir=FIRMWARE_DIR, models_dir=MODELS_DIR, compile=True):
    """What goes on the board, before compiling: a list of Source."""
    out = []
    for dest, src in app_files(firmware_dir):
        name = dest.rsplit("/", 1)[-1]
        if not dest.endswith(".py"):
            out.append(Source(dest, src, "data"))
        elif not compile or (dest.count("/") == 1 and name in SOURCE_ONLY):
            out.append(Source(dest, src, "source"))
        else:
            out.append(Source(dest[:-3] + ".mpy", src, "mpy"))
    out.append(Source(BOARD_JSON, Path(board.path), "data"))
    for dest, src in model_files(models_dir):
        out.append(Source(dest, src, "data"))
    seen = {}
    for s in out:
        if s.path in seen:
            raise PocketError(f"{s.host} and {seen[s.path]} would both be {s.path} on the board",
                              hint="remove or rename one of them")
        if len(s.path.encode()) > 200:
            raise PocketError(f"path too long for the board: {s.path}")
        seen[s.path] = s.host
    return out


def build(sources, compiler, warn=print):
    """Entries (with their bytes) for `sources`; modules compiled by `compiler` (an mpy.Compiler)."""
    entries = []
    for s in sources:
        data = s.host.read_bytes()
        if s.kind != "mpy":
            entries.append(Entry(s.path, data, str(s.host), s.kind))
            continue
        source_name = s.path[1:-4] + ".py"
        try:
            out = compiler.compile(data, source_name)
        except mpy.CompileError as exc:
            if compiler.arch == "none" and "invalid arch" in exc.why:
                warn(f"warning: /{source_name} has native code and the board has no native emitter; "
                     "it goes as source and will fail to import there")
                entries.append(Entry("/" + source_name, data, str(s.host), "source"))
                continue
            raise
        entries.append(Entry(s.path, out, str(s.host), "mpy"))
    return entries


def shadowed_sources(items):
    """Source paths that would hide a compiled module: MicroPython imports X.py
    ahead of X.mpy, so a leftover /link.py would keep the old code running."""
    return sorted(i.path[:-4] + ".py" for i in items if i.kind == "mpy")

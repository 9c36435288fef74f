"""Keep the wake-word cache in step with the code that fills it.

The cache (synthesized sets, augmented features, held-out audio) is kept by file
name. Without a check, a change to the code that makes those files (a voice
set, the vocoder, the augmentation) would go on training from the old files.
So each cache directory records a digest of that code, comments and docstrings
left out, and of the versions of the engines and libraries it runs (an upgraded
espeak-ng, festival voice or numpy makes other clips); when the digest no longer
matches, the directory's data files are removed and made again on demand.
"""

import ast
import hashlib
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

# The modules whose code decides what the cached files contain.
DATA_MODULES = ("audio", "augment", "corpus", "dataset", "frontend", "heldout", "synth", "texts", "vocode")
STAMP_FILE = "code-stamp.txt"
# What makes the clips and features besides our code: Debian's engines and
# voices (synth.py names them) and the Python libraries.
ENGINE_PACKAGES = ("espeak-ng", "espeak-ng-data", "festival", "festlex-cmu", "flite")
PYTHON_PACKAGES = ("numpy", "pyworld")

_seen = {}  # directory -> stamp already checked in this process


def _strip_docstrings(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def digest(sources, extra=""):
    """Digest of {module name: source text} and of `extra` text: the same for
    edits to comments and docstrings, different for any change to the code."""
    h = hashlib.sha256()
    for name in sorted(sources):
        tree = _strip_docstrings(ast.parse(sources[name]))
        h.update(f"{name}\n{ast.dump(tree)}\n".encode())
    if extra:
        h.update(f"engines\n{extra}\n".encode())
    return h.hexdigest()[:16]


def engines():
    """One line per engine, voice and library: name=version (or =missing)."""
    from . import synth
    debs = sorted(set(ENGINE_PACKAGES) | {p for v in synth.FESTIVAL_PACKAGES.values() for p in v.split()})
    found = {}
    if shutil.which("dpkg-query"):
        r = subprocess.run(["dpkg-query", "-W", "-f", "${Package}=${Version}=${db:Status-Status}\\n", *debs],
                           capture_output=True, text=True)
        for line in r.stdout.splitlines():
            name, version, status = line.split("=")
            if status == "installed":
                found[name] = version
    else:  # not Debian: the engines' own word on their version
        for tool in ("espeak-ng", "festival", "flite"):
            if shutil.which(tool):
                r = subprocess.run([tool, "--version"], capture_output=True, text=True)
                found[tool] = " ".join((r.stdout + r.stderr).split())
        debs = sorted(found)
    lines = [f"{d}={found.get(d, 'missing')}" for d in debs]
    for name in PYTHON_PACKAGES:
        try:
            lines.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            lines.append(f"{name}=missing")
    return "\n".join(lines)


_stamp = []


def code_stamp():
    """The digest of the data modules' code and of engines(), once per process."""
    if not _stamp:
        here = Path(__file__).parent
        sources = {m: (here / f"{m}.py").read_text() for m in DATA_MODULES}
        _stamp.append(digest(sources, extra=engines()))
    return _stamp[0]


def refresh(directory, stamp=None, log=print):
    """Make `directory` (created if missing) hold only data made by today's code.

    A directory stamped by other code loses its .npz files (symbolic links
    included, not what they point to). One without a stamp, from before stamps,
    is taken as made by today's code and stamped."""
    d = Path(directory)
    stamp = stamp or code_stamp()
    if _seen.get(str(d)) == stamp:
        return d
    d.mkdir(parents=True, exist_ok=True)
    f = d / STAMP_FILE
    old = f.read_text().strip() if f.exists() else None
    if old is not None and old != stamp:
        stale = sorted(p for p in d.iterdir() if p.name.endswith(".npz"))
        if stale:
            log(f"wake-word cache {d}: made by other code ({old}, now {stamp}); "
                f"removing its {len(stale)} data files, which are made again as needed")
        for p in stale:
            p.unlink(missing_ok=True)
    if old != stamp:
        tmp = d / (STAMP_FILE + ".tmp")
        tmp.write_text(stamp + "\n")
        tmp.replace(f)
    _seen[str(d)] = stamp
    return d

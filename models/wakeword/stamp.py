"""Keep the wake-word cache in step with the code that fills it.

The cache (synthesized sets, augmented features, held-out audio) is kept by file
name. Without a check, a change to the code that makes those files (a voice
set, the vocoder, the augmentation) would go on training from the old files.
So each cache directory records a digest of that code, comments and docstrings
left out; when the digest no longer matches, the directory's data files are
removed and made again on demand.
"""

import ast
import hashlib
from pathlib import Path

# The modules whose code decides what the cached files contain.
DATA_MODULES = ("audio", "augment", "corpus", "dataset", "frontend", "heldout", "synth", "texts", "vocode")
STAMP_FILE = "code-stamp.txt"

_seen = {}  # directory -> stamp already checked in this process


def _strip_docstrings(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def digest(sources):
    """Digest of {module name: source text}: the same for edits to comments and
    docstrings, different for any change to the code."""
    h = hashlib.sha256()
    for name in sorted(sources):
        tree = _strip_docstrings(ast.parse(sources[name]))
        h.update(f"{name}\n{ast.dump(tree)}\n".encode())
    return h.hexdigest()[:16]


def code_stamp():
    here = Path(__file__).parent
    return digest({m: (here / f"{m}.py").read_text() for m in DATA_MODULES})


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

"""Type-check firmware/ against the stubs of each MicroPython port.

The stubs (micropython-esp32-stubs, micropython-rp2-stubs, pinned in
STUBS) go into their own directories under .venv/stubs/ (`./run setup` puts
them there; ensure() does it when they are missing), and mypy runs once per
port with that port's stubs as its standard library. A call to an API that
one port lacks fails here, before it reaches a board.

    .venv/bin/python -m tests.firmware.static           # mypy's findings per port
    .venv/bin/python -m tests.firmware.static --twin    # and the twin's machine against the stubs

The twin's `machine` is checked against the same stubs by listing, on a
running twin of each port, the names its machine module and classes offer,
and comparing them with the stub's machine.pyi.
"""

import ast
import json

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


BOARD_OF_PORT = {"esp32": "esp32s3-devkitc", "rp2": "pico2w"}
_TWIN_API = r"""
import machine, json
out = {}
for k in dir(machine):
    if not k.startswith("_"):
        v = getattr(machine, k)
        out[k] = sorted(n for n in dir(v) if not n.startswith("_")) if isinstance(v, type) else None
print("API " + json.dumps(out))
"""


def stub_api(port):
    """{name: None for a function or constant, [members] for a class} of the stub's machine."""
    tree = ast.parse((ensure(port) / "machine.pyi").read_text())

    def names(body):
        out = set()
        for n in body:
            if isinstance(n, (ast.FunctionDef, ast.ClassDef)):
                out.add(n.name)
            elif isinstance(n, ast.Assign):
                out.update(t.id for t in n.targets if isinstance(t, ast.Name))
            elif isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name):
                out.add(n.target.id)
        return {x for x in out if not x.startswith("_")}

    api = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            api[node.name] = sorted(names(node.body))
        else:
            for name in names([node]):
                api[name] = None
    return api


def twin_api(port, state_dir):
    """The same listing, taken from a running twin of the port's reference board."""
    from pocket_agent.tools.twin import launcher
    mpremote = str(Path(sys.executable).parent / "mpremote")
    with launcher.start(BOARD_OF_PORT[port], state_dir=state_dir, wipe=True) as twin:
        proc = subprocess.run([mpremote, "connect", twin.port, "exec", _TWIN_API], capture_output=True,
                              text=True, timeout=60)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("API ")]
    if not lines:
        raise RuntimeError(f"the twin did not list its machine module: {proc.stdout} {proc.stderr}")
    return json.loads(lines[0][4:])


def api_diff(stub, twin):
    """Lines saying where the twin's machine and the port's stub differ."""
    out = []
    missing = sorted(set(stub) - set(twin))
    extra = sorted(set(twin) - set(stub))
    if missing:
        out.append("in the port's stub, not on the twin: " + ", ".join(missing))
    if extra:
        out.append("on the twin, not in the port's stub: " + ", ".join(extra))
    for k in sorted(set(stub) & set(twin)):
        a, b = stub[k], twin[k]
        if isinstance(a, list) and isinstance(b, list) and set(a) != set(b):
            out.append(f"{k}: only in the stub {sorted(set(a) - set(b))}; only on the twin {sorted(set(b) - set(a))}")
    return out


def main():
    if "--twin" in sys.argv:
        import tempfile
        for port in STUBS:
            with tempfile.TemporaryDirectory() as tmp:
                diff = api_diff(stub_api(port), twin_api(port, tmp))
            print(f"== twin machine vs {port} stubs: {len(diff)} differences")
            for line in diff:
                print("  " + line)
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

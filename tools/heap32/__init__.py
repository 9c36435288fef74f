"""The firmware's heap on a 32-bit MicroPython, beside the 64-bit unix port.

The boards are 32-bit; the twin's VM (the unix port) is 64-bit, so its heap
figures hold every pointer, dict slot and code-object field at twice the
size. This measures the same steps in two VMs:

- 32-bit: MicroPython's WebAssembly port (npm package, pinned in
  package.json here), run by Node.js with run.mjs;
- 64-bit: the unix port the twin runs (.venv/bin/micropython);

with the very same files: firmware/ compiled by deploy's mpy-cross as deploy
ships it (boot.py and main.py stay source), the board definition, a wake-word
model, and stand-ins for `machine` and `neopixel` (vm/). measure.py walks the
boot path of main.py and prints the heap each step holds after a collection.

The wasm port has no native emitter, so viper functions are measured as
bytecode in both VMs (their decorators removed before compiling); the heap
their native code takes on a board is reported beside it from the .mpy files
mpy-cross writes for the board's architecture (native_code()).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pocket_agent.errors import PocketError

HERE = Path(__file__).resolve().parent
VM_DIR = HERE / "vm"
PACKAGE = "@micropython/micropython-webassembly-pyscript"
RUNNER = HERE / "run.mjs"
VM_HEAP = 1024 * 1024  # room for either VM; the figures are what is held, not what is free
_NATIVE_DECORATOR = re.compile(rb"^[ \t]*@micropython\.(viper|native)[ \t]*(#.*)?\r?\n", re.M)


def node():
    """Path of Node.js with the pinned wasm port installed, or a PocketError."""
    exe = shutil.which("node")
    if not exe:
        raise PocketError("Node.js is not installed: the 32-bit heap is measured in MicroPython's wasm port",
                          hint="run ./run setup (it installs nodejs and npm from Debian when missing)")
    if not (HERE / "node_modules" / PACKAGE / "micropython.mjs").is_file():
        raise PocketError(f"{PACKAGE} is not installed in {HERE}",
                          hint="run ./run setup (npm ci in tools/heap32)")
    return exe


def unix_micropython():
    exe = Path(sys.executable).parent / "micropython"
    found = str(exe) if exe.exists() else shutil.which("micropython")
    if not found:
        raise PocketError("the MicroPython unix port is not installed", hint="run ./run setup")
    return found


def strip_native(source):
    """`source` (bytes) with @micropython.viper/native removed: the functions
    compile to bytecode, which every port (the wasm one too) loads."""
    return _NATIVE_DECORATOR.sub(b"", source)


def run_wasm(code, root=None, heap=VM_HEAP, each=None, timeout=120):
    """Run `code` in the 32-bit VM, with `root` (a host folder) copied in as
    /fw, its current folder; its stdout. With `each`, that code then runs as
    its own top-level call while the global `_more` is true: the wasm port
    collects garbage only between top-level calls (gc.collect() inside one
    only asks for it)."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(_prelude("/fw" if root else None) + code)
    args = [node(), str(RUNNER), "--heap", str(heap)]
    if root:
        args += ["--mount", f"{root}:/fw"]
    if each:
        args += ["--each", each]
    try:
        proc = subprocess.run(args + [f.name], capture_output=True, text=True, timeout=timeout, cwd=HERE)
    finally:
        os.unlink(f.name)
    return _check("wasm32", proc)


def run_unix(code, root=None, heap=VM_HEAP, each=None, timeout=120):
    """Run `code` in the 64-bit unix port with `root` as the current folder;
    its stdout. `each` as for run_wasm (this port collects at once)."""
    if each:
        code += "\nimport gc\nwhile _more:\n    gc.collect()\n    %s\n" % each
    proc = subprocess.run([unix_micropython(), "-X", f"heapsize={heap}", "-c", _prelude(None) + code],
                          capture_output=True, text=True, timeout=timeout, cwd=root or HERE,
                          env=dict(os.environ, MICROPYPATH=""))
    return _check("unix", proc)


def _prelude(chdir):
    # both VMs import from the current folder ("") and their frozen modules
    lines = ["import sys", "sys.path[:] = ['', '.frozen']"]
    if chdir:
        lines += ["import os", f"os.chdir({chdir!r})"]
    return "\n".join(lines) + "\n"


def _check(vm, proc):
    if proc.returncode != 0:
        raise RuntimeError(f"{vm} VM exited {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
    return proc.stdout


def build_image(dest, board_name, model=None, compiler=None):
    """Fill the folder `dest` with what the board would hold: firmware/ as
    deploy ships it (native decorators removed), /board.json, the stand-ins
    and, if given, the wake-word model bytes as wakeword.pwm."""
    from pocket_agent.boards import catalog
    from pocket_agent.tools.deploy import mpy, tree

    dest = Path(dest)
    board = catalog.load(board_name)
    compiler = compiler or mpy.Compiler("none")
    for src in tree.collect(board, models_dir=dest / "no-models"):
        out = dest / src.path.lstrip("/")
        out.parent.mkdir(parents=True, exist_ok=True)
        data = src.host.read_bytes()
        if src.kind == "mpy":
            data = compiler.compile(strip_native(data), src.path[1:-4] + ".py")
        elif src.kind == "source":
            data = strip_native(data)
        out.write_bytes(data)
    for p in VM_DIR.glob("*.py"):
        if p.name != "measure.py":
            shutil.copy(p, dest / p.name)
    if model is not None:
        (dest / "wakeword.pwm").write_bytes(model)
    return dest


@dataclass
class Row:
    step: str
    bytes: int  # the heap the step added, all of it
    qstr_bytes: int  # of which the qstr table grew (pools and string data)
    qstr_data: int  # of which the names' characters

    @property
    def own(self):
        """The step's objects and the characters of the names it interned;
        not the growth of the qstr pools, which comes in lumps wherever a
        pool fills up (Steps.qstr_pools holds it for all steps)."""
        return self.bytes - self.qstr_bytes + self.qstr_data


@dataclass
class Steps:
    """What one VM printed: the heap each step held, in order."""

    vm: str
    impl: str
    base: int
    rows: list = field(default_factory=list)  # Row
    end: int = 0

    @property
    def total(self):
        return self.end - self.base

    @property
    def speaking(self):
        """What the app holds only while the host's sound plays (the last step)."""
        r = self.get("speaking")
        return r.bytes if r else 0

    @property
    def idle(self):
        return self.total - self.speaking

    @property
    def qstr_pools(self):
        return sum(r.qstr_bytes - r.qstr_data for r in self.rows)

    def get(self, step):
        for r in self.rows:
            if r.step == step:
                return r
        return None


_QSTR = re.compile(r"n_str_data_bytes=(\d+), n_total_bytes=(\d+)")


def parse(vm, out):
    s = Steps(vm, "", 0)
    q = prev_q = None
    for line in out.splitlines():
        if line.startswith("@impl "):
            s.impl = line[6:]
        elif line.startswith("@q "):
            m = _QSTR.search(line)
            q = (int(m.group(1)), int(m.group(2)))
        elif line.startswith("@base "):
            s.base = int(line.split()[1])
            prev_q = q
        elif line.startswith("@row "):
            _, step, n = line.split()
            s.rows.append(Row(step, int(n), q[1] - prev_q[1], q[0] - prev_q[0]))
            prev_q = q
        elif line.startswith("@end "):
            s.end = int(line.split()[1])
    if not s.rows or not s.end:
        raise RuntimeError(f"{vm}: the measurement printed no figures:\n{out}")
    return s


def measure(board_name, model=None, compiler=None):
    """{"wasm32": Steps, "unix64": Steps} for one board, with the wake word
    (model: the .pwm bytes) or without it (None)."""
    script = ("WAKEWORD = %r\n" % (model is not None)) + (VM_DIR / "measure.py").read_text()
    with tempfile.TemporaryDirectory(prefix="heap32-") as tmp:
        root = build_image(Path(tmp) / "fw", board_name, model, compiler)
        return {"wasm32": parse("wasm32", run_wasm(script, root, each="_next()")),
                "unix64": parse("unix64", run_unix(script, root, each="_next()"))}


def native_code(arch, with_wakeword, compiler_none=None):
    """{module: bytes} that each module with viper code grows by when mpy-cross
    compiles it for `arch` rather than as bytecode: its machine code against
    the bytecode measured in place of it (.mpy sizes; the loader copies a
    function's code into RAM as it stands in the file)."""
    from pocket_agent.tools.deploy import mpy, tree

    none = compiler_none or mpy.Compiler("none")
    native = mpy.Compiler(arch)
    out = {}
    for dest, src in tree.app_files(tree.FIRMWARE_DIR):
        data = src.read_bytes()
        if not dest.endswith(".py") or b"@micropython.viper" not in data:
            continue
        if dest.startswith("/wakeword/") and not with_wakeword:
            continue
        name = dest[1:]
        out[name[:-3].replace("/", ".")] = (len(native.compile(data, name))
                                            - len(none.compile(strip_native(data), name)))
    return out


def untrained_model(channels=48, seed=7):
    """The .pwm bytes of an untrained wake-word model of the shipped
    architecture: the memory it takes is the trained one's."""
    import numpy as np

    from pocket_agent.models.wakeword import frontend, net

    rng = np.random.default_rng(seed)
    p = net.init(rng, channels=channels)
    noise = np.clip(rng.normal(0, 3000, 32000), -32768, 32767).astype(np.int16)
    q = net.calibrate(p, frontend.features(noise)[None])
    return net.export(p, q, "hey pocket").to_bytes()

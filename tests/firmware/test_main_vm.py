"""main.py in the real VM: what boot alone uses is dropped before the app runs."""

from tests import mpy

CODE = r'''
import gc
import main
board = main.load_board(%r)
slim = main.for_app(board)
gc.collect()
a0 = gc.mem_alloc()
main.release_boot_code()
gc.collect()
a1 = gc.mem_alloc()
left = [n for n in ("load_board", "build", "build_part", "wake_word", "for_app", "_ROLES") if hasattr(main, n)]
print(a0 - a1, len(left), int(callable(main.main)), slim["name"])
'''


def test_release_boot_code_frees_the_build_functions_and_keeps_main():
    board = mpy.ROOT / "boards" / "pico2w.json"
    freed, left, has_main, name = mpy.run(CODE % str(board), path=(mpy.FIRMWARE,), heap="200K").split()
    assert int(left) == 0 and has_main == "1" and name == "pico2w"
    assert int(freed) > 1500  # their code, on the 64-bit VM

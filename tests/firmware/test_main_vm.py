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


WAKE = r'''
import json, main
board = main.load_board(%r)
board["wakeword"] = {"model": %r, "threshold": 0.9}
if %r:
    board["wakeword"]["model_in"] = %r
det = main.wake_word(board, print)
print("from_file", int(det.model.f is not None))
'''


def test_the_board_definition_says_whether_the_model_is_read_from_flash_or_held_in_ram():
    board = mpy.ROOT / "boards" / "pico2w.json"
    model = str(mpy.ROOT / "models" / "wakeword" / "hey_pocket.pwm")
    run = lambda where: mpy.run(WAKE % (str(board), model, where, where), path=(mpy.FIRMWARE,),  # noqa: E731
                                heap="200K").split()
    assert run(None)[-2:] == ["from_file", "1"]  # the default: the model stays in its file
    assert run("flash")[-2:] == ["from_file", "1"]
    assert run("ram")[-2:] == ["from_file", "0"]

"""Boot and versions: the board answers, says what it is, and runs what it should."""

import re

import pytest

pytestmark = pytest.mark.hil


def test_board_identifies_itself(board):
    out = board.exec("import sys, os\nprint(sys.platform)\nprint(sys.implementation._machine)\nprint(os.uname().release)")
    platform, machine, release = out.splitlines()
    assert platform == board.definition.port
    assert machine == board.definition.machine
    assert re.fullmatch(r"\d+\.\d+\.\d+", release)


def test_unique_id_is_stable_across_resets(board):
    first = board.exec("import machine; print(machine.unique_id().hex())").strip()
    board.reset()
    assert board.exec("import machine; print(machine.unique_id().hex())").strip() == first
    assert len(first) >= 8


def test_heap_budget_is_free_after_boot(board):
    free = int(board.exec("import gc; gc.collect(); print(gc.mem_free())"))
    # The app must live in the board definition's budget; at least that is free at boot.
    assert free >= board.definition.heap_budget * 0.95

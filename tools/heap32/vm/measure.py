# Runs inside a MicroPython VM (the wasm32 port or the unix port) with the
# measurement image as its current folder; WAKEWORD is set before this runs.
# It takes the boot path of main.py step by step. Each call of _next() first
# reads the heap in use (a collection ran since the last step), prints what the
# last step added ("@row <step> <bytes>"), then runs the next step and asks for
# a collection. The wasm port collects only when control is back in JS (it
# cannot scan the wasm stack), so there each _next() is its own top-level call;
# the unix port collects at once. Each reading is followed by the qstr
# table's figures, so names (interned strings) can be told from objects. Every global exists before the first
# reading, so no growth of this script's own dict is charged to a step.
import gc
import micropython
import sys

import machine  # noqa: F401  the stand-in; on a board it is built in
import neopixel  # noqa: F401

board = parts = detector = lnk = app = faults = tasks = held = main = run = asyncio = None
last = 0
_i = 0
_more = True
_part = 0

MODULES = (
    "link", "linkio", "adpcm", "vad", "approval", "watchdog",
    "drivers", "drivers.ssd1306", "drivers.bme280", "drivers.mpu6050", "drivers.inmp441",
    "drivers.max98357a", "drivers.button", "drivers.battery", "drivers.led",
    "app", "app.states", "app.text", "app.clock", "app.power", "app.audio", "app.ui",
    "app.tools", "app.run",
)
WAKEWORD_MODULES = ("wakeword", "wakeword.fe_tables", "wakeword.kernels", "wakeword._kviper",
                    "wakeword.model", "wakeword.frontend", "wakeword.detector")
N_PARTS = 16  # at most; the board's own count decides


def _asyncio():
    global asyncio
    import asyncio  # frozen into every port; the app's import of it is charged to the app


def _main():
    global main, run
    main = __import__("main")  # source on the board: compiled when it runs
    run = sys.modules["app.run"]


def _board():
    global board, held
    board = main.load_board("./board.json")
    if WAKEWORD:  # main.py takes a model name as /<name>.pwm; here the image is the current folder
        import os
        board["wakeword"] = {"model": os.getcwd() + "/wakeword.pwm", "threshold": 0.9}
    held = [None] * len(board["parts"])


def _one_part():
    global _part
    p = board["parts"][_part]
    held[_part] = main.build_part(p, {}, board)  # on its own: its bus is built for it
    _part += 1


def _release_parts():
    global held
    held = None


def _build():
    global parts, faults
    faults = []
    parts = main.build(board, faults.append)
    if faults:
        raise SystemExit("parts failed on the stand-ins: %r" % faults)


def _detector():
    global detector
    detector = main.wake_word(board, faults.append)
    if detector is None:
        raise SystemExit("the wake word did not load: %r" % faults)


def _for_app():
    global board
    board = main.for_app(board)  # as main() does before the app starts


def _boot_code():
    main.release_boot_code()  # as main() does before the app starts


def _link():
    global lnk
    lnk = run.Link(board, 0x7FF, 1234)


def _app():
    global app
    app = run.App(board, parts, lnk, detector, 0, "./no.key")
    app.pending = faults


def _tasks():
    global tasks
    tasks = [asyncio.create_task(app._link_task()), asyncio.create_task(app._ui_task()),
             asyncio.create_task(app._audio_task()), asyncio.create_task(app._watchdog_task(None))]


def _speaking():
    app.playback.start_stream(1)  # what the app holds only while the host's sound plays


def _importer(name):
    return lambda: __import__(name)


STEPS = [("asyncio", _asyncio)] + [(m, _importer(m)) for m in MODULES]
STEPS += [("main", _main), ("board.json", _board)]
STEPS += [("part", _one_part)] * N_PARTS + [("parts-released", _release_parts), ("build", _build)]
if WAKEWORD:
    STEPS += [(m, _importer(m)) for m in WAKEWORD_MODULES] + [("Detector", _detector)]
STEPS += [("for_app", _for_app), ("boot-code-released", _boot_code), ("Link", _link), ("App", _app), ("tasks", _tasks)]
STEPS += [("speaking", _speaking)]  # last: every step before it is the idle app
print("@impl", sys.implementation.name, sys.implementation._machine, sys.maxsize)


def _next():
    global last, _i, _more
    now = gc.mem_alloc()
    print("@q", end=" ")
    micropython.qstr_info()  # interned names and their tables: "qstr pool: n_pool=..., n_total_bytes=..."
    if _i == 0:
        print("@base", now)
    else:
        name = STEPS[_i - 1][0]
        if name == "part":
            name = "part:" + board["parts"][_part - 1]["name"]
        print("@row", name, now - last)
    last = now
    # parts the board does not have are skipped
    while _i < len(STEPS) and STEPS[_i][0] == "part" and board is not None and _part >= len(board["parts"]):
        _i += 1
    if _i == len(STEPS):
        print("@end", now)
        for t in tasks:  # the wasm port's event loop would run them once the script returns
            t.cancel()
        _more = False
        return
    STEPS[_i][1]()
    _i += 1
    gc.collect()

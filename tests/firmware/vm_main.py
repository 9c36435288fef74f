# Runs in the MicroPython VM (not under pytest): the app's real main loop
# (app.run.main) on the VM's stdin/stdout, with the stand-in parts of
# vmparts.py. argv[1]: "crash" makes the screen step raise once, after 2 s;
# "stall" makes the audio task hang (an await that never returns).
# argv[2]: a file the stand-in watchdog appends each feed's time to.
import sys
import time

import asyncio
from app import run
from vmparts import FakeI2S, FbDisplay, ScriptButton

mode, feeds = sys.argv[1], sys.argv[2]


class Wdt:
    def feed(self):
        with open(feeds, "a") as f:
            f.write("%d\n" % time.ticks_ms())


if mode == "crash":
    tick = run.App.tick
    state = {"done": False, "t0": time.ticks_ms()}

    def faulty(self, now):
        if not state["done"] and time.ticks_diff(now, state["t0"]) > 2000:
            state["done"] = True
            raise RuntimeError("injected fault")
        tick(self, now)

    run.App.tick = faulty
elif mode == "stall":
    async def stuck(self):
        await asyncio.sleep(3600)

    run.App._audio_task = stuck

from drivers.inmp441 import INMP441  # noqa: E402
from drivers.max98357a import MAX98357A  # noqa: E402
from vad import Vad  # noqa: E402

parts = {"display": FbDisplay(), "buttons": [ScriptButton()], "mic": INMP441(FakeI2S(False)),
         "amp": MAX98357A(FakeI2S()), "vad": Vad()}
board = {"name": "vm-" + mode, "machine": "vm", "heap": {"budget": 204800}}
run.main(board, parts, Wdt(), None, 77, ["imu (mpu6050): not fitted"])

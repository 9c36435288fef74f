"""Twins with their world, driven through real mpremote (fixtures from tests/twin)."""

import subprocess
import time

import pytest

from pocket_agent.boards import catalog
from pocket_agent.tools.twin import launcher

from ..twin.conftest import MPREMOTE, mpremote, start_twin, state_dir  # noqa: F401


@pytest.fixture(scope="module", params=["pico2w", "esp32s3-devkitc"])
def board_twin(request, tmp_path_factory):
    """One twin per board for a module's tests (they leave it as they found it)."""
    twin = launcher.start(request.param, state_dir=tmp_path_factory.mktemp("state"))
    twin.board = catalog.load(request.param)
    yield twin
    twin.stop()


def run(twin, code, timeout=30):
    return mpremote(twin.port, "exec", code, timeout=timeout)


class Running:
    """MicroPython code running on the board while the test acts on the world."""

    def __init__(self, twin, code):
        self.proc = subprocess.Popen([MPREMOTE, "connect", twin.port, "exec", code],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines = []

    def wait_for(self, marker, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline().decode().strip()
            if not line and self.proc.poll() is not None:
                break
            self.lines.append(line)
            if line == marker:
                return
        raise AssertionError(f"no {marker!r} from the board: {self.lines} {self.proc.stderr.read()!r}")

    def finish(self, timeout=20):
        out, err = self.proc.communicate(timeout=timeout)
        assert self.proc.returncode == 0, (out, err)
        return out.decode().replace("\r\n", "\n")


def bus(twin, kind):
    for spec in twin.board.raw["buses"].values():
        if spec["type"] == "i2c" and kind == "i2c":
            return spec
        if spec["type"] == "i2s" and spec["mode"] == kind:
            return spec
    raise KeyError(kind)


def part(twin, name):
    return next(p for p in twin.board.raw["parts"] if p["name"] == name)


def i2c_setup(twin):
    spec = bus(twin, "i2c")
    return f"import machine\ni2c = machine.I2C({spec['id']}, scl=machine.Pin({spec['scl']}), sda=machine.Pin({spec['sda']}))\n"


def i2s_tx_code(spec):
    """MicroPython that opens the amp bus of `spec` for non-blocking writes of 16 kHz mono
    (`amp_on()`), and `writes(amp, buf, n)`: n writes, each waited for, returning the heap
    they allocated with gc off. Shared by the I2S tests and bench/hil.py --i2s-alloc."""
    return f"""import gc, time
from machine import I2S, Pin
done = [0]
def taken(a):
    done[0] += 1
def amp_on():
    amp = I2S({spec['id']}, sck=Pin({spec['sck']}), ws=Pin({spec['ws']}), sd=Pin({spec['sd']}), mode=I2S.TX,
              bits=16, format=I2S.MONO, rate=16000, ibuf=5120)
    amp.irq(taken)
    return amp
def writes(amp, buf, n):
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(n):
        want = done[0] + 1
        amp.write(buf)
        t0 = time.ticks_ms()
        while done[0] < want and time.ticks_diff(time.ticks_ms(), t0) < 2000:
            time.sleep_ms(1)
    used = gc.mem_alloc() - before
    gc.enable()
    return used
"""

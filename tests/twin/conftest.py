"""Fixtures for driving twins the way tools do: through their pty, with timeouts."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from pocket_agent.tools.twin import launcher

MPREMOTE = str(Path(sys.executable).parent / "mpremote")


class Port:
    """A serial connection with expect(): every read has a deadline."""

    def __init__(self, path):
        self.serial = serial.Serial(path, timeout=0)
        self.seen = b""

    def send(self, data):
        self.serial.write(data)

    def expect(self, pattern, timeout=5.0):
        """Read until `pattern` appears; return everything up to and including it."""
        deadline = time.monotonic() + timeout
        buf = self.seen
        while pattern not in buf:
            if time.monotonic() > deadline:
                self.seen = buf
                raise AssertionError(f"timed out waiting for {pattern!r}; got {buf[-400:]!r}")
            chunk = self.serial.read(4096)
            if chunk:
                buf += chunk
            else:
                time.sleep(0.002)
        end = buf.index(pattern) + len(pattern)
        self.seen = buf[end:]
        return buf[:end]

    def quiet(self, duration=0.3):
        """Everything that arrives within `duration` (to show that nothing does)."""
        end = time.monotonic() + duration
        buf = self.seen
        while time.monotonic() < end:
            buf += self.serial.read(4096)
            time.sleep(0.01)
        self.seen = b""
        return buf

    def close(self):
        self.serial.close()


def mpremote(port, *args, timeout=20, check=True):
    """Run the real mpremote CLI against a port; a hung board fails the test, not the run."""
    proc = subprocess.run([MPREMOTE, "connect", port, *args], capture_output=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"mpremote {args} failed ({proc.returncode}): {proc.stdout!r} {proc.stderr!r}")
    return proc.stdout.decode().replace("\r\n", "\n")


@pytest.fixture
def state_dir(tmp_path):
    return tmp_path / "state"


@pytest.fixture
def start_twin(state_dir):
    started = []

    def start(board="pico2w", **kw):
        kw.setdefault("state_dir", state_dir)
        twin = launcher.start(board, **kw)
        started.append(twin)
        return twin

    yield start
    for twin in started:
        twin.stop()
        # pytest shows this only for a failed test: what the twin said (resets, VM crashes).
        print(f"--- twin {twin.name}:\n{twin.messages()}")


@pytest.fixture(params=["pico2w", "esp32s3-devkitc"])
def twin(request, start_twin):
    """A fresh twin of each reference board."""
    return start_twin(request.param)


@pytest.fixture
def port(twin):
    p = Port(twin.port)
    yield p
    p.close()


def friendly_prompt(port):
    """Bring a freshly opened port to a known state: the friendly prompt."""
    port.send(b"\x02")
    port.expect(b">>> ")
    port.quiet(0.05)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True

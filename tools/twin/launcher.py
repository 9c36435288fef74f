"""Start and stop twins from Python (tests, the HIL bench, the demo).

    with start("pico2w", state_dir=tmp) as twin:
        subprocess.run(["mpremote", "connect", twin.port, "exec", "print(1)"], timeout=10)

Each twin runs as its own `pocket sim` process, as a user would run it, so a
hung VM or supervisor never hangs the caller: every wait has a timeout.
"""

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time

from pocket_agent.errors import PocketError

from . import control


class RunningTwin:
    def __init__(self, proc, info, state_dir):
        self.proc = proc
        self.info = info
        self.state_dir = state_dir
        self.name = info["name"]
        self.link = info["link"]

    @property
    def port(self):
        """The stable link to the twin's current pty (follows resets)."""
        return self.link

    def control(self, cmd, timeout=10.0, **args):
        return control.call(self.name, cmd, state_dir=self.state_dir, timeout=timeout, **args)

    def messages(self):
        """What the supervisor has said on stderr so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def status(self):
        return self.control("status")

    @property
    def world(self):
        """World control: buttons, environment, motion, audio, display (see world/client.py)."""
        from .world.client import WorldControl

        return WorldControl(self.control)

    def wait_port(self, timeout=5.0, boots=0):
        """Wait until the board runs with its port present, and has booted
        more than `boots` times (to wait out a reset that is still to come)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.status()
            if st["port"] and os.path.exists(self.link) and st["vm_state"] == "running" and st["boots"] > boots:
                return st
            time.sleep(0.01)
        raise PocketError(f"twin {self.name!r} did not come back within {timeout:g} s")

    def stop(self, timeout=5.0):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start(board, *, name=None, state_dir=None, wipe=False, timeout=10.0, extra_args=()):
    """Start a twin and return once its port exists. Raises PocketError on failure."""
    args = [sys.executable, "-m", "pocket_agent.cli", "sim", "--board", board, "--json"]
    if name:
        args += ["--name", name]
    if state_dir:
        args += ["--state-dir", str(state_dir)]
    if wipe:
        args.append("--wipe")
    args += list(extra_args)
    log = tempfile.TemporaryFile()  # the supervisor's messages; a pipe nobody reads could fill
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log)
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, left))
        if not ready:
            proc.kill()
            proc.wait()
            raise PocketError(f"twin of {board} did not start within {timeout:g} s")
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            proc.wait()
            log.seek(0)
            err = log.read().decode(errors="replace").strip()
            raise PocketError(f"twin of {board} failed to start: {err or 'exit code %s' % proc.returncode}")
        line += chunk
    info = json.loads(line.decode())
    twin = RunningTwin(proc, info, state_dir)
    twin.log = log
    return twin

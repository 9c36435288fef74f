"""The app's main loop (app.run.main) in the real VM over pipes, with a host
Endpoint in pytest: a fault in the app is logged over the link and shown, and
the app restarts with the session still up; the watchdog is fed only while
every task runs."""

import os
import select
import subprocess
import time

from pocket_agent.firmware import link, linkio
from tests import mpy

VM_PATH = os.pathsep.join(str(p) for p in (mpy.FIRMWARE, mpy.ROOT / "tests" / "firmware", ".frozen"))


class PipeBoard:
    def __init__(self, mode, feeds):
        env = dict(os.environ, MICROPYPATH=VM_PATH)
        self.proc = subprocess.Popen(
            [mpy.micropython_exe(), "-X", "heapsize=200K", str(mpy.ROOT / "tests" / "firmware" / "vm_main.py"),
             mode, str(feeds)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.ep = linkio.Endpoint(self._write, link.ROLE_HOST, 5, "test", "t", slots=8)
        self.got = []
        self.t0 = time.monotonic()
        self.ups = 0

    def _write(self, buf, n):
        self.proc.stdin.write(bytes(buf[:n]))
        self.proc.stdin.flush()

    def run(self, seconds, until=None):
        end = time.monotonic() + seconds
        fd = self.proc.stdout.fileno()
        while time.monotonic() < end:
            if select.select([fd], [], [], 0.01)[0]:
                data = os.read(fd, 65536)
                if not data:
                    raise AssertionError("the VM exited: " + self.proc.stderr.read().decode())
                self.ep.feed(data)
            while ev := self.ep.poll(int((time.monotonic() - self.t0) * 1000)):
                if ev == linkio.LINK_UP:
                    self.ups += 1
                elif ev > 0 and ev != link.AUDIO_CHUNK:
                    d = self.ep.dec
                    self.got.append((ev, link.unpack(ev, d.body, link.HEADER, link.HEADER + d.length)))
            if until and until():
                return True
        return False

    def named(self, name):
        t = link.type_of(name)
        return [v for e, v in self.got if e == t]

    def close(self):
        self.proc.kill()
        self.proc.wait()


def test_a_fault_is_logged_shown_and_the_app_restarts(tmp_path):
    b = PipeBoard("crash", tmp_path / "feeds")
    try:
        assert b.run(5, lambda: b.ep.up)
        assert b.run(6, lambda: any("injected fault" in t for _l, t in b.named("log")))
        crash = [t for lvl, t in b.named("log") if "injected fault" in t][0]
        assert crash.startswith("app crashed, restarting: Traceback")
        assert [lvl for lvl, t in b.named("log") if "injected fault" in t] == [3]
        assert any("part failed: imu" in t for _l, t in b.named("log"))  # faults at boot are told too
        b.ep.send(link.type_of("info_get"), (), int((time.monotonic() - b.t0) * 1000))
        assert b.run(5, lambda: b.named("info")), "the restarted app does not answer"
        assert b.named("info")[0][1] == "vm-crash"
        assert b.ups == 1  # the session survived the restart
        assert b.proc.poll() is None
    finally:
        b.close()


def _feeds(path):
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def test_the_watchdog_is_fed_only_while_every_task_runs(tmp_path):
    healthy = PipeBoard("crash", tmp_path / "ok")
    stalled = PipeBoard("stall", tmp_path / "stall")
    try:
        healthy.run(7)
        stalled.run(7)
        ok = _feeds(tmp_path / "ok")
        st = _feeds(tmp_path / "stall")
        # fed every 500 ms throughout, the injected fault and restart included
        assert len(ok) >= 10 and max(b - a for a, b in zip(ok, ok[1:])) < 2000
        # with the audio task hung, feeding stops once its last sign of life is 4 s old
        assert st and st[-1] - st[0] < 4500 and len(st) <= 9
    finally:
        healthy.close()
        stalled.close()

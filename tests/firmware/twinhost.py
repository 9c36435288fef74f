"""The host's side of app tests on twins: start a twin, deploy firmware/ to
it with `pocket deploy`'s library, and talk to the running app over the
twin's USB port with the link's own Endpoint (as the bridge does)."""

import os
import time

import serial

from pocket_agent.firmware import link, linkio
from pocket_agent.tools import deploy
from pocket_agent.tools.twin import launcher


class BoardHost:
    """A link Endpoint on a twin's pty; every wait has a deadline."""

    def __init__(self, port):
        self.ser = serial.Serial(port, timeout=0)
        self.t0 = time.monotonic()
        self.ep = linkio.Endpoint(self._write, link.ROLE_HOST, int(time.time()) & 0xFFFF, "tests",
                                  "pocket tests", slots=16, slot_payload=link.MAX_PAYLOAD)
        self.got = []  # (ms, type, values); audio chunks as (ms, type, samples)
        self.links_up = 0
        self.pcm = bytearray()  # the board's mic audio, decoded

    def _write(self, buf, n):
        self.ser.write(bytes(buf[:n]))

    def now(self):
        return int((time.monotonic() - self.t0) * 1000)

    def step(self):
        if not self.ser.is_open:
            return False
        data = self.ser.read(65536)
        if data:
            self.ep.feed(data)
        now = self.now()
        while ev := self.ep.poll(now):
            if ev == linkio.LINK_UP:
                self.links_up += 1
            if ev == link.AUDIO_CHUNK:
                self.got.append((now, ev, link.u16(self.ep.dec.body, link.AUDIO_SAMPLES)))
                self._decode()
            elif ev > 0:
                d = self.ep.dec
                try:
                    values = link.unpack(ev, d.body, link.HEADER, link.HEADER + d.length)
                except ValueError:
                    continue
                self.got.append((now, ev, values))
        return bool(data)

    def _decode(self):
        """Decode an audio chunk from the board into self.pcm (as the bridge does)."""
        from pocket_agent.firmware import adpcm
        b = self.ep.dec.body
        n = link.u16(b, link.AUDIO_SAMPLES)
        state = adpcm.new_state(link.i16(b, link.AUDIO_PREDICTED), b[link.AUDIO_STEP_INDEX])
        out = bytearray(2 * n)
        adpcm.decode(state, b, link.AUDIO_DATA, out, n)
        self.pcm += out

    def run_until(self, cond, timeout=10.0, what="the condition"):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self.step():
                time.sleep(0.002)
            if cond():
                return
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; got {self.summary()}")

    def wait(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if not self.step():
                time.sleep(0.002)

    def send(self, name, *values):
        assert self.ep.send(link.type_of(name), values, self.now()), f"outbox full sending {name}"
        self.step()

    def named(self, name):
        t = link.type_of(name)
        return [v for (_ms, e, v) in self.got if e == t]

    def request(self, name, *values, reply, timeout=5.0):
        seq = self.ep.tx_rseq
        self.send(name, *values)
        t = link.type_of(reply)
        found = []

        def answered():
            found[:] = [v for (_ms, e, v) in self.got if e in (t, link.ERROR) and v[0] == seq]
            return bool(found)

        self.run_until(answered, timeout, f"{reply} to {name}")
        return found[0]

    def summary(self):
        names = [link.name_of(e) for (_ms, e, _v) in self.got[-12:]]
        return f"up={self.ep.up} last messages {names}"

    def close(self):
        self.ser.close()


def start_app(board, state_dir, name=None):
    """A fresh twin of `board` with the firmware deployed and running."""
    twin = launcher.start(board, name=name, state_dir=state_dir, wipe=True)
    try:
        deploy.deploy(board, twin=twin.name, state_dir=state_dir, out=lambda *a, **k: None)
    except BaseException:
        twin.stop()
        raise
    return twin


def frame_of(png_path):
    """A display snapshot PNG as rows of 0/1."""
    from PIL import Image
    im = Image.open(png_path).convert("L")
    w, h = im.size
    px = im.load()
    return [[1 if px[x, y] > 127 else 0 for x in range(w)] for y in range(h)]


def same_file(a, b):
    return os.path.getsize(a) == os.path.getsize(b) and open(a, "rb").read() == open(b, "rb").read()

"""Link benchmark: prints figures, asserts nothing.

    .venv/bin/python bench/link.py            # codec, ADPCM, simulated 115200-baud link
    .venv/bin/python bench/link.py --twin     # also round trips over the twin and 8 twins at once

Sections:
  1. ADPCM and the frame codec inside the MicroPython VM (unix port), with the
     estimated ESP32-S3 figure (unix figure / ESP32_FACTOR, see below);
  2. the host's decoder in CPython;
  3. stuffing overhead on real ADPCM speech (espeak-ng), with and without the XOR;
  4. audio through a simulated 115200-baud link, board (VM) to host and host to
     board, as a multiple of real time (target >= 1.3x);
  5. control round trip p50/p95 to a board app in the VM over pipes;
  6. (--twin) round trips over a virtual board and the bridge with 8 twins.
"""

import argparse
import asyncio
import json
import resource
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pocket_agent.firmware import adpcm, link, linkio  # noqa: E402
from tests import mpy  # noqa: E402

BAUD_BYTES = 115200 // 10  # 8N1: ten bits a byte
AUDIO_BYTES = 8000  # 16 kHz, 4 bits a sample
# How much slower an ESP32-S3 at 240 MHz runs viper code than this machine:
# published loop benchmarks put it at roughly 90-140x (the figure bench/wakeword.py
# uses too). The slow end is used, so the budgets printed here are conservative.
# Replace it with a figure from hardware when a board is at hand.
ESP32_FACTOR = 140

VM_CODEC = """
import time, array, gc, link, linkio, adpcm
def bench():
    n = 16000
    pcm = array.array("h", range(n))
    for i in range(n):
        pcm[i] = (i * 37 + (i >> 3) * 911) % 20000 - 10000
    out = bytearray(n // 2)
    back = array.array("h", bytes(2 * n))
    st = adpcm.new_state()
    enc_us = dec_us = 1 << 30
    for _ in range(5):  # best of five runs of 10 s of audio: the machine is shared
        t = time.ticks_us()
        for _ in range(10):
            adpcm.encode(st, pcm, out, 0, n)
        enc_us = min(enc_us, time.ticks_diff(time.ticks_us(), t))
        t = time.ticks_us()
        for _ in range(10):
            adpcm.decode(st, out, 0, back, n)
        dec_us = min(dec_us, time.ticks_diff(time.ticks_us(), t))
    n *= 10
    sink = bytearray(2200)
    total = [0]
    def write(buf, k):
        total[0] += k
    ep = linkio.Endpoint(write, link.ROLE_BOARD, 1, "b", "f")
    ep.up = True
    ep.enc.body[link.AUDIO_DATA:link.AUDIO_DATA + 512] = out[:512]
    frames = 2000
    t = time.ticks_us()
    for i in range(frames):
        ep.send_audio(1, i, 0, 0, 1024, 512)
    seal_us = time.ticks_diff(time.ticks_us(), t)
    # decode: a stream of audio frames through the board's endpoint
    m = ep.enc.seal(link.AUDIO_CHUNK, 0, 0, 520)
    one = bytes(ep.enc.out[:m])
    stream = one * 50
    rx = linkio.Endpoint(write, link.ROLE_BOARD, 2, "b", "f")
    rx.up = True
    got = 0
    t = time.ticks_us()
    for r in range(frames // 50):
        rx.feed(stream)
        while True:
            ev = rx.poll(0)
            if not ev:
                break
            got += 1
            rx.last_rx = 0
    open_us = time.ticks_diff(time.ticks_us(), t)
    # control messages: pack + seal, and unpack, of a display_text
    T = link.type_of("display_text")
    enc = link.Encoder()
    t = time.ticks_us()
    for i in range(2000):
        k = link.pack(enc.body, link.HEADER, T, (0, 0, "Timer set for 10 minutes"))
        enc.seal(T, 1, i, k)
    ctl_us = time.ticks_diff(time.ticks_us(), t)
    t = time.ticks_us()
    for i in range(2000):
        link.unpack(T, enc.body, link.HEADER, link.HEADER + k)
    unpack_us = time.ticks_diff(time.ticks_us(), t)
    print(enc_us, dec_us, n, seal_us, frames, open_us, got, ctl_us, unpack_us, m)
bench()
"""


def section_vm():
    out = mpy.run(VM_CODEC, heap="200K").split()
    enc_us, dec_us, n, seal_us, frames, open_us, got, ctl_us, unpack_us, wire = map(int, out)
    print("== 1. MicroPython VM (unix port); ESP32-S3 estimate = unix / %d" % ESP32_FACTOR)
    for what, us in (("ADPCM encode", enc_us), ("ADPCM decode", dec_us)):
        rate = n / (us / 1e6)
        est = rate / ESP32_FACTOR
        print(f"  {what}: {rate / 1e6:.2f} M samples/s on unix; ~{est / 1e3:.0f} k samples/s on ESP32-S3 "
              f"= {100 * 16000 / est:.1f} % of one core for 16 kHz")
    for what, us, count in (("audio frame build (seal + stuff, 520 B payload)", seal_us, frames),
                            ("audio frame read (unstuff + CRC + session)", open_us, got),
                            ("control frame build (pack + seal, display_text)", ctl_us, 2000),
                            ("control payload unpack (display_text)", unpack_us, 2000)):
        rate = count / (us / 1e6)
        print(f"  {what}: {rate:,.0f} frames/s on unix; ~{rate / ESP32_FACTOR:,.0f}/s on ESP32-S3")
    per_s = AUDIO_BYTES / 512
    print(f"  audio needs {per_s:.1f} frames/s each way; one audio frame is {wire} bytes on the wire")


VM_STDIO = """
import time, link, linkio
def main():
    ep = linkio.Endpoint(None, link.ROLE_BOARD, 1, "b", "f")
    io = linkio.Stdio(ep, whole_frames=%s)
    ep.up = True
    n = 0
    t = 0
    while not io.closed:
        ev = io.pump(0)
        if ev == link.AUDIO_CHUNK:
            if n == 0:
                t = time.ticks_us()
                b0 = io.rx_bytes
            n += 1
            ep.last_rx = 0
    us = time.ticks_diff(time.ticks_us(), t)
    print(n, io.rx_bytes - b0, us)
main()
"""


def section_stdio():
    ep = linkio.Endpoint(None, link.ROLE_HOST, 2)
    frames = []
    ep.write = lambda b, n: frames.append(bytes(b[:n]))
    ep.up = True
    for i in range(400):
        ep.enc.body[link.AUDIO_DATA:link.AUDIO_DATA + 512] = bytes(range(256)) * 2
        ep.send_audio(1, i, 0, 0, 1024, 512)
    data = b"".join(frames)
    for whole, how in ((True, "poll, then the rest of the frame at once"), (False, "poll before every byte")):
        with tempfile.TemporaryFile() as f:
            f.write(data)
            f.seek(0)
            out = subprocess.run([mpy.micropython_exe(), "-X", "heapsize=200K", "-c", VM_STDIO % whole], stdin=f,
                                 capture_output=True, env=dict(os.environ, MICROPYPATH=str(mpy.FIRMWARE)),
                                 timeout=300).stdout.split()
        n, nbytes, us = map(int, out)
        rate = nbytes / (us / 1e6)
        print(f"  board stdin reader ({how}): {rate / 1e3:,.0f} KB/s on unix; ~{rate / ESP32_FACTOR / 1e3:.0f} KB/s "
              f"on ESP32-S3 = {100 * BAUD_BYTES / (rate / ESP32_FACTOR):.0f} % of one core at a full 115200-baud link")


def section_host():
    ep = linkio.Endpoint(lambda b, n: None, link.ROLE_HOST, 1)
    ep.up = True
    enc = link.Encoder()
    enc.body[link.AUDIO_DATA:link.AUDIO_DATA + 512] = bytes(range(256)) * 2
    m = enc.seal(link.AUDIO_CHUNK, 0, 0, 520)
    stream = bytes(enc.out[:m]) * 200
    t = time.perf_counter()
    got = 0
    for _ in range(5):
        ep.feed(stream)
        while ep.poll(0):
            got += 1
            ep.last_rx = 0
    dt = time.perf_counter() - t
    rate = 5 * len(stream) / dt
    print("== 2. Host (CPython) reader, audio frames")
    print(f"  {got / dt:,.0f} frames/s, {rate / 1e3:,.0f} KB/s = {rate / BAUD_BYTES:.1f} boards at 115200 baud per core")


def speech_adpcm():
    if not shutil.which("espeak-ng"):
        return None
    import audioop  # noqa: deprecated, but the plainest resampler at hand
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        text = ("Hello, this is the pocket agent. What is the weather like today? Set a timer for ten "
                "minutes, and remind me to call my mother at five o'clock.")
        subprocess.run(["espeak-ng", "-w", str(wav), text], check=True, capture_output=True)
        with wave.open(str(wav)) as w:
            raw, rate = w.readframes(w.getnframes()), w.getframerate()
    raw, _ = audioop.ratecv(raw, 2, 1, rate, 16000, None)
    import array
    pcm = array.array("h", raw)
    out = bytearray((len(pcm) + 1) // 2)
    adpcm.encode(adpcm.new_state(), pcm, out, 0, len(pcm))
    return bytes(out)


def section_overhead():
    print("== 3. Stuffing overhead on ADPCM speech (espeak-ng, 16 kHz)")
    data = speech_adpcm()
    if data is None:
        print("  espeak-ng is not installed: skipped")
        return None
    escaped = {1, 2, 3, 4, 5, 0x0D, 0x10}
    plain = sum(b in escaped for b in data) / len(data)
    masked = sum((b ^ 0xF0) in escaped for b in data) / len(data)
    enc = link.Encoder()
    wire = 0
    chunks = 0
    for i in range(0, len(data) - 511, 512):
        enc.body[link.AUDIO_DATA:link.AUDIO_DATA + 512] = data[i:i + 512]
        wire += enc.seal(link.AUDIO_CHUNK, 0, chunks, 520)
        chunks += 1
    per_audio_s = wire / (chunks * 512 / AUDIO_BYTES)
    print(f"  escaped bytes without the XOR: {100 * plain:.2f} %; with XOR 0xF0: {100 * masked:.2f} %")
    print(f"  {len(data) / AUDIO_BYTES:.1f} s of speech: {per_audio_s:.0f} wire bytes per audio second "
          f"(ADPCM alone {AUDIO_BYTES}); 115200 baud carries {BAUD_BYTES / per_audio_s:.2f}x real time")
    return data


class VMBoardPipe:
    """tests/link/board_app.py in the VM; the host end throttled to a baud rate."""

    def __init__(self, name="bench", rate=BAUD_BYTES):
        env = dict(os.environ, MICROPYPATH=str(mpy.FIRMWARE))
        self.proc = subprocess.Popen([mpy.micropython_exe(), "-X", "heapsize=200K",
                                      str(ROOT / "tests" / "link" / "board_app.py"), name],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.rate = rate
        self.ep = linkio.Endpoint(self._write, link.ROLE_HOST, 9, "bench", "b", slots=32)
        self.inbox = bytearray()
        self.outbox = bytearray()
        self.t0 = time.monotonic()
        self.credit_in = self.credit_out = 0.0
        self.last = time.monotonic()
        self.events = []

    def _write(self, buf, n):
        self.outbox += buf[:n]

    def now(self):
        return int((time.monotonic() - self.t0) * 1000)

    def step(self, timeout=0.002):
        fd = self.proc.stdout.fileno()
        r, w, _ = select.select([fd], [self.proc.stdin.fileno()] if self.outbox else [], [], timeout)
        t = time.monotonic()
        dt, self.last = t - self.last, t
        if self.rate:
            self.credit_in = min(self.credit_in + dt * self.rate, 256)
            self.credit_out = min(self.credit_out + dt * self.rate, 256)
        if r and len(self.inbox) < 4096:
            self.inbox += os.read(fd, 4096)
        n = int(self.credit_in) if self.rate else len(self.inbox)
        if n and self.inbox:
            n = min(n, len(self.inbox))
            self.ep.feed(bytes(self.inbox[:n]))
            del self.inbox[:n]
            self.credit_in -= n
        while ev := self.ep.poll(self.now()):
            v = None
            if ev > 0 and ev != link.AUDIO_CHUNK:
                v = link.unpack(ev, self.ep.dec.body, link.HEADER, link.HEADER + self.ep.dec.length)
            self.events.append((time.monotonic(), ev, v))
        if w and self.outbox:
            n = min(len(self.outbox), int(self.credit_out)) if self.rate else len(self.outbox)
            if n:
                k = os.write(self.proc.stdin.fileno(), bytes(self.outbox[:n]))
                del self.outbox[:k]
                self.credit_out -= k

    def until(self, cond, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.step()
            if cond():
                return True
        return False

    def close(self):
        self.proc.kill()
        self.proc.wait()


def section_audio_link(speech):
    print("== 4. Audio through a simulated 115200-baud link (8N1, %d B/s each way)" % BAUD_BYTES)
    b = VMBoardPipe()
    try:
        if not b.until(lambda: b.ep.up, 10):
            print("  no session with the VM board")
            return
        chunks = 320  # 20.5 s of audio
        b.ep.send(link.type_of("display_text"), (0, 0, "stream %d 0" % chunks))
        b.until(lambda: any(ev == link.AUDIO_CHUNK for _, ev, _ in b.events), 10)
        t0 = next(t for t, ev, _ in b.events if ev == link.AUDIO_CHUNK)
        b.until(lambda: any(ev == link.AUDIO_END for _, ev, _ in b.events), 120)
        t1 = max(t for t, ev, _ in b.events if ev == link.AUDIO_CHUNK)
        got = sum(ev == link.AUDIO_CHUNK for _, ev, _ in b.events)
        audio_s = (got - 1) * 1024 / 16000
        print(f"  board -> host: {got} chunks, {audio_s:.1f} s of audio in {t1 - t0:.1f} s = "
              f"{audio_s / (t1 - t0):.2f}x real time (lost {b.ep.lost_chunks}, bad frames {b.ep.dec.bad_frames()})")
        # host -> board: the host streams speech (or the tone) as fast as the link takes it
        data = speech if speech else bytes(range(256)) * 200
        state = adpcm.new_state()
        sent = 0
        t0 = time.monotonic()
        n_chunks = min(320, len(data) // 512)
        while sent < n_chunks:
            if len(b.outbox) < 1024:
                b.ep.enc.body[link.AUDIO_DATA:link.AUDIO_DATA + 512] = data[sent * 512:(sent + 1) * 512]
                b.ep.send_audio(5, sent, state[0], state[1], 1024, 512)
                sent += 1
            b.step(0)
        b.until(lambda: not b.outbox, 60)
        t1 = time.monotonic()
        b.events.clear()
        b.ep.send(link.type_of("display_text"), (0, 0, "report"))
        b.until(lambda: any(ev == link.type_of("log") for _, ev, _ in b.events), 10)
        report = next(v[1] for _, ev, v in b.events if ev == link.type_of("log"))
        audio_s = n_chunks * 1024 / 16000
        print(f"  host -> board: {n_chunks} chunks, {audio_s:.1f} s of audio in {t1 - t0:.1f} s = "
              f"{audio_s / (t1 - t0):.2f}x real time; board says: {report}")
    finally:
        b.close()


def section_round_trip():
    print("== 5. Control round trip to the VM board app over pipes (no baud limit)")
    b = VMBoardPipe(rate=0)
    try:
        b.until(lambda: b.ep.up, 10)
        rtts = []
        info = link.type_of("sensor_value")
        for i in range(200):
            b.events.clear()
            t = time.monotonic()
            b.ep.send(link.type_of("sensor_read"), (0,))
            if b.until(lambda: any(ev == info for _, ev, _ in b.events), 5):
                rtts.append(1000 * (time.monotonic() - t))
        q = statistics.quantiles(rtts, n=20)
        print(f"  sensor_read -> sensor_value: p50 {statistics.median(rtts):.2f} ms, p95 {q[18]:.2f} ms "
              f"({len(rtts)} requests)")
    finally:
        b.close()


def _pcts(xs):
    q = statistics.quantiles(xs, n=20)
    return f"p50 {statistics.median(xs):.1f} ms, p95 {q[18]:.1f} ms"


async def _until(cond, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        await asyncio.sleep(0.02)
    return False


async def _round_trips(session, n):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await session.request("sensor_read", (0,))
        out.append(1000 * (time.perf_counter() - t))
    return out


async def section_twin():
    from pocket_agent.host.bridge import bridge as bridge_mod
    from pocket_agent.host.bridge import settings as settings_mod
    from tests.bridge import twins

    tmp = Path(tempfile.mkdtemp(prefix="bench-link-"))
    print("== 6. Over virtual boards (twin: MicroPython VM behind a pty and the fault relay), through the bridge")
    t = time.monotonic()
    first = twins.start(tmp, "tw0")
    image = tmp / "flash.bin"
    image.write_bytes(twins.flash_image(first).read_bytes())
    print(f"  deploying board_app with mpremote and resetting: {time.monotonic() - t:.1f} s")
    started = [first]
    try:
        def settings(ports):
            return settings_mod.load(None, env={"XDG_CONFIG_HOME": str(tmp / "none")}, ports=ports, scan=False,
                                     state_db=tmp / "state.sqlite", log_dir=tmp / "logs",
                                     control_socket=tmp / "bridge.sock")

        br = bridge_mod.Bridge(settings([first.port]))
        await br.start()
        s = next(iter(br.sessions.values()))
        if not await _until(lambda: s.online, 30):
            print("  the twin's app did not come online:", s.status())
            return
        rt = await _round_trips(s, 300)
        print(f"  control round trip (sensor_read -> sensor_value), 1 twin: {_pcts(rt)}")
        first.control("faults", to_board={"baud": 115200}, to_host={"baud": 115200})
        rt = await _round_trips(s, 100)
        print(f"  the same with the relay at 115200 baud: {_pcts(rt)}")
        with br.subscribe() as q:
            t0, b0 = time.monotonic(), s.transport.rx_bytes  # from the request: a conservative figure
            s.send("display_text", 0, 0, "stream 200 0")
            while (ev := await asyncio.wait_for(q.get(), 60))["kind"] != "audio":
                pass
            t1, b1 = time.monotonic(), s.transport.rx_bytes
        audio = ev["data"]
        secs = audio["seconds"]
        print(f"  board -> host audio at 115200 baud: {secs:.1f} s in {t1 - t0:.1f} s = {secs / (t1 - t0):.2f}x "
              f"real time, {audio['lost_chunks']} chunks lost (wire {(b1 - b0) / (t1 - t0):.0f} B/s)")
        pcm = (bytes(range(0, 256, 2)) * 2) * 1600  # 12.8 s
        t0 = time.monotonic()
        chunks = await s.play(pcm)
        with br.subscribe() as q:
            s.send("display_text", 0, 0, "report")
            while (ev := await asyncio.wait_for(q.get(), 60))["kind"] != "log":
                pass
        t1 = time.monotonic()
        print(f"  host -> board audio at 115200 baud: {chunks} chunks, {len(pcm) / 32000:.1f} s in {t1 - t0:.1f} s = "
              f"{len(pcm) / 32000 / (t1 - t0):.2f}x real time; board says: {ev['data']['text']}")
        first.control("faults", clear=True)
        await br.stop()

        for i in range(1, 8):
            started.append(twins.start(tmp, f"tw{i}", image=image))
        br = bridge_mod.Bridge(settings([tw.port for tw in started]))
        await br.start()
        sessions = list(br.sessions.values())
        ok = await _until(lambda: all(x.online for x in sessions), 30)
        print(f"  8 twins: {len(sessions)} sessions, all online: {ok}")
        c0, w0 = time.process_time(), time.monotonic()
        await asyncio.sleep(10)
        idle = 100 * (time.process_time() - c0) / (time.monotonic() - w0)
        c0, w0 = time.process_time(), time.monotonic()
        rts = await asyncio.gather(*(_round_trips(x, 100) for x in sessions))
        busy = 100 * (time.process_time() - c0) / (time.monotonic() - w0)
        allrt = [r for xs in rts for r in xs]
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  bridge with 8 twins: CPU {idle:.1f} % of one core idle (heartbeats), {busy:.1f} % while all 8 "
              f"do round trips; round trip {_pcts(allrt)} ({len(allrt)} requests); peak RSS {rss:.0f} MB")
        await br.stop()
    finally:
        for tw in started:
            tw.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--twin", action="store_true", help="also benchmark over virtual boards and the bridge")
    args = ap.parse_args(argv)
    section_vm()
    section_stdio()
    section_host()
    speech = section_overhead()
    section_audio_link(speech)
    section_round_trip()
    if args.twin:
        asyncio.run(section_twin())


if __name__ == "__main__":
    main()

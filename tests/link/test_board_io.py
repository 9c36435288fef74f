"""The board's end of the wire in the real MicroPython VM: a board app over
stdin/stdout pipes talking to a host Endpoint, and the allocation budget of
the audio path measured with gc.mem_alloc()."""

import json
import os

import pytest
import select
import subprocess
import time
from pathlib import Path

from pocket_agent.firmware import link, linkio
from tests import mpy

HERE = Path(__file__).resolve().parent


class VMBoard:
    """board_app.py in a micropython process; a host Endpoint on its pipes."""

    def __init__(self):
        env = dict(os.environ, MICROPYPATH=str(mpy.FIRMWARE))
        self.proc = subprocess.Popen(
            [mpy.micropython_exe(), "-X", "heapsize=200K", str(HERE / "board_app.py"), "vm1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.ep = linkio.Endpoint(self._write, link.ROLE_HOST, 7, "test", "t", slots=16)
        self.got = []
        self.t0 = time.monotonic()

    def _write(self, buf, n):
        self.proc.stdin.write(bytes(buf[:n]))
        self.proc.stdin.flush()

    def now(self):
        return int((time.monotonic() - self.t0) * 1000)

    def run_until(self, done, timeout=10.0):
        end = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while time.monotonic() < end:
            if select.select([fd], [], [], 0.01)[0]:
                self.ep.feed(os.read(fd, 4096))
            while ev := self.ep.poll(self.now()):
                values = None
                if ev > 0:
                    values = link.unpack(ev, self.ep.dec.body, link.HEADER, link.HEADER + self.ep.dec.length)
                self.got.append((ev, values))
            if done():
                return True
        return False

    def close(self):
        self.proc.kill()
        self.proc.wait()


def test_vm_board_answers_requests_and_streams_audio():
    b = VMBoard()
    try:
        assert b.run_until(lambda: b.ep.up)
        T = link.type_of
        assert b.ep.peer["name"] == "vm1" and b.ep.peer["role"] == link.ROLE_BOARD
        b.ep.send(T("info_get"), ())
        req = (b.ep.tx_rseq - 1) & 0xFFFF
        assert b.run_until(lambda: any(ev == T("info") for ev, _ in b.got))
        info = next(v for ev, v in b.got if ev == T("info"))
        assert info[0] == req and info[1] == "vm1" and info[4] > 0
        for i in range(20):
            while not b.ep.send(T("display_text"), (0, 0, "echo %d \u00e9" % i)):
                b.run_until(lambda: False, 0.05)  # the outbox is full: let acks come back
        assert b.run_until(lambda: sum(ev == T("log") for ev, _ in b.got) == 20)
        assert [v[1] for ev, v in b.got if ev == T("log")] == ["%d \u00e9" % i for i in range(20)]
        b.ep.send(T("display_text"), (0, 0, "stream 10 0"))
        assert b.run_until(lambda: any(ev == T("audio_end") for ev, _ in b.got))
        chunks = [v for ev, v in b.got if ev == link.AUDIO_CHUNK]
        assert [c[1] for c in chunks] == list(range(10)) and all(c[4] == 1024 for c in chunks)
        assert b.ep.lost_chunks == 0 and b.ep.stats()["bad_crc"] == 0
    finally:
        b.close()


VM_ALLOC = """
import gc, array, link, linkio, adpcm
wrote = [0]
stream = bytearray(16000)
used = [0]
def count(buf, n):
    wrote[0] += n
def grab(buf, n):
    stream[used[0]:used[0] + n] = buf[:n]
    used[0] += n
def main():
    board = linkio.Endpoint(count, link.ROLE_BOARD, 1, "b", "f")
    host = linkio.Endpoint(grab, link.ROLE_HOST, 2, "h", "h")
    board.up = host.up = True
    pcm = array.array("h", [(i * 37) % 2000 - 1000 for i in range(1024)])
    st = adpcm.new_state()
    pst = adpcm.new_state()
    out = array.array("h", bytes(2048))
    for i in range(25):  # what the host sends: audio chunks to play
        host.enc.body[link.AUDIO_DATA:link.AUDIO_DATA + 512] = bytes(range(256)) * 2
        host.send_audio(3, i, 0, 0, 1024, 512)
    host_bytes = used[0]

    def encode_chunks(k):
        for i in range(k):
            p, s = st[0], st[1]
            n = adpcm.encode(st, pcm, board.enc.body, link.AUDIO_DATA, 1024)
            board.send_audio(1, i, p, s, 1024, n)

    def decode_chunks():
        board.feed(stream, host_bytes)
        got = 0
        while True:
            ev = board.poll(0)
            if ev == 0:
                break
            if ev == link.AUDIO_CHUNK:
                b = board.dec.body
                pst[0] = link.i16(b, link.AUDIO_PREDICTED)
                pst[1] = b[link.AUDIO_STEP_INDEX]
                adpcm.decode(pst, b, link.AUDIO_DATA, out, link.u16(b, link.AUDIO_SAMPLES))
                got += 1
        return got

    encode_chunks(2)
    decode_chunks()
    board.rx_stream = -1
    gc.collect()
    a0 = gc.mem_alloc()
    encode_chunks(50)
    a1 = gc.mem_alloc()
    got = decode_chunks()
    a2 = gc.mem_alloc()
    # five seconds of an idle session: heartbeats out, the host's heartbeats in
    used[0] = 0
    host._send_heartbeat(0)
    beat = bytes(stream[:used[0]])
    t = 0
    gc.collect()
    a3 = gc.mem_alloc()
    while t < 5000:
        if t % 1000 == 0:
            board.feed(beat)
        board.poll(t)
        t += 10
    a4 = gc.mem_alloc()
    print(a1 - a0, a2 - a1, got, a4 - a3, wrote[0], int(board.up))
main()
"""


def test_audio_path_does_not_allocate_in_micropython():
    enc, dec, got, idle, wrote, up = map(int, mpy.run(VM_ALLOC, heap="200K").split())
    assert got == 25 and wrote > 50 * 512 and up
    assert enc == 0, f"encoding 50 chunks allocated {enc} bytes"
    assert dec == 0, f"decoding 25 chunks allocated {dec} bytes"
    assert idle == 0, f"heartbeats for 5 s allocated {idle} bytes"


VM_STDIO_ALLOC = """
import gc, link, linkio, sys
def main():
    ep = linkio.Endpoint(None, link.ROLE_BOARD, 1, "b", "f")
    io = linkio.Stdio(ep)
    ep.up = True
    io.pump(0)  # warm up: select.poll's ipoll allocates its result tuple once
    n = ev = 0
    gc.collect()
    a0 = gc.mem_alloc()
    while not io.closed:
        ev = io.pump(0)
        if ev == link.AUDIO_CHUNK:
            n += 1
    a1 = gc.mem_alloc()
    sys.stderr.write("%d %d %d\\n" % (a1 - a0, n, io.rx_bytes))
main()
"""


def test_stdio_reads_frames_without_allocating():
    frames = []
    host = linkio.Endpoint(lambda b, n: frames.append(bytes(b[:n])), link.ROLE_HOST, 2, "h", "h")
    host.up = True
    for i in range(40):
        host.enc.body[link.AUDIO_DATA:link.AUDIO_DATA + 512] = bytes(range(256)) * 2
        host.send_audio(3, i, 0, 0, 1024, 512)
    data = b"".join(frames)
    proc = subprocess.run(
        [mpy.micropython_exe(), "-X", "heapsize=200K", "-c", VM_STDIO_ALLOC], input=data,
        capture_output=True, env=dict(os.environ, MICROPYPATH=str(mpy.FIRMWARE)), timeout=60)
    alloc, n, rx = map(int, proc.stderr.split())
    assert n >= 39 and rx == len(data)  # the first chunk may finish during warm-up
    assert alloc == 0, f"reading 40 frames from stdin allocated {alloc} bytes"


VM_STDIO_FRAMES = """
import link, linkio, sys
def main():
    ep = linkio.Endpoint(None, link.ROLE_BOARD, 1, "b", "f")
    io = linkio.Stdio(ep, whole_frames=%s)
    ep.up = True
    seen = []
    while not io.closed:
        ev = io.pump(0)
        if ev > 0:
            seen.append(link.u16(ep.dec.body, link.AUDIO_INDEX) if ev == link.AUDIO_CHUNK else -ev)
            ep.last_rx = 0
    sys.stderr.write(" ".join(str(x) for x in seen) + "\\n" + str(ep.dec.bad_frames()))
main()
"""


@pytest.mark.parametrize("whole_frames", [True, False])
def test_stdio_reads_frames_that_arrive_in_pieces_among_garbage(whole_frames):
    import random
    frames = []
    host = linkio.Endpoint(lambda b, n: frames.append(bytes(b[:n])), link.ROLE_HOST, 2, "h", "h")
    host.up = True
    for i in range(30):
        n = 40 + 17 * i
        host.enc.body[link.AUDIO_DATA:link.AUDIO_DATA + n] = bytes(range(256))[:n] if n < 256 else bytes(n)
        host.send_audio(3, i, 0, 0, 2 * n, n)
    rng = random.Random(4)
    stream = b"".join(rng.choice([b"", b">>> ", b"\x10", b"\x10\x10"]) + f for f in frames)
    proc = subprocess.Popen([mpy.micropython_exe(), "-X", "heapsize=200K", "-c", VM_STDIO_FRAMES % whole_frames],
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, MICROPYPATH=str(mpy.FIRMWARE)))
    i = 0
    while i < len(stream):  # pieces of 1..300 bytes, a little apart, as a serial port delivers them
        k = rng.randint(1, 300)
        proc.stdin.write(stream[i:i + k])
        proc.stdin.flush()
        i += k
        time.sleep(rng.choice([0, 0, 0.001, 0.005]))
    proc.stdin.close()
    out = proc.stderr.read().decode().split("\n")
    proc.wait(timeout=30)
    assert [int(x) for x in out[0].split()] == list(range(30)) and out[1] == "0"


VM_PIECES = """
import gc, link, linkio
whole = bytearray()
pieces = bytearray()
sizes = [0, 0]  # largest write, writes
def main():
    a = linkio.Endpoint(lambda b, n: whole.extend(b[:n]), link.ROLE_BOARD, 1, "b", "f")
    b = linkio.Endpoint(None, link.ROLE_BOARD, 1, "b", "f")
    b.enc.out = bytearray(2 + 2 * 256)  # as linkio.Stdio gives the board's endpoint
    def piece(buf, n):
        sizes[0] = max(sizes[0], n)
        sizes[1] += 1
    b.write = piece
    a.up = b.up = True
    for ep in (a, b):
        ep.enc.body[link.AUDIO_DATA:link.AUDIO_DATA + 1000] = bytes(range(250)) * 4
    for n in (1, 300, 1000):
        a.send_audio(1, n, 0, 0, 2 * n, n)
    gc.collect()
    a0 = gc.mem_alloc()
    for n in (1, 300, 1000):
        b.send_audio(1, n, 0, 0, 2 * n, n)
    a1 = gc.mem_alloc()
    b.write = lambda buf, n: pieces.extend(buf[:n])
    b.tx_seq = 0
    for n in (1, 300, 1000):
        b.send_audio(1, n, 0, 0, 2 * n, n)
    print(a1 - a0, int(whole == pieces), sizes[0], sizes[1], len(whole))
main()
"""


def test_frames_written_in_pieces_are_the_same_bytes_without_allocating():
    alloc, same, largest, writes, total = map(int, mpy.run(VM_PIECES, heap="200K").split())
    assert same and total > 1300
    assert largest <= 2 + 2 * 256 and writes == 1 + 2 + 4  # bodies of 18, 317 and 1017 bytes
    assert alloc == 0, f"writing frames in pieces allocated {alloc} bytes"

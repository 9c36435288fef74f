"""The world process: serves the VM's shim and the supervisor on one UNIX socket.

    python -m pocket_agent.tools.twin.world BOARD LISTEN_FD [SEED]

The supervisor binds and listens on the socket (an abstract-namespace name:
no file, no path length limit) and passes it as LISTEN_FD, so the VM can
connect before the world is up. The process exits when its stdin closes, so it
never outlives the supervisor that started it.
"""

import json
import os
import socket
import struct
import sys
import threading
import time
import traceback

from pocket_agent.boards import catalog
from pocket_agent.errors import PocketError

from . import protocol as P
from .audio import Amp, Mic
from .model import World

_HDR = struct.Struct("<BBBBH")
# Pin writes and bitstream answer: on a board the pin (or the LED) has its new state once the
# call returns, so whoever looks at the world next sees it
_NO_REPLY = {P.PIN_IRQ, P.PWM_SET, P.TIMER, P.WAKE}


def log(msg):
    print("world: " + msg, file=sys.stderr, flush=True)


def serve_bus(world, sock, session):
    # A VM names its boot (session) on each of its bus connections; what an old
    # VM leaves behind is cleared when a new one starts, and only then, so a
    # late hang-up of the old one never wipes the new one's state.
    world.begin_session(session)
    rfile = sock.makefile("rb")
    try:
        while True:
            hdr = rfile.read(6)
            if len(hdr) < 6:
                return
            op, a, b, c, n = _HDR.unpack(hdr)
            payload = rfile.read(n) if n else b""
            if len(payload) < n:
                return  # the VM dropped the connection mid-request: nothing half done
            try:
                with world.lock:
                    reply = world.request(op, a, b, c, payload)
            except Exception:  # a model bug must not take the world down
                log("request %d failed:\n%s" % (op, traceback.format_exc()))
                reply = None if op in _NO_REPLY else bytes((P.ST_BAD,))
            if reply is not None:
                sock.sendall(reply)
    except OSError:
        return


def serve_events(world, sock):
    # Until this runs the world drops events, though under load the VM's connect()
    # may have returned well before (the listen backlog completes it). So the VM waits
    # for EV_READY before it boots on; sent under the lock, it comes first.
    with world.events_lock:
        world.events = sock
        try:
            sock.sendall(bytes((P.EV_READY, 0, 0, 0)))
        except OSError:
            world.events = None
            return
    try:
        while sock.recv(64):
            pass
    except OSError:
        pass
    with world.events_lock:
        if world.events is sock:
            world.events = None


def _i2s_part(world, cfg, kind):
    for name, dev in world.parts.items():
        if dev.kind != kind or not dev.bus:
            continue
        spec = world.board.raw["buses"][dev.bus]
        if (P.pin_number(spec["sck"]), P.pin_number(spec["ws"]), P.pin_number(spec["sd"])) == \
                (cfg["sck"], cfg["ws"], cfg["sd"]):
            return dev
    return None  # nothing wired to those pins


def serve_i2s(world, sock, cfg):
    rate, bits, stereo = cfg["rate"], cfg["bits"], cfg["stereo"]
    frame = bits // 8 * (2 if stereo else 1)
    chunk = max(1, rate // 100)  # 10 ms of frames per DMA period
    if cfg["rx"]:
        mic = _i2s_part(world, cfg, Mic.kind)
        # The socket buffer stands for the port's ring buffer: what the board
        # does not read in time is lost, as on hardware.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, max(cfg["ibuf"] // 2, 2048))
        _stream_rx(world, sock, mic, rate, bits, stereo, chunk, frame)
    else:
        amp = _i2s_part(world, cfg, Amp.kind)
        _stream_tx(world, sock, amp, rate, bits, stereo, chunk, frame)


def _pace(world, start, k, period):
    speed = world.audio_speed
    if not speed:
        return start, k
    due = start + k * period / speed
    now = time.monotonic()
    if due - now > 0:
        time.sleep(due - now)
    elif now - due > 0.2:  # the world was stalled: start over instead of bursting
        return now, 0
    return start, k


def _stream_rx(world, sock, mic, rate, bits, stereo, chunk, frame):
    import numpy as np

    silence = np.zeros(chunk, np.int16)
    pending = b""
    start, k = time.monotonic(), 0
    while True:
        start, k = _pace(world, start, k, chunk / rate)
        k += 1
        samples = mic.take(chunk, rate) if mic else silence
        data = (mic or Mic("none")).encode(samples, bits, stereo)
        try:
            if not world.audio_speed:
                sock.setblocking(True)
                sock.sendall(pending + data)
                pending = b""
                continue
            sock.setblocking(False)
            if pending:
                n = _send(sock, pending)
                pending = pending[n:]
            if pending:
                if mic:
                    mic.lost += chunk  # the ring buffer is full: this period's samples are lost
                continue
            n = _send(sock, data)
            pending = data[n:]
        except OSError:
            return


def _send(sock, data):
    try:
        return sock.send(data)
    except BlockingIOError:
        return 0


def _stream_tx(world, sock, amp, rate, bits, stereo, chunk, frame):
    need = chunk * frame
    start, k = time.monotonic(), 0
    buf = bytearray()
    taken = told = 0  # bytes of the board's audio played so far; the last total sent
    while True:
        start, k = _pace(world, start, k, chunk / rate)
        k += 1
        try:
            # Unpaced, wait only while not one frame is here: the board keeps no more
            # than its DMA's worth in flight, which may be less than two periods.
            sock.setblocking(not world.audio_speed and len(buf) < frame)
            while len(buf) < 2 * need:  # the DMA holds two periods besides the ring buffer
                try:
                    data = sock.recv(2 * need - len(buf))
                except BlockingIOError:
                    break
                if not data:
                    return
                buf += data
                sock.setblocking(False)
        except OSError:
            return
        n = min(need, len(buf) - len(buf) % frame)  # whole frames: a split one waits for its rest
        played = bytes(buf[:n])
        del buf[:n]
        if world.audio_speed:
            played += bytes(need - n)  # what the board did not send in time plays as silence
        taken += n
        if taken != told:
            # The board learns what has played, so that its write-done callbacks come when
            # its last bytes are in the DMA buffers, as on a port (rom_i2s.py). A board
            # that does not read these (blocking writes) leaves them queued until they
            # stop; the latest total goes out once it reads them again.
            try:
                sock.send(struct.pack("<I", taken & 0xFFFFFFFF), socket.MSG_DONTWAIT)
                told = taken
            except BlockingIOError:
                pass
            except OSError:
                return
        if amp and played:
            amp.play(amp.decode(played, bits, stereo), rate)


def serve_control(world, sock):
    rfile = sock.makefile("rb")
    try:
        for line in rfile:
            try:
                req = json.loads(line)
                cmd = req.pop("cmd")
                reply = {"ok": True, "result": world.control(cmd, req)}
            except KeyError as exc:
                reply = {"ok": False, "error": f"unknown world command {exc}"}
            except (TypeError, ValueError) as exc:
                reply = {"ok": False, "error": str(exc)}
            except Exception as exc:  # report, stay up
                log("control failed:\n" + traceback.format_exc())
                reply = {"ok": False, "error": f"world error: {exc!r}"}
            sock.sendall((json.dumps(reply) + "\n").encode())
    except OSError:
        pass


def serve(world, conn):
    try:
        first = b""
        while not first.endswith(b"\n"):
            b = conn.recv(1)
            if not b:
                return
            first += b
            if len(first) > 4096:
                return
        kind, _, rest = first.decode().strip().partition(" ")
        if kind == "bus":
            serve_bus(world, conn, rest)
        elif kind == "events":
            serve_events(world, conn)
        elif kind == "i2s":
            serve_i2s(world, conn, json.loads(rest))
        elif kind == "control":
            serve_control(world, conn)
        else:
            log(f"unknown channel {kind!r}")
    except Exception:
        log("connection failed:\n" + traceback.format_exc())
    finally:
        conn.close()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    board_name, listen_fd = argv[0], int(argv[1])
    seed = int(argv[2]) if len(argv) > 2 else 0
    try:
        board = catalog.load_file(board_name) if board_name.endswith(".json") else catalog.load(board_name)
        world = World(board, seed)
    except PocketError as exc:
        log(str(exc))
        return 2
    srv = socket.socket(fileno=listen_fd)

    def watch_parent():
        try:
            while os.read(0, 64):
                pass
        except OSError:
            pass
        os._exit(0)

    threading.Thread(target=watch_parent, daemon=True).start()
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(world, conn), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())

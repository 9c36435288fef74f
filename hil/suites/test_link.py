"""Link conformance and fault injection, against the app running on the board.

The host speaks the protocol with the project's own codec and session
(firmware/link.py, firmware/linkio.py: what the bridge uses), through the
`app` fixture. What the board sends is also parsed here by an independent
reader of docs/link-protocol.md (`frames`), so the codec is not only checked
against itself. Faults come from the host (bad frames written to the port, a
host that stops listening) and, on a twin, from its supervisor (a lossy wire)."""

import binascii
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pocket_agent.firmware import adpcm, link
from pocket_agent.host.speech.audio import write_wav

pytestmark = [pytest.mark.hil, pytest.mark.usefixtures("firmware")]
MPREMOTE = str(Path(sys.executable).parent / "mpremote")
REPL_BYTES = set(range(0x01, 0x06)) | {0x0D}  # Ctrl-A..Ctrl-E and CR
# The capability bit of each kind of part (docs/link-protocol.md, Handshake).
PART_CAPS = {"ssd1306": 0x001, "led": 0x002, "ws2812": 0x002, "max98357a": 0x004, "inmp441": 0x008,
             "bme280": 0x010, "mpu6050": 0x020, "battery": 0x040, "button": 0x080}
ALWAYS_CAPS = 0xF00  # confirmations, timers, notes, the heap report


# ---- an independent reader of the wire format ----


def frames(raw):
    """Every whole frame in raw: dicts of type, flags, seq, payload, crc_ok and the
    frame's bytes as sent (`wire`). Follows the spec, not firmware/link.py."""
    out = []
    i = 0
    while True:
        i = raw.find(b"\x10\x53", i)
        if i < 0:
            return out
        j = i + 2
        body = bytearray()
        need = 7
        while len(body) < need and j < len(raw):
            b = raw[j]
            if b == 0x10:
                if j + 1 >= len(raw):
                    break
                if raw[j + 1] == 0x53:  # a new frame starts: this one was cut short
                    break
                b = raw[j + 1] ^ 0x20
                j += 1
            body.append(b ^ 0xF0)
            j += 1
            if len(body) == 7:
                need = 7 + (body[5] | body[6] << 8) + 2
        if len(body) == need:
            n = need - 9
            crc = body[7 + n] | body[8 + n] << 8
            out.append({"version": body[0], "type": body[1], "flags": body[2], "seq": body[3] | body[4] << 8,
                        "payload": bytes(body[7:7 + n]), "crc_ok": binascii.crc_hqx(bytes(body[:7 + n]), 0xFFFF) == crc,
                        "wire": bytes(raw[i:j])})
        i = max(j, i + 2)


def frame_bytes(mtype, payload, seq=0, flags=0, version=1, length=None, crc_delta=0):
    """A frame as the spec builds it, with whatever header the test wants."""
    n = len(payload) if length is None else length
    body = bytes([version, mtype, flags, seq & 0xFF, seq >> 8, n & 0xFF, n >> 8]) + payload
    crc = (binascii.crc_hqx(body, 0xFFFF) + crc_delta) & 0xFFFF
    body += bytes([crc & 0xFF, crc >> 8])
    wire = bytearray(b"\x10\x53")
    for b in body:
        w = b ^ 0xF0
        if w in REPL_BYTES or w == 0x10:
            wire += bytes([0x10, w ^ 0x20])
        else:
            wire.append(w)
    return bytes(wire)


def expected_caps(board):
    caps = ALWAYS_CAPS
    for p in board.definition.raw["parts"]:
        caps |= PART_CAPS.get(p["part"], 0)
    return caps


# ---- handshake, versions, capabilities ----


def test_handshake_says_what_the_board_is_and_can_do(board, app):
    peer = app.ep.peer
    assert peer["role"] == link.ROLE_BOARD
    assert peer["version_min"] <= link.VERSION <= peer["version_max"]
    assert peer["name"] == board.name
    assert peer["software"].startswith("pocket-fw")
    assert peer["caps"] == expected_caps(board), hex(peer["caps"])
    assert peer["max_payload"] >= 256
    info = app.request("info_get", reply="info")
    display = next(p for p in board.definition.raw["parts"] if p["part"] == "ssd1306")
    assert info[1] == board.name and info[2] == board.definition.machine
    assert info[3].startswith(peer["software"])
    assert (info[6], info[7]) == (display["width"], display["height"])
    assert 0 < info[5] <= info[4]  # mem_free within the heap
    heap = app.request("heap_get", reply="heap")
    assert 0 < heap[3] <= heap[2] <= heap[1]  # the largest free block within what is free


@pytest.mark.hil_full
def test_a_new_boot_says_so_with_a_new_boot_id(board, app):
    first = app.ep.peer["boot_id"]
    app.close()
    board.reset()
    from pocket_agent.hil.board import LinkHost

    again = LinkHost.start_app(board)
    try:
        again.wait_up()
        assert again.ep.peer["boot_id"] != first
    finally:
        again.close()


def test_a_hello_in_a_version_the_board_lacks_starts_no_session(board, app):
    bad0 = app.ep.peer_bad_frames  # from the heartbeat the board sends as the session starts
    session = 0x5EED0002
    hello = link.Encoder().body  # the hello layout is frozen: pack it for version 2 only
    n = link.pack(hello, link.HEADER, link.HELLO, (0, session, 2, 2, link.ROLE_HOST, 7, 0, 1024, "v2 host", "x"))
    start = len(app.rx)
    app.write_raw(frame_bytes(link.HELLO, bytes(hello[link.HEADER:link.HEADER + n])), "hello for version 2 only")
    app.request("info_get", reply="info")  # answered after the board has read the hello
    _, _, bad1, _ = app.heartbeat()
    assert bad1 - bad0 == 1  # counted as bad_version
    # a hello the board sends in reply names the session it answers; one for the host's own
    # start-up hello, crossing the board's, may still arrive here and is not an answer to this
    hellos = [link.unpack(link.HELLO, bytes(link.HEADER) + f["payload"], link.HEADER, link.HEADER + len(f["payload"]))
              for f in frames(app.rx[start:]) if f["type"] == link.HELLO]
    answers = [h for h in hellos if h[1] == session]
    assert not answers, "the board answered a hello it cannot speak"
    assert app.ep.up and app.links_up == 1  # the session it has goes on


# ---- requests, acknowledgements, retransmission ----


def test_requests_in_flight_are_answered_by_their_ids(board, app):
    ids = [app.send("sensor_read", s) for s in (0, 1, 2, 9)]
    ids.append(app.send("info_get"))
    want = {link.type_of("sensor_value"), link.type_of("info")}
    app.run_until(lambda: {v[0] for (_ms, e, v) in app.got if e in want} >= set(ids), 10,
                  "an answer to each of 5 requests")
    by_id = {v[0]: (e, v) for (_ms, e, v) in app.got if e in want}
    for k, sensor in enumerate((0, 1, 2, 9)):
        e, v = by_id[ids[k]]
        assert e == link.type_of("sensor_value") and v[1] == sensor
        assert v[2] == (1 if sensor == 9 else 0), v  # 9: no such sensor
    assert by_id[ids[4]][0] == link.type_of("info")
    assert len(by_id[ids[0]][1][3]) == 3 and len(by_id[ids[1]][1][3]) == 6 and len(by_id[ids[2]][1][3]) == 2


def test_reliable_messages_are_retransmitted_until_acknowledged_and_delivered_once(board, app):
    # The host stops listening (no acknowledgements), asks for info, and keeps the session alive
    # with its heartbeats: the board must send its answer again and again, with the same seq.
    app.deaf = True
    start = len(app.rx)
    rid = app.send("info_get")
    info_t = link.type_of("info")
    app.run_until(lambda: sum(f["type"] == info_t for f in frames(app.rx[start:])) >= 2, 5,
                  "a second copy of the unacknowledged info")
    copies = [f for f in frames(app.rx[start:]) if f["type"] == info_t]
    assert {f["seq"] for f in copies} == {copies[0]["seq"]} and all(f["flags"] & link.FLAG_RELIABLE for f in copies)
    app.deaf = False
    app.run_until(lambda: any(e == info_t for (_ms, e, _v) in app.got), 6, "the info, once listening again")
    app.run_until(lambda: app.ep.pending() == 0, 6, "the board to acknowledge info_get")
    assert app.ep.retransmits > 0  # the host sent info_get again: the board's first ack went unheard
    settled = len(app.rx)
    app.run_for(1.3)  # longer than the board's backed-off timeout (1 s by now): no copy may follow the ack
    assert not [f for f in frames(app.rx[settled:]) if f["type"] == info_t]
    answers = {f["seq"] for f in frames(app.rx[start:]) if f["type"] == info_t}
    assert len(answers) == 1, "the board served the retransmitted request twice"
    assert [v[0] for (_ms, e, v) in app.got if e == info_t] == [rid]


@pytest.mark.hil_full
def test_control_messages_are_acknowledged(board, app):
    for k in range(12):
        app.send("led", 0, 10 * k, 0, 1, 1000)
    app.run_until(lambda: app.ep.pending() == 0, 5, "the board to acknowledge 12 led messages")
    assert app.ep.acked == app.ep.sent
    if board.twin:
        st = board.twin.world.led()
        assert st["on"] and st.get("rgb", [0, 110, 0]) == [0, 110, 0]


# ---- bad frames ----


def test_bad_frames_are_counted_skipped_and_the_link_resynchronises(board, app):
    bad0 = app.ep.peer_bad_frames  # from the heartbeat the board sends as the session starts
    info_get = link.type_of("info_get")
    unknown_seq = app.ep.tx_rseq
    junk = [
        (b"garbage outside frames \x00\xff\x7f" * 4, "garbage"),  # noise, not a bad frame
        (frame_bytes(info_get, b"", seq=unknown_seq, flags=1, crc_delta=1), "bad crc"),
        (frame_bytes(info_get, b"\x00" * 8, length=4000), "bad length"),
        # cut short by the next frame, a harmless ack of what the host already acknowledged
        (frame_bytes(link.type_of("led"), b"\x01\x02")[:7]
         + frame_bytes(link.ACK, bytes([(app.ep.rx_next - 1) & 0xFF, ((app.ep.rx_next - 1) >> 8) & 0xFF])),
         "truncated"),
        (frame_bytes(0x7E, b"new", seq=unknown_seq, flags=1), "unknown type"),
    ]
    for data, note in junk:
        app.write_raw(data, note)
    app.ep.tx_rseq = (unknown_seq + 1) & 0xFFFF  # the unknown message used this seq, as a newer peer's would
    # Resynchronised: the next request is served.
    app.request("info_get", reply="info")
    _, _, bad1, _ = app.heartbeat()
    # bad crc, bad length, truncated, unknown type; garbage outside frames is noise, not a bad frame
    assert bad1 - bad0 == 4, (bad0, bad1)
    errors = [v for v in app.named("error") if v[0] == unknown_seq]
    assert errors and errors[0][1] == 2, app.named("error")  # unsupported message type


# ---- audio ----


def _send_stream(app, stream, chunks, skip=()):
    """A 16 kHz tone to the board's speaker in `chunks` chunks of 1024 samples, leaving out `skip`."""
    t = np.arange(chunks * 1024) / 16000
    pcm = (6000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()
    app.send("audio_start", stream, 1, 16000, 1)
    state = adpcm.new_state()
    for k in range(chunks):
        pred, step = state[0], state[1]
        data = bytearray(512)
        adpcm.encode(state, memoryview(pcm)[2048 * k:2048 * (k + 1)], data, 0, 1024)
        if k not in skip:
            assert app.ep.send(link.AUDIO_CHUNK, (stream, k, pred, step, 1024, bytes(data)), app.now())
        app.run_for(0.03)  # about real time: the board plays as it goes
    app.send("audio_end", stream, chunks, 0)


@pytest.mark.needs("audio_out")
def test_lost_audio_chunks_are_counted(board, app):
    lost0 = app.ep.peer_lost_chunks
    _send_stream(app, 5, 8, skip=(3, 6))
    app.run_until(lambda: app.ep.pending() == 0, 5, "audio_end to be acknowledged")
    _, _, _, lost1 = app.heartbeat()
    assert lost1 - lost0 == 2


def _noise_into_mic(stimulus, tmp_path, seconds=1):
    rng = np.random.default_rng(3)
    write_wav(str(tmp_path / "noise.wav"), rng.integers(-12000, 12000, 16000 * seconds).astype("<i2").tobytes())
    stimulus.mic_play(tmp_path / "noise.wav", loop=True)


@pytest.mark.hil_full
@pytest.mark.needs("button", "audio_in")
def test_audio_lost_on_the_way_to_the_host_is_counted(board, app, stimulus, tmp_path):
    if not board.twin:
        pytest.skip("a lossy wire is the twin supervisor's fault injection")
    _noise_into_mic(stimulus, tmp_path)
    end_t = link.type_of("audio_end")
    board.twin.control("faults", to_host={"drop_rate": 0.0005})  # about one chunk in four
    try:
        stimulus.press("button", ms=1500)  # push-to-talk: the board streams its mic
        app.run_until(lambda: any(e == end_t for (_ms, e, _v) in app.got), 15, "the board's mic stream to end")
    finally:
        board.twin.control("faults", clear=True)
        stimulus.mic_stop()
    stream, sent, _reason = app.named("audio_end")[-1]
    received = sum(1 for (_ms, e, v) in app.got if e == link.AUDIO_CHUNK and v[0] == stream)
    assert sent > received > 0, (sent, received)
    assert app.ep.lost_chunks == sent - received


# ---- the wire stays safe for the REPL's tools ----


@pytest.mark.needs("button", "audio_in")
def test_app_frames_never_carry_repl_control_bytes(board, app, stimulus, tmp_path):
    # Push-to-talk with noise in the mic: ADPCM audio is the most varied traffic there is.
    _noise_into_mic(stimulus, tmp_path)
    start = len(app.rx)
    for sensor in (0, 1, 2):
        app.request("sensor_read", sensor, reply="sensor_value")
    stimulus.press("button", ms=1200)
    chunk_t = link.AUDIO_CHUNK
    app.run_until(lambda: any(e == link.type_of("audio_end") for (_ms, e, _v) in app.got), 10,
                  "the board's mic stream to end")
    stimulus.mic_stop()
    raw = bytes(app.rx[start:])
    got = frames(raw)
    assert sum(f["type"] == chunk_t for f in got) >= 8, "too little audio to judge"
    assert all(f["crc_ok"] for f in got)
    bad = [f for f in got if REPL_BYTES & set(f["wire"])]
    assert not bad, f"{len(bad)} frames carry a REPL control byte, e.g. {bad[0]['wire'][:40].hex()}"
    first = raw.find(b"\x10\x53")
    outside = len(raw) - first - sum(len(f["wire"]) for f in got)
    assert outside == 0, f"{outside} bytes outside frames after the first one"


def test_mpremote_interrupts_the_running_app(board, app):
    app.request("info_get", reply="info")  # the app is running and serving
    app.close()
    proc = subprocess.run([MPREMOTE, "connect", board.port, "exec", "print(6 * 7)"], capture_output=True,
                          timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().replace("\r\n", "\n") == "42\n"


# ---- a bad wire (the twin's supervisor) ----


def test_the_link_gets_every_message_through_a_lossy_wire(board, app):
    if not board.twin:
        pytest.skip("a lossy wire is the twin supervisor's fault injection")
    # To the board: late and cut into small pieces, never flipped (a flipped byte can become
    # Ctrl-C, which stops the app on a real board too) nor dropped (see the next test).
    # To the host: bytes dropped and flipped.
    twin = board.twin
    twin.control("faults", to_board={"delay_ms": 20, "chunk": 5},
                 to_host={"drop_rate": 0.003, "corrupt_rate": 0.002})
    try:
        for k in range(8):  # one request at a time, as the bridge asks
            app.send("led", k, 0, 0, 1, 1000)
            app.request("sensor_read", k % 3, reply="sensor_value", timeout=20)
            app.request("info_get", reply="info", timeout=20)
        app.run_until(lambda: app.ep.pending() == 0, 20, "every message acknowledged")
    finally:
        twin.control("faults", clear=True)
    stats = app.ep.stats()
    assert stats["retransmits"] > 0 or stats["bad_crc"] + stats["truncated"] + stats["bad_byte"] > 0, \
        f"the faults did nothing: {stats}"
    answers = [v[0] for v in app.named("sensor_value")]
    assert len(answers) == len(set(answers)) == 8, "a request was served twice"
    assert app.links_up == 1  # one session throughout


@pytest.mark.hil_full
def test_every_request_is_answered_when_the_board_outbox_fills(board, app):
    app.deaf = True  # no acknowledgements reach the board: its outbox fills with replies
    ids = [app.send("sensor_read", k % 3) for k in range(8)]
    app.run_for(0.5)
    app.deaf = False
    app.run_until(lambda: app.ep.pending() == 0, 10, "the requests to be acknowledged")
    want = {link.type_of("sensor_value"), link.ERROR}
    app.run_until(lambda: {v[0] for (_ms, e, v) in app.got if e in want} >= set(ids), 5,
                  "an answer (or error busy) to each of 8 requests")

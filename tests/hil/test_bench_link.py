"""The bench's own pieces for the link and power suites: the independent reader
and builder of frames agree with the project's codec, and a real board without
a switchable hub port says how to cut its power."""

import pytest

from pocket_agent.boards import catalog
from pocket_agent.firmware import link
from pocket_agent.hil.board import BoardUnderTest, InfrastructureError
from pocket_agent.hil.suites.test_link import REPL_BYTES, frame_bytes, frames


def encoded(mtype, values, seq=0, flags=0):
    enc = link.Encoder()
    n = link.pack(enc.body, link.HEADER, mtype, values)
    m = enc.seal(mtype, flags, seq, n)
    return bytes(enc.out[:m])


def decoded(data):
    dec = link.Decoder()
    dec.feed(bytearray(data))
    results = []
    while r := dec.next():
        results.append((r, dec.type if r == link.FRAME else None))
    return results


def test_the_reader_takes_the_codecs_frames_apart_with_their_escapes():
    # payload bytes that need escaping after the XOR: 0xF1..0xF5, 0xFD, 0xE0
    data = bytes([0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xFD, 0xE0, 0x00, 0x10, 0x53])
    wire = b"noise" + encoded(link.type_of("pair"), (data,), seq=513, flags=1) + encoded(link.ACK, (7,))
    got = frames(wire)
    assert [(f["type"], f["seq"], f["flags"], f["crc_ok"]) for f in got] == [
        (link.type_of("pair"), 513, 1, True), (link.ACK, 0, 0, True)]
    assert got[0]["payload"] == bytes([len(data)]) + data
    assert not REPL_BYTES & set(got[0]["wire"])
    assert len(got[0]["wire"]) > 2 + 7 + 11 + 2  # escapes made it longer


def test_the_builder_makes_frames_the_codec_reads_and_the_faults_it_counts():
    info_get = link.type_of("info_get")
    assert decoded(frame_bytes(info_get, b"", seq=3, flags=1)) == [(link.FRAME, info_get)]
    assert decoded(frame_bytes(info_get, b"", crc_delta=1)) == [(link.BAD_CRC, None)]
    assert decoded(frame_bytes(info_get, b"\x00" * 4, length=4000)) == [(link.BAD_LENGTH, None)]
    assert decoded(frame_bytes(0x7E, b"x", seq=1, flags=1)) == [(link.BAD_TYPE, None)]
    cut = frame_bytes(link.type_of("led"), b"\x01\x02")[:7] + frame_bytes(link.ACK, b"\x00\x00")
    assert decoded(cut) == [(link.TRUNCATED, None), (link.FRAME, link.ACK)]
    assert frames(frame_bytes(link.ACK, b"\x05\x00"))[0]["payload"] == b"\x05\x00"


def test_a_real_board_without_a_hub_port_says_how_to_cut_its_power():
    b = BoardUnderTest(catalog.load("pico2w"), "/dev/ttyACM-nothing")
    with pytest.raises(InfrastructureError, match="--uhubctl"):
        b.power_cut()

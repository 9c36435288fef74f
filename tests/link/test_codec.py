"""The codec (firmware/link.py): the same byte vectors in CPython and in the
MicroPython VM, checked against a plain reference written from the spec."""

import binascii
import json

import pytest

from pocket_agent.firmware import link
from pocket_agent.host.link import catalogue
from tests import mpy

from . import make_vectors, spec_ref

VECTORS = json.loads(make_vectors.PATH.read_text(encoding="utf-8"))
FORBIDDEN = {1, 2, 3, 4, 5, 0x0D}


def values_of(row):
    c = link.codes(row["type"])
    return [bytes.fromhex(v) if code in b"xy" else v for code, v in zip(c, row["values"])]


def encode(mtype, values, seq=0, flags=0):
    enc = link.Encoder()
    n = link.pack(enc.body, link.HEADER, mtype, values)
    return bytes(enc.out[: enc.seal(mtype, flags, seq, n)])


def decode_all(stream, chunk=None):
    dec = link.Decoder()
    got, errors = [], []
    step = chunk or max(1, len(stream))
    for i in range(0, len(stream), step):
        dec.feed(stream[i:i + step])
        while r := dec.next():
            if r == link.FRAME:
                got.append((dec.type, dec.flags, dec.seq, bytes(dec.body[link.HEADER:link.HEADER + dec.length])))
            else:
                errors.append(r)
    return got, errors, dec


def test_vector_file_is_what_the_reference_builds():
    assert VECTORS == json.loads(json.dumps(make_vectors.vectors(), ensure_ascii=False))


def test_every_catalogue_message_has_a_vector():
    assert {row["type"] for row in VECTORS} == set(catalogue.MESSAGES)


@pytest.mark.parametrize("row", VECTORS, ids=[r["name"] for r in VECTORS])
def test_cpython_encodes_and_decodes_the_vectors(row):
    frame = bytes.fromhex(row["frame"])
    assert encode(row["type"], values_of(row), row["seq"], row["flags"]) == frame
    (got,), errors, _ = decode_all(frame)
    assert got == (row["type"], row["flags"], row["seq"], bytes.fromhex(row["payload"]))
    assert link.unpack(row["type"], got[3], 0, len(got[3])) == values_of(row)
    assert not errors
    assert not FORBIDDEN & set(frame[2:]) and not FORBIDDEN & set(frame)


VM_VECTORS = """
import json, binascii, link
rows = json.load(open(%r))
enc = link.Encoder()
dec = link.Decoder()
out = []
for r in rows:
    c = link.codes(r["type"])
    vals = [bytes.fromhex(v) if c[k] in (0x78, 0x79) else v for k, v in enumerate(r["values"])]
    n = link.pack(enc.body, link.HEADER, r["type"], vals)
    m = enc.seal(r["type"], r["flags"], r["seq"], n)
    built = binascii.hexlify(bytes(enc.out[:m])).decode()
    dec.feed(bytes.fromhex(r["frame"]))
    res = dec.next()
    got = link.unpack(dec.type, dec.body, link.HEADER, link.HEADER + dec.length)
    got = [binascii.hexlify(v).decode() if isinstance(v, bytes) else v for v in got]
    out.append([built, res, dec.type, dec.flags, dec.seq, got, dec.next()])
print(json.dumps(out))
"""


def test_micropython_builds_and_reads_the_same_bytes():
    out = json.loads(mpy.run(VM_VECTORS % str(make_vectors.PATH), heap="200K"))
    assert len(out) == len(VECTORS)
    for row, (built, res, mtype, flags, seq, values, rest) in zip(VECTORS, out):
        assert built == row["frame"], row["name"]
        assert (res, mtype, flags, seq, rest) == (link.FRAME, row["type"], row["flags"], row["seq"], 0)
        assert values == row["values"], row["name"]


def test_crc_is_ccitt_false():
    data = b"123456789"
    assert link.crc16(data, 0, len(data)) == 0x29B1 == binascii.crc_hqx(data, 0xFFFF)
    blob = bytes(range(256)) * 3
    assert link.crc16(blob, 5, 700) == binascii.crc_hqx(blob[5:700], 0xFFFF)


def test_every_byte_value_survives_stuffing_and_none_is_forbidden():
    payload = bytes(range(256)) * 4
    frame = encode(link.AUDIO_CHUNK, [0, 0, 0, 0, 0, payload[: 1024 - 8]])
    assert not FORBIDDEN & set(frame)
    assert frame.count(0x10) == frame.count(b"\x10\x53") + sum(frame.count(bytes([0x10, e])) for e in (0x21, 0x22, 0x23, 0x24, 0x25, 0x2D, 0x30))
    (got,), errors, _ = decode_all(frame)
    assert got[3][8:] == payload[: 1024 - 8] and not errors


def test_largest_payload_passes_and_one_more_byte_is_refused():
    enc = link.Encoder()
    with pytest.raises(ValueError):
        enc.seal(link.AUDIO_CHUNK, 0, 0, link.MAX_PAYLOAD + 1)
    big = spec_ref.frame(link.AUDIO_CHUNK, bytes(8) + bytes(link.MAX_PAYLOAD - 8))
    too_big = spec_ref.frame(link.AUDIO_CHUNK, bytes(8) + bytes(link.MAX_PAYLOAD - 7))
    got, errors, dec = decode_all(too_big + big)
    assert len(got) == 1 and len(got[0][3]) == link.MAX_PAYLOAD
    assert errors == [link.BAD_LENGTH] and dec.bad_length == 1


def test_bad_crc_version_and_type_are_counted_and_skipped():
    good = spec_ref.frame(link.type_of("tone"), bytes(5), seq=1)
    raw = bytearray(spec_ref.body(1, link.type_of("tone"), 0, 2, bytes(5)))
    raw[8] ^= 0x40
    bad_crc = spec_ref.stuff(raw)
    bad_version = spec_ref.frame(link.type_of("tone"), bytes(5), seq=3, version=2)
    bad_type = spec_ref.frame(0x7F, b"", seq=4)
    hello_v9 = spec_ref.frame(link.HELLO, make_vectors.payload(link.HELLO, make_vectors.EXAMPLES[0][1]), version=9)
    got, errors, dec = decode_all(bad_crc + good + bad_version + good + bad_type + hello_v9)
    assert [g[2] for g in got] == [1, 1, 0]
    assert errors == [link.BAD_CRC, link.BAD_VERSION, link.BAD_TYPE]
    assert (dec.bad_crc, dec.bad_version, dec.bad_type, dec.frames) == (1, 1, 1, 3)


def test_garbage_and_repl_text_between_frames_is_noise():
    f1 = encode(link.type_of("led"), [1, 2, 3, 1, 100], seq=1)
    f2 = encode(link.type_of("led"), [4, 5, 6, 1, 100], seq=2)
    text = b"MicroPython v1.29.0 on 2026-07-05; linux\r\n>>> \x10\x10junk"
    got, errors, dec = decode_all(text + f1 + b"Traceback...\r\n" + f2)
    assert [g[2] for g in got] == [1, 2] and not errors
    assert dec.noise == len(text) + len(b"Traceback...\r\n")


def test_a_frame_cut_short_by_the_next_is_counted_truncated():
    f1 = encode(link.type_of("led"), [1, 2, 3, 1, 100], seq=1)
    f2 = encode(link.type_of("led"), [4, 5, 6, 1, 100], seq=2)
    got, errors, dec = decode_all(f1[:9] + f2)
    assert [g[2] for g in got] == [2] and errors == [link.TRUNCATED] and dec.truncated == 1


def test_a_raw_control_byte_inside_a_frame_breaks_only_that_frame():
    f1 = encode(link.type_of("led"), [1, 2, 3, 1, 100], seq=1)
    f2 = encode(link.type_of("led"), [4, 5, 6, 1, 100], seq=2)
    got, errors, dec = decode_all(f1[:6] + b"\x03" + f1[6:] + f2)
    assert [g[2] for g in got] == [2] and errors == [link.BAD_BYTE]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
def test_split_anywhere_gives_the_same_frames(chunk):
    stream = b"".join(bytes.fromhex(r["frame"]) for r in VECTORS)
    assert decode_all(stream, chunk)[0] == decode_all(stream)[0]
    assert len(decode_all(stream, chunk)[0]) == len(VECTORS)


def test_pack_refuses_values_that_do_not_fit():
    mtype = link.type_of("led")
    buf = bytearray(64)
    for bad in ([256, 0, 0, 0, 0], [-1, 0, 0, 0, 0], [0, 0, 0, 0, 70000], [0, 0, 0, 0]):
        with pytest.raises(ValueError):
            link.pack(buf, 0, mtype, bad)
    with pytest.raises(ValueError):
        link.pack(buf, 0, link.type_of("clock_set"), [0, 0, 40000])
    with pytest.raises(ValueError):
        link.pack(bytearray(400), 0, link.type_of("timer_set"), [1, 2, "x" * 256])


def test_unpack_refuses_short_long_and_broken_payloads():
    mtype = link.type_of("notify")
    good = make_vectors.payload(mtype, [2, 5000, "Timer", "Tea"])
    assert link.unpack(mtype, good, 0, len(good)) == [2, 5000, "Timer", "Tea"]
    for bad in (good[:-1], good + b"x", good[:3], good.replace(b"Tea", b"\xff\xfe\xfd")):
        with pytest.raises(ValueError):
            link.unpack(mtype, bad, 0, len(bad))

"""The decoder against hostile input: hypothesis on the host, and a fuzz
corpus replayed in the MicroPython VM with the same results byte for byte."""

import json
import random
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pocket_agent.firmware import link
from tests import mpy

from . import spec_ref
from .test_codec import VECTORS, decode_all

FRAMES = [bytes.fromhex(r["frame"]) for r in VECTORS]
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.binary(max_size=3000), st.integers(1, 64))
def test_any_bytes_never_raise_and_chunking_does_not_matter(data, chunk):
    got, errors, dec = decode_all(data)
    assert (got, errors) == decode_all(data, chunk)[:2]
    for mtype, flags, seq, payload in got:  # anything let through is a well-formed frame
        assert spec_ref.frames_in(spec_ref.frame(mtype, payload, seq, flags))
    assert dec.frames == len(got) and dec.bad_frames() == len(errors)


@FAST
@given(st.lists(st.tuples(st.binary(max_size=80), st.sampled_from(FRAMES)), min_size=1, max_size=6),
       st.integers(1, 50))
def test_every_frame_after_garbage_is_recovered(pairs, chunk):
    stream = b"".join(g + f for g, f in pairs)
    got = decode_all(stream, chunk)[0]
    want = [spec_ref.frames_in(f)[0] for _, f in pairs]
    assert got[-len(want):] == want


@FAST
@given(st.sampled_from(FRAMES), st.data())
def test_a_changed_byte_is_never_delivered(frame, data):
    plain = [i for i in range(3, len(frame)) if frame[i] != 0x10 and frame[i - 1] != 0x10]
    i = data.draw(st.sampled_from(plain))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != frame[i] and b != 0x10 and b not in spec_ref.ESCAPED))
    bad = frame[:i] + bytes([new]) + frame[i + 1:]
    follow = FRAMES[0]
    got, errors, _ = decode_all(bad + follow)
    assert got == spec_ref.frames_in(follow) and len(errors) == 1


def make_corpus(seed=20261122, cases=400):
    """Mutated streams of valid frames: flips, cuts, inserted control and
    framing bytes, repeats; each with a chunk size to feed them in."""
    rng = random.Random(seed)
    pool = FRAMES + [spec_ref.frame(0x7F, b"\x01\x02", 9), spec_ref.frame(0x23, bytes(5), 8, 1, version=2)]
    corpus = []
    for _ in range(cases):
        stream = bytearray(b"".join(rng.choice(pool) for _ in range(rng.randint(1, 5))))
        for _ in range(rng.randint(0, 6)):
            op = rng.randrange(6)
            i = rng.randrange(len(stream) + 1)
            if op == 0 and stream:
                stream[min(i, len(stream) - 1)] ^= 1 << rng.randrange(8)
            elif op == 1:
                del stream[i:i + rng.randint(1, 20)]
            elif op == 2:
                stream[i:i] = bytes(rng.choice([0x10, 0x53, 0x01, 0x03, 0x04, 0x0D, 0xF0, rng.randrange(256)])
                                    for _ in range(rng.randint(1, 4)))
            elif op == 3:
                stream[i:i] = stream[i:i + rng.randint(1, 40)]
            elif op == 4:
                stream[i:i] = rng.randbytes(rng.randint(1, 30))
            else:
                stream[i:i] = b"\r\n>>> \x10\x53"
        corpus.append((bytes(stream), rng.choice([1, 2, 5, 16, 64, 4096])))
    return corpus


def summary(got, dec):
    return {
        "frames": [[t, f, s, p.hex()] for t, f, s, p in got],
        "counts": [dec.frames, dec.bad_crc, dec.bad_length, dec.bad_version, dec.bad_type,
                   dec.truncated, dec.bad_byte, dec.noise],
    }


VM_REPLAY = """
import json, struct, binascii, link
f = open(%r, "rb")
(cases,) = struct.unpack("<I", f.read(4))
dec = link.Decoder()
for _ in range(cases):
    n, chunk = struct.unpack("<IH", f.read(6))
    data = f.read(n)
    dec.__init__()
    frames = []
    for i in range(0, n, chunk):
        dec.feed(data[i:i + chunk])
        while True:
            r = dec.next()
            if not r:
                break
            if r == link.FRAME:
                p = dec.body[link.HEADER:link.HEADER + dec.length]
                frames.append([dec.type, dec.flags, dec.seq, binascii.hexlify(p).decode()])
    print(json.dumps({"frames": frames, "counts": [dec.frames, dec.bad_crc, dec.bad_length,
        dec.bad_version, dec.bad_type, dec.truncated, dec.bad_byte, dec.noise]}))
"""


def test_fuzz_corpus_gives_the_same_results_in_micropython(tmp_path):
    corpus = make_corpus()
    path = tmp_path / "corpus.bin"
    with open(path, "wb") as f:
        f.write(struct.pack("<I", len(corpus)))
        for data, chunk in corpus:
            f.write(struct.pack("<IH", len(data), chunk) + data)
    want = []
    for data, chunk in corpus:
        got, _, dec = decode_all(data, chunk)
        want.append(summary(got, dec))
    lines = mpy.run(VM_REPLAY % str(path), heap="200K").splitlines()
    assert [json.loads(line) for line in lines] == want
    # The corpus must exercise every way a frame can be bad, and good frames.
    totals = [sum(w["counts"][k] for w in want) for k in range(8)]
    assert all(totals), totals

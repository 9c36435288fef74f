"""IMA-ADPCM (firmware/adpcm.py): checked against CPython's audioop (an
independent implementation of the same IMA algorithm), then the viper build
in the MicroPython VM against CPython, byte for byte."""

import array
import json
import math
import random
import warnings

import pytest

from pocket_agent.firmware import adpcm
from tests import mpy

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop


def speechlike(n=8000, seed=3, torture=True):
    rng = random.Random(seed)
    x = [int(9000 * math.sin(i * 0.05) * math.sin(i * 0.0013) + 4000 * math.sin(i * 0.9)) + rng.randint(-600, 600)
         for i in range(n)]
    if torture:  # full-scale steps drive the step index to its ends
        x[100:140] = [32767, -32768] * 20
    return array.array("h", [max(-32768, min(32767, v)) for v in x])


def swap_nibbles(data):
    return bytes(((b >> 4) | (b << 4)) & 0xFF for b in data)


def encode(pcm, state=None):
    state = state or adpcm.new_state()
    out = bytearray((len(pcm) + 1) // 2)
    assert adpcm.encode(state, pcm, out, 0, len(pcm)) == len(out)
    return bytes(out), state


def decode(data, n, state=None):
    state = state or adpcm.new_state()
    out = array.array("h", bytes(2 * n))
    adpcm.decode(state, data, 0, out, n)
    return out, state


def test_encoder_matches_audioop():
    pcm = speechlike()
    ours, state = encode(pcm)
    ref, ref_state = audioop.lin2adpcm(pcm.tobytes(), 2, None)
    assert ours == swap_nibbles(ref)  # audioop puts the first sample in the high nibble
    assert tuple(state) == ref_state


def test_decoder_matches_audioop():
    data = bytes(random.Random(5).randrange(256) for _ in range(3000))
    ours, state = decode(data, 6000)
    ref, ref_state = audioop.adpcm2lin(swap_nibbles(data), 2, None)
    assert ours.tobytes() == ref and tuple(state) == ref_state


def test_decoding_what_was_encoded_tracks_the_signal():
    pcm = speechlike(torture=False)
    data, _ = encode(pcm)
    back, _ = decode(data, len(pcm))
    err = sum((a - b) ** 2 for a, b in zip(pcm, back))
    sig = sum(a * a for a in pcm)
    assert 10 * math.log10(sig / err) > 20  # IMA-ADPCM on a speech-like signal: well over 20 dB


def test_chunks_resume_from_the_state_they_carry():
    """Cutting a stream into chunks that carry their start state gives the
    same bytes as one pass, and any chunk decodes on its own."""
    pcm = speechlike(4096)
    whole, _ = encode(pcm)
    state, parts, starts = adpcm.new_state(), [], []
    for i in range(0, 4096, 1024):
        starts.append(tuple(state))
        part, state = encode(pcm[i:i + 1024], state)
        parts.append(part)
    assert b"".join(parts) == whole
    full, _ = decode(whole, 4096)
    third, _ = decode(parts[2], 1024, adpcm.new_state(*starts[2]))
    assert third == full[2048:3072]


def test_odd_sample_count_and_offset():
    pcm = speechlike(11, torture=False)
    out = bytearray(10)
    assert adpcm.encode(adpcm.new_state(), pcm, out, 4, 11) == 6
    assert bytes(out[4:10]) == encode(pcm)[0] and out[:4] == bytes(4)
    back = array.array("h", bytes(22))
    assert adpcm.decode(adpcm.new_state(), out, 4, back, 11) == 6
    assert back == decode(bytes(out[4:10]), 11)[0]


def test_state_is_checked():
    with pytest.raises(ValueError):
        adpcm.new_state(0, 89)
    with pytest.raises(ValueError):
        adpcm.new_state(40000, 0)


VM_ADPCM = """
import json, array, adpcm, gc, binascii
pcm = array.array("h", json.loads(%r))
n = len(pcm)
st = adpcm.new_state()
out = bytearray((n + 1) // 2)
back = array.array("h", bytes(2 * n))
dst = adpcm.new_state()
gc.collect()
a0 = gc.mem_alloc()
adpcm.encode(st, pcm, out, 0, n)
adpcm.decode(dst, out, 0, back, n)
a1 = gc.mem_alloc()
print(json.dumps([binascii.hexlify(out).decode(), list(st), list(back), list(dst), a1 - a0]))
"""


def test_viper_build_in_micropython_matches_cpython_without_allocating():
    pcm = speechlike(2001)
    want_bytes, want_state = encode(pcm)
    want_back, want_dstate = decode(want_bytes, len(pcm))
    got = json.loads(mpy.run(VM_ADPCM % json.dumps(list(pcm)), heap="200K"))
    assert got[0] == want_bytes.hex() and got[1] == list(want_state)
    assert got[2] == list(want_back) and got[3] == list(want_dstate)
    assert got[4] == 0, f"encode+decode allocated {got[4]} bytes"

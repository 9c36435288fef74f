"""IMA-ADPCM: 16-bit mono PCM at 4 bits a sample (4:1), the link's audio codec.

One source for the board and the host. On MicroPython the two loops compile
to machine code with the viper emitter; on CPython the same functions run as
plain Python (the names viper needs are given plain meanings below).

Layout: two samples a byte, the first in the low nibble (as IMA-ADPCM in WAV).
A coder's state is a caller-owned array('h', [predicted sample, step index]),
so a stream can be cut into chunks that each say the state they start from.
Samples are signed 16-bit little-endian in any buffer (array('h'), bytearray).
"""

from array import array

try:
    import micropython
except ImportError:  # CPython: the same functions run as plain Python
    from pocket_agent.host.link.viper import micropython, ptr8, ptr16

# IMA step sizes, 89 entries, u16 little-endian (7 ... 32767).
_STEPS = (
    b"\x07\x00\x08\x00\x09\x00\x0a\x00\x0b\x00\x0c\x00\x0d\x00\x0e\x00\x10\x00\x11\x00\x13\x00\x15\x00"
    b"\x17\x00\x19\x00\x1c\x00\x1f\x00\x22\x00\x25\x00\x29\x00\x2d\x00\x32\x00\x37\x00\x3c\x00\x42\x00"
    b"\x49\x00\x50\x00\x58\x00\x61\x00\x6b\x00\x76\x00\x82\x00\x8f\x00\x9d\x00\xad\x00\xbe\x00\xd1\x00"
    b"\xe6\x00\xfd\x00\x17\x01\x33\x01\x51\x01\x73\x01\x98\x01\xc1\x01\xee\x01\x20\x02\x56\x02\x92\x02"
    b"\xd4\x02\x1c\x03\x6c\x03\xc3\x03\x24\x04\x8e\x04\x02\x05\x83\x05\x10\x06\xab\x06\x56\x07\x12\x08"
    b"\xe0\x08\xc3\x09\xbd\x0a\xd0\x0b\xff\x0c\x4c\x0e\xba\x0f\x4c\x11\x07\x13\xee\x14\x06\x17\x54\x19"
    b"\xdc\x1b\xa5\x1e\xb6\x21\x15\x25\xca\x28\xdf\x2c\x5b\x31\x4b\x36\xb9\x3b\xb2\x41\x44\x48\x7e\x4f"
    b"\x71\x57\x2f\x60\xce\x69\x62\x74\xff\x7f"
)


def new_state(predicted=0, index=0):
    """A coder state: [predicted sample (-32768..32767), step index (0..88)]."""
    if not -32768 <= predicted <= 32767 or not 0 <= index <= 88:
        raise ValueError("ADPCM state out of range")
    return array("h", (predicted, index))


@micropython.viper
def encode(state: ptr16, pcm: ptr16, out: ptr8, start: int, n: int) -> int:
    """Encode n samples of pcm into out[start:]; returns the bytes written."""
    steps = ptr16(_STEPS)
    pred = int(state[0])
    if pred > 32767:
        pred -= 65536
    index = int(state[1])
    low = 0
    i = 0
    while i < n:
        s = int(pcm[i])
        if s > 32767:
            s -= 65536
        step = int(steps[index])
        diff = s - pred
        code = 0
        if diff < 0:
            code = 8
            diff = 0 - diff
        vp = step >> 3
        if diff >= step:
            code |= 4
            diff -= step
            vp += step
        step >>= 1
        if diff >= step:
            code |= 2
            diff -= step
            vp += step
        step >>= 1
        if diff >= step:
            code |= 1
            vp += step
        if code & 8:
            pred -= vp
            if pred < -32768:
                pred = -32768
        else:
            pred += vp
            if pred > 32767:
                pred = 32767
        mag = code & 7
        if mag < 4:
            index -= 1
            if index < 0:
                index = 0
        else:
            index += (mag - 3) << 1
            if index > 88:
                index = 88
        if i & 1:
            out[start + (i >> 1)] = low | (code << 4)
        else:
            low = code
        i += 1
    if n & 1:
        out[start + (n >> 1)] = low
    state[0] = pred & 0xFFFF
    state[1] = index
    return (n + 1) >> 1


@micropython.viper
def decode(state: ptr16, data: ptr8, start: int, out: ptr16, n: int) -> int:
    """Decode n samples from data[start:] into out; returns the bytes read."""
    steps = ptr16(_STEPS)
    pred = int(state[0])
    if pred > 32767:
        pred -= 65536
    index = int(state[1])
    i = 0
    while i < n:
        code = int(data[start + (i >> 1)])
        if i & 1:
            code = code >> 4
        else:
            code = code & 15
        step = int(steps[index])
        vp = step >> 3
        if code & 4:
            vp += step
        if code & 2:
            vp += step >> 1
        if code & 1:
            vp += step >> 2
        if code & 8:
            pred -= vp
            if pred < -32768:
                pred = -32768
        else:
            pred += vp
            if pred > 32767:
                pred = 32767
        mag = code & 7
        if mag < 4:
            index -= 1
            if index < 0:
                index = 0
        else:
            index += (mag - 3) << 1
            if index > 88:
                index = 88
        out[i] = pred & 0xFFFF
        i += 1
    state[0] = pred & 0xFFFF
    state[1] = index
    return (n + 1) >> 1

"""The frame format written straight from docs/link-protocol.md, slowly and
plainly, as an independent reference for the codec in firmware/link.py."""

import binascii
import struct

DLE, SOF, MASK = 0x10, 0x53, 0xF0
ESCAPED = {1, 2, 3, 4, 5, 0x0D, DLE}


def body(version, mtype, flags, seq, payload):
    head = struct.pack("<BBBHH", version, mtype, flags, seq, len(payload)) + payload
    return head + struct.pack("<H", binascii.crc_hqx(head, 0xFFFF))


def stuff(raw):
    out = bytearray([DLE, SOF])
    for b in raw:
        w = b ^ MASK
        out += bytes([DLE, w ^ 0x20]) if w in ESCAPED else bytes([w])
    return bytes(out)


def frame(mtype, payload, seq=0, flags=0, version=1):
    return stuff(body(version, mtype, flags, seq, payload))


def frames_in(stream):
    """Every well-formed frame in a byte stream, as (type, flags, seq, payload)."""
    found = []
    for part in bytes(stream).split(bytes([DLE, SOF]))[1:]:
        raw, i = bytearray(), 0
        while i < len(part):
            w = part[i]
            if w == DLE and i + 1 < len(part) and (part[i + 1] ^ 0x20) in ESCAPED:
                raw.append(part[i + 1] ^ 0x20 ^ MASK)
                i += 2
            elif w in ESCAPED:
                break
            else:
                raw.append(w ^ MASK)
                i += 1
            if len(raw) >= 7 and len(raw) == 9 + struct.unpack_from("<H", raw, 5)[0]:
                break
        if len(raw) < 9:
            continue
        version, mtype, flags, seq, n = struct.unpack_from("<BBBHH", raw)
        if len(raw) != 9 + n or version != 1:
            continue
        if binascii.crc_hqx(bytes(raw[:7 + n]), 0xFFFF) != struct.unpack_from("<H", raw, 7 + n)[0]:
            continue
        found.append((mtype, flags, seq, bytes(raw[7:7 + n])))
    return found

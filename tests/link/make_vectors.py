"""Write tests/link/vectors.json: frames built by the plain reference in
spec_ref.py (not by the codec), one or more per message in the catalogue.

    .venv/bin/python -m tests.link.make_vectors

The file freezes the wire format: the codec must produce these bytes in
CPython and in the MicroPython VM, and read them back to the same values.
"""

import json
import struct
from pathlib import Path

from pocket_agent.firmware import link
from pocket_agent.host.link import catalogue

from . import spec_ref

PATH = Path(__file__).with_name("vectors.json")

EXAMPLES = [
    ("hello", [0, 0x12345678, 1, 1, 1, 0xCAFEF00D, 0x1FF, 1024, "esp32s3-devkitc", "pocket 0.1"]),
    ("hello", [1, 0xFFFFFFFF, 1, 1, 0, 0, 0, 1024, "", ""]),
    ("ack", [0]),
    ("ack", [0x0103]),
    ("heartbeat", [123456, 150000, 2, 0]),
    ("error", [7, 2, "unknown message type"]),
    ("log", [1, "boot: display ok\r\nmic ok"]),
    ("info_get", []),
    ("info", [3, "pico2w", "Raspberry Pi Pico 2 W", "0.1.0", 204800, 150123, 128, 64]),
    ("clock_set", [1790000000, 999, -300]),
    ("display_text", [0, 1, "Hello \u00e9t\u00e9 \u2603 \U0001F600"]),
    ("display_text", [2, 0, ""]),
    ("notify", [2, 5000, "Timer", "Tea is ready"]),
    ("led", [255, 1, 0, 2, 500]),
    ("tone", [880, 200, 60]),
    ("sound", [1, 100]),
    ("button", [0, 2, 0x3FFFFFFF]),
    ("sensor_read", [0]),
    ("sensor_value", [9, 0, 0, [2150, 4530, 101325]]),
    ("sensor_value", [9, 1, 0, [-16, 1002, -2147483648, 2147483647, 0, 5]]),
    ("sensor_value", [9, 2, 1, []]),
    ("confirm_request", [42, 30000, 1790000030123, bytes(range(16)),
                         '{"summary":"Send the email to Alice?","tool":"send_email"}']),
    ("confirm_result", [42, 0, bytes(range(0xE0, 0x100))]),
    ("confirm_result", [43, 2, b""]),
    ("pair", [bytes([1, 2, 3, 4, 5, 13, 16, 0xF1]) * 4]),
    ("setting_set", [2, 1]),
    ("setting_set", [0, -5]),
    ("confirm_cancel", [42]),
    ("timer_set", [7, 1790000600, 0, "tea"]),
    ("timer_set", [8, 1790003600, 2, "call mother"]),
    ("timer_cancel", [7]),
    ("timer_fired", [7, 1790000600]),
    ("note_set", [5, "buy milk"]),
    ("note_delete", [5]),
    ("sync_begin", [3]),
    ("sync_end", [3, 4]),
    ("audio_start", [1, 1, 16000, 0]),
    ("audio_chunk", [1, 0, -32768, 88, 8, bytes([0x00, 0xF1, 0xF5, 0xFD, 0xE0, 0x10, 0x03, 0xFF])]),
    ("audio_chunk", [2, 65535, 1234, 0, 3, bytes([0x12, 0x34])]),
    ("audio_end", [1, 17, 0]),
    ("audio_stop", [1]),
    ("heap_get", []),  # added after the first catalogue: at the end, so the earlier frames stay as they were
    ("heap", [4, 204800, 150123, 8704]),
]

_FORMATS = {"B": "<B", "H": "<H", "h": "<h", "I": "<I", "i": "<i", "Q": "<Q"}


def payload(mtype, values):
    """The payload, from the host's catalogue (independent of link.pack and of the board's table)."""
    out = b""
    for field, value in zip(catalogue.MESSAGES[mtype][2].split(), values):
        code = field.split(":")[1]
        if code in _FORMATS:
            out += struct.pack(_FORMATS[code], value)
        elif code == "s":
            out += struct.pack("<B", len(value.encode())) + value.encode()
        elif code == "t":
            out += struct.pack("<H", len(value.encode())) + value.encode()
        elif code == "x":
            out += struct.pack("<B", len(value)) + value
        elif code == "l":
            out += struct.pack("<B", len(value)) + b"".join(struct.pack("<i", x) for x in value)
        elif code == "y":
            out += value
    return out


def vectors():
    rows = []
    for k, (name, values) in enumerate(EXAMPLES):
        mtype = link.type_of(name)
        flags = link.FLAG_RELIABLE if catalogue.MESSAGES[mtype][1] else 0
        seq = (k * 4099) & 0xFFFF
        data = payload(mtype, values)
        json_values = [v.hex() if isinstance(v, bytes) else v for v in values]
        rows.append({
            "name": name, "type": mtype, "flags": flags, "seq": seq, "values": json_values,
            "payload": data.hex(), "frame": spec_ref.frame(mtype, data, seq, flags).hex(),
        })
    return rows


def main():
    rows = vectors()
    PATH.write_text("[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n]\n", encoding="utf-8")
    print(f"wrote {PATH}")


if __name__ == "__main__":
    main()

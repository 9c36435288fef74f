"""The link between a board and the host: frames and the message catalogue.

One module, imported unchanged by the firmware (`import link`) and by the host
(`pocket_agent.firmware.link`), in the Python both MicroPython and CPython run.
The spec is docs/link-protocol.md; tests hold the two together. The session
on top (handshake, acknowledgements, heartbeats) is linkio.Endpoint.

A frame on the wire is DLE SOF, then the stuffed body. The body is a 7-byte
header (version, type, flags, seq u16, payload length u16), the payload, and a
CRC-16/CCITT-FALSE of header and payload. Stuffing XORs each body byte with
0xF0 and escapes the result if it is one of the 0x01..0x05 mpremote uses to
take over a board, CR (which runs a REPL line) or DLE; so a frame never holds
any of them, in either direction.
"""

from array import array

try:
    import micropython
    from micropython import const
except ImportError:  # CPython: the viper functions below run as plain Python
    from pocket_agent.host.link.viper import const, micropython, ptr8, ptr16, ptr32

VERSION = const(1)
MIN_VERSION = const(1)
MAX_PAYLOAD = const(1024)
HEADER = const(7)
TRAILER = const(2)
OVERHEAD = const(11)  # DLE SOF + header + CRC, before stuffing
FLAG_RELIABLE = const(1)  # the receiver acknowledges; seq counts reliable frames

_DLE = const(0x10)
_SOF = const(0x53)
_MASK = const(0xF0)
DLE = _DLE  # a frame starts with DLE SOF
SOF = _SOF

# Why the reader stopped (Decoder.status) and what Endpoint.poll reports.
FRAME = const(1)
BAD_CRC = const(2)
BAD_LENGTH = const(3)
BAD_VERSION = const(4)
BAD_TYPE = const(5)
TRUNCATED = const(6)
BAD_BYTE = const(7)
ROLE_HOST = const(0)
ROLE_BOARD = const(1)

# CRC-16/CCITT-FALSE, four bits at a time: 16 entries, u16 little-endian.
_CRC_NIBBLE = (
    b"\x00\x00\x21\x10\x42\x20\x63\x30\x84\x40\xa5\x50\xc6\x60\xe7\x70"
    b"\x08\x81\x29\x91\x4a\xa1\x6b\xb1\x8c\xc1\xad\xd1\xce\xe1\xef\xf1"
)

# The message catalogue: type -> (name, reliable, fields). A field is
# name:code[:unit]; codes: B u8, H u16, h i16, I u32, i i32, Q u64, s text of
# up to 255 UTF-8 bytes, t text of up to 65535, x up to 255 bytes, l list of up
# to 255 i32, y the rest of the payload as bytes. Integers are little-endian.
MESSAGES = {
    0x01: ("hello", 0, "reply:B session:I version_max:B version_min:B role:B boot_id:I caps:I max_payload:H:bytes name:s software:s"),
    0x02: ("ack", 0, "seq:H"),
    0x03: ("heartbeat", 0, "uptime:I:ms mem_free:I:bytes bad_frames:H:frames lost_chunks:H:chunks"),
    0x04: ("error", 1, "re:H code:B text:s"),
    0x05: ("log", 0, "level:B text:t"),
    0x10: ("info_get", 1, ""),
    0x11: ("info", 1, "re:H board:s machine:s firmware:s heap:I:bytes mem_free:I:bytes width:H:px height:H:px"),
    0x12: ("clock_set", 1, "time:I:unix_s ms:H:ms utc_offset:h:min"),
    0x20: ("display_text", 1, "region:B flags:B text:t"),
    0x21: ("notify", 1, "level:B duration:H:ms title:s text:t"),
    0x22: ("led", 1, "r:B g:B b:B mode:B period:H:ms"),
    0x23: ("tone", 1, "freq:H:Hz duration:H:ms volume:B:%"),
    0x24: ("sound", 1, "sound:B volume:B:%"),
    0x25: ("button", 1, "button:B action:B uptime:I:ms"),
    0x26: ("setting_set", 1, "setting:B value:i"),
    0x30: ("sensor_read", 1, "sensor:B"),
    0x31: ("sensor_value", 1, "re:H sensor:B status:B values:l"),
    0x40: ("confirm_request", 1, "cid:I ttl:I:ms expiry:Q:unix_ms nonce:x action:t"),
    0x41: ("confirm_result", 1, "cid:I result:B signature:x"),
    0x42: ("confirm_cancel", 1, "cid:I"),
    0x43: ("pair", 1, "key:x"),
    0x48: ("timer_set", 1, "tid:I due:I:unix_s kind:B label:s"),
    0x49: ("timer_cancel", 1, "tid:I"),
    0x4A: ("timer_fired", 1, "tid:I at:I:unix_s"),
    0x4C: ("note_set", 1, "nid:I text:t"),
    0x4D: ("note_delete", 1, "nid:I"),
    0x4E: ("sync_begin", 1, "generation:I"),
    0x4F: ("sync_end", 1, "generation:I items:H:items"),
    0x50: ("audio_start", 1, "stream:B codec:B rate:H:Hz purpose:B"),
    0x51: ("audio_chunk", 0, "stream:B index:H predicted:h step_index:B samples:H:samples data:y"),
    0x52: ("audio_end", 1, "stream:B chunks:H:chunks reason:B"),
    0x53: ("audio_stop", 1, "stream:B"),
}
TYPES = {}  # name -> type, filled on first use
HELLO = const(0x01)
ACK = const(0x02)
HEARTBEAT = const(0x03)
ERROR = const(0x04)
AUDIO_CHUNK = const(0x51)
AUDIO_END = const(0x52)

# audio_chunk payload offsets within a frame body, for the allocation-free path.
AUDIO_STREAM = const(7)
AUDIO_INDEX = const(8)
AUDIO_PREDICTED = const(10)
AUDIO_STEP_INDEX = const(12)
AUDIO_SAMPLES = const(13)
AUDIO_DATA = const(15)

_codes = {}


def type_of(name):
    if not TYPES:
        for t in MESSAGES:
            TYPES[MESSAGES[t][0]] = t
    return TYPES[name]


def codes(mtype):
    """The field codes of a message type, as bytes (parsed once, then cached)."""
    c = _codes.get(mtype)
    if c is None:
        spec = MESSAGES[mtype][2]
        c = bytes(ord(f.split(":")[1]) for f in spec.split()) if spec else b""
        _codes[mtype] = c
    return c


def field_names(mtype):
    return [f.split(":")[0] for f in MESSAGES[mtype][2].split()]


@micropython.viper
def crc16(buf: ptr8, start: int, end: int) -> int:
    """CRC-16/CCITT-FALSE of buf[start:end]."""
    tab = ptr16(_CRC_NIBBLE)
    crc = 0xFFFF
    i = start
    while i < end:
        b = int(buf[i])
        crc = ((crc << 4) & 0xFFFF) ^ int(tab[(crc >> 12) ^ (b >> 4)])
        crc = ((crc << 4) & 0xFFFF) ^ int(tab[(crc >> 12) ^ (b & 15)])
        i += 1
    return crc


@micropython.viper
def _stuff(src: ptr8, i: int, end: int, dst: ptr8, j: int) -> int:
    """Stuff src[i:end] into dst from dst[j]; returns where it ended in dst."""
    while i < end:
        w = int(src[i]) ^ _MASK
        if (w >= 1 and w <= 5) or w == 13 or w == _DLE:
            dst[j] = _DLE
            dst[j + 1] = w ^ 0x20
            j += 2
        else:
            dst[j] = w
            j += 1
        i += 1
    return j


# Reader state (an array('i')): mode, body bytes so far, bytes needed,
# noise bytes seen outside frames, largest payload, why it stopped.
_HUNT = const(0)
_HUNT_DLE = const(1)
_BODY = const(2)
_BODY_DLE = const(3)


@micropython.viper
def _unstuff(st: ptr32, src: ptr8, i: int, end: int, dst: ptr8) -> int:
    """Read src[i:end] into dst until a body is complete or bad; returns the
    index reached. st[5] says why it stopped (0: input used up)."""
    mode = int(st[0])
    pos = int(st[1])
    need = int(st[2])
    noise = int(st[3])
    maxlen = int(st[4])
    res = 0
    while i < end:
        w = int(src[i])
        i += 1
        if mode == _HUNT:
            if w == _DLE:
                mode = _HUNT_DLE
            else:
                noise += 1
            continue
        if mode == _HUNT_DLE:
            if w == _SOF:
                mode = _BODY
                pos = 0
                need = HEADER
            elif w == _DLE:
                noise += 1
            else:
                noise += 2
                mode = _HUNT
            continue
        if mode == _BODY_DLE:
            if w == _SOF:  # a new frame began inside this one
                res = TRUNCATED
                mode = _BODY
                pos = 0
                need = HEADER
                break
            if w == _DLE:  # not an escape: this DLE may start the next frame
                res = BAD_BYTE
                mode = _HUNT_DLE
                break
            w = w ^ 0x20
            if not ((w >= 1 and w <= 5) or w == 13 or w == _DLE):
                res = BAD_BYTE
                mode = _HUNT
                break
            mode = _BODY
        elif w == _DLE:
            mode = _BODY_DLE
            continue
        elif (w >= 1 and w <= 5) or w == 13:
            res = BAD_BYTE
            mode = _HUNT
            break
        dst[pos] = w ^ _MASK
        pos += 1
        if pos == HEADER:
            n = int(dst[5]) | (int(dst[6]) << 8)
            if n > maxlen:
                res = BAD_LENGTH
                mode = _HUNT
                break
            need = HEADER + n + TRAILER
        elif pos == need:
            res = FRAME
            mode = _HUNT
            break
    st[0] = mode
    st[1] = pos
    st[2] = need
    st[3] = noise
    st[5] = res
    return i


class Decoder:
    """Turns a byte stream into frame bodies. Feed it with `feed`, then call
    `next` until it returns 0. A bad frame is counted and skipped, never taken
    as the end of the stream. No allocation after construction."""

    def __init__(self, max_payload=MAX_PAYLOAD):
        self.body = bytearray(HEADER + max_payload + TRAILER)
        self.st = array("i", (0, 0, 0, 0, max_payload, 0))
        self.src = b""
        self.i = 0
        self.end = 0
        self.frames = 0
        self.bad_crc = 0
        self.bad_length = 0
        self.bad_version = 0
        self.bad_type = 0
        self.truncated = 0
        self.bad_byte = 0
        self.type = 0
        self.flags = 0
        self.seq = 0
        self.length = 0

    @property
    def noise(self):
        return self.st[3]

    def bad_frames(self):
        return (self.bad_crc + self.bad_length + self.bad_version + self.bad_type
                + self.truncated + self.bad_byte)

    def resync(self):
        """Forget a half-read frame (after the port was closed and reopened)."""
        self.st[0] = _HUNT
        self.i = self.end = 0

    def feed(self, src, n=-1):
        """Hand over src[:n] (all of src by default); read it with next()."""
        self.src = src
        self.i = 0
        self.end = len(src) if n < 0 else n

    def next(self):
        """Read on to the next frame: FRAME (type, flags, seq, length and
        body are set), an error code (counted), or 0 once the input is used."""
        while self.i < self.end:
            self.i = _unstuff(self.st, self.src, self.i, self.end, self.body)
            res = self.st[5]
            if res == FRAME:
                res = self._check()
                if res == FRAME:
                    self.frames += 1
                return res
            if res:
                if res == TRUNCATED:
                    self.truncated += 1
                elif res == BAD_LENGTH:
                    self.bad_length += 1
                else:
                    self.bad_byte += 1
                return res
        return 0

    def _check(self):
        b = self.body
        n = b[5] | (b[6] << 8)
        end = HEADER + n
        if crc16(b, 0, end) != b[end] | (b[end + 1] << 8):
            self.bad_crc += 1
            return BAD_CRC
        mtype = b[1]
        if mtype not in MESSAGES:
            # Whole and checked, so its header is kept: a reliable one must
            # still be acknowledged, or its sender retransmits it forever.
            self.type = mtype
            self.flags = b[2]
            self.seq = b[3] | (b[4] << 8)
            self.length = n
            self.bad_type += 1
            return BAD_TYPE
        if (b[0] < MIN_VERSION or b[0] > VERSION) and mtype != HELLO:
            self.bad_version += 1
            return BAD_VERSION
        self.type = mtype
        self.flags = b[2]
        self.seq = b[3] | (b[4] << 8)
        self.length = n
        return FRAME


class Encoder:
    """Builds frames: the payload goes into body[HEADER:]; then emit() writes
    the header and CRC and sends the stuffed frame through write(out, n), or
    seal() stuffs it whole into out. No allocation.

    out holds the largest frame (2068 bytes); emit() also works with a
    smaller out, a piece of (len(out) - 2) // 2 body bytes per write: the
    board's linkio.Stdio gives it 514 bytes. seal() needs room for the
    whole frame and makes out that large again if it is not."""

    def __init__(self, max_payload=MAX_PAYLOAD):
        self.max_payload = max_payload
        self.body = bytearray(HEADER + max_payload + TRAILER)
        self.out = bytearray(2 + 2 * len(self.body))

    def _close(self, mtype, flags, seq, n):
        # header and CRC around the n payload bytes; the body's length
        if n > self.max_payload:
            raise ValueError("payload too long")
        b = self.body
        b[0] = VERSION
        b[1] = mtype
        b[2] = flags
        b[3] = seq & 0xFF
        b[4] = (seq >> 8) & 0xFF
        b[5] = n & 0xFF
        b[6] = n >> 8
        crc = crc16(b, 0, HEADER + n)
        b[HEADER + n] = crc & 0xFF
        b[HEADER + n + 1] = crc >> 8
        return HEADER + n + TRAILER

    def seal(self, mtype, flags, seq, n):
        """Frame the n payload bytes in body; returns the frame's length in out."""
        end = self._close(mtype, flags, seq, n)
        if len(self.out) < 2 + 2 * end:
            self.out = bytearray(2 + 2 * len(self.body))
        self.out[0] = _DLE
        self.out[1] = _SOF
        return _stuff(self.body, 0, end, self.out, 2)

    def emit(self, write, mtype, flags, seq, n):
        """Frame the n payload bytes in body and write the frame in pieces."""
        end = self._close(mtype, flags, seq, n)
        out = self.out
        out[0] = _DLE
        out[1] = _SOF
        step = (len(out) - 2) >> 1
        j = 2
        i = 0
        while i < end:
            k = i + step if end - i > step else end
            write(out, _stuff(self.body, i, k, out, j))
            i = k
            j = 0


def _put(buf, off, value, size, limit):
    if not 0 <= value <= limit:
        raise ValueError("field out of range")
    for k in range(size):
        buf[off + k] = (value >> (8 * k)) & 0xFF


def pack(buf, off, mtype, values):
    """Write a message's fields (in catalogue order) at buf[off:]; returns
    the payload length. Raises ValueError for a value that does not fit."""
    c = codes(mtype)
    if len(values) != len(c):
        raise ValueError("wrong number of fields")
    p = off
    for k in range(len(c)):
        code = c[k]
        v = values[k]
        if code == 0x42:  # B
            _put(buf, p, v, 1, 0xFF)
            p += 1
        elif code == 0x48:  # H
            _put(buf, p, v, 2, 0xFFFF)
            p += 2
        elif code == 0x68:  # h
            _put(buf, p, v + 0x8000, 2, 0xFFFF)
            buf[p + 1] ^= 0x80
            p += 2
        elif code == 0x49:  # I
            _put(buf, p, v, 4, 0xFFFFFFFF)
            p += 4
        elif code == 0x69:  # i
            _put(buf, p, v + 0x80000000, 4, 0xFFFFFFFF)
            buf[p + 3] ^= 0x80
            p += 4
        elif code == 0x51:  # Q
            _put(buf, p, v, 8, 0xFFFFFFFFFFFFFFFF)
            p += 8
        elif code == 0x6C:  # l
            _put(buf, p, len(v), 1, 0xFF)
            p += 1
            for x in v:
                _put(buf, p, x + 0x80000000, 4, 0xFFFFFFFF)
                buf[p + 3] ^= 0x80
                p += 4
        else:  # s, t, x, y
            if code != 0x79:
                if code != 0x78:
                    v = v.encode("utf-8")
                size = 2 if code == 0x74 else 1
                _put(buf, p, len(v), size, 0xFF if size == 1 else 0xFFFF)
                p += size
            buf[p:p + len(v)] = v
            p += len(v)
    return p - off


def _get(buf, off, size, end):
    if off + size > end:
        raise ValueError("payload too short")
    v = 0
    for k in range(size):
        v |= buf[off + k] << (8 * k)
    return v


def unpack(mtype, buf, off, end):
    """Read a message's fields from buf[off:end]; returns a list of values in
    catalogue order. Raises ValueError for a payload that does not parse."""
    c = codes(mtype)
    out = []
    p = off
    for code in c:
        if code == 0x42:
            v = _get(buf, p, 1, end)
            p += 1
        elif code == 0x48:
            v = _get(buf, p, 2, end)
            p += 2
        elif code == 0x68:
            v = _get(buf, p, 2, end)
            v -= (v & 0x8000) << 1
            p += 2
        elif code == 0x49:
            v = _get(buf, p, 4, end)
            p += 4
        elif code == 0x69:
            v = _get(buf, p, 4, end)
            v -= (v & 0x80000000) << 1
            p += 4
        elif code == 0x51:
            v = _get(buf, p, 8, end)
            p += 8
        elif code == 0x6C:
            count = _get(buf, p, 1, end)
            p += 1
            v = []
            for _ in range(count):
                x = _get(buf, p, 4, end)
                v.append(x - ((x & 0x80000000) << 1))
                p += 4
        elif code == 0x79:
            v = bytes(buf[p:end])
            p = end
        else:
            size = 2 if code == 0x74 else 1
            n = _get(buf, p, size, end)
            p += size
            if p + n > end:
                raise ValueError("payload too short")
            v = bytes(buf[p:p + n])
            if code != 0x78:
                try:
                    v = str(v, "utf-8")
                except UnicodeError:
                    raise ValueError("text is not UTF-8")
            p += n
        out.append(v)
    if p != end:
        raise ValueError("payload too long")
    return out


def u16(buf, off):
    return buf[off] | (buf[off + 1] << 8)


def i16(buf, off):
    v = buf[off] | (buf[off + 1] << 8)
    return v - ((v & 0x8000) << 1)


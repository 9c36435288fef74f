"""A link session (linkio.Endpoint) and the board's end of the wire (Stdio).

Endpoint is pure protocol logic shared by the board and the host bridge: the
handshake, acknowledged and retransmitted control messages, best-effort audio
with loss counted, heartbeats. Stdio moves frames over the board's USB serial
port (sys.stdin.buffer / sys.stdout.buffer, shared with the REPL) without
allocating.
"""

import sys

if sys.implementation.name == "micropython":
    import link
    from link import (ACK, AUDIO_CHUNK, AUDIO_DATA, AUDIO_END, AUDIO_INDEX, AUDIO_PREDICTED,
                      AUDIO_SAMPLES, AUDIO_STEP_INDEX, AUDIO_STREAM, BAD_TYPE, DLE, FLAG_RELIABLE, FRAME,
                      SOF, HEADER, HEARTBEAT, HELLO, MAX_PAYLOAD, MIN_VERSION, VERSION, pack,
                      reliable, u16, unpack)
    from time import ticks_diff
else:
    from pocket_agent.firmware import link
    from pocket_agent.firmware.link import (
        ACK, AUDIO_CHUNK, AUDIO_DATA, AUDIO_END, AUDIO_INDEX, AUDIO_PREDICTED, AUDIO_SAMPLES,
        AUDIO_STEP_INDEX, AUDIO_STREAM, BAD_TYPE, DLE, FLAG_RELIABLE, FRAME, HEADER, HEARTBEAT, HELLO, SOF,
        MAX_PAYLOAD, MIN_VERSION, VERSION, pack, reliable, u16, unpack)
    from pocket_agent.host.link.catalogue import named

    def ticks_diff(a, b):
        return a - b

# What Endpoint.poll reports besides message types.
LINK_UP = -1
LINK_DOWN = -2
BAD_FRAME = -3


def _le(buf, off, value, size):
    for k in range(size):
        buf[off + k] = (value >> (8 * k)) & 0xFF


def _seq_after(a, b):
    """a is b or later, modulo 2**16 (within half the space)."""
    return ((a - b) & 0xFFFF) < 0x8000


class Endpoint:
    """One side of a session: handshake, acknowledged control messages,
    best-effort audio, heartbeats. Pure logic: bytes come in through feed()
    and go out through write(buf, n); the caller passes the time in ms.

    Call poll(now) until it returns 0. It returns a message type when a
    message is ready in dec (read it with unpack(dec.type, dec.body, HEADER,
    HEADER + dec.length)), LINK_UP after a handshake, LINK_DOWN when the peer
    falls silent or stops acknowledging, BAD_FRAME for a counted bad frame.
    Reliable messages that are not acknowledged yet survive LINK_DOWN and are
    sent again, renumbered, after the next handshake.
    """

    def __init__(self, write, role, boot_id, name="", software="", caps=0,
                 slots=4, slot_payload=256, max_payload=MAX_PAYLOAD,
                 rto=250, tries=6, heartbeat=1000, dead_after=3500):
        self.write = write
        self.role = role
        self.boot_id = boot_id & 0xFFFFFFFF
        self.name = name
        self.software = software
        self.caps = caps
        self.enc = link.Encoder(max_payload)
        self.dec = link.Decoder(max_payload)
        self.slots = [bytearray(slot_payload) for _ in range(slots)]
        self.slot_type = bytearray(slots)
        self.slot_len = [0] * slots
        self.slot_seq = [0] * slots
        self.head = 0
        self.count = 0
        self.rto = rto
        self.tries = tries
        self.heartbeat = heartbeat
        self.dead_after = dead_after
        self.up = False
        self.hello = None  # the values of the peer's hello (see peer)
        self.peer_uptime = 0  # from the peer's last heartbeat
        self.peer_mem_free = 0
        self.peer_bad_frames = 0
        self.peer_lost_chunks = 0
        self.peer_reset = False
        self.mem_free = 0
        self.tx_seq = 0
        self.tx_rseq = 0
        self.rx_next = 0
        self.attempt = 0
        self.nonce = 0
        self.peer_nonce = -1
        self.hello_due = 0
        self.hello_wait = 200
        self.rto_now = rto
        self.tried = 0
        self.due = 0
        self.last_rx = 0
        self.last_hb = 0
        self.rx_stream = -1
        self.rx_index = 0
        self.lost_chunks = 0
        self.rx_chunks = 0
        self.sent = 0  # reliable messages queued, ever
        self.acked = 0  # of which acknowledged: message k (1-based) is through once acked >= k
        self.retransmits = 0
        self.dups = 0
        self.out_of_order = 0
        self.bad_payload = 0
        self.failed = 0
        self.now = 0

    if sys.implementation.name != "micropython":
        @property
        def peer(self):
            """The peer's hello fields by name, None before the first
            handshake: the host's view (the names are the host's catalogue)."""
            return None if self.hello is None else named(HELLO, self.hello)

    def feed(self, data, n=-1):
        """Hand over received bytes; poll until it returns 0 before feeding more."""
        self.dec.feed(data, n)

    def poll(self, now):
        self.now = now
        dec = self.dec
        while True:
            r = dec.next()
            if r == 0:
                break
            if r != FRAME:
                if r == BAD_TYPE and self.up and dec.flags & FLAG_RELIABLE:
                    self._take_reliable(dec.seq)  # a newer peer's message: taken, then refused
                return BAD_FRAME
            ev = self._on_frame(now)
            if ev:
                return ev
        return self._on_time(now)

    def _emit(self, mtype, flags, seq, n):
        self.enc.emit(self.write, mtype, flags, seq, n)

    def send(self, mtype, values, now=None):
        """Send a message. A reliable one waits in the outbox until it is
        acknowledged; returns False when the outbox is full (try later) or,
        for a best-effort message, when there is no session."""
        if now is None:
            now = self.now
        needs_ack = reliable(mtype)
        if needs_ack and self.count == len(self.slots):
            return False
        n = pack(self.enc.body, HEADER, mtype, values)
        if not needs_ack:
            if not self.up:
                return False
            self._emit(mtype, 0, self.tx_seq, n)
            self.tx_seq = (self.tx_seq + 1) & 0xFFFF
            return True
        k = (self.head + self.count) % len(self.slots)
        slot = self.slots[k]
        if n > len(slot):
            raise ValueError("message too long for the outbox")
        slot[0:n] = memoryview(self.enc.body)[HEADER:HEADER + n]
        self.slot_type[k] = mtype
        self.slot_len[k] = n
        self.slot_seq[k] = self.tx_rseq
        self.tx_rseq = (self.tx_rseq + 1) & 0xFFFF
        self.count += 1
        self.sent += 1
        if self.up:
            self._emit(mtype, FLAG_RELIABLE, self.slot_seq[k], n)
            if self.count == 1:
                self.due = now + self.rto_now
        return True

    def send_audio(self, stream, index, predicted, step_index, samples, nbytes):
        """Send an audio_chunk whose ADPCM data is already in
        enc.body[AUDIO_DATA:AUDIO_DATA + nbytes]. Best effort; no allocation."""
        if not self.up:
            return False
        b = self.enc.body
        b[AUDIO_STREAM] = stream
        b[AUDIO_INDEX] = index & 0xFF
        b[AUDIO_INDEX + 1] = (index >> 8) & 0xFF
        b[AUDIO_PREDICTED] = predicted & 0xFF
        b[AUDIO_PREDICTED + 1] = (predicted >> 8) & 0xFF
        b[AUDIO_STEP_INDEX] = step_index
        b[AUDIO_SAMPLES] = samples & 0xFF
        b[AUDIO_SAMPLES + 1] = samples >> 8
        self._emit(AUDIO_CHUNK, 0, self.tx_seq, AUDIO_DATA - HEADER + nbytes)
        self.tx_seq = (self.tx_seq + 1) & 0xFFFF
        return True

    def pending(self):
        """Reliable messages not yet acknowledged."""
        return self.count

    def _resend(self, now):
        slots = len(self.slots)
        body = self.enc.body
        for j in range(self.count):
            k = (self.head + j) % slots
            n = self.slot_len[k]
            body[HEADER:HEADER + n] = memoryview(self.slots[k])[0:n]
            self._emit(self.slot_type[k], FLAG_RELIABLE, self.slot_seq[k], n)
        self.due = now + self.rto_now

    def _send_hello(self, now, reply, session):
        vals = (reply, session, VERSION, MIN_VERSION, self.role, self.boot_id,
                self.caps, self.enc.max_payload, self.name, self.software)
        n = pack(self.enc.body, HEADER, HELLO, vals)
        self._emit(HELLO, 0, self.tx_seq, n)
        self.tx_seq = (self.tx_seq + 1) & 0xFFFF

    def _send_heartbeat(self, now):
        b = self.enc.body  # written field by field: no allocation once a second
        _le(b, HEADER, now & 0x3FFFFFFF, 4)
        _le(b, HEADER + 4, self.mem_free & 0xFFFFFFFF, 4)
        _le(b, HEADER + 8, self.dec.bad_frames() & 0xFFFF, 2)
        _le(b, HEADER + 10, self.lost_chunks & 0xFFFF, 2)
        self._emit(HEARTBEAT, 0, self.tx_seq, 12)
        self.tx_seq = (self.tx_seq + 1) & 0xFFFF

    def _send_ack(self):
        b = self.enc.body
        last = (self.rx_next - 1) & 0xFFFF
        b[HEADER] = last & 0xFF
        b[HEADER + 1] = last >> 8
        self._emit(ACK, 0, self.tx_seq, 2)
        self.tx_seq = (self.tx_seq + 1) & 0xFFFF

    def _on_frame(self, now):
        dec = self.dec
        t = dec.type
        self.last_rx = now
        if t == HELLO:
            return self._on_hello(now)
        if not self.up:
            if ticks_diff(self.hello_due, now) > 50:
                self.hello_due = now  # the peer talks to an old session: offer a new one
            return 0
        if t == ACK:
            if dec.length == 2:
                self._on_ack(u16(dec.body, HEADER), now)
            else:
                self.bad_payload += 1
            return 0
        if dec.flags & FLAG_RELIABLE and not self._take_reliable(dec.seq):
            return 0
        if t == HEARTBEAT:
            if dec.length == 12:
                b = dec.body
                self.peer_uptime = u16(b, HEADER) | (u16(b, HEADER + 2) << 16)
                self.peer_mem_free = u16(b, HEADER + 4) | (u16(b, HEADER + 6) << 16)
                self.peer_bad_frames = u16(b, HEADER + 8)
                self.peer_lost_chunks = u16(b, HEADER + 10)
            else:
                self.bad_payload += 1
            return 0
        if t == AUDIO_CHUNK:
            if dec.length < AUDIO_DATA - HEADER:
                self.bad_payload += 1
                return 0
            self._audio_seen(dec.body[AUDIO_STREAM], u16(dec.body, AUDIO_INDEX), 0)
            self.rx_chunks += 1
        elif t == AUDIO_END and dec.length >= 3:
            self._audio_seen(dec.body[HEADER], u16(dec.body, HEADER + 1), 1)
        return t

    def _take_reliable(self, seq):
        """Acknowledge a reliable frame; True if it is the next one, to deliver."""
        if seq == self.rx_next:
            self.rx_next = (self.rx_next + 1) & 0xFFFF
            self._send_ack()
            return True
        if _seq_after(self.rx_next, seq):
            self.dups += 1
            self._send_ack()
        else:
            self.out_of_order += 1
        return False

    def _audio_seen(self, stream, index, end):
        if stream != self.rx_stream:
            self.rx_stream = stream
            self.rx_index = 0
        gap = (index - self.rx_index) & 0xFFFF
        if gap < 0x8000:
            self.lost_chunks += gap
            self.rx_index = (index + 1 - end) & 0xFFFF

    def _on_hello(self, now):
        dec = self.dec
        try:
            v = unpack(HELLO, dec.body, HEADER, HEADER + dec.length)
        except ValueError:
            self.bad_payload += 1
            return 0
        reply, session = v[0], v[1]
        if v[4] == self.role:  # our own hello echoed back, or a peer of the same kind
            self.bad_payload += 1
            return 0
        if v[2] < MIN_VERSION or v[3] > VERSION:
            self.dec.bad_version += 1
            return 0
        if not reply:
            self._send_hello(now, 1, session)
            if session == self.peer_nonce and self.up:
                return 0  # a repeat of the hello we answered
            self.peer_nonce = session
        elif self.up or session != self.nonce:
            return 0  # an answer to an older attempt
        old = self.hello
        self.hello = v
        self.peer_reset = old is None or old[5] != v[5]  # boot_id
        self._session_start(now)
        return LINK_UP

    def _session_start(self, now):
        self.up = True
        self.rx_next = 0
        self.rx_stream = -1
        slots = len(self.slots)
        for j in range(self.count):
            self.slot_seq[(self.head + j) % slots] = j
        self.tx_rseq = self.count
        self.tried = 0
        self.rto_now = self.rto
        self.hello_wait = 200
        self.last_hb = now - self.heartbeat
        if self.count:
            self._resend(now)

    def _on_ack(self, seq, now):
        slots = len(self.slots)
        freed = 0
        while self.count and _seq_after(seq, self.slot_seq[self.head]):
            self.head = (self.head + 1) % slots
            self.count -= 1
            freed += 1
        if freed:
            self.acked += freed
            self.tried = 0
            self.rto_now = self.rto
            self.due = now + self.rto_now

    def restart(self, now):
        """The wire was cut (port closed or reopened): drop the session and
        handshake again; the outbox is kept."""
        self.dec.resync()
        if self.up:
            self._down(now)
        self.hello_due = now

    def _down(self, now):
        self.up = False
        self.hello_due = now
        self.hello_wait = 200
        return LINK_DOWN

    def _on_time(self, now):
        if not self.up:
            if ticks_diff(now, self.hello_due) >= 0:
                if self.hello_wait == 200:  # a new attempt gets a new session id
                    self.attempt += 1
                    self.nonce = (self.boot_id + self.attempt * 0x9E3779B1) & 0xFFFFFFFF
                self._send_hello(now, 0, self.nonce)
                self.hello_due = now + self.hello_wait
                self.hello_wait = min(self.hello_wait * 2, 2000)
            return 0
        if ticks_diff(now, self.last_rx) > self.dead_after:
            return self._down(now)
        if self.count and ticks_diff(now, self.due) >= 0:
            self.tried += 1
            if self.tried > self.tries:
                self.failed += 1
                return self._down(now)
            self.retransmits += self.count
            self.rto_now = min(self.rto_now * 2, 4000)
            self._resend(now)
        if ticks_diff(now, self.last_hb) >= self.heartbeat:
            self.last_hb = now
            self._send_heartbeat(now)
        return 0

    def stats(self):
        d = self.dec
        return {
            "up": self.up, "frames": d.frames, "bad_crc": d.bad_crc, "bad_length": d.bad_length,
            "bad_version": d.bad_version, "bad_type": d.bad_type, "truncated": d.truncated,
            "bad_byte": d.bad_byte, "noise_bytes": d.noise, "bad_payload": self.bad_payload,
            "sent": self.sent, "acked": self.acked, "retransmits": self.retransmits, "pending": self.count,
            "dups": self.dups, "out_of_order": self.out_of_order, "failed": self.failed,
            "audio_chunks": self.rx_chunks, "lost_chunks": self.lost_chunks,
        }


class Stdio:
    """The board's end: frames in from sys.stdin.buffer, out to
    sys.stdout.buffer, without allocating after construction.

    A board's stdin read waits for every byte it asks for, and select.poll
    only tells that one byte is there. So between frames the reader takes a
    byte at a time after poll says there is one; inside a frame it asks at
    once for the bytes the frame still needs (never more, so it never waits
    for the next frame). The cost: a frame cut off mid-way (the cable pulled
    during the few ms it takes) holds the app until the host sends again,
    which it does at least every 2 s while connected. With whole_frames=False
    every byte waits for poll: no such hold, but some 50x more calls a byte.

    Frames go out `piece` body bytes at a time: the endpoint's output buffer
    is swapped for one of 2 + 2 * piece bytes (514 instead of 2068).
    """

    def __init__(self, endpoint, stdin=None, stdout=None, chunk=256, whole_frames=True, piece=256):
        import select
        self.ep = endpoint
        self.inp = stdin or sys.stdin.buffer
        self.out = stdout or sys.stdout.buffer
        self.poller = select.poll()
        self.poller.register(self.inp, select.POLLIN)
        self.pollin = select.POLLIN
        self.rx = bytearray(chunk)
        self.one = bytearray(1)
        self.whole_frames = whole_frames
        self.rx_bytes = 0
        self.closed = False
        endpoint.write = self.write
        if len(endpoint.enc.out) > 2 + 2 * piece:
            endpoint.enc.out = bytearray(2 + 2 * piece)

    def write(self, buf, n):
        self.out.write(buf, n)

    def _ready(self):
        ready = False
        for _obj, ev in self.poller.ipoll(0):
            if ev & self.pollin:
                ready = True
            elif ev:
                self.closed = True
        return ready

    def pump(self, now):
        """Read what has arrived and poll the endpoint: returns what
        Endpoint.poll returns (call again until it returns 0)."""
        dec = self.ep.dec
        if dec.i < dec.end:  # the last chunk is not used up yet
            return self.ep.poll(now)
        for _ in range(6):  # a frame's start, header and body: a few reads at most
            n = self._read(dec.st)
            if not n:
                break
            self.rx_bytes += n
            dec.feed(self.rx, n)
            ev = self.ep.poll(now)
            if ev:
                return ev
        return self.ep.poll(now)

    def _read(self, st):
        rx = self.rx
        n = 0
        if self.whole_frames and st[0] >= 2:  # inside a frame: ask for what it still needs
            if self._ready():
                k = st[2] - st[1]
                if k > len(rx):
                    k = len(rx)
                n = self.inp.readinto(rx, k) or 0
                if not n:
                    self.closed = True
            return n
        prev = DLE if st[0] == 1 else 0
        while n < len(rx) and self._ready():
            if not self.inp.readinto(self.one):
                self.closed = True
                break
            b = self.one[0]
            rx[n] = b
            n += 1
            if b == SOF and prev == DLE and self.whole_frames:
                break  # a frame starts: read it whole next
            prev = b
        return n

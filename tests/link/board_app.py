"""A small board app that speaks the link over stdin/stdout, for tests and
benchmarks of the link and the bridge in the real MicroPython VM (the real
firmware app is built elsewhere; this one only exercises the protocol).

It answers info_get and sensor_read, keeps what it is told (display text,
timers, notes, confirmations), approves a confirmation whose summary starts
with "yes" (denies one that starts with "no"), streams N chunks of a tone as ADPCM audio when shown the text
"stream N PACED" (PACED 0: as fast as the link takes them), and decodes the
audio it is sent. Run: micropython board_app.py [name].
"""

import gc
import sys
import time

import adpcm
import approval
import link
import linkio

STREAM_SAMPLES = 1024  # 64 ms at 16 kHz, 512 bytes of ADPCM


class App:
    def __init__(self, name, boot):
        self.ep = linkio.Endpoint(None, link.ROLE_BOARD, boot, name, "board_app 1", caps=0x7FF,
                                  slots=6)
        self.io = linkio.Stdio(self.ep)
        self.state = {}
        self.timers = {}
        self.notes = {}
        self.approver = None
        self.confirms = []  # every confirmation asked, in order (resync shows up here)
        self.acks = []  # every "ack N" display text, in order
        self.waiting = []  # messages for the host while the outbox is full
        self.pcm = bytearray(2 * STREAM_SAMPLES)
        self.adpcm = adpcm.new_state()
        self.streaming = 0
        self.stream_id = 0
        self.chunk = 0
        self.t_chunk = 0
        self.play_state = adpcm.new_state()
        self.play = bytearray(2 * STREAM_SAMPLES)
        self.played = 0
        self.paced = 1  # 0: stream as fast as the link takes it
        self.fill_tone(440)

    def fill_tone(self, hz):
        # A square-ish wave is enough for the link; the mic path is elsewhere.
        period = 16000 // hz
        for i in range(STREAM_SAMPLES):
            v = 8000 if (i % period) < period // 2 else -8000
            self.pcm[2 * i] = v & 0xFF
            self.pcm[2 * i + 1] = (v >> 8) & 0xFF

    def send(self, mtype, values, now):
        """Send, or keep it for later while the outbox is full."""
        if self.waiting or not self.ep.send(mtype, values, now):
            self.waiting.append((mtype, values))

    def flush(self, now):
        while self.waiting and self.ep.send(self.waiting[0][0], self.waiting[0][1], now):
            self.waiting.pop(0)

    def values(self):
        ep = self.ep
        return link.unpack(ep.dec.type, ep.dec.body, link.HEADER, link.HEADER + ep.dec.length)

    def handle(self, ev, now):
        ep = self.ep
        T = link.type_of
        if ev == link.AUDIO_CHUNK:
            b = ep.dec.body
            n = link.u16(b, link.AUDIO_SAMPLES)
            self.play_state[0] = link.i16(b, link.AUDIO_PREDICTED)
            self.play_state[1] = b[link.AUDIO_STEP_INDEX]
            adpcm.decode(self.play_state, b, link.AUDIO_DATA, self.play, n)
            self.played += n
            return
        if ev <= 0:
            return
        v = self.values()
        if ev == T("info_get"):
            self.send(T("info"), (ep.dec.seq, ep.name, getattr(sys.implementation, "_machine", sys.platform), "board_app 1",
                                gc.mem_alloc() + gc.mem_free(), gc.mem_free(), 128, 64), now)
        elif ev == T("sensor_read"):
            values = {0: [2150, 4530, 101325], 1: [0, 0, 1000, 0, 0, 0], 2: [3900, 80]}.get(v[0])
            self.send(T("sensor_value"), (ep.dec.seq, v[0], 0 if values else 1, values or []), now)
        elif ev == T("display_text"):
            self.state["display"] = v[2]
            if v[2].startswith("ack "):  # answer with a reliable message of our own
                self.acks.append(int(v[2][4:]))
                self.send(T("button"), (0, 0, int(v[2][4:])), now)
            elif v[2].startswith("echo "):
                self.send(T("log"), (1, v[2][5:]), now)
            elif v[2] == "report":
                self.send(T("log"), (1, "played %d lost %d bad %d" % (
                    self.played, ep.lost_chunks, ep.dec.bad_frames())), now)
            elif v[2] == "acks":
                self.send(T("log"), (1, "acks %d %d %d" % (len(self.acks), len(set(self.acks)),
                                                          self.acks == sorted(self.acks))), now)
            elif v[2] == "state":
                self.send(T("log"), (1, "timers %s notes %s confirms %s" % (
                    sorted(self.timers), sorted(self.notes), self.confirms)), now)
            elif v[2].startswith("stream "):  # "stream CHUNKS PACED": talk into the mic
                words = v[2].split()
                self.stream_id = (self.stream_id + 1) & 0xFF
                self.streaming = int(words[1])
                self.paced = int(words[2])
                self.chunk = 0
                self.t_chunk = now
                self.send(T("audio_start"), (self.stream_id, 1, 16000, 0), now)
        elif ev == T("pair"):
            self.approver = approval.Approver(v[0])
        elif ev == T("confirm_request"):
            cid, ttl, expiry, nonce, action = v
            if self.approver is None:
                self.send(T("confirm_result"), (cid, 4, b""), now)
                return
            text = self.approver.request(action.encode(), nonce, expiry, ttl)
            self.confirms.append(cid)
            if text.startswith("yes"):  # the user presses the button at once
                self.send(T("confirm_result"), (cid, 0, self.approver.press()), now)
            elif text.startswith("no"):
                self.approver.deny()
                self.send(T("confirm_result"), (cid, 1, b""), now)
        elif ev == T("timer_set"):
            self.timers[v[0]] = v[1]
        elif ev == T("timer_cancel"):
            self.timers.pop(v[0], None)
        elif ev == T("note_set"):
            self.notes[v[0]] = v[1]
        elif ev == T("note_delete"):
            self.notes.pop(v[0], None)
        elif ev == T("sync_begin"):
            self.timers = {}
            self.notes = {}
        elif ev == T("sync_end"):
            self.send(T("log"), (1, "synced %d timers %d notes" % (len(self.timers), len(self.notes))), now)
        elif ev == T("clock_set"):
            self.state["clock"] = v[0]
        elif ev == T("audio_stop"):
            self.streaming = 0

    def stream(self, now):
        if not self.streaming or not self.ep.up:
            return
        if self.paced and time.ticks_diff(now, self.t_chunk) < 0:
            return
        pred, index = self.adpcm[0], self.adpcm[1]
        nbytes = adpcm.encode(self.adpcm, self.pcm, self.ep.enc.body, link.AUDIO_DATA, STREAM_SAMPLES)
        self.ep.send_audio(self.stream_id, self.chunk, pred, index, STREAM_SAMPLES, nbytes)
        self.chunk += 1
        self.t_chunk = time.ticks_add(self.t_chunk, 64)
        self.streaming -= 1
        if not self.streaming:
            self.send(link.type_of("audio_end"), (self.stream_id, self.chunk, 0), now)

    def run(self):
        while not self.io.closed:
            now = time.ticks_ms()
            busy = False
            while True:
                ev = self.io.pump(now)
                if not ev:
                    break
                busy = True
                self.handle(ev, now)
            self.ep.mem_free = gc.mem_free()
            self.flush(now)
            self.stream(now)
            if not busy and not self.streaming:
                time.sleep_ms(2)


def main():
    import os
    name = sys.argv[1] if len(sys.argv) > 1 else "board_app"
    boot = int.from_bytes(os.urandom(4), "little")
    App(name, boot).run()


if __name__ == "__main__":
    main()

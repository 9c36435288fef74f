# The audio paths. Capture: mic frames -> VAD / wake word, and while
# listening -> IMA-ADPCM chunks on the link. Playback: the host's ADPCM
# chunks, tones and sounds -> the amplifier, without blocking. Buffers are
# made once (the speaker's ring once a stream, held only while it plays); a
# frame in, a chunk out and a chunk played allocate nothing.
from array import array
import micropython
from micropython import const
import time
import uctypes

import adpcm
import link

CHUNK = const(960)  # samples per audio_chunk: three 20 ms frames, 60 ms
PLAY_MAX = const(1024)  # samples per chunk the board accepts from the host
_AHEAD_MS = const(120)  # how far sound handed to the amp may run ahead of real time
_BLOCK = const(512)  # samples per write to the amp: 32 ms
_RING = const(2560)  # samples of decoded answer queued: 160 ms, five blocks
_LOST_MS = const(500)  # a write not taken by then lost its callback (a full scheduler queue)
_REST_MS = const(300)  # the amp's bus is closed this long after the last write (all of it played)

# sound number -> (Hz, ms) steps; 0 Hz is a pause
SOUNDS = (
    ((1047, 120), (1319, 120), (1568, 200)),  # 0 chime
    ((880, 80), (0, 40), (1760, 120)),  # 1 confirm
    ((330, 200), (0, 60), (220, 300)),  # 2 error
    ((1760, 150), (0, 100), (1760, 150), (0, 100), (1760, 150), (0, 400)) * 3,  # 3 alarm
)


@micropython.viper
def copy16(dst: ptr16, at: int, src: ptr16, n: int):
    i = 0
    while i < n:
        dst[at + i] = src[i]
        i += 1


@micropython.viper
def zero16(dst: ptr16, at: int, n: int):
    i = 0
    while i < n:
        dst[at + i] = 0
        i += 1


class Capture:
    def __init__(self, mic, ep, vad, detector=None):
        self.mic = mic
        self.ep = ep
        self.vad = vad
        self.detector = detector
        self.acc = array("h", bytes(2 * CHUNK))
        self.fill = 0
        self.coder = adpcm.new_state()
        self.streaming = False
        self.stream = 0
        self.index = 0
        self.level = 0
        self.frames = 0

    def start(self, now):
        self.stream = (self.stream + 1) & 0xFF
        self.index = 0
        self.fill = 0
        self.coder[0] = 0
        self.coder[1] = 0
        self.vad.reset()
        self.streaming = True
        self.ep.send(link.type_of("audio_start"), (self.stream, 1, 16000, 0), now)

    def end(self, reason, now):
        """reason: 0 done, 1 stopped (broken off), 3 error."""
        if not self.streaming:
            return
        if self.fill and reason == 0:
            self._flush()
        self.streaming = False
        self.ep.send(link.type_of("audio_end"), (self.stream, self.index, reason), now)

    def _flush(self):
        ep = self.ep
        pred, step = self.coder[0], self.coder[1]
        n = adpcm.encode(self.coder, self.acc, ep.enc.body, link.AUDIO_DATA, self.fill)
        ep.send_audio(self.stream, self.index, pred, step, self.fill, n)
        self.index += 1
        self.fill = 0

    def idle(self):
        """Back to listening for the wake word: the refractory period and the
        smoothing of the last wake do not carry into this idle period."""
        if self.detector is not None:
            self.detector.reset()

    def frame(self):
        """Read one mic frame; returns 1 for the wake word, and while
        streaming 2 for the end of speech, 3 for its start; else 0."""
        mic = self.mic
        self.level = mic.read()
        self.frames += 1
        if self.streaming:
            copy16(self.acc, self.fill, mic.pcm, mic.frame)  # type: ignore[arg-type]
            self.fill += mic.frame
            if self.fill >= CHUNK:
                self._flush()
            v = self.vad.feed(self.level)
            if v:
                return 3 if v == 1 else 2
        elif self.detector is not None:
            if self.detector.feed(mic.pcm):
                return 1
        return 0


class Playback:
    """Sound for the speaker, fed by its own task (App._play_task) so that the
    link and the button never wait for the speaker. The host's chunks are
    decoded into a ring of samples; pump() hands the amp one block at a time
    with a non-blocking write and keeps at most _AHEAD_MS handed over ahead of
    real time, so stop() silences the speaker within that (plus the block
    being taken). While the ring has no room for a chunk the link stops
    reading (full()), which holds the host back."""

    def __init__(self, amp):
        self.amp = amp
        amp.nonblocking()
        self.blocks: list = []  # the ring: made for a stream, dropped once played (_ring)
        self.addr: list = []
        self.rd = 0  # ring index of the next block to hand over (a multiple of _BLOCK)
        self.fill = 0  # samples queued from rd on
        self.coder = adpcm.new_state()
        self.stream = -1  # the host's stream being played
        self.ending = False  # its audio_end came: it is over once the ring has played out
        self.steps: tuple | None = None  # a tone or sound being played
        self.step = 0
        self.step_left = 0
        self.volume = 100
        self.t0 = 0
        self.sent_ms = 0  # ms of sound handed to the amp since t0
        self.wrote_at = 0  # ticks of the last write
        self.lost = 0  # writes whose callback never came
        self.no_room = 0  # sounds dropped because the amp's bus could not open again
        self.dropped = 0  # chunks that found no room (a host that ignored the link's backpressure)

    @property
    def busy(self):
        return self.stream >= 0 or self.steps is not None

    def room(self):
        return _RING - self.fill - (_BLOCK if self.amp.busy else 0)

    def full(self):
        """True while a chunk of the stream being played would not fit."""
        return self.stream >= 0 and self.room() <= PLAY_MAX  # a chunk takes up to PLAY_MAX + 1

    def start_stream(self, stream):
        """False if the heap has no room for the ring now (the stream is refused)."""
        self.stop()
        try:
            if not self.blocks:
                self._ring(True)
            self.amp.wake()
        except MemoryError:
            self._ring(False)
            return False
        self.stream = stream
        return True

    def _ring(self, on):
        """The ring of decoded samples is held only while the host's sound plays
        (5 KB idle otherwise). Its blocks are buffers of their own: a long-running
        heap may have no 5 KB in one piece."""
        if not on:
            self.blocks.clear()
            self.addr.clear()
            return
        self.blocks = [bytearray(2 * _BLOCK) for _ in range(_RING // _BLOCK)]
        # Chunks are decoded straight into the ring, at an offset in a block: the
        # viper code takes an address for a buffer (small ints on both ports).
        self.addr = [uctypes.addressof(b) for b in self.blocks]
        self.rd = 0

    def end_stream(self, stream):
        if stream == self.stream:
            self.ending = True

    def chunk(self, body, length):
        """An audio_chunk in a frame body; False if it does not fit."""
        if body[link.AUDIO_STREAM] != self.stream:
            return True  # not ours (stopped): dropped quietly
        n = link.u16(body, link.AUDIO_SAMPLES)
        if n > PLAY_MAX or (n + 1) // 2 > length - (link.AUDIO_DATA - link.HEADER):
            return False
        if n + 1 > self.room():
            self.dropped += 1
            return True
        coder = self.coder
        coder[0] = link.i16(body, link.AUDIO_PREDICTED)
        coder[1] = body[link.AUDIO_STEP_INDEX]
        amp = self.amp
        at = self.rd + self.fill  # even: so is every piece but a chunk's last (two samples a byte)
        i = 0
        while i < n:
            if at >= _RING:
                at -= _RING
            b = at // _BLOCK
            off = at - b * _BLOCK
            k = min(_BLOCK - off, n - i)
            p = self.addr[b] + 2 * off
            adpcm.decode(coder, body, link.AUDIO_DATA + (i >> 1), p, k)
            amp.apply_volume(p, k)
            i += k
            at += k
        if n & 1:  # an odd chunk: one silent sample keeps the next one even
            if at >= _RING:
                at -= _RING
            zero16(self.blocks[at // _BLOCK], at % _BLOCK, 1)  # type: ignore[arg-type]
            n += 1
        self.fill += n
        return True

    def stop(self):
        """Drop what is queued; the block the amp is taking is its last."""
        self.stream = -1
        self.ending = False
        self.fill = 0
        self.steps = None

    def sound(self, steps, volume, now):
        """Play a tuple of (Hz, ms) steps (replaces any tone playing)."""
        if self.stream >= 0:
            return False
        self.steps = steps
        self.step = 0
        self.step_left = steps[0][1]
        self.volume = volume
        return True

    def pump(self, now):
        """Hand the amp its next block if it is free and less than _AHEAD_MS is
        queued. True once the host's stream has ended and has been played."""
        amp = self.amp
        if amp.busy and time.ticks_diff(now, self.wrote_at) > _LOST_MS:
            # The port took this block long ago (at most ~150 ms is queued ahead) but its
            # callback was dropped: a port drops a scheduled callback when the queue is full.
            amp.busy = False
            self.lost += 1
        ahead = self.sent_ms - time.ticks_diff(now, self.t0)
        if ahead <= 0:  # nothing queued (idle, or the source ran late): time starts again
            self.t0 = now
            self.sent_ms = 0
            ahead = 0
        if self.stream >= 0:
            if self.ending and not self.fill and ahead == 0 and not self.amp.busy:
                self.stream = -1
                self.ending = False
                self._ring(False)
                return True
        elif self.blocks and not amp.busy:
            self._ring(False)  # stopped: dropped once the amp has taken the block it was given
        if self.stream < 0 and self.steps is None:
            if amp.awake and time.ticks_diff(now, self.wrote_at) > _REST_MS:
                amp.sleep()  # nothing to play: its port buffers go back to the heap
            return False
        if ahead >= _AHEAD_MS or amp.busy:
            return False
        self.wrote_at = now
        try:
            if self.stream >= 0:
                self._stream_block()
            else:
                self._tone_block()
        except MemoryError:  # the amp's bus found no room to open again: this sound is dropped
            self.stop()
            self.no_room += 1
        return False

    def _stream_block(self):
        fill = self.fill
        if fill < _BLOCK:
            if not (self.ending and fill):
                return  # wait for the host's next chunk
            zero16(self.blocks[self.rd // _BLOCK], fill, _BLOCK - fill)  # type: ignore[arg-type]  # the last, short block
            fill = _BLOCK
        self.amp.write(self.blocks[self.rd // _BLOCK])
        self.rd = self.rd + _BLOCK if self.rd + _BLOCK < _RING else 0
        self.fill = fill - _BLOCK
        self.sent_ms += _BLOCK * 1000 // self.amp.rate

    def _tone_block(self):
        amp = self.amp
        steps = self.steps
        if steps is None:
            return
        freq = steps[self.step][0]
        if freq:
            amp.tone_block(freq, self.volume)
        else:
            amp.silence()
        block_ms = amp.block * 1000 // amp.rate
        self.sent_ms += block_ms
        self.step_left -= block_ms
        if self.step_left <= 0:
            self.step += 1
            if self.step >= len(steps):
                self.steps = None
                return
            self.step_left = steps[self.step][1]

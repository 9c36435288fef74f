# The audio paths. Capture: mic frames -> VAD / wake word, and while
# listening -> IMA-ADPCM chunks on the link. Playback: the host's ADPCM
# chunks, tones and sounds -> the amplifier. Buffers are made here once;
# a frame in and a chunk out allocate nothing.
from array import array
import micropython
from micropython import const
import time

import adpcm
import link

CHUNK = const(960)  # samples per audio_chunk: three 20 ms frames, 60 ms
PLAY_MAX = const(1024)  # samples per chunk the board accepts from the host
_AHEAD_MS = const(120)  # how far tone output may run ahead of real time

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
    def __init__(self, amp):
        self.amp = amp
        self.pcm = array("h", bytes(2 * PLAY_MAX))
        self.coder = adpcm.new_state()
        self.stream = -1  # the host's stream being played
        self.steps = None  # a tone or sound being played
        self.step = 0
        self.step_left = 0
        self.volume = 100
        self.t0 = 0
        self.sent_ms = 0

    @property
    def busy(self):
        return self.stream >= 0 or self.steps is not None

    def start_stream(self, stream):
        self.steps = None
        self.stream = stream

    def chunk(self, body, length):
        """An audio_chunk in a frame body; False if it does not fit."""
        if body[link.AUDIO_STREAM] != self.stream:
            return True  # not ours (stopped): dropped quietly
        n = link.u16(body, link.AUDIO_SAMPLES)
        if n > PLAY_MAX or (n + 1) // 2 > length - (link.AUDIO_DATA - link.HEADER):
            return False
        self.coder[0] = link.i16(body, link.AUDIO_PREDICTED)
        self.coder[1] = body[link.AUDIO_STEP_INDEX]
        adpcm.decode(self.coder, body, link.AUDIO_DATA, self.pcm, n)
        self.amp.play(self.pcm, n)
        return True

    def stop(self):
        self.stream = -1
        self.steps = None

    def sound(self, steps, volume, now):
        """Play a tuple of (Hz, ms) steps (replaces any tone playing)."""
        if self.stream >= 0:
            return False
        self.steps = steps
        self.step = 0
        self.step_left = steps[0][1]
        self.volume = volume
        self.t0 = now
        self.sent_ms = 0
        return True

    def pump(self, now):
        """Feed tone blocks while less than _AHEAD_MS is queued."""
        steps = self.steps
        if steps is None:
            return
        amp = self.amp
        block_ms = amp.block * 1000 // amp.rate
        while self.sent_ms - time.ticks_diff(now, self.t0) < _AHEAD_MS:
            freq = steps[self.step][0]
            if freq:
                amp.tone_block(freq, self.volume)
            else:
                amp.silence()
            self.sent_ms += block_ms
            self.step_left -= block_ms
            if self.step_left <= 0:
                self.step += 1
                if self.step >= len(steps):
                    self.steps = None
                    return
                self.step_left = steps[self.step][1]

"""I2S audio parts: an INMP441 MEMS microphone and a MAX98357A amplifier.

The mic plays what the world gives it (a WAV file, or PCM fed live) and is
silent otherwise. It sends 24-bit samples MSB-first in 32-bit slots, on the
left channel (its L/R pin tied low); a receiver set to 16 bits gets the top
16 bits. The amp plays what the board sends at the board's rate, (L+R)/2 in
stereo, and the world can record it to a WAV file.
"""

import threading
import wave

# numpy is imported where samples are handled: a twin whose board never opens
# an I2S stream does not pay for it at start.


def read_wav(path):
    """(int16 mono samples, rate) of a PCM WAV file."""
    import numpy as np

    try:
        with wave.open(str(path), "rb") as w:
            rate, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
            raw = w.readframes(w.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise ValueError(f"cannot read WAV {path}: {exc}") from None
    if width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.int32)
    elif width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.int32) - 128) << 8
    elif width == 4:
        x = np.frombuffer(raw, "<i4") >> 16
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        x = ((b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8) >> 16
    else:
        raise ValueError(f"{path}: {8 * width}-bit WAV is not supported")
    x = x.reshape(-1, channels).mean(axis=1) if channels > 1 else x
    return x.astype(np.int16), rate


class Mic:
    kind = "inmp441"

    def __init__(self, name):
        self.name = name
        self.lock = threading.Lock()
        self.queue = []  # [samples int16, rate, position (float, in source samples)]
        self.loop = False
        self.streamed = 0  # samples delivered to the board
        self.lost = 0  # samples the board did not read in time: its ring buffer was full
        self.played = 0  # samples of the sources delivered

    def play(self, samples, rate, append=False, loop=False):
        import numpy as np

        with self.lock:
            if not append:
                self.queue = []
            self.queue.append([np.asarray(samples, np.int16), int(rate), 0.0])
            self.loop = loop

    def stop(self):
        with self.lock:
            self.queue = []

    def take(self, n, rate):
        """The next n samples at `rate`; silence where nothing plays."""
        import numpy as np

        out = np.zeros(n, np.int16)
        with self.lock:
            i = 0
            while i < n and self.queue:
                src, src_rate, pos = self.queue[0]
                step = src_rate / rate
                if step == 1.0:
                    k = min(n - i, len(src) - int(pos))
                    out[i:i + k] = src[int(pos):int(pos) + k]
                else:
                    left = int((len(src) - 1 - pos) / step) + 1 if pos < len(src) - 1 else 0
                    k = min(n - i, left)
                    at = pos + step * np.arange(k)
                    out[i:i + k] = np.interp(at, np.arange(len(src)), src).astype(np.int16)
                i += k
                self.played += k
                self.queue[0][2] = pos + k * step
                if self.queue[0][2] >= len(src) - (0 if step == 1.0 else 1) or k == 0:
                    done = self.queue.pop(0)
                    if self.loop:
                        done[2] = 0.0
                        self.queue.append(done)
                        if len(self.queue) == 1 and len(src) == 0:
                            break
            self.streamed += n
        return out

    def encode(self, samples, bits, stereo):
        """Samples as the receiver's DMA buffer holds them (little-endian words)."""
        import numpy as np

        s24 = samples.astype(np.int32) << 8
        word = (s24 << 8).astype("<i4") if bits == 32 else (s24 >> 8).astype("<i2")
        if stereo:
            frame = np.zeros((len(word), 2), word.dtype)
            frame[:, 0] = word  # right slot: the mic leaves it undriven
            word = frame.reshape(-1)
        return word.tobytes()

    def state(self):
        with self.lock:
            left = sum(max(0.0, len(s) - p) / r for s, r, p in self.queue)
        return {"playing": bool(self.queue), "seconds_left": round(left, 3), "loop": self.loop,
                "samples_streamed": self.streamed, "samples_lost": self.lost}


class Amp:
    kind = "max98357a"

    def __init__(self, name):
        self.name = name
        self.lock = threading.Lock()
        self.recording = None  # an open wave writer
        self.record_path = None
        self.record_rate = None
        self.recorded = 0
        self.peak = 0
        self.played = 0

    def decode(self, data, bits, stereo):
        import numpy as np

        dt = "<i4" if bits == 32 else "<i2"
        x = np.frombuffer(data[:len(data) - len(data) % (bits // 8)], dt).astype(np.int32)
        if bits == 32:
            x >>= 16
        if stereo:
            x = x[:len(x) - len(x) % 2].reshape(-1, 2).sum(axis=1) // 2
        return x.astype(np.int16)

    def play(self, samples, rate):
        import numpy as np

        with self.lock:
            self.played += len(samples)
            if len(samples):
                self.peak = max(self.peak, int(np.abs(samples.astype(np.int32)).max()))
            if self.recording is not None:
                if self.record_rate is None:
                    self.record_rate = rate
                    self.recording.setframerate(rate)
                self.recording.writeframes(samples.astype("<i2").tobytes())
                self.recorded += len(samples)

    def record(self, path):
        with self.lock:
            self._close()
            try:
                w = wave.open(str(path), "wb")
            except OSError as exc:
                raise ValueError(f"cannot write {path}: {exc}") from None
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)  # replaced by the stream's rate when it starts
            self.recording, self.record_path, self.record_rate, self.recorded = w, str(path), None, 0
        return self.record_path

    def stop(self):
        with self.lock:
            info = {"path": self.record_path, "samples": self.recorded, "rate": self.record_rate}
            self._close()
            return info

    def _close(self):
        if self.recording is not None:
            self.recording.close()
            self.recording = None

    def state(self):
        return {"recording": self.record_path if self.recording else None, "samples_played": self.played,
                "peak": self.peak}

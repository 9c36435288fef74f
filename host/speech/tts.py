"""Text to speech with espeak-ng (Debian's package): 16 kHz mono int16 PCM plus the text to show."""

import shutil
import subprocess
from dataclasses import dataclass

from pocket_agent.errors import PocketError

from .audio import RATE, read_wav, to_int16


@dataclass
class Speech:
    text: str  # what the screen shows while the audio plays
    pcm: bytes  # 16-bit little-endian mono at `rate`
    rate: int = RATE

    @property
    def seconds(self):
        return len(self.pcm) / 2 / self.rate


class EspeakTTS:
    def __init__(self, voice="en-us", words_per_minute=165, pitch=None, exe=None):
        self.voice = voice
        self.words_per_minute = words_per_minute
        self.pitch = pitch
        self.exe = exe or shutil.which("espeak-ng")

    def synthesize(self, text):
        if not self.exe:
            raise PocketError("espeak-ng is not installed", hint="apt-get install espeak-ng (./run setup does it)")
        text = " ".join(str(text).split())
        if not text:
            return Speech("", b"")
        args = [self.exe, "--stdout", "-v", self.voice, "-s", str(self.words_per_minute)]
        if self.pitch is not None:
            args += ["-p", str(self.pitch)]
        # text on stdin: never parsed as options, whatever it starts with
        proc = subprocess.run(args, input=text.encode(), capture_output=True, timeout=60)
        if proc.returncode != 0 or not proc.stdout:
            raise PocketError(f"espeak-ng failed: {proc.stderr.decode(errors='replace').strip() or 'no audio'}",
                              hint=f"check the voice name {self.voice!r} with `espeak-ng --voices=en`")
        return Speech(text, to_int16(read_wav(proc.stdout)).tobytes())

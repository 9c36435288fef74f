"""World control as a Python API: act on the parts around a running twin.

    with launcher.start("pico2w") as twin:
        twin.world.environment(temperature=23.5)
        twin.world.press("button", ms=200)
        rows = twin.world.display_pixels()

Each method is one control command (`pocket sim ctl NAME key=value ...`),
forwarded by the supervisor to the world process.
"""

import base64
import os

import numpy as np


class WorldControl:
    def __init__(self, call):
        self._call = call  # call(cmd, **args) -> result; raises PocketError

    # buttons
    def press(self, button="button", ms=None, bounce=True):
        """Press a button; with `ms`, release it that much later."""
        return self._call("press", button=button, ms=ms, bounce=bounce)

    def release(self, button="button", bounce=True):
        return self._call("release", button=button, bounce=bounce)

    def hold(self, button="button", ms=1000, bounce=True):
        return self._call("hold", button=button, ms=ms, bounce=bounce)

    # environment and motion
    def environment(self, temperature=None, humidity=None, pressure=None):
        """Set degC, %RH and Pa; None leaves a value as it is. Returns all three."""
        return self._call("environment", temperature=temperature, humidity=humidity, pressure=pressure)

    def orientation(self, position=None, pitch=None, roll=None):
        """A named position (flat, face_down, left, right, up, down) or pitch/roll in degrees."""
        return self._call("orientation", position=position, pitch=pitch, roll=roll)

    def shake(self, seconds=1.0, g=1.5):
        return self._call("shake", seconds=seconds, g=g)

    def tap(self, g=3.0):
        return self._call("tap", g=g)

    # audio
    def mic_play(self, path, append=False, loop=False):
        """Play a WAV file into the mic (it starts as the board listens)."""
        return self._call("mic_play", path=os.path.abspath(path), append=append, loop=loop)

    def mic_feed(self, samples, rate=16000):
        """Queue 16-bit mono samples (a live source) after what is playing."""
        pcm = np.asarray(samples, "<i2").tobytes()
        return self._call("mic_play", pcm=base64.b64encode(pcm).decode(), rate=rate, append=True)

    def mic_stop(self):
        return self._call("mic_stop")

    def speaker_record(self, path):
        """Record what the amplifier plays to a WAV file until speaker_stop()."""
        return self._call("speaker_record", path=os.path.abspath(path))

    def speaker_stop(self):
        return self._call("speaker_stop")

    # display, LED, battery
    def display_pixels(self):
        """What the OLED shows: rows (top first) of 0/1."""
        snap = self._call("display")
        return [[int(c) for c in row] for row in snap["rows"]]

    def display_frames(self, since=0):
        """(last, [(monotonic time, rows)]): the screens shown after frame `since`."""
        got = self._call("display_frames", since=since)
        return got["last"], [(f["t"], [[int(c) for c in row] for row in f["rows"]]) for f in got["frames"]]

    def display_png(self, path, scale=1):
        return self._call("display", path=os.path.abspath(path), scale=scale)

    def battery(self, level=None, drain_per_hour=None):
        """Set the state of charge (0..1) and how fast it drains."""
        return self._call("battery", level=level, drain_per_hour=drain_per_hour)

    def led(self):
        return self._call("led")

    def state(self):
        """Every part's state."""
        return self._call("world")

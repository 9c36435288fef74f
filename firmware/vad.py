# A small energy voice-activity detector: one mean absolute level per frame
# in, speech start and end out. The noise floor follows quiet frames (down
# fast, up slowly); speech is a level well above it. Integer maths, no
# allocation per frame, no machine: it runs the same on the board and in tests.
try:
    from micropython import const
except ImportError:  # CPython (tests)
    from pocket_agent.host.link.viper import const

START = const(1)
END = const(2)


class Vad:
    def __init__(self, frame_ms=20, ratio_q4=48, min_level=80, speech_ms=120, silence_ms=800,
                 floor=40):
        self.ratio_q4 = ratio_q4  # threshold = floor * ratio_q4 / 16
        self.min_level = min_level  # below this nothing is speech, however quiet the room
        self.speech_frames = max(1, speech_ms // frame_ms)
        self.silence_frames = max(1, silence_ms // frame_ms)
        self.floor0 = floor
        self.reset()

    def reset(self):
        self.floor = self.floor0
        self.active = False  # speech started and not yet ended
        self.run = 0  # frames in a row above (inactive) or below (active) the threshold
        self.heard = False  # any speech since reset

    def threshold(self):
        t = (self.floor * self.ratio_q4) >> 4
        return t if t > self.min_level else self.min_level

    def feed(self, level):
        """One frame's level: START, END or 0."""
        loud = level > self.threshold()
        if level < self.floor:
            self.floor = (self.floor * 3 + level) >> 2
        elif not loud:
            self.floor += ((level - self.floor) >> 5) + 1
        else:  # a steady loud noise (a fan) becomes the floor within seconds
            self.floor += ((level - self.floor) >> 8) + 1
        if not self.active:
            self.run = self.run + 1 if loud else 0
            if self.run >= self.speech_frames:
                self.active = True
                self.heard = True
                self.run = 0
                return START
            return 0
        self.run = 0 if loud else self.run + 1
        if self.run >= self.silence_frames:
            self.active = False
            self.run = 0
            return END
        return 0

# Streaming wake-word detector: int16 samples in, detections out.
#
#   det = Detector("/hey_pocket.pwm", threshold=0.95)
#   if det.feed(samples):       # samples: array('h') (or int16 bytes with viper)
#       ...                     # det.last_ms: stream time of the detection
#
# Per frame (20 ms) nothing is allocated: buffers are made here, once.
import math

from . import fe_tables, kernels
from .frontend import FrontEnd
from .model import Model, ModelError  # noqa: F401  (ModelError is part of the API)


class Detector:
    def __init__(self, model, threshold=None, force_python=False):
        if force_python:
            kernels.FORCE_PY = True
        k = kernels.load()
        self.viper = k.__name__.endswith("_kviper")
        self.model = Model(model, fe_tables.FRONTEND_ID, fe_tables.N_MEL, k)
        # a model read from its file fills its buffer only in step(), after
        # the front end's frame(): the FFT can use it meanwhile
        self.fe = FrontEnd(k, self.model.buf if self.model.f is not None else None)
        m = self.model
        if threshold is None:
            threshold = m.default_threshold
        threshold = float(threshold)
        if not 0.0 < threshold < 1.0:
            raise ValueError("wake-word threshold must be between 0 and 1, not %r" % threshold)
        self.threshold = threshold
        logit = math.log(threshold / (1.0 - threshold))
        self.limit = m.smooth * int(math.floor(logit * (1 << m.logit_q) + 0.5))
        self.recent = [0] * m.smooth  # last logits (small ints: no allocation)
        self.reset()

    def reset(self):
        self.fe.reset()
        self.model.reset()
        for i in range(len(self.recent)):
            self.recent[i] = 0
        self.total = 0
        self.pos = 0
        self.cool = 0
        self.frames = 0
        self.last_frame = -1
        self.last_ms = -1
        self.last_logit = 0

    def feed(self, samples, start=0, n=-1):
        """Take int16 samples; return how many detections they completed."""
        if n < 0:
            n = len(samples) - start
        found = 0
        fe = self.fe
        m = self.model
        while n > 0:
            took = fe.push(samples, start, n)
            start += took
            n -= took
            if fe.ready():
                fe.frame(m.act, m.input_slot())
                found += self._decide(m.step())
        return found

    def _decide(self, logit):
        self.last_logit = logit
        i = self.pos
        self.total += logit - self.recent[i]
        self.recent[i] = logit
        self.pos = i + 1 if i + 1 < len(self.recent) else 0
        frame = self.frames
        self.frames = frame + 1
        if self.cool > 0:
            self.cool -= 1
            return 0
        if self.total >= self.limit:
            self.cool = self.model.refractory
            self.last_frame = frame
            # end of the frame that completed the detection, in stream time
            self.last_ms = (frame * fe_tables.HOP + fe_tables.FRAME) // 16
            return 1
        return 0

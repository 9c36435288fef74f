# A wake-word model (format version 1, see docs/wakeword.md), run one feature
# frame at a time. Pure code: no machine. Reading and checking the file is
# modelfile.py's, imported for the load and dropped after it. A model loaded
# from a path is read from its file a layer at a time, every frame.
from array import array
import sys

_DESC = 12  # ints per layer in the descriptor array, see _kpy.net


class ModelError(ValueError):
    pass


class Model:
    """A parsed model: weights and biases stay in the file (or the bytes it
    was given) and are read in place; rings are made once."""

    # set by modelfile.read (annotations only: no code on the board)
    buf: bytes  # the model's bytes, or (from a file) room for its largest layer
    f: object  # the open model file, or None
    chunks: array  # per layer: file offset and length of its biases and weights
    desc: array
    act: bytearray
    n_layers: int
    phrase: str
    logit_q: int
    smooth: int
    refractory: int
    default_threshold: float

    def __init__(self, data, frontend_id, n_mel, kernels):
        from . import modelfile
        try:
            modelfile.read(self, data, frontend_id, n_mel)
        finally:
            # boot-only code: dropped, so the detector's steady state holds none of it
            sys.modules.pop(modelfile.__name__, None)
            try:
                del sys.modules[__name__.rpartition(".")[0]].modelfile
            except (KeyError, AttributeError):
                pass
        self.k = kernels

    def reset(self):
        for i in range(len(self.act)):
            self.act[i] = 0
        for i in range(self.n_layers):
            self.desc[i * _DESC + 6] = 0

    def input_slot(self):
        """Offset in self.act where the next feature frame goes."""
        return self.desc[7] + self.desc[6] * self.desc[1]

    def step(self):
        """Run all layers on the frame just written at input_slot(); the logit."""
        n = self.n_layers
        f = self.f
        if f is None:
            return self.k.net(self.desc, n, 0, n, self.buf, self.act)
        c = self.chunks
        out = 0
        for i in range(n):  # no allocation: seek and readinto return small ints
            f.seek(c[2 * i])  # type: ignore[attr-defined]
            f.readinto(self.buf, c[2 * i + 1])  # type: ignore[attr-defined]
            out = self.k.net(self.desc, n, i, i + 1, self.buf, self.act)
        return out

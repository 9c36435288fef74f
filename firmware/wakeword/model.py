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
    plan: array  # per layer: file offsets of its biases and weights, outputs a piece
    wview: memoryview  # where a piece's weights go in buf
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
        net = self.k.net
        act = self.act
        buf = self.buf
        desc = self.desc
        if f is None:
            return net(desc, n, 0, n, 0, 0, buf, act)
        # from the file (modelfile.read made the plan); no allocation: seek
        # and readinto return small ints
        plan = self.plan
        out = 0
        for i in range(n):
            d = i * _DESC
            cout = desc[d + 2]
            per = plan[3 * i + 2]
            if per == cout:  # the layer whole: biases, then weights
                f.seek(plan[3 * i])  # type: ignore[attr-defined]
                f.readinto(buf, plan[3 * i + 1])  # type: ignore[attr-defined]
                out = net(desc, n, i, i + 1, 0, 0, buf, act)
                continue
            row = desc[d + 3] * desc[d + 1]
            o0 = 0
            while o0 < cout:  # in pieces of outputs: their biases, then their weights
                o1 = o0 + per if o0 + per < cout else cout
                f.seek(plan[3 * i] + 4 * o0)  # type: ignore[attr-defined]
                f.readinto(buf, 4 * (o1 - o0))  # type: ignore[attr-defined]
                f.seek(plan[3 * i + 1] + o0 * row)  # type: ignore[attr-defined]
                f.readinto(self.wview, (o1 - o0) * row)  # type: ignore[attr-defined]
                out = net(desc, n, i, i + 1, o0, o1, buf, act)
                o0 = o1
        return out

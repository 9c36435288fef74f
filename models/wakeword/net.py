"""The float model in numpy, with hand-written gradients and quantization-aware
training, and its export to the integer model (qmodel).

Layers (all causal, streaming frame by frame on the device):
  conv   kernel 3 over N_MEL features -> C channels, ReLU
  4 x    depthwise kernel 5, dilation 1/2/4/8, ReLU; pointwise C -> C, ReLU
  out    pointwise C -> 1 logit
Activations are uint8 on a power-of-two grid per layer; weights are int8 on a
power-of-two grid per layer, so every requantization is a plain shift.
"""

import numpy as np

from . import qmodel
from .frontend import N_MEL

IN_EXP = 5  # features f are x = f * 2**-5
DILATIONS = (1, 2, 4, 8)
DW_K = 5
CONV_K = 3
LOGIT_Q = 4


def init(rng, channels=48):
    def he(shape, fan_in):
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)

    p = {"conv_w": he((CONV_K * N_MEL, channels), CONV_K * N_MEL), "conv_b": np.zeros(channels, np.float32)}
    for i in range(len(DILATIONS)):
        p[f"dw{i}_w"] = he((DW_K, channels), DW_K)
        p[f"dw{i}_b"] = np.zeros(channels, np.float32)
        p[f"pw{i}_w"] = he((channels, channels), channels)
        p[f"pw{i}_b"] = np.zeros(channels, np.float32)
    p["out_w"] = he((channels, 1), channels) * 0.1
    p["out_b"] = np.full(1, -2.0, np.float32)
    return p


def _wexp(w):
    """Exponent of the power-of-two weight grid: max |w| maps to <= 127."""
    m = float(np.max(np.abs(w))) + 1e-12
    return int(np.floor(np.log2(127.0 / m)))


class Quant:
    """Activation exponents per layer (set by calibrate) switch on fake quantization."""

    def __init__(self, act_exps):
        self.act = act_exps  # dict layer name -> exponent


def _fq_weight(w, q):
    if q is None:
        return w
    s = 2.0 ** -_wexp(w)
    return (np.clip(np.round(w / s), -127, 127) * s).astype(np.float32)


def _act(z, name, q, cache):
    """ReLU, or under quantization: round to the layer's grid and clamp to 0..255."""
    if q is None:
        mask = z > 0
        cache[name + "_mask"] = mask
        return z * mask
    s = 2.0 ** -q.act[name]
    y = np.clip(np.floor(z / s + 0.5), 0, 255) * s
    cache[name + "_mask"] = (z > -0.5 * s) & (z < 255.5 * s)
    return y.astype(np.float32)


def forward(p, feats, q=None):
    """Logits (B, T - 62) for uint8 features (B, T, N_MEL); returns (logits, cache)."""
    x = feats.astype(np.float32) * (2.0 ** -IN_EXP)
    B, T, _ = x.shape
    cache = {}
    cols = np.concatenate([x[:, j:T - CONV_K + 1 + j] for j in range(CONV_K)], axis=2)
    cache["conv_in"] = cols
    z = cols @ _fq_weight(p["conv_w"], q) + p["conv_b"]
    h = _act(z, "conv", q, cache)
    for i, d in enumerate(DILATIONS):
        cache[f"dw{i}_in"] = h
        w = _fq_weight(p[f"dw{i}_w"], q)
        Tn = h.shape[1] - (DW_K - 1) * d
        z = p[f"dw{i}_b"] + sum(h[:, j * d:j * d + Tn] * w[j] for j in range(DW_K))
        h = _act(z, f"dw{i}", q, cache)
        cache[f"pw{i}_in"] = h
        z = h @ _fq_weight(p[f"pw{i}_w"], q) + p[f"pw{i}_b"]
        h = _act(z, f"pw{i}", q, cache)
    cache["out_in"] = h
    logits = (h @ _fq_weight(p["out_w"], q) + p["out_b"])[..., 0]
    return logits, cache


def _outer(x, dz):
    """sum over batch and time of x^T dz: (B, T, I), (B, T, O) -> (I, O)."""
    return x.reshape(-1, x.shape[-1]).T @ dz.reshape(-1, dz.shape[-1])


def backward(p, cache, dlogits, q=None):
    """Gradients of every parameter given d loss / d logits (B, T_out)."""
    g = {}
    h = cache["out_in"]
    dl = dlogits[..., None].astype(np.float32)
    g["out_w"] = _outer(h, dl)
    g["out_b"] = dl.sum(axis=(0, 1))
    dh = dl @ _fq_weight(p["out_w"], q).T
    for i in reversed(range(len(DILATIONS))):
        d = DILATIONS[i]
        dz = dh * cache[f"pw{i}_mask"]
        x = cache[f"pw{i}_in"]
        g[f"pw{i}_w"] = _outer(x, dz)
        g[f"pw{i}_b"] = dz.sum(axis=(0, 1))
        dh = dz @ _fq_weight(p[f"pw{i}_w"], q).T
        dz = dh * cache[f"dw{i}_mask"]
        x = cache[f"dw{i}_in"]
        w = _fq_weight(p[f"dw{i}_w"], q)
        Tn = dz.shape[1]
        gw = np.zeros_like(p[f"dw{i}_w"])
        dx = np.zeros_like(x)
        for j in range(DW_K):
            sl = slice(j * d, j * d + Tn)
            gw[j] = (x[:, sl] * dz).sum(axis=(0, 1))
            dx[:, sl] += dz * w[j]
        g[f"dw{i}_w"] = gw
        g[f"dw{i}_b"] = dz.sum(axis=(0, 1))
        dh = dx
    dz = dh * cache["conv_mask"]
    g["conv_w"] = _outer(cache["conv_in"], dz)
    g["conv_b"] = dz.sum(axis=(0, 1))
    return g


class Adam:
    def __init__(self, params, lr=2e-3, b1=0.9, b2=0.999, wd=1e-4):
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0
        self.lr, self.b1, self.b2, self.wd = lr, b1, b2, wd

    def step(self, params, grads, lr=None):
        lr = self.lr if lr is None else lr
        self.t += 1
        for k in params:
            gk = grads[k] + (self.wd * params[k] if k.endswith("_w") else 0)
            self.m[k] = self.b1 * self.m[k] + (1 - self.b1) * gk
            self.v[k] = self.b2 * self.v[k] + (1 - self.b2) * gk * gk
            mh = self.m[k] / (1 - self.b1 ** self.t)
            vh = self.v[k] / (1 - self.b2 ** self.t)
            params[k] -= (lr * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)


def calibrate(p, feats):
    """Activation exponents from the float model's activations on real data."""
    _, cache = forward(p, feats)
    exps = {}
    names = ["conv"] + [f"{t}{i}" for i in range(len(DILATIONS)) for t in ("dw", "pw")]
    acts = {"conv": cache["dw0_in"]}
    for i in range(len(DILATIONS)):
        acts[f"dw{i}"] = cache[f"pw{i}_in"]
        acts[f"pw{i}"] = cache[f"dw{i + 1}_in"] if i + 1 < len(DILATIONS) else cache["out_in"]
    for n in names:
        top = float(np.percentile(acts[n], 99.99)) + 1e-6
        exps[n] = int(np.floor(np.log2(255.0 / top)))
    return Quant(exps)


def export(p, q, phrase, smooth=3, refractory=50, threshold=0.9):
    """The integer model for the float parameters under quantization q."""
    layers = []

    def layer(kind, k, d, w, b, e_in, e_out, shape):
        e_w = _wexp(w)
        shift = e_in + e_w - e_out
        if shift < 1:  # coarser weights keep the shift a right shift
            e_w += 1 - shift
            shift = 1
        wi = np.clip(np.round(w * 2.0 ** e_w), -127, 127).astype(np.int64)
        bi = np.round(b * 2.0 ** (e_in + e_w)).astype(np.int64) + (1 << (shift - 1))
        layers.append(qmodel.Layer(kind, k, d, shift, shape(wi), bi))
        return e_out

    e = IN_EXP
    # conv_w is (k * N_MEL, C) with tap-major rows; the file wants [c_out][k][c_in]
    e = layer(qmodel.CONV, CONV_K, 1, p["conv_w"], p["conv_b"], e, q.act["conv"],
              lambda w: w.T.reshape(-1, CONV_K, N_MEL))
    for i, d in enumerate(DILATIONS):
        e = layer(qmodel.DW, DW_K, d, p[f"dw{i}_w"], p[f"dw{i}_b"], e, q.act[f"dw{i}"], lambda w: w.T.copy())
        e = layer(qmodel.CONV, 1, 1, p[f"pw{i}_w"], p[f"pw{i}_b"], e, q.act[f"pw{i}"],
                  lambda w: w.T.reshape(-1, 1, w.shape[0]))
    layer(qmodel.OUT, 1, 1, p["out_w"], p["out_b"], e, LOGIT_Q, lambda w: w.T.reshape(1, 1, -1))
    return qmodel.QModel(phrase, layers, LOGIT_Q, smooth, refractory, threshold)


LAYER_NAMES = ["conv"] + [f"{t}{i}" for i in range(len(DILATIONS)) for t in ("dw", "pw")] + ["out"]


def from_model(qm, weight_exp=7):
    """Float parameters and quantization that export() turns back into qm's layers,
    to fine-tune a model file (train.enroll). The file fixes each layer's shift, not
    its grids: a ReLU network is the same with a layer's weights scaled by a power of
    two and the next layers' grids moved with it, so the hidden layers' weights are
    put on 2**-weight_exp and the output layer takes what the logit grid leaves.
    Exact when each layer's largest weight is 64..127 (export's own grid)."""
    p, act = {}, {}
    e_in = IN_EXP
    for name, L in zip(LAYER_NAMES, qm.layers):
        if name == "out":
            e_out = qm.logit_q
            e_w = L.shift - e_in + e_out
        else:
            e_w = weight_exp
            e_out = e_in + e_w - L.shift
            act[name] = e_out
        w = L.weights.astype(np.float64) * 2.0 ** -e_w
        if name == "conv":  # [c_out][k][c_in] -> (k * c_in, c_out), tap-major rows
            w = w.reshape(w.shape[0], -1).T
        elif name.startswith("dw"):  # [c][k] -> (k, c)
            w = w.T
        else:  # [c_out][1][c_in] -> (c_in, c_out)
            w = w[:, 0, :].T
        b = (L.bias - (1 << (L.shift - 1))) * 2.0 ** -(e_in + e_w)
        p[f"{name}_w"] = np.ascontiguousarray(w, np.float32)
        p[f"{name}_b"] = b.astype(np.float32)
        e_in = e_out
    return p, Quant(act)

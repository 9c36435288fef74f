"""The integer model: the .pwm file format and the bit-exact numpy reference of
firmware/wakeword/model.py and detector.py.

File format, version 1 (all little-endian; see docs/wakeword.md):
  header, 32 bytes:
    0  4s   magic b"PWWM"
    4  u16  format version (1)
    6  u16  front-end id (frontend.FRONTEND_ID)
    8  u32  payload length in bytes
    12 u32  CRC-32 of the payload
    16 u8   number of layers
    17 u8   logit_q: the output logit is in units of 2**-logit_q
    18 u8   smoothing window (frames)
    19 u8   reserved (0)
    20 u16  refractory period (frames)
    22 u16  default threshold, probability * 10000 (the board's value wins)
    24 8s   reserved (zeros)
  payload:
    u8 n, n bytes: the phrase (UTF-8)
    per layer: u8 kind (1 conv + ReLU, 2 depthwise + ReLU, 3 output), u8 kernel,
      u8 dilation, u8 shift, u16 c_in, u16 c_out, int32 bias[c_out], then the
      weights as uint8 (int8 value + 128): kinds 1 and 3 [c_out][kernel][c_in],
      kind 2 [c][kernel] (c_in == c_out).
  A layer computes, for each output, acc = sum(w * x) + bias, y = acc >> shift
  (arithmetic), clamped to 0..255 for kinds 1 and 2; kind 3 (c_out 1) gives the
  logit. Inputs are uint8 (features, then activations). Each layer sees its own
  input history, zero before the stream starts; tap j of a layer with kernel k
  and dilation d reads the frame (k - 1 - j) * d frames back.
"""

import math
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pocket_agent.errors import PocketError

from .frontend import FRONTEND_ID, N_MEL

MAGIC = b"PWWM"
VERSION = 1
HEADER = struct.Struct("<4sHHIIBBBBHH8s")
LAYER = struct.Struct("<BBBBHH")
CONV, DW, OUT = 1, 2, 3
BIAS_LIMIT = 1 << 24  # keeps acc + bias inside 31 bits on a 32-bit board


@dataclass
class Layer:
    kind: int
    kernel: int
    dilation: int
    shift: int
    weights: np.ndarray  # int8 values as int64: (c_out, kernel, c_in) or (c, kernel)
    bias: np.ndarray  # int64 (c_out,)

    @property
    def c_in(self):
        return self.weights.shape[0] if self.kind == DW else self.weights.shape[2]

    @property
    def c_out(self):
        return self.weights.shape[0]


@dataclass
class QModel:
    phrase: str
    layers: list
    logit_q: int = 4
    smooth: int = 3
    refractory: int = 50
    threshold: float = 0.9
    meta: dict = field(default_factory=dict)

    def to_bytes(self):
        payload = bytearray()
        name = self.phrase.encode("utf-8")[:255]
        payload += bytes([len(name)]) + name
        for L in self.layers:
            if not (0 <= L.shift < 32) or np.abs(L.bias).max(initial=0) >= BIAS_LIMIT:
                raise ValueError("layer out of the format's range")
            payload += LAYER.pack(L.kind, L.kernel, L.dilation, L.shift, L.c_in, L.c_out)
            payload += np.asarray(L.bias, dtype="<i4").tobytes()
            payload += (np.asarray(L.weights).astype(np.int64) + 128).astype(np.uint8).tobytes()
        header = HEADER.pack(MAGIC, VERSION, FRONTEND_ID, len(payload), zlib.crc32(payload),
                             len(self.layers), self.logit_q, self.smooth, 0, self.refractory,
                             int(round(self.threshold * 10000)), bytes(8))
        return header + bytes(payload)

    def save(self, path):
        path = Path(path)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(self.to_bytes())
        tmp.replace(path)


def from_bytes(data, source="model"):
    """Parse a .pwm file; PocketError saying what is wrong for anything else."""
    data = bytes(data)
    if len(data) < HEADER.size:
        raise PocketError(f"{source}: truncated wake-word model ({len(data)} bytes, the header alone is {HEADER.size})")
    magic, version, fe_id, plen, crc, n_layers, logit_q, smooth, _, refractory, thr, _ = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise PocketError(f"{source}: not a wake-word model (magic {magic!r}, expected {MAGIC!r})")
    if version != VERSION:
        raise PocketError(f"{source}: wake-word model format version {version}; this tool reads version {VERSION}",
                          hint="export the model again with this version of pocket")
    if fe_id != FRONTEND_ID:
        raise PocketError(f"{source}: model made for front end {fe_id}, this one is {FRONTEND_ID}")
    payload = data[HEADER.size:]
    if len(payload) != plen:
        raise PocketError(f"{source}: truncated or padded wake-word model (payload {len(payload)} bytes, header says {plen})")
    if zlib.crc32(payload) != crc:
        raise PocketError(f"{source}: corrupt wake-word model (CRC mismatch)")
    pos = 1 + payload[0]
    phrase = payload[1:pos].decode("utf-8", "replace")
    layers = []
    for _ in range(n_layers):
        kind, k, d, shift, cin, cout = LAYER.unpack_from(payload, pos)
        pos += LAYER.size
        bias = np.frombuffer(payload, dtype="<i4", count=cout, offset=pos).astype(np.int64)
        pos += 4 * cout
        n = cout * k if kind == DW else cout * k * cin
        w = np.frombuffer(payload, dtype=np.uint8, count=n, offset=pos).astype(np.int64) - 128
        pos += n
        w = w.reshape(cout, k) if kind == DW else w.reshape(cout, k, cin)
        layers.append(Layer(kind, k, d, shift, w, bias))
    if pos != len(payload):
        raise PocketError(f"{source}: wake-word model layout does not match its length")
    return QModel(phrase, layers, logit_q, smooth, refractory, thr / 10000.0)


def load(path):
    path = Path(path)
    if not path.exists():
        raise PocketError(f"no such model file: {path}")
    return from_bytes(path.read_bytes(), source=str(path))


def forward(qm, feats):
    """Integer logits (int64, one per frame) for uint8 features (frames, N_MEL),
    as the streaming firmware computes them from the start of a stream."""
    x = np.asarray(feats, dtype=np.int64)
    if x.ndim != 2 or x.shape[1] != N_MEL:
        raise ValueError("features must be (frames, %d)" % N_MEL)
    T = len(x)
    for L in qm.layers:
        span = (L.kernel - 1) * L.dilation
        xp = np.concatenate([np.zeros((span, x.shape[1]), np.int64), x])
        if L.kind == DW:
            acc = np.zeros((T, L.c_out), np.int64)
            for j in range(L.kernel):
                acc += xp[j * L.dilation:j * L.dilation + T] * L.weights[:, j]
        else:
            cols = np.concatenate([xp[j * L.dilation:j * L.dilation + T] for j in range(L.kernel)], axis=1)
            acc = cols @ L.weights.reshape(L.c_out, -1).T
        y = (acc + L.bias) >> L.shift
        x = y if L.kind == OUT else np.clip(y, 0, 255)
    return x[:, 0]


def threshold_sum(qm, threshold):
    """The integer the smoothed logit sum is compared with (same as the firmware)."""
    p = min(max(float(threshold), 1e-6), 1 - 1e-6)
    return qm.smooth * int(math.floor(math.log(p / (1 - p)) * (1 << qm.logit_q) + 0.5))


def detect(qm, logits, threshold):
    """Frame indices of detections: the sum of the last `smooth` logits reaches
    threshold_sum and no detection happened in the last `refractory` frames."""
    logits = np.asarray(logits, dtype=np.int64)
    w = qm.smooth
    c = np.concatenate([[0], np.cumsum(logits)])
    sums = c[w:] - c[:-w] if len(logits) >= w else np.zeros(0, np.int64)
    # frames before the window fills see zeros for the missing logits
    head = c[1:w] if len(logits) >= w else c[1:]
    sums = np.concatenate([head, sums])
    hits = np.flatnonzero(sums >= threshold_sum(qm, threshold))
    out, last = [], -10 ** 9
    for t in hits:
        if t - last > qm.refractory:
            out.append(int(t))
            last = t
    return out


def frame_end_seconds(frame):
    from .frontend import FRAME, HOP, SAMPLE_RATE

    return (frame * HOP + FRAME) / SAMPLE_RATE

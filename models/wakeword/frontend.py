"""Fixed-point log-mel front end: the numpy reference of firmware/wakeword/frontend.py.

Both sides use the same integer tables (firmware/wakeword/fe_tables.py, made by
`tables()` below) and the same integer operations, so they agree bit for bit.

Per frame of FRAME samples (hop HOP):
  1. Hann window in Q15, then block scaling: shift the frame so its peak lies in
     [2**12, 2**13) (the shift is remembered and taken out of the log later);
  2. a 512-point real FFT done as a 256-point complex radix-2 FFT with a halving
     at every stage, plus the split step; the bounds keep every value inside
     16 bits and every product inside 31 bits, so 32-bit viper ints on the
     ESP32-S3 compute the same numbers as 64-bit ones here; the twiddles'
     cos and sin come from one quarter-wave cos table (`twiddle()`);
  3. power spectrum >> 4, N_MEL triangular mel filters with Q6 weights;
  4. log2 with a 32-entry table: LOG_Q units per octave of power (0.375 dB),
     offset so that full scale sits near 230, clamped to 0..255 (uint8).
"""

import math

import numpy as np

SAMPLE_RATE = 16000
FRAME = 512
HOP = 320  # 20 ms
FFT_HALF = FRAME // 2
QUARTER = FRAME // 4 + 1  # cos(2 pi k / FRAME) for k = 0..FRAME/4: every twiddle's cos and sin
N_MEL = 32
MEL_LO_HZ = 100.0
MEL_HI_HZ = 7600.0
MEL_W_ONE = 64  # Q6 weights
LOG_Q = 8  # feature units per doubling of power
LOG_OFFSET = 8
FRONTEND_ID = 1  # bumped whenever any of the above changes; models record it


def _mel(f):
    return 2595.0 * math.log10(1.0 + f / 700.0)


def _imel(m):
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def twiddle(quarter, k):
    """(cos, sin) of 2 pi k / FRAME in Q15 for 0 <= k < FFT_HALF, from the quarter-wave table.

    The firmware kernels look their twiddles up the same way: one table of
    QUARTER entries instead of two of FFT_HALF.
    """
    if k <= FFT_HALF // 2:
        return quarter[k], quarter[FFT_HALF // 2 - k]
    return -quarter[FFT_HALF - k], quarter[k - FFT_HALF // 2]


def tables():
    """The integer tables shared with the firmware, as plain Python lists."""
    # The Hann window is kept whole: rounding makes it asymmetric (w[128] = 16383, w[384] = 16384).
    window = [round(32767 * 0.5 * (1.0 - math.cos(2.0 * math.pi * n / FRAME))) for n in range(FRAME)]
    quarter = [round(32767 * math.cos(2.0 * math.pi * k / FRAME)) for k in range(QUARTER)]
    cos_t = [twiddle(quarter, k)[0] for k in range(FFT_HALF)]
    sin_t = [twiddle(quarter, k)[1] for k in range(FFT_HALF)]
    lo, hi = _mel(MEL_LO_HZ), _mel(MEL_HI_HZ)
    edges = [_imel(lo + (hi - lo) * i / (N_MEL + 1)) for i in range(N_MEL + 2)]
    bin_hz = SAMPLE_RATE / FRAME
    starts, lens, weights = [], [], []
    for m in range(N_MEL):
        f0, fc, f1 = edges[m], edges[m + 1], edges[m + 2]
        ws = []
        for k in range(FFT_HALF):
            f = k * bin_hz
            w = max(0.0, min((f - f0) / (fc - f0), (f1 - f) / (f1 - fc)))
            ws.append(round(MEL_W_ONE * w))
        nz = [k for k, w in enumerate(ws) if w]
        if not nz:  # a band narrower than a bin keeps its nearest bin
            k = round(fc / bin_hz)
            ws[k] = MEL_W_ONE
            nz = [k]
        starts.append(nz[0])
        lens.append(nz[-1] - nz[0] + 1)
        weights.extend(ws[nz[0]:nz[-1] + 1])
    log_lut = [round(LOG_Q * math.log2(1.0 + i / 32.0)) for i in range(32)]
    return {
        "window": window, "quarter": quarter, "cos": cos_t, "sin": sin_t,
        "mel_start": starts, "mel_len": lens, "mel_w": weights, "log_lut": log_lut,
    }


_TABLES = None
_PLAN = None


def _np_tables():
    global _TABLES
    if _TABLES is None:
        t = tables()
        _TABLES = {k: np.array(v, dtype=np.int64) for k, v in t.items()}
        starts, lens, flat = t["mel_start"], t["mel_len"], t["mel_w"]
        dense = np.zeros((FFT_HALF, N_MEL), dtype=np.int64)
        pos = 0
        for m in range(N_MEL):
            dense[starts[m]:starts[m] + lens[m], m] = flat[pos:pos + lens[m]]
            pos += lens[m]
        _TABLES["mel_dense"] = dense
        _TABLES["mel_dense_f"] = dense.astype(np.float64)
        for k in ("window", "cos", "sin"):
            _TABLES[k] = _TABLES[k].astype(np.int32)
    return _TABLES


def bitrev(n_bits, i):
    r = 0
    for _ in range(n_bits):
        r = (r << 1) | (i & 1)
        i >>= 1
    return r


def _plan():
    """Index arrays for each FFT stage (the same loop order as the firmware)."""
    global _PLAN
    if _PLAN is None:
        rev = np.array([bitrev(8, i) for i in range(FFT_HALF)])
        stages = []
        size = 2
        while size <= FFT_HALF:
            half = size >> 1
            tstep = FRAME // size
            top, tw = [], []
            for j in range(half):
                for i in range(j, FFT_HALF, size):
                    top.append(i)
                    tw.append(j * tstep)
            top = np.array(top)
            stages.append((top, top + half, np.array(tw)))
            size <<= 1
        _PLAN = (rev, stages)
    return _PLAN


def msb(v):
    """floor(log2(v)) for v >= 1, elementwise (int64 arrays)."""
    out = np.zeros(v.shape, dtype=np.int64)
    v = v.copy()
    for step in (32, 16, 8, 4, 2, 1):
        big = v >= (1 << step)
        out += big * step
        v = np.where(big, v >> step, v)
    return out


def frames_of(samples):
    """Number of whole frames in a stream of `samples` samples."""
    return 0 if samples < FRAME else 1 + (samples - FRAME) // HOP


def features(samples, block=2048):
    """uint8 features, shape (frames, N_MEL), for int16 samples (any int array)."""
    x = np.asarray(samples)
    if x.dtype != np.int16:
        raise TypeError("features() takes int16 samples")
    n = frames_of(len(x))
    if n == 0:
        return np.zeros((0, N_MEL), dtype=np.uint8)
    out = [_features_block(x, f0, min(block, n - f0)) for f0 in range(0, n, block)]
    return np.concatenate(out)


def _features_block(x, f0, n):
    # Values stay inside 31 bits (see the module doc), so int32 is exact here.
    t = _np_tables()
    seg = x[f0 * HOP:(f0 + n - 1) * HOP + FRAME].astype(np.int32)
    fr = seg[np.arange(FRAME)[None, :] + HOP * np.arange(n)[:, None]]
    xw = (fr * t["window"]) >> 15
    peak = np.abs(xw).max(axis=1)
    silent = peak == 0
    shift = 12 - msb(np.maximum(peak, 1).astype(np.int64)).astype(np.int32)
    left = np.maximum(shift, 0)[:, None]
    right = np.maximum(-shift, 0)[:, None]
    xw = (xw << left) >> right
    rev, stages = _plan()
    re = xw[:, 0::2][:, rev]
    im = xw[:, 1::2][:, rev]
    cos_t, sin_t = t["cos"], t["sin"]
    for top, bot, tw in stages:
        c, s = cos_t[tw], sin_t[tw]
        br, bi = re[:, bot], im[:, bot]
        tr = (br * c + bi * s) >> 15
        ti = (bi * c - br * s) >> 15
        ar, ai = re[:, top], im[:, top]
        re[:, bot] = (ar - tr) >> 1
        im[:, bot] = (ai - ti) >> 1
        re[:, top] = (ar + tr) >> 1
        im[:, top] = (ai + ti) >> 1
    k = np.arange(FFT_HALF)
    kk = (FFT_HALF - k) % FFT_HALF
    ar, ai = re, im
    br, bi = re[:, kk], -im[:, kk]
    er, ei = (ar + br) >> 1, (ai + bi) >> 1
    dr, di = (ar - br) >> 1, (ai - bi) >> 1
    o_r, o_i = di, -dr
    c, s = cos_t, sin_t
    xr = er + ((o_r * c + o_i * s) >> 15)
    xi = ei + ((o_i * c - o_r * s) >> 15)
    power = (xr * xr + xi * xi) >> 4
    # float64 BLAS is exact here: every sum stays far below 2**53
    energy = np.rint(power.astype(np.float64) @ t["mel_dense_f"]).astype(np.int64)
    e1 = np.maximum(energy, 1)
    top = msb(e1)
    frac = np.where(top >= 5, e1 >> np.maximum(top - 5, 0), e1 << np.maximum(5 - top, 0)) & 31
    feat = LOG_Q * top + t["log_lut"][frac] - 2 * LOG_Q * shift[:, None] + LOG_OFFSET
    feat = np.where(energy == 0, 0, feat)
    feat = np.where(silent[:, None], 0, feat)
    return np.clip(feat, 0, 255).astype(np.uint8)


def firmware_tables_source():
    """Text of firmware/wakeword/fe_tables.py (generated; a test checks it is current)."""
    import struct

    t = tables()

    def blob(fmt, values):
        return repr(struct.pack("<%d%s" % (len(values), fmt), *values))

    lines = [
        "# Generated by pocket_agent.models.wakeword.frontend.firmware_tables_source(); do not edit.",
        "# Integer tables of the wake-word front end (FRONTEND_ID %d). Bytes literals stay in flash" % FRONTEND_ID,
        "# when frozen; array views over them are made once by the front end.",
        "FRONTEND_ID = %d" % FRONTEND_ID,
        "FRAME = %d" % FRAME,
        "HOP = %d" % HOP,
        "N_MEL = %d" % N_MEL,
        "LOG_Q = %d" % LOG_Q,
        "LOG_OFFSET = %d" % LOG_OFFSET,
        "WINDOW = %s  # int16 x %d, Q15 Hann" % (blob("h", t["window"]), FRAME),
        "QUARTER = %s  # int16 x %d, Q15 cos(2 pi k / FRAME), k = 0..FRAME/4" % (blob("h", t["quarter"]), QUARTER),
        "MEL_START = %s  # uint8 first bin of each band" % blob("B", t["mel_start"]),
        "MEL_LEN = %s  # uint8 bins in each band" % blob("B", t["mel_len"]),
        "MEL_W = %s  # uint8 Q6 weights, bands one after another" % blob("B", t["mel_w"]),
        "LOG_LUT = %s  # uint8 round(LOG_Q * log2(1 + i / 32))" % blob("B", t["log_lut"]),
        "",
    ]
    return "\n".join(lines)

# Reads a .pwm wake-word model (format version 1, see docs/wakeword.md) into a
# Model: checks the header, the CRC and every layer, and lays out the kernels'
# descriptors and rings. Used once per load: model.Model imports it, then
# drops it, so its code does not stay on the heap while the detector runs.
# A model loaded from a file stays in the file: its layers are read as they
# run, so the heap holds one layer (or a piece of one), 2.4 KB, instead of
# the whole model (16.3 KB).
from array import array
import struct

try:
    from binascii import crc32
except ImportError:  # a port without crc32 skips the check, not the model
    crc32 = None  # type: ignore[assignment]

from .model import _DESC, ModelError

CONV, DW, OUT = 1, 2, 3  # layer kinds
PIECE = 2304  # weight bytes read at once: a 48 x 48 pointwise layer whole
MAGIC = b"PWWM"
VERSION = 1
_HEADER = 32


def read(m, data, frontend_id, n_mel):
    """Fill the Model m from data: bytes or a bytearray, kept and read in
    place; or a file's path, whose layers are then read from the file
    frame by frame (m.f, m.chunks) into a buffer of the largest layer."""
    path = None
    if isinstance(data, str):
        path = data
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(0)
            data = bytearray(size)  # the whole file once, to check it
            f.readinto(data)
    buf = data  # bytes or bytearray: only read
    if len(buf) < _HEADER:
        raise ModelError("wake-word model truncated: %d bytes" % len(buf))
    magic, version, fe_id, plen, crc, n_layers, logit_q, smooth, _, refractory, thr = struct.unpack_from(
        "<4sHHIIBBBBHH", buf, 0)
    if magic != MAGIC:
        raise ModelError("not a wake-word model (bad magic)")
    if version != VERSION:
        raise ModelError("wake-word model version %d, this firmware reads version %d" % (version, VERSION))
    if fe_id != frontend_id:
        raise ModelError("wake-word model is for front end %d, this firmware has %d" % (fe_id, frontend_id))
    if len(buf) - _HEADER != plen:
        raise ModelError("wake-word model truncated: payload %d of %d bytes" % (len(buf) - _HEADER, plen))
    if crc32 is not None and crc32(memoryview(buf)[_HEADER:]) & 0xFFFFFFFF != crc:
        raise ModelError("wake-word model corrupt (CRC mismatch)")
    m.logit_q = logit_q
    m.smooth = smooth
    m.refractory = refractory
    m.default_threshold = thr / 10000
    pos = _HEADER
    m.phrase = bytes(buf[pos + 1:pos + 1 + buf[pos]]).decode()
    pos += 1 + buf[pos]
    layers = []
    ring_bytes = 0
    cin_prev = n_mel
    for i in range(n_layers):
        if pos + 8 > len(buf):
            raise ModelError("wake-word model layout broken")
        kind, kern, dil, shift, cin, cout = struct.unpack_from("<BBBBHH", buf, pos)
        pos += 8
        if cin != cin_prev or kind not in (CONV, DW, OUT) or (kind == DW and cin != cout) \
                or not 1 <= kern <= 16 or dil < 1 or (kind != DW and cin % 4) \
                or (kind == OUT and (cout != 1 or i != n_layers - 1)):
            raise ModelError("wake-word model layer %d is not valid" % i)
        b_pos = pos
        pos += 4 * cout
        w_pos = pos
        pos += cout * kern * (1 if kind == DW else cin)
        ring_len = (kern - 1) * dil + 1
        layers.append((kind, cin, cout, kern, dil, ring_len, ring_bytes, w_pos, b_pos, shift))
        ring_bytes += ring_len * cin
        cin_prev = cout
    if pos != len(buf) or not layers or layers[-1][0] != OUT:
        raise ModelError("wake-word model layout does not match its length")
    m.n_layers = n_layers
    # the descriptors, then scratch words for the kernels (tap offsets)
    m.desc = array("i", bytes(4 * (_DESC * n_layers + 16)))
    m.act = bytearray(ring_bytes)
    # A layer's biases (int32 at b_pos) and weights (at w_pos) follow each
    # other in the file. From a path, a layer is read into m.buf as it runs:
    # whole (biases at 0, weights after them) if its weights fit PIECE bytes,
    # else in pieces of outputs (a piece's biases at 0, its weights at
    # m.wview, 4 * the widest layer's outputs on); the kernels' offsets are
    # into m.buf. From bytes, they are into the bytes.
    m.f = None
    # per layer: where its biases start in the file; the bytes to read whole
    # (biases and weights), or where its weights start; outputs a piece.
    # The descriptors then hold offsets into m.buf (a piece: its first output's)
    m.plan = array("i", bytes(12 * n_layers))
    widest = 0
    for layer in layers:
        widest = layer[2] if layer[2] > widest else widest
    size = 0
    for i, (kind, cin, cout, kern, dil, ring_len, ring_off, w_pos, b_pos, shift) in enumerate(layers):
        row = kern * (1 if kind == DW else cin)  # weight bytes an output
        m.plan[3 * i] = b_pos
        m.plan[3 * i + 1] = w_pos
        m.plan[3 * i + 2] = cout
        if path is not None and kind != DW and row * cout > PIECE:
            per = PIECE // row if row <= PIECE else 1
            m.plan[3 * i + 2] = per
            size = max(size, 4 * widest + per * row)
            w_pos = 4 * widest  # a piece's weights; its biases at 0
            b_pos = 0
        elif path is not None:
            m.plan[3 * i + 1] = 4 * cout + row * cout
            size = max(size, 4 * cout + row * cout)
            w_pos = 4 * cout
            b_pos = 0
        d = i * _DESC
        for j, v in enumerate((kind, cin, cout, kern, dil, ring_len, 0, ring_off, w_pos, b_pos, shift, 0)):
            m.desc[d + j] = v
    if path is None:
        m.buf = buf
    else:
        m.buf = bytearray(size)
        m.wview = memoryview(m.buf)[4 * widest:]
        m.f = open(path, "rb")

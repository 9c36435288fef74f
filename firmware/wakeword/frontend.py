# Fixed-point log-mel front end, streaming: int16 samples in, one uint8
# feature frame (N_MEL values) per HOP samples. The numpy reference is
# pocket_agent.models.wakeword.frontend; the two agree bit for bit.
from array import array

from . import fe_tables as T

_RING = 512  # samples kept (one frame); the kernels mask with 511


def _array(typecode, data):
    a = array(typecode)
    try:
        a.frombytes(data)  # CPython
    except AttributeError:
        a = array(typecode, data)  # MicroPython copies the raw bytes
    return a


class FrontEnd:
    re: "memoryview | array"  # annotations only: no code on the board
    im: "memoryview | array"

    def __init__(self, kernels, scratch=None):
        # scratch: a bytearray of at least 1 KB that is free while frame()
        # runs (the model's read buffer); viper then keeps the FFT in it
        # instead of in buffers of its own
        if T.FRAME != _RING:
            raise ValueError("front end tables are for another frame size")
        self.k = kernels
        if kernels.__name__.endswith("_kviper"):
            # viper reads the bytes in place (flash when frozen) and sign-extends itself
            self.win, self.quarter = T.WINDOW, T.QUARTER
        else:  # arrays, so the plain-Python kernels see signed values
            self.win = _array("h", T.WINDOW)
            self.quarter = _array("h", T.QUARTER)
        self.mel_start = T.MEL_START
        self.mel_len = T.MEL_LEN
        self.mel_w = T.MEL_W
        self.lut = T.LOG_LUT
        self.ring = array("h", bytes(2 * _RING))
        if scratch is not None and len(scratch) >= 1024 and kernels.__name__.endswith("_kviper"):
            mv = memoryview(scratch)
            self.re = mv[0:512]
            self.im = mv[512:1024]
        else:  # the plain-Python kernels need signed values: arrays
            self.re = array("h", bytes(512))
            self.im = array("h", bytes(512))
        self.reset()

    def reset(self):
        self.wpos = 0  # next write position in the ring (mod 512)
        self.need = _RING  # samples still missing before the next frame

    def push(self, samples, start, n):
        """Copy up to n samples from samples[start:]; stop at a frame boundary.

        Returns how many were taken; when ready() is True call frame().
        """
        take = n if n < self.need else self.need
        if take:
            self.k.copy_in(self.ring, self.wpos, samples, start, take)
            self.wpos = (self.wpos + take) & 511
            self.need -= take
        return take

    def ready(self):
        return self.need == 0

    def frame(self, out, off):
        """Compute one feature frame into out[off:off + N_MEL]."""
        k = self.k
        self.need = T.HOP
        start = self.wpos  # the ring holds exactly the newest 512 samples
        peak = k.window(self.ring, start, self.win, self.re, self.im)
        if peak == 0:
            for m in range(T.N_MEL):
                out[off + m] = 0
            return
        top = 0
        while peak >= 2:
            peak >>= 1
            top += 1
        shift = 12 - top
        if shift:
            k.rescale(self.re, self.im, shift)
        k.fft(self.re, self.im, self.quarter)
        k.logmel(self.re, self.im, self.quarter, self.mel_start, self.mel_len, self.mel_w, self.lut,
                 shift, out, off)

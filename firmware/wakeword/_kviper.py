# Viper kernels of the wake-word front end and model (native code on the board).
# _kpy.py holds the same functions in plain Python for ports without viper.
# ptr8/ptr16 loads are unsigned, so int16 values are sign-extended with
# (v ^ 0x8000) - 0x8000; every product stays inside 31 bits, so 32-bit and
# 64-bit viper ints give the same results.
# Twiddles come from q, cos(2 pi k / 512) in Q15 for k = 0..128 (all >= 0, so
# no sign extension): for k < 256, cos = q[k], sin = q[128 - k] up to k = 128,
# then cos = -q[256 - k], sin = q[k - 128].
import micropython


@micropython.viper
def window(ring: ptr16, start: int, win: ptr16, re: ptr16, im: ptr16) -> int:
    # Hann window the 512 samples from ring[start], store them bit-reversed as
    # 256 complex values (even samples real, odd imaginary); return the peak.
    peak = 0
    r = 0  # i with its 8 bits reversed, counted along with i
    i = 0
    while i < 256:
        n = i << 1
        x = int(ring[(start + n) & 511])
        x = (x ^ 0x8000) - 0x8000
        v = (x * int(win[n])) >> 15
        y = int(ring[(start + n + 1) & 511])
        y = (y ^ 0x8000) - 0x8000
        u = (y * int(win[n + 1])) >> 15
        re[r] = v
        im[r] = u
        if v < 0:
            v = 0 - v
        if u < 0:
            u = 0 - u
        if v > peak:
            peak = v
        if u > peak:
            peak = u
        bit = 128
        while r & bit:
            r ^= bit
            bit >>= 1
        r |= bit
        i += 1
    return peak


@micropython.viper
def rescale(re: ptr16, im: ptr16, shift: int):
    i = 0
    if shift >= 0:
        while i < 256:
            v = int(re[i])
            re[i] = ((v ^ 0x8000) - 0x8000) << shift
            v = int(im[i])
            im[i] = ((v ^ 0x8000) - 0x8000) << shift
            i += 1
    else:
        s = 0 - shift
        while i < 256:
            v = int(re[i])
            re[i] = ((v ^ 0x8000) - 0x8000) >> s
            v = int(im[i])
            im[i] = ((v ^ 0x8000) - 0x8000) >> s
            i += 1


@micropython.viper
def fft(re: ptr16, im: ptr16, q: ptr16):
    # 256-point radix-2 decimation in time, halving at every stage.
    size = 2
    tstep = 256
    while size <= 256:
        half = size >> 1
        j = 0
        while j < half:
            t = j * tstep
            if t <= 128:
                c = int(q[t])
                s = int(q[128 - t])
            else:
                c = 0 - int(q[256 - t])
                s = int(q[t - 128])
            i = j
            while i < 256:
                k = i + half
                br = int(re[k])
                br = (br ^ 0x8000) - 0x8000
                bi = int(im[k])
                bi = (bi ^ 0x8000) - 0x8000
                tr = (br * c + bi * s) >> 15
                ti = (bi * c - br * s) >> 15
                ar = int(re[i])
                ar = (ar ^ 0x8000) - 0x8000
                ai = int(im[i])
                ai = (ai ^ 0x8000) - 0x8000
                re[k] = (ar - tr) >> 1
                im[k] = (ai - ti) >> 1
                re[i] = (ar + tr) >> 1
                im[i] = (ai + ti) >> 1
                i += size
            j += 1
        size <<= 1
        tstep >>= 1


@micropython.viper
def logmel(re: ptr16, im: ptr16, q: ptr16, start: ptr8, length: ptr8, w: ptr8, lut: ptr8,
           shift: int, out: ptr8, off: int):
    # Mel energies, then LOG_Q * log2 with a 32-entry table; uint8 features.
    # A band's bins are split out of the 256 complex FFT bins as it reads them
    # (the 512-point real spectrum, power >> 4): no power buffer.
    pos = 0
    m = 0
    while m < 32:
        b = int(start[m])
        n = int(length[m])
        e = 0
        j = 0
        while j < n:
            k = b + j
            kk = (256 - k) & 255
            ar = int(re[k])
            ar = (ar ^ 0x8000) - 0x8000
            ai = int(im[k])
            ai = (ai ^ 0x8000) - 0x8000
            br = int(re[kk])
            br = (br ^ 0x8000) - 0x8000
            bi = int(im[kk])
            bi = 0 - ((bi ^ 0x8000) - 0x8000)
            er = (ar + br) >> 1
            ei = (ai + bi) >> 1
            o_r = (ai - bi) >> 1
            o_i = 0 - ((ar - br) >> 1)
            if k <= 128:
                c = int(q[k])
                s = int(q[128 - k])
            else:
                c = 0 - int(q[256 - k])
                s = int(q[k - 128])
            xr = er + ((o_r * c + o_i * s) >> 15)
            xi = ei + ((o_i * c - o_r * s) >> 15)
            e += ((xr * xr + xi * xi) >> 4) * int(w[pos + j])
            j += 1
        pos += n
        f = 0
        if e > 0:
            top = 0
            v = e
            if v >= 65536:
                top += 16
                v >>= 16
            if v >= 256:
                top += 8
                v >>= 8
            if v >= 16:
                top += 4
                v >>= 4
            if v >= 4:
                top += 2
                v >>= 2
            if v >= 2:
                top += 1
            if top >= 5:
                frac = (e >> (top - 5)) & 31
            else:
                frac = (e << (5 - top)) & 31
            f = 8 * top + int(lut[frac]) - 16 * shift + 8
            if f < 0:
                f = 0
            if f > 255:
                f = 255
        out[off + m] = f
        m += 1


@micropython.viper
def copy_in(ring: ptr16, pos: int, src: ptr16, start: int, n: int):
    i = 0
    while i < n:
        ring[(pos + i) & 511] = src[start + i]
        i += 1


@micropython.viper
def net(desc: ptr32, nlayers: int, first: int, last: int, o0: int, o1: int, wts: ptr8, act: ptr8) -> int:
    # One frame through layers first..last-1 of nlayers; see model.py for the
    # layout of desc (weight and bias offsets are into wts). o1 > 0: only
    # outputs o0..o1-1 of a (non-depthwise) layer, whose weights and biases
    # then start at output o0; its ring moves on with the piece that ends at
    # its last output.
    # Weights are stored + 128 (unsigned) and activations are uint8, so
    # sum(w * x) = sum(wu * x) - 128 * sum(x). Biases are int32 little-endian
    # in the same buffer, read a byte at a time (the file keeps no alignment);
    # the top byte is sign-extended, so 32- and 64-bit ints agree.
    out = 0
    base = first * 12
    li = first
    while li < last:
        kind = int(desc[base])
        cin = int(desc[base + 1])
        cout = int(desc[base + 2])
        k = int(desc[base + 3])
        d = int(desc[base + 4])
        ring_len = int(desc[base + 5])
        p = int(desc[base + 6])
        ring_off = int(desc[base + 7])
        w_off = int(desc[base + 8])
        b_off = int(desc[base + 9])
        shift = int(desc[base + 10])
        dst = 0
        if li + 1 < nlayers:
            dst = int(desc[base + 19]) + int(desc[base + 18]) * int(desc[base + 13])
        if kind == 2:  # depthwise
            # tap offsets once per layer, in the scratch words after the layers
            scr = nlayers * 12
            j = 0
            while j < k:
                s = p - (k - 1 - j) * d
                if s < 0:
                    s += ring_len
                desc[scr + j] = ring_off + s * cin
                j += 1
            c = 0
            wp = ptr8(int(wts) + w_off)
            while c < cout:
                acc = 0
                sx = 0
                j = 0
                while j < k:
                    x = int(act[int(desc[scr + j]) + c])
                    acc += int(wp[j]) * x
                    sx += x
                    j += 1
                wp = ptr8(int(wp) + k)
                bp = b_off + (c << 2)
                b = (int(wts[bp]) | (int(wts[bp + 1]) << 8) | (int(wts[bp + 2]) << 16)
                     | (((int(wts[bp + 3]) ^ 0x80) - 0x80) << 24))
                y = (acc - (sx << 7) + b) >> shift
                if y < 0:
                    y = 0
                if y > 255:
                    y = 255
                act[dst + c] = y
                c += 1
        else:
            sx = 0
            j = 0
            while j < k:
                s = p - (k - 1 - j) * d
                if s < 0:
                    s += ring_len
                xp = ptr8(int(act) + ring_off + s * cin)
                c = 0
                while c < cin:
                    sx += int(xp[c])
                    c += 1
                j += 1
            o_end = cout
            if o1 > 0:
                o_end = o1
            o = o0
            wp = ptr8(int(wts) + w_off)
            while o < o_end:
                acc = 0
                j = 0
                while j < k:
                    s = p - (k - 1 - j) * d
                    if s < 0:
                        s += ring_len
                    xp = ptr8(int(act) + ring_off + s * cin)
                    c = 0
                    while c < cin:  # cin is a multiple of 4 (the loader checks)
                        acc += (int(wp[c]) * int(xp[c]) + int(wp[c + 1]) * int(xp[c + 1])
                                + int(wp[c + 2]) * int(xp[c + 2]) + int(wp[c + 3]) * int(xp[c + 3]))
                        c += 4
                    wp = ptr8(int(wp) + cin)
                    j += 1
                bp = b_off + ((o - o0) << 2)
                b = (int(wts[bp]) | (int(wts[bp + 1]) << 8) | (int(wts[bp + 2]) << 16)
                     | (((int(wts[bp + 3]) ^ 0x80) - 0x80) << 24))
                y = (acc - (sx << 7) + b) >> shift
                if kind == 3:
                    out = y
                else:
                    if y < 0:
                        y = 0
                    if y > 255:
                        y = 255
                    act[dst + o] = y
                o += 1
            if o < cout:  # more pieces of this layer to come: its ring stays
                return out
        p += 1
        if p >= ring_len:
            p = 0
        desc[base + 6] = p
        base += 12
        li += 1
    return out

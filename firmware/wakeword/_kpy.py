# Plain-Python kernels: the same functions as _kviper.py, for ports without
# viper (and for CPython). Arrays here are array('h') / array('i') / bytearray,
# so loads are already signed. q is the quarter-wave cos table (see _kviper.py).


def window(ring, start, win, re, im):
    peak = 0
    r = 0  # i with its 8 bits reversed, counted along with i
    for i in range(256):
        n = i << 1
        v = (ring[(start + n) & 511] * win[n]) >> 15
        u = (ring[(start + n + 1) & 511] * win[n + 1]) >> 15
        re[r] = v
        im[r] = u
        peak = max(peak, abs(v), abs(u))
        bit = 128
        while r & bit:
            r ^= bit
            bit >>= 1
        r |= bit
    return peak


def rescale(re, im, shift):
    for i in range(256):
        if shift >= 0:
            re[i] <<= shift
            im[i] <<= shift
        else:
            re[i] >>= -shift
            im[i] >>= -shift


def fft(re, im, q):
    size = 2
    tstep = 256
    while size <= 256:
        half = size >> 1
        for j in range(half):
            t = j * tstep  # cos and sin of 2 pi t / 512 from q
            if t <= 128:
                c, s = q[t], q[128 - t]
            else:
                c, s = -q[256 - t], q[t - 128]
            for i in range(j, 256, size):
                k = i + half
                br, bi = re[k], im[k]
                tr = (br * c + bi * s) >> 15
                ti = (bi * c - br * s) >> 15
                ar, ai = re[i], im[i]
                re[k] = (ar - tr) >> 1
                im[k] = (ai - ti) >> 1
                re[i] = (ar + tr) >> 1
                im[i] = (ai + ti) >> 1
        size <<= 1
        tstep >>= 1


def _power(re, im, q, k):
    # bin k of the 512-point real spectrum from the 256 complex bins, >> 4
    kk = (256 - k) & 255
    ar, ai = re[k], im[k]
    br, bi = re[kk], -im[kk]
    er = (ar + br) >> 1
    ei = (ai + bi) >> 1
    o_r = (ai - bi) >> 1
    o_i = -((ar - br) >> 1)
    if k <= 128:  # cos and sin of 2 pi k / 512 from q
        c, s = q[k], q[128 - k]
    else:
        c, s = -q[256 - k], q[k - 128]
    xr = er + ((o_r * c + o_i * s) >> 15)
    xi = ei + ((o_i * c - o_r * s) >> 15)
    return (xr * xr + xi * xi) >> 4


def logmel(re, im, q, start, length, w, lut, shift, out, off):
    pos = 0
    for m in range(32):
        b = start[m]
        n = length[m]
        e = 0
        for j in range(n):
            e += _power(re, im, q, b + j) * w[pos + j]
        pos += n
        f = 0
        if e > 0:
            top = -1
            v = e
            while v:
                top += 1
                v >>= 1
            frac = (e >> (top - 5)) & 31 if top >= 5 else (e << (5 - top)) & 31
            f = min(255, max(0, 8 * top + lut[frac] - 16 * shift + 8))
        out[off + m] = f


def copy_in(ring, pos, src, start, n):
    # src: array('h'), or int16 little-endian bytes as the viper kernel takes them
    if isinstance(src, (bytes, bytearray, memoryview)):
        for i in range(n):
            j = 2 * (start + i)
            v = src[j] | (src[j + 1] << 8)
            ring[(pos + i) & 511] = v - 65536 if v > 32767 else v
        return
    for i in range(n):
        ring[(pos + i) & 511] = src[start + i]


def _slot(p, back, ring_len):
    s = p - back
    return s + ring_len if s < 0 else s


def _bias(buf, p):
    # int32 little-endian; the top byte sign-extended first, so no long int
    # is made (biases stay below 2**24, the exporter checks)
    t = buf[p + 3]
    return buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16) | ((t - 256 if t > 127 else t) << 24)


def net(desc, nlayers, first, last, o0, o1, wts, act):
    # One frame through layers first..last-1 of nlayers; see model.py for the
    # layout of desc. o1 > 0: only outputs o0..o1-1 of a (non-depthwise)
    # layer, whose weights and biases then start at output o0; its ring
    # moves on with the piece that ends at its last output.
    out = 0
    base = first * 12
    for li in range(first, last):
        kind = desc[base]
        cin = desc[base + 1]
        cout = desc[base + 2]
        k = desc[base + 3]
        d = desc[base + 4]
        ring_len = desc[base + 5]
        p = desc[base + 6]
        ring_off = desc[base + 7]
        w_off = desc[base + 8]
        b_off = desc[base + 9]
        shift = desc[base + 10]
        dst = 0
        if li + 1 < nlayers:
            nxt = base + 12
            dst = desc[nxt + 7] + desc[nxt + 6] * desc[nxt + 1]
        if kind == 2:  # depthwise
            for c in range(cout):
                acc = 0
                sx = 0
                for j in range(k):
                    x = act[ring_off + _slot(p, (k - 1 - j) * d, ring_len) * cin + c]
                    acc += wts[w_off + c * k + j] * x
                    sx += x
                y = (acc - (sx << 7) + _bias(wts, b_off + 4 * c)) >> shift
                act[dst + c] = 255 if y > 255 else (0 if y < 0 else y)
        else:
            sx = 0
            for j in range(k):
                xo = ring_off + _slot(p, (k - 1 - j) * d, ring_len) * cin
                for c in range(cin):
                    sx += act[xo + c]
            o_end = o1 if o1 > 0 else cout
            for o in range(o0, o_end):
                acc = 0
                wo = w_off + (o - o0) * k * cin
                for j in range(k):
                    xo = ring_off + _slot(p, (k - 1 - j) * d, ring_len) * cin
                    for c in range(cin):
                        acc += wts[wo + c] * act[xo + c]
                    wo += cin
                y = (acc - (sx << 7) + _bias(wts, b_off + 4 * (o - o0))) >> shift
                if kind == 3:  # output layer: the raw logit
                    out = y
                else:
                    act[dst + o] = 255 if y > 255 else (0 if y < 0 else y)
            if o_end < cout:  # more pieces of this layer to come: its ring stays
                return out
        p += 1
        desc[base + 6] = 0 if p >= ring_len else p
        base += 12
    return out

"""The code deploy runs on the board, sent through the raw REPL.

Two programs, each one exec:

SURVEY  hashes the files deploy cares about, removes temporary files a cut-short
        deploy left, and reports the .mpy format, free space and the manifest:
        one round trip. It prints a line per file as it goes ("F path size
        sha256", "T removed-temp-file", then "I {info}"), so its output never
        has to fit the heap in one piece.
RECEIVE turns the port into a byte pipe with flow control and applies a stream
        of operations. It owns the port until the host sends "Q".

The receive stream, host to board (little-endian):
    op (1 byte: W write, D delete, Q quit), path length (1), size (4), path, size bytes of data
Board to host:
    \\x05 ready (Ctrl-C is off, bytes pass untouched)
    \\x01 one window of the stream consumed: the host may send one more window
    \\x06 an operation done; \\x15 TEXT \\n an operation failed (later ones are skipped)
Every file is written as PATH + TMP_SUFFIX, then renamed over PATH: LittleFS
renames atomically, so a cut leaves either the old file or the new one.
"""

TMP_SUFFIX = ".~dp"
MANIFEST = "/.pocket-deploy.json"
READY = 0x05
CREDIT = 0x01
OP_OK = 0x06
OP_FAILED = 0x15

SURVEY = """\
import os, sys, hashlib, binascii, json
try:
    with open(_M) as _f:
        _m = _f.read()
    _P.extend([_p for _p in json.loads(_m)["files"] if _p not in _P])
except Exception:
    _m = None
_b = bytearray(1024)
_mv = memoryview(_b)
def _h(p):
    try:
        f = open(p, "rb")
    except OSError:
        return
    d = hashlib.sha256()
    while True:
        n = f.readinto(_b)
        if not n:
            break
        d.update(_mv[:n])
    f.close()
    print("F", p, os.stat(p)[6], binascii.hexlify(d.digest()).decode())
for _p in _P:
    _h(_p)
    try:
        os.remove(_p + _S)
        print("T", _p + _S)
    except OSError:
        pass
_v = os.statvfs("/")
print("I", repr({"mpy": getattr(sys.implementation, "_mpy", None), "platform": sys.platform,
    "version": sys.implementation.version[:3], "machine": os.uname().machine,
    "block": _v[0], "blocks": _v[2], "free": _v[3], "manifest": _m}))
"""

RECEIVE = """\
import os, sys, micropython
_i = sys.stdin.buffer
_o = sys.stdout.buffer
_W = %(window)d
_b = bytearray(_W)
_m = memoryview(_b)
_n = 0
def _rd(k):
    global _n
    g = 0
    while g < k:
        e = min(k, g + _W - _n)
        r = _i.readinto(_m[g:e])
        if r:
            g += r
            _n += r
            if _n == _W:
                _o.write(b"\\x01")
                _n = 0
    return _m[:k]
_d = set()
def _mk(p):
    j = p.find("/", 1)
    while j > 0:
        q = p[:j]
        if q not in _d:
            try:
                os.mkdir(q)
            except OSError:
                pass
            _d.add(q)
        j = p.find("/", j + 1)
def _rm(p):
    try:
        os.remove(p)
    except OSError as e:
        if e.errno != 2:
            raise
    j = p.rfind("/")
    while j > 0:
        try:
            os.rmdir(p[:j])
        except OSError:
            break
        j = p.rfind("/", 0, j)
_bad = None
micropython.kbd_intr(-1)
_o.write(b"\\x05")
while True:
    h = bytes(_rd(6))
    op = h[0]
    size = h[2] | h[3] << 8 | h[4] << 16 | h[5] << 24
    p = str(bytes(_rd(h[1])), "utf-8")
    if op == 81:
        break
    f = None
    try:
        if _bad:
            raise OSError(0)
        if op == 87:
            _mk(p)
            t = p + "%(tmp)s"
            f = open(t, "wb")
        elif op == 68:
            _rm(p)
        else:
            raise ValueError("bad op %%d" %% op)
    except Exception as e:
        if not _bad:
            _bad = "%%s: %%r" %% (p, e)
            _o.write(b"\\x15" + _bad.encode() + b"\\n")
        f = None
    left = size
    while left:
        c = _rd(min(left, _W))
        left -= len(c)
        if f:
            try:
                f.write(c)
            except Exception as e:
                f.close()
                f = None
                _bad = "%%s: %%r" %% (p, e)
                _o.write(b"\\x15" + _bad.encode() + b"\\n")
    if f:
        try:
            f.close()
            try:
                os.rename(t, p)
            except OSError:
                os.remove(p)  # FAT cannot rename over a file; LittleFS can, atomically
                os.rename(t, p)
        except Exception as e:
            _bad = "%%s: %%r" %% (p, e)
            _o.write(b"\\x15" + _bad.encode() + b"\\n")
            f = None
    if not _bad:
        _o.write(b"\\x06")
micropython.kbd_intr(3)
print("done", _bad)
"""


def survey_code(paths):
    return f"_P = {sorted(paths)!r}\n_S = {TMP_SUFFIX!r}\n_M = {MANIFEST!r}\n" + SURVEY


def receive_code(window):
    return RECEIVE % {"window": window, "tmp": TMP_SUFFIX}

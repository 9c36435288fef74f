# The board's console on the twin: what MicroPython's pyexec and readline do on
# a real port (friendly REPL, paste mode, raw REPL, raw-paste), byte for byte.
#
# The unix port writes text as it is; boards send "\n" as "\r\n". Text is
# cooked here, where it is still known to be text (print, sys.stdout.write,
# tracebacks), while sys.stdout.buffer stays binary-safe.
import sys
import io
import gc
import select
import builtins
import micropython

_CTRL_A = 1
_CTRL_B = 2
_CTRL_C = 3
_CTRL_D = 4
_CTRL_E = 5
_PASTE_WINDOW = 128  # half of MICROPY_REPL_STDIN_BUFFER_MAX, as the ports use
_HISTORY = 8

_out = sys.stdout.buffer
_in = sys.stdin.buffer
_byte = bytearray(1)
_builtin_print = builtins.print
_real_print_exception = sys.print_exception

_ctl = None  # pipe to the supervisor (interrupt char, resets)
_cfg = None
_rom_frame = None  # traceback lines of ROM code are hidden, as C frames are on a board
_intr = -1
_ack = None  # pipe from the supervisor: it has seen Ctrl-C turned off
_ack_byte = bytearray(1)
_ack_seq = 0
_INTR_OFF = tuple(b"I-1 %d\n" % i for i in range(10))  # made now: sent when nothing may allocate
_history = []
_rom_modules = ()
user_globals = {"__name__": "__main__"}


class PowerOff(Exception):
    """The supervisor went away: nothing more to do in this VM."""


class Restart(Exception):
    """Leave the VM so the supervisor can boot it again."""


_RESTART = Restart()  # raised when nothing may allocate


def write(b):
    _out.write(b)


def text_of(data):
    """Bytes typed at a REPL as text; bytes that are not UTF-8 become U+FFFD,
    so binary noise gives a SyntaxError, as on a board, rather than a crash."""
    try:
        return str(data, "utf-8")
    except UnicodeError:
        out = []
        i = 0
        n = len(data)
        while i < n:
            b = data[i]
            size = 1 if b < 0x80 else 2 if 0xC0 <= b < 0xE0 else 3 if 0xE0 <= b < 0xF0 else 4 if 0xF0 <= b < 0xF8 else 0
            try:
                out.append(str(data[i:i + size], "utf-8") if size else "\ufffd")
            except UnicodeError:
                out.append("\ufffd")
            i += size or 1
        return "".join(out)


def cooked(s):
    if isinstance(s, str):
        s = s.encode()
    if b"\n" in s:
        s = s.replace(b"\n", b"\r\n")
    _out.write(s)


_stdin_poll = select.poll()
_stdin_poll.register(_in, select.POLLIN)


def getc():
    # Wait in short steps, so scheduled callbacks (timers, pin interrupts) run
    # while the REPL waits for input, as a port's REPL lets them.
    while True:
        try:
            if _stdin_poll.poll(50):
                break
        except KeyboardInterrupt:
            raise
        except Exception as e:  # raised by a scheduled callback
            cooked(format_exception(e))
    if _in.readinto(_byte) != 1:
        raise PowerOff()
    return _byte[0]


def unlock_heap():
    """Code can leave the heap locked; nothing can be printed then. pyexec
    unlocks it before the next prompt, and so does the ROM."""
    micropython.heap_lock()
    while micropython.heap_unlock():
        pass


def set_intr(c):
    """The character that raises KeyboardInterrupt; -1 for none.

    The supervisor turns that byte from the host into SIGINT, as a port's USB
    or UART interrupt handler does, and passes every other byte through.
    Turning it off waits until the supervisor knows, so that no Ctrl-C lands
    in ROM code afterwards; returns True if one arrived meanwhile.
    """
    global _intr
    if c == _intr:
        return False
    if c >= 0:
        _intr = c  # first: a Ctrl-C may land as soon as the supervisor reads the message
        _ctl.write(b"I3\n" if c == 3 else b"I%d\n" % c)
        return False
    late = _intr_off()
    _intr = c  # after: cut short before this, the next call sends it again
    return late


def _intr_off():
    # Allocates nothing: user code may have left the heap locked.
    global _ack_seq
    _ack_seq = (_ack_seq + 1) % 10
    seq = _ack_seq
    sent = False
    late = False
    while True:
        try:
            if not sent:
                _ctl.write(_INTR_OFF[seq])
                sent = True
            while True:
                if _ack.readinto(_ack_byte) != 1:
                    return late  # the supervisor is gone
                if _ack_byte[0] == 48 + seq:  # a stale ack from a repeated message is skipped
                    return late
        except KeyboardInterrupt:
            late = True


def heap_broken():
    """True when a Ctrl-C landed inside the garbage collector. The unix port
    raises it at once from its signal handler (a board waits for a safe point),
    which leaves the collector's lock taken for good: every allocation fails
    though blocks are free."""
    try:
        bytearray(1)
        return False
    except MemoryError:
        return gc.mem_free() >= 64


def resume_fresh():
    """Ask for a fresh VM in the REPL the host is in, on the same port: what is
    left of this heap cannot be trusted. Allocates nothing."""
    control(b"S resume\n")
    raise _RESTART


def control(msg):
    _ctl.write(msg)


# ---- what user code sees in place of the unix port's sys, os and print ----

class BoardStdout(io.IOBase):
    def __init__(self):
        self.buffer = _out

    def write(self, s):
        cooked(s)
        return len(s)

    def flush(self):
        pass

    def fileno(self):
        return 1


stdout = BoardStdout()


def board_print(*args, sep=" ", end="\n", file=None):
    if file is not None and file is not stdout:
        _builtin_print(*args, sep=sep, end=end, file=file)
        return
    if sep is None:
        sep = " "
    if end is None:
        end = "\n"
    # Piece by piece: a large string is not copied into one more large string.
    for i, a in enumerate(args):
        if i:
            cooked(sep)
        cooked(a if isinstance(a, str) else str(a))
    cooked(end)


def repl_print(obj):
    if obj is not None:
        cooked(repr(obj) + "\n")
        builtins._ = obj


def board_input(prompt=""):
    cooked(str(prompt))
    code, text = readline("", "")
    if code == _CTRL_C:
        raise KeyboardInterrupt()
    if code == _CTRL_D:
        raise EOFError()
    return text


def format_exception(e):
    s = io.StringIO()
    _real_print_exception(e, s)
    lines = s.getvalue().split("\n")
    return "\n".join([ln for ln in lines if not ln.startswith(_rom_frame)])


def print_exception(e, file=None):
    if file is None or file is stdout:
        cooked(format_exception(e))
    else:
        _real_print_exception(e, file)


def board_help(*args):
    if args:
        return _builtin_help(*args)
    cooked(
        "Welcome to MicroPython on the %s!\n\n"
        "For online docs please visit http://docs.micropython.org/\n\n"
        "Control commands:\n"
        "  CTRL-A        -- on a blank line, enter raw REPL mode\n"
        "  CTRL-B        -- on a blank line, enter normal REPL mode\n"
        "  CTRL-C        -- interrupt a running program\n"
        "  CTRL-D        -- on a blank line, do a soft reset of the board\n"
        "  CTRL-E        -- on a blank line, enter paste mode\n\n"
        "For further help on a specific object, type help(obj)\n"
        "For a list of available modules, type help('modules')\n" % _cfg["machine"]
    )


_builtin_help = builtins.help


class _Module:
    """A stand-in module: the real one's names, some replaced, some hidden."""

    def __init__(self, name, base, hide=(), **extra):
        for k in dir(base):
            if not k.startswith("__") and k not in hide:
                setattr(self, k, getattr(base, k))
        for k in extra:
            setattr(self, k, extra[k])
        self.__name__ = name


class _Implementation:
    def __init__(self, real, machine):
        self.name = real.name
        self.version = real.version
        self._machine = machine
        self._mpy = real._mpy
        self._build = real._build if hasattr(real, "_build") else ""
        self._thread = real._thread if hasattr(real, "_thread") else None


def install(cfg, ctl, ack, rom_dir):
    """Make the VM look like the board to the code that runs on it."""
    global _ctl, _ack, _cfg, _rom_frame
    _ctl = ctl
    _ack = ack
    _cfg = cfg
    _rom_frame = '  File "' + rom_dir
    import os
    import vfs
    import micropython
    import collections

    builtins.print = board_print
    builtins.input = board_input
    builtins.help = board_help
    builtins.__repl_print__ = repl_print

    port = cfg["port"]
    release = "%d.%d.%d" % sys.implementation.version[:3]
    uname_t = collections.namedtuple("uname_result", ("sysname", "nodename", "release", "version", "machine"))
    uname = uname_t(port, port, release, version_line(), cfg["machine"])

    def kbd_intr(c):
        if set_intr(c):
            raise KeyboardInterrupt  # pressed before it was turned off: a board raises it too

    board_sys = _Module(
        "sys", sys, stdout=stdout, stderr=stdout, platform=port,
        print_exception=print_exception,
        implementation=_Implementation(sys.implementation, cfg["machine"]),
    )
    # Host-only names go: the board has no host shell, environment or files.
    host_only = ("system", "getenv", "putenv", "unsetenv", "VfsPosix")
    board_os = _Module("os", os, hide=host_only, uname=lambda: uname, sync=lambda: None)
    board_vfs = _Module("vfs", vfs, hide=("VfsPosix",))
    board_micropython = _Module("micropython", micropython, kbd_intr=kbd_intr)
    for name, mod in (
        ("sys", board_sys), ("os", board_os), ("vfs", board_vfs), ("micropython", board_micropython),
    ):
        sys.modules[name] = mod
        sys.modules["u" + name] = mod
    global _rom_modules
    _rom_modules = set(sys.modules)


def version_line():
    v = sys.implementation.version
    tag = "v%d.%d.%d" % v[:3]
    if len(v) > 3 and v[3]:
        tag += "-" + v[3]
    date = sys.version.split(" on ")[-1] if " on " in sys.version else ""
    return "MicroPython %s on %s; %s" % (tag, date, _cfg["machine"])


# ---- running code ----

_OK = 0
_ERROR = 1
_EXIT = 2


def execute(src, filename, mode):
    """Compile and run; return (status, traceback text or '')."""
    if mode == "exec":
        user_globals["__file__"] = filename
    status = _OK
    err = None
    ran = False
    late = False
    # A Ctrl-C lands anywhere (see heap_broken), so the steps after the code
    # are retried until Ctrl-C is off; one caught after the code is reported.
    while True:
        try:
            try:
                if not ran:
                    ran = True
                    code = compile(src, filename, mode)
                    set_intr(_CTRL_C)
                    exec(code, user_globals)
                late = set_intr(-1) or late
                break
            except SystemExit:
                status = _EXIT
            except BaseException as e:  # noqa: B036 - a board reports every exception
                if status == _OK:
                    status = _ERROR
                    err = e
        except KeyboardInterrupt:
            late = True
    unlock_heap()
    if heap_broken():
        resume_fresh()
    if late and status == _OK:
        # Ctrl-C pressed as the code ended: a board raises it as it turns Ctrl-C off.
        status = _ERROR
        err = KeyboardInterrupt()
    return status, format_exception(err) if err is not None else ""


def run_file(name):
    """pyexec_file_if_exists: True unless the file raised."""
    try:
        with open(name) as f:
            src = f.read()
    except OSError:
        return True
    status, tb = execute(src, name, "exec")
    if status == _EXIT:
        raise Restart()
    if status == _ERROR:
        cooked(tb)
        return False
    return True


def soft_reset(mode):
    # A port's soft reset ends with gc_sweep_all(), which runs every finaliser:
    # files left open are closed and flushed. Drop what user code holds, then collect.
    user_globals.clear()
    for name in list(sys.modules):
        if name not in _rom_modules:
            del sys.modules[name]
    gc.collect()
    write(b"MPY: soft reboot\r\n")
    control(b"S " + mode + b"\n")
    raise Restart()


# ---- friendly REPL ----

def banner():
    cooked(version_line() + '\nType "help()" for more information.\n')


def friendly_repl():
    """Return "raw" to switch to the raw REPL; soft resets raise Restart."""
    control(b"P friendly\n")  # the REPL a restart after Ctrl-C returns to
    banner()
    while True:
        unlock_heap()
        try:
            code, text = readline(">>> ", "")
        except KeyboardInterrupt:
            write(b"\r\n")
            continue
        if code == _CTRL_A:
            write(b"\r\n")
            return "raw"
        if code == _CTRL_B:
            write(b"\r\n")
            banner()
            continue
        if code == _CTRL_C:
            write(b"\r\n")
            continue
        if code == _CTRL_D:
            write(b"\r\n")
            soft_reset(b"friendly")
        mode = "single"
        if code == _CTRL_E:
            text = paste_mode()
            if text is None:
                continue
            mode = "exec"
        elif not text:
            continue
        else:
            cancelled = False
            while continue_with_input(text):
                text += "\n"
                code, more = readline("... ", text)
                if code == _CTRL_C:
                    write(b"\r\n")
                    cancelled = True
                    break
                if code == _CTRL_D:
                    break
                text += more
            if cancelled:
                continue
        status, tb = execute(text, "<stdin>", mode)
        if status == _EXIT:
            soft_reset(b"friendly")
        if status == _ERROR:
            cooked(tb)


def paste_mode():
    write(b"\r\npaste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== ")
    buf = bytearray()
    while True:
        c = getc()
        if c == _CTRL_C:
            write(b"\r\n")
            return None
        if c == _CTRL_D:
            write(b"\r\n")
            return text_of(bytes(buf))
        buf.append(c)
        if c == 13:
            write(b"\r\n=== ")
        else:
            write(bytes((c,)))


_ai = 0  # auto-indent state: 1 enabled, 2 just added (MicroPython's readline flags)
_last_nl = 0


def readline(prompt, before):
    """MicroPython's readline. `before` holds the lines already entered for
    this input (each ending in a newline), '' for a new input. Returns
    (0, text) on Enter, or (ctrl char, "") for Ctrl-C, and for Ctrl-A/B/D/E on
    an empty line."""
    global _ai, _last_nl
    if prompt:
        write(prompt.encode())
    line = bytearray()
    cur = 0
    if not before:
        _ai = 1
    if _ai & 1:
        ind = auto_indent(before)
        if ind:
            line += ind
            write(ind)
            cur = len(ind)
            _ai |= 2
    hist = -1
    esc = 0  # 0 none, 1 ESC, 2 ESC [, 3 ESC [ digit, 4 ESC O
    digit = 0
    while True:
        c = getc()
        old_len = len(line)
        back = fwd = 0
        redraw = False
        key = 0  # an editing key decoded from an escape sequence or Ctrl char
        if esc == 0:
            if _CTRL_A <= c <= _CTRL_E and not line:
                return c, ""
            elif c == _CTRL_A:
                key = "home"
            elif c == _CTRL_B:
                key = "left"
            elif c == _CTRL_C:
                return c, ""
            elif c == _CTRL_D:
                key = "delete"
            elif c == _CTRL_E:
                key = "end"
            elif c == 6:
                key = "right"
            elif c == 11:  # Ctrl-K: kill to end of line
                line[cur:] = b""
                redraw = True
            elif c == 14:
                key = "down"
            elif c == 16:
                key = "up"
            elif c == 21:  # Ctrl-U: kill to start of line
                line[:cur] = b""
                back = cur
                redraw = True
            elif (c == 13 or c == 10) and (_last_nl == 0 or _last_nl == c):
                _last_nl = c
                write(b"\r\n")
                text = text_of(bytes(line))
                if text and (not _history or _history[0] != text):
                    _history.insert(0, text)
                    del _history[_HISTORY:]
                return 0, text
            else:
                _last_nl = 0
                if c == 27:
                    esc = 1
                elif c == 8 or c == 127:
                    if cur > 0:
                        n = 4 if cur >= 4 and not bytes(line[:cur]).strip(b" ") else 1
                        line[cur - n:cur] = b""
                        back = n
                        redraw = True
                elif (_ai & 2) and (c == 9 or c == 32):
                    # typing indentation after an auto-indent: stop auto-indenting
                    _ai = 0
                    if c == 32:
                        line[len(line) - 3:] = b""
                        back = 3
                elif c == 9:
                    prev = line[cur - 1] if cur else (10 if before else 0)
                    if prev in (32, 9, 10, 13):
                        line[cur:cur] = b"    "
                        redraw = True
                        fwd = 4
                elif c >= 32 and c != 127:
                    line[cur:cur] = bytes((c,))
                    redraw = True
                    fwd = 1
        elif esc == 1:
            esc = 2 if c == 0x5B else 4 if c == 0x4F else 0
        elif esc == 2:
            esc = 0
            if 0x30 <= c <= 0x39:
                esc, digit = 3, c
            else:
                key = {0x41: "up", 0x42: "down", 0x43: "right", 0x44: "left", 0x48: "home", 0x46: "end"}.get(c, 0)
        elif esc == 3:
            esc = 0
            if c == 0x7E:
                key = {0x31: "home", 0x37: "home", 0x34: "end", 0x38: "end", 0x33: "delete"}.get(digit, 0)
        else:
            esc = 0
            key = {0x48: "home", 0x46: "end"}.get(c, 0)
        if key == "home":
            back = cur
        elif key == "end":
            fwd = len(line) - cur
        elif key == "left":
            if cur > 0:
                back = 1
        elif key == "right":
            if cur < len(line):
                fwd = 1
        elif key == "delete":
            if cur < len(line):
                line[cur:cur + 1] = b""
                redraw = True
        elif key == "up" or key == "down":
            new = hist + (1 if key == "up" else -1)
            if -1 <= new < len(_history):
                hist = new
                line[:] = b"" if new < 0 else _history[new].encode()
                back = cur
                redraw = True
                fwd = len(line)
        cur = _redraw(line, cur, old_len, back, redraw, fwd)
        _ai &= ~2


def _cursor_back(n):
    if n <= 0:
        return
    write(b"\x08" * n if n <= 4 else b"\x1b[%dD" % n)


def _redraw(line, cur, old_len, back, from_cursor, fwd):
    """Update the terminal the way readline.c does, and return the new cursor."""
    if back > 0:
        _cursor_back(back)
        cur -= back
    if from_cursor:
        if len(line) < old_len:
            write(b"\x1b[K")
        write(bytes(line[cur:]))
        _cursor_back(len(line) - (cur + fwd))
        cur += fwd
    elif fwd > 0:
        write(bytes(line[cur:cur + fwd]))
        cur += fwd
    return cur


_COMPOUND = ("if", "while", "for", "try", "with", "def", "class", "async")


def continue_with_input(text):
    """mp_repl_continue_with_input: does this REPL input need more lines?"""
    if not text:
        return False
    compound = text[0] == "@"
    for kw in _COMPOUND:
        if text.startswith(kw) and (len(text) == len(kw) or not (text[len(kw)].isalpha() or text[len(kw)].isdigit() or text[len(kw)] == "_")):
            compound = True
    quote = 0  # 0 none, 1 ', 2 ", 3 ''', 4 """
    depth = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "'" or ch == '"':
            one, three = (1, 3) if ch == "'" else (2, 4)
            if quote in (0, three) and text[i + 1:i + 3] == ch + ch:
                i += 2
                quote = three - quote
            elif quote in (0, one):
                quote = one - quote
        elif ch == "\\" and i + 1 < n and text[i + 1] in "'\"\\":
            if quote:
                i += 1
        elif quote == 0:
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
        i += 1
    if quote in (3, 4):
        return True
    if depth > 0 and quote == 0:
        return True
    if text[-1] == "\\":
        return True
    return compound and text[-1] != "\n"


def auto_indent(text):
    """readline's auto-indent for the next line of `text` (which ends in a newline)."""
    if len(text) < 2 or text[-1] != "\n":
        return b""
    start = text.rfind("\n", 0, len(text) - 1) + 1
    prev = text[start:-1]
    spaces = len(prev) - len(prev.lstrip(" "))
    if start > 0 and spaces == len(prev):
        before = text[text.rfind("\n", 0, start - 1) + 1:start - 1]
        if not before.strip(" "):
            return b""
    n = spaces // 4
    if prev.endswith(":"):
        n += 1
    return b"    " * n


# ---- raw REPL ----

def raw_repl(announce=True):
    """Return "friendly" on Ctrl-B; soft resets raise Restart."""
    control(b"P raw\n")
    write(b"raw REPL; CTRL-B to exit\r\n>" if announce else b">")
    line = bytearray()
    while True:
        try:
            c = getc()
        except KeyboardInterrupt:
            line = bytearray()
            continue
        if c == _CTRL_A:
            if len(line) == 2 and line[0] == _CTRL_E:
                raw_paste(line[1])
                line = bytearray()
                write(b">")
                continue
            line = bytearray()
            write(b"raw REPL; CTRL-B to exit\r\n>")
        elif c == _CTRL_B:
            write(b"\r\n")
            return "friendly"
        elif c == _CTRL_C:
            line = bytearray()
        elif c == _CTRL_D:
            if not line:
                write(b"OK\r\n")
                soft_reset(b"raw")
            write(b"OK")
            src = bytes(line)
            line = bytearray()
            _finish_raw(*execute(src, "<stdin>", "exec"))
            write(b">")
        else:
            line.append(c)


def raw_paste(command):
    if command != ord("A"):
        write(b"R\x00")
        return
    write(b"R\x01" + bytes((_PASTE_WINDOW & 0xFF, _PASTE_WINDOW >> 8, 1)))
    buf = bytearray()
    remain = _PASTE_WINDOW
    while True:
        c = getc()
        if c == _CTRL_C or c == _CTRL_D:
            write(b"\x04")
            if c == _CTRL_C:
                _finish_raw(_ERROR, "KeyboardInterrupt: \n")
                return
            break
        buf.append(c)
        remain -= 1
        if remain == 0:
            write(b"\x01")
            remain = _PASTE_WINDOW
    src = bytes(buf)
    buf = None
    _finish_raw(*execute(src, "<stdin>", "exec"))


def _finish_raw(status, tb):
    if status == _EXIT:
        write(b"\x04\x04")
        soft_reset(b"raw")
    if tb:
        write(b"\x04" + tb.replace("\n", "\r\n").encode() + b"\x04")
    else:
        write(b"\x04\x04")


# ---- the board's main loop ----

def run(mode, port, safe=False):
    """boot.py, then main.py in friendly mode, then the REPLs until a reset.
    A "resume-" mode goes straight back to that REPL (see resume_fresh)."""
    resumed = mode.startswith("resume-")
    if resumed:
        mode = mode[7:]
    control(b"P raw\n" if mode == "raw" else b"P friendly\n")
    if not (safe or resumed):
        boot_ok = run_file("boot.py")
        if mode == "friendly" and (boot_ok or port == "rp2"):
            run_file("main.py")
    while True:
        try:
            mode = raw_repl(announce=not resumed) if mode == "raw" else friendly_repl()
        except KeyboardInterrupt:
            set_intr(-1)  # a Ctrl-C that still landed in ROM code: that REPL starts over
        resumed = False

# The VM's side of the wire to the twin's world (tools/twin/world/protocol.py
# has the same numbers and the format). The main thread sends bus requests;
# an IRQ thread reads the world's events (pin edges, timer ticks) and hands
# them to micropython.schedule, as a port's interrupt handlers do.
import socket
import select
import micropython
import _thread
from micropython import const

I2C_OPEN = const(1)
I2C_WRITE = const(2)
I2C_READ = const(3)
I2C_WRITE_READ = const(4)
I2C_SCAN = const(5)
SPI_OPEN = const(8)
SPI_XFER = const(9)
PIN_MODE = const(16)
PIN_SET = const(17)
PIN_GET = const(18)
PIN_IRQ = const(19)
BITSTREAM = const(20)
PWM_SET = const(21)
ADC_READ = const(24)
TIMER = const(28)
WAKE = const(29)
ST_NACK_ADDR = const(1)
_EV_PIN = const(1)
_EV_TIMER = const(2)
_EV_READY = const(4)

_addr = None
_hello = None  # b"bus SESSION\n": SESSION names this VM's boot to the world
_conns = []  # bus connections; a request made while one is in flight uses the next
_depth = 0
req = bytearray(12)  # a request's header and small payload, filled in place (no allocation)
_req_views = [memoryview(req)[:6 + k] for k in range(7)]  # slicing at run time would allocate
_status = bytearray(1)
pin_irqs = [None] * 80  # by wire pin number: objects with _fire(edge)
timers = [None] * 16  # by slot: objects with _fire()
i2s_active = [None] * 4  # I2S objects with a non-blocking transfer for the IRQ thread
woken = [0]  # events seen, for lightsleep
masked = [0]  # machine.disable_irq() depth: interrupts wait until it is 0
_held = []


def connect(channel):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(_addr)
    s.write(channel)
    return s


def start(name):
    global _addr, _hello
    import os

    _addr = b"\x01\x00\x00" + name.encode()  # sockaddr_un, abstract namespace
    _hello = b"bus " + "".join("%02x" % b for b in os.urandom(6)).encode() + b"\n"
    _conns.append(connect(_hello))
    ev = connect(b"events\n")
    # The world drops events until it has taken this channel on (under load, well
    # after connect() returns): an I2S wake or a timer set up by the first lines
    # of code would be lost. It says so with EV_READY.
    got = ev.read(4)
    if not got or got[0] != _EV_READY:
        raise OSError(5)  # no world: the supervisor ends this VM
    _thread.start_new_thread(_irq_loop, (ev,))


def send(op, a=0, b=0, c=0, data=None):
    """A request without a reply."""
    request(op, a, b, c, 0, data, None, False)


def call(op, a=0, b=0, c=0, data=None, into=None):
    """A request with a reply: the status byte (0: OK); `into` gets the reply data."""
    return request(op, a, b, c, 0, data, into)


def request(op, a, b, c, k, data=None, into=None, reply=True):
    """One request, with the first k payload bytes already in req[6:]; `data`
    is one buffer or a list/tuple of them. Allocates nothing."""
    global _depth
    if _depth == len(_conns):
        _conns.append(connect(_hello))
    s = _conns[_depth]
    if s is None:
        s = _conns[_depth] = connect(_hello)
    _depth += 1
    done = False
    try:
        r = req
        n = k
        vector = type(data) is list or type(data) is tuple  # a tuple display would allocate
        if vector:
            for d in data:
                n += len(d)
        elif data:
            n += len(data)
        r[0] = op
        r[1] = a
        r[2] = b
        r[3] = c
        r[4] = n & 0xFF
        r[5] = n >> 8
        s.write(_req_views[k])
        if vector:
            for d in data:
                if len(d):
                    s.write(d)
        elif data:
            s.write(data)
        if not reply:
            done = True
            return 0
        if s.readinto(_status) != 1:
            raise OSError(5)  # the world is gone; the supervisor ends this VM
        st = _status[0]
        if st == 0 and into is not None and len(into):
            s.readinto(into)
        done = True
        return st
    finally:
        _depth -= 1
        if not done:
            # Cut short (a Ctrl-C lands anywhere on the twin): a reply may still be
            # on its way, so this connection is out of step; the next request opens another.
            _conns[_depth] = None
            s.close()


def _irq_loop(ev):
    p = select.poll()
    p.register(ev, select.POLLIN)
    buf = bytearray(4)
    watched = [None] * 4  # the I2S object whose transfer each slot serves now
    socks = [None] * 4  # each slot's socket, registered between transfers too: registering allocates
    while True:
        for obj, flags in p.ipoll(-1):
            if obj is ev:
                if ev.readinto(buf) != 4:
                    return
                woken[0] += 1
                kind = buf[0]
                if kind == _EV_PIN:
                    h = pin_irqs[buf[1]]
                    if h is not None:
                        h._fire(buf[2])
                elif kind == _EV_TIMER:
                    t = timers[buf[1]]
                    if t is not None:
                        t._fire()
                continue
            for i in range(4):
                if socks[i] is obj:
                    if watched[i] is not None:
                        watched[i]._service()
                    else:  # quiet, yet polled: it hung up or was closed (deinit)
                        _forget(p, socks, i)
        for i in range(4):
            i2s = i2s_active[i]
            if i2s is not watched[i]:
                if i2s is None:
                    if socks[i] is not None:
                        try:
                            p.modify(socks[i], 0)  # between transfers: only a hang-up wakes us
                        except OSError:
                            _forget(p, socks, i)
                elif i2s._sock is socks[i]:
                    p.modify(socks[i], i2s._events)
                else:
                    _forget(p, socks, i)
                    p.register(i2s._sock, i2s._events)
                    socks[i] = i2s._sock
                watched[i] = i2s
            if i >= 2 and i2s is not None:
                # TX: the world only answers audio in flight, so a transfer that
                # starts with none (or with room left) writes on any wake-up
                i2s._service()


def _forget(p, socks, i):
    if socks[i] is not None:
        try:
            p.unregister(socks[i])
        except (OSError, KeyError):
            pass
        socks[i] = None


def schedule(fn, arg):
    if masked[0]:
        if len(_held) < 8:
            _held.append((fn, arg))
        return
    try:
        micropython.schedule(fn, arg)
    except RuntimeError:
        pass  # the schedule queue is full: the port drops the interrupt too


def release_held():
    while _held:
        fn, arg = _held.pop(0)
        schedule(fn, arg)


def wake():
    send(WAKE)

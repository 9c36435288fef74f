"""Plain-Python meanings for the names MicroPython's viper emitter uses.

The firmware's hot loops (firmware/link.py, firmware/adpcm.py) are viper
functions; the host imports the same modules under CPython. There the
decorator casts each argument annotated ptr8/ptr16/ptr32 to a memoryview of
that width, which is what viper does with a buffer argument on the board, so
one function body runs unchanged in both VMs. Only CPython imports this.
"""

import functools


def ptr8(buf):
    return memoryview(buf).cast("B")


def ptr16(buf):
    return memoryview(buf).cast("B").cast("H")


def ptr32(buf):
    return memoryview(buf).cast("B").cast("I")


def uint(value):
    return value


def const(value):
    return value


def _viper(func):
    code = func.__code__
    names = code.co_varnames[: code.co_argcount]
    casts = tuple(
        (i, func.__annotations__[name])
        for i, name in enumerate(names)
        if func.__annotations__.get(name) in (ptr8, ptr16, ptr32)
    )

    @functools.wraps(func)
    def call(*args):
        args = list(args)
        for i, cast in casts:
            args[i] = cast(args[i])
        return func(*args)

    return call


class micropython:
    """Stands in for the `micropython` module: viper and native run as Python."""

    viper = staticmethod(_viper)
    native = staticmethod(lambda func: func)
    const = staticmethod(const)

# Picks the kernels once: viper where the port compiles it, plain Python otherwise.
# Set FORCE_PY before the first import of the front end or model to test the
# plain-Python path on a port that has viper.
FORCE_PY = False


def load():
    if not FORCE_PY:
        try:
            from . import _kviper
            return _kviper
        except (ImportError, SyntaxError, NotImplementedError, ValueError):
            pass
    from . import _kpy
    return _kpy

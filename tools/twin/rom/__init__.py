# MicroPython code that runs inside the twin VM (its "ROM"); never imported by CPython.

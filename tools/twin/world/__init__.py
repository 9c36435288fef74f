"""The twin's world: register-level models of the parts wired to a board.

It runs as its own CPython process next to the supervisor. The VM's `machine`
shim talks to it over a UNIX socket (see protocol.py); the supervisor forwards
world control commands (press a button, play a WAV, snapshot the display).
"""

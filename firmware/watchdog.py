# The watchdog across resets. The app feeds it from its main loop; when a tool
# takes the board over (Ctrl-C) or soft-resets it (mpremote does on connect),
# the watchdog keeps running, as it does on the ports, and would reset the
# board under the tool. So while the app is not running a timer feeds it:
# main.py starts that on Ctrl-C, and boot.py (which every soft reset runs)
# starts it again whenever the app has ever armed the watchdog (a flag file).
import sys

FLAG = "/watchdog.ms"
_timer = None


def _new_timer():
    from machine import Timer
    return Timer(0) if sys.platform == "esp32" else Timer(-1)  # the ESP32 has hardware timers only


def arm(ms):
    """Start the watchdog (ms > 0) for the app; it feeds it from then on."""
    from machine import WDT
    release()
    try:
        with open(FLAG) as f:
            known = f.read()
    except OSError:
        known = ""
    if known != str(ms):
        with open(FLAG, "w") as f:
            f.write(str(ms))
    return WDT(timeout=ms)


def disarm():
    """The board definition turned the watchdog off: boot.py stops arming it."""
    import os
    try:
        os.remove(FLAG)
    except OSError:
        pass


def hold(wdt, ms=1000):
    """Feed the watchdog from a timer while no app runs."""
    global _timer
    release()
    _timer = _new_timer()
    _timer.init(period=ms, mode=_timer.PERIODIC, callback=lambda _t: wdt.feed())


def release():
    global _timer
    if _timer is not None:
        _timer.deinit()
        _timer = None


def resume():
    """From boot.py: if the app runs with a watchdog, keep it fed until main.py starts the app."""
    try:
        with open(FLAG) as f:
            ms = int(f.read())
    except (OSError, ValueError):
        return
    from machine import WDT
    hold(WDT(timeout=ms), min(1000, ms // 4))

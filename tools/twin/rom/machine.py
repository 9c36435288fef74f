# The twin's `machine` module: the API of the ESP32 and RP2 ports.
# Resets and sleeps go to the supervisor over the ROM's control pipe; they
# never return, as on hardware.
import time
import umachine as _hw
import rom_console as _console

Signal = _hw.Signal
idle = _hw.idle
time_pulse_us = _hw.time_pulse_us

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5

_CAUSES = {"power": PWRON_RESET, "hard": HARD_RESET, "wdt": WDT_RESET, "deepsleep": DEEPSLEEP_RESET, "soft": SOFT_RESET}
_freq = 0


def _halt(msg):
    # No Ctrl-C may interrupt the wait: the supervisor ends this VM.
    _console.set_intr(-1)
    _console.control(msg)
    while True:
        time.sleep(1)


def reset():
    _halt(b"R\n")


def bootloader(value=None):
    _halt(b"B\n")


def soft_reset():
    raise SystemExit


def reset_cause():
    return _CAUSES.get(_console._cfg.get("reset_cause"), PWRON_RESET)


def unique_id():
    return bytes.fromhex(_console._cfg["unique_id"])


def freq(hz=None):
    global _freq
    if hz is None:
        return _freq or _console._cfg["cpu_hz"]
    _freq = hz


class RTC:
    # The clock runs from the host's; datetime() sets an offset to it.
    _offset = 0

    def __init__(self, id=0):
        pass

    def datetime(self, dt=None):
        if dt is None:
            t = time.localtime(time.time() + RTC._offset)
            return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0)
        year, month, day, _weekday, hour, minute, second = dt[:7]
        want = time.mktime((year, month, day, hour, minute, second, 0, 0))
        RTC._offset = want - time.time()

    def init(self, dt):
        self.datetime(dt)

# The twin's `machine` module: the API of the ESP32 and RP2 ports.
# setup() (called by rom.py with the board's config) connects to the world and
# removes the names the board's port lacks, so such code fails as it would there.
# Resets and sleeps go to the supervisor over the ROM's control pipe; they
# never return, as on hardware.
import sys as _sys
import time as _time
import umachine as _hw
import rom_console as _console
import rom_world as _w
import rom_pin as _pin
import rom_bus as _bus
import rom_i2s as _i2s
import rom_periph as _periph

Signal = _hw.Signal
time_pulse_us = _hw.time_pulse_us
Pin = _pin.Pin
bitstream = _pin.bitstream
I2C = _bus.I2C
SoftI2C = _bus.SoftI2C
SPI = _bus.SPI
SoftSPI = _bus.SoftSPI
I2S = _i2s.I2S
ADC = _periph.ADC
PWM = _periph.PWM
Timer = _periph.Timer
WDT = _periph.WDT
RTC = _periph.RTC

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
# ESP32 sleep and wake constants
SLEEP = 2
DEEPSLEEP = 4
PIN_WAKE = 2
EXT0_WAKE = 2
EXT1_WAKE = 3
TIMER_WAKE = 4
TOUCHPAD_WAKE = 5
ULP_WAKE = 6

_CAUSES = {"power": PWRON_RESET, "hard": HARD_RESET, "wdt": WDT_RESET, "deepsleep": DEEPSLEEP_RESET, "soft": SOFT_RESET}
_ESP32_ONLY = ("HARD_RESET", "DEEPSLEEP_RESET", "SOFT_RESET", "SLEEP", "DEEPSLEEP", "PIN_WAKE", "EXT0_WAKE",
               "EXT1_WAKE", "TIMER_WAKE", "TOUCHPAD_WAKE", "ULP_WAKE", "wake_reason")
_freq = 0


def _setup(cfg):
    port = cfg["port"]
    _pin.setup(port)
    _bus.setup(port)
    _i2s.setup(port)
    _periph.setup(port)
    mod = _sys.modules[__name__]
    if port == "esp32":
        mod.ADC = _periph.ADC32
        mod.sleep = lightsleep  # the ESP32's old name for it
        del _pin.Pin.high, _pin.Pin.low
    else:
        for name in _ESP32_ONLY:
            delattr(mod, name)
        del _periph.PWM.duty
    _w.start(cfg["world"])


def _halt(msg):
    # No Ctrl-C may interrupt the wait: the supervisor ends this VM.
    _console.set_intr(-1)
    _console.control(msg)
    while True:
        _time.sleep(1)


def reset():
    _halt(b"R\n")


def bootloader(value=None):
    _halt(b"B\n")


def soft_reset():
    raise SystemExit


def reset_cause():
    return _CAUSES.get(_console._cfg.get("reset_cause"), PWRON_RESET)


def wake_reason():
    return TIMER_WAKE if _console._cfg.get("reset_cause") == "deepsleep" else 0


def unique_id():
    uid = bytes.fromhex(_console._cfg["unique_id"])
    return uid[:6] if _console._cfg["port"] == "esp32" else uid  # a MAC address on the ESP32


def freq(hz=None):
    global _freq
    if hz is None:
        return _freq or _console._cfg["cpu_hz"]
    if _console._cfg["port"] == "esp32" and hz not in (20000000, 40000000, 80000000, 160000000, 240000000):
        raise ValueError("frequency must be 20MHz, 40MHz, 80Mhz, 160MHz or 240MHz")
    _freq = hz


def idle():
    _time.sleep_ms(1)  # until the next interrupt or tick, as WFI does


def disable_irq():
    state = _w.masked[0]
    _w.masked[0] = state + 1
    return state


def enable_irq(state=0):
    _w.masked[0] = state
    if not state:
        _w.release_held()


def lightsleep(time_ms=None):
    # The CPU stops until the time is up or an interrupt comes; the port stays.
    seen = _w.woken[0]
    end = None if time_ms is None else _time.ticks_add(_time.ticks_ms(), time_ms)
    while _w.woken[0] == seen and (end is None or _time.ticks_diff(end, _time.ticks_ms()) > 0):
        _time.sleep_ms(1)


def deepsleep(time_ms=None):
    if _console._cfg["port"] != "esp32":
        # The RP2 port sleeps lightly, then resets.
        lightsleep(time_ms)
        reset()
    _halt(b"D %d\n" % (-1 if time_ms is None else time_ms))

# The composition root: reads the deployed board definition (/board.json),
# builds the buses and the drivers, and starts the app. Pins are bound here
# and nowhere else. Holding the talk button at boot (safe mode) skips the app
# and leaves the REPL. A part that fails to start is reported and left out;
# the app runs with what is there.
import gc
import json
import time
from micropython import const

BOARD_FILE = "/board.json"
_AMP_BUF_MS = const(160)  # see i2s_ibuf


def load_board(path=BOARD_FILE):
    try:
        with open(path) as f:
            board = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError("cannot read the board definition %s: %s" % (path, e))
    if not isinstance(board, dict) or "parts" not in board or "buses" not in board:
        raise ValueError("%s: a board definition needs parts and buses" % path)
    return board


def part(board, name):
    for p in board["parts"]:
        if p.get("name") == name:
            return p
    return None


def safe_mode(board):
    """True while the talk button is held."""
    from machine import Pin
    b = part(board, "button")
    if b is None:
        return False
    pull = Pin.PULL_UP if b.get("pull", "up") == "up" else Pin.PULL_DOWN
    pin = Pin(b["pin"], Pin.IN, pull)
    time.sleep_ms(20)  # let the pull settle
    return pin.value() == b.get("active", 0)


def i2s_ibuf(bus):
    """Bytes of the port's ring buffer for an I2S bus (rp2 takes them from the
    heap). The amp's holds what Playback (app/audio.py) can have handed it and
    not yet played: at most 120 ms ahead of real time plus one 32 ms block,
    152 ms; a write that finds it full waits, it loses nothing."""
    if "ibuf" in bus:
        return bus["ibuf"]
    if bus["mode"] == "rx":
        return 8192
    return _AMP_BUF_MS * bus["rate"] // 1000 * bus["bits"] // 8


def build_bus(bus, port):
    from machine import I2C, I2S, Pin
    kind = bus["type"]
    if kind == "i2c":
        return I2C(bus["id"], scl=Pin(bus["scl"]), sda=Pin(bus["sda"]), freq=bus.get("freq", 400000))
    if kind == "i2s":
        return I2S(bus["id"], **i2s_args(bus))
    raise ValueError("bus type %r is not supported" % kind)


def i2s_args(bus):
    """The keywords of I2S() and I2S.init() for a bus."""
    from machine import I2S, Pin
    return {"sck": Pin(bus["sck"]), "ws": Pin(bus["ws"]), "sd": Pin(bus["sd"]),
            "mode": I2S.RX if bus["mode"] == "rx" else I2S.TX, "bits": bus["bits"],
            "format": I2S.MONO, "rate": bus["rate"], "ibuf": i2s_ibuf(bus)}


def bus_conf(p, board):
    """A part's bus entry, completed with the part's rate and bits (I2S)."""
    conf = dict(board["buses"][p["bus"]])
    conf.setdefault("rate", p.get("rate", 16000))
    conf.setdefault("bits", p.get("bits", 16))
    return conf


def build_part(p, buses, board):
    """The driver of one part entry; its bus is built on first use."""
    kind = p["part"]
    bus = None
    if "bus" in p:
        conf = bus_conf(p, board)
        if p["bus"] not in buses:
            buses[p["bus"]] = build_bus(conf, board["port"])
        bus = buses[p["bus"]]
    if kind == "ssd1306":
        from drivers.ssd1306 import SSD1306
        return SSD1306(bus, p["addr"], p.get("width", 128), p.get("height", 64))
    if kind == "bme280":
        from drivers.bme280 import BME280
        return BME280(bus, p["addr"])
    if kind == "mpu6050":
        from drivers.mpu6050 import MPU6050
        return MPU6050(bus, p["addr"])
    if kind == "inmp441":
        from drivers.inmp441 import INMP441
        return INMP441(bus, 320, p.get("shift", 16))
    if kind == "max98357a":
        from drivers.max98357a import MAX98357A
        if bus is None:
            raise ValueError("max98357a needs an i2s bus")
        i2s, args = bus, i2s_args(conf)
        # the amp's bus is closed while nothing plays (Playback): init opens it again
        return MAX98357A(i2s, p.get("rate", 16000), reopen=lambda: i2s.init(**args))
    if kind == "button":
        from drivers.button import Button
        return Button(p["pin"], p.get("active", 0), p.get("pull", "up"))
    if kind == "battery":
        from machine import ADC, Pin
        from drivers.battery import Battery
        adc = ADC(Pin(p["adc"]))
        if board["port"] == "esp32":
            adc.atten(ADC.ATTN_11DB)  # the full 0..3.1 V range
        return Battery(adc, p.get("divider", 2.0))
    if kind == "ws2812":
        from drivers.led import Ws2812
        return Ws2812(p["pin"], p.get("count", 1))
    if kind == "led":
        from drivers.led import PlainLed
        return PlainLed(p["pin"])
    raise ValueError("part %r is not supported" % kind)


_ROLES = {"ssd1306": "display", "bme280": "env", "mpu6050": "imu", "inmp441": "mic",
          "max98357a": "amp", "battery": "battery", "ws2812": "led", "led": "led"}


def build(board, report):
    """Drivers by role; report(text) hears of each part that failed."""
    buses: dict = {}
    parts: dict = {"buttons": [], "faults": []}
    for p in board["parts"]:
        try:
            drv = build_part(p, buses, board)
        except Exception as e:  # noqa: BLE001  one dead part must not stop the device
            msg = "%s (%s): %s" % (p.get("name"), p.get("part"), e)
            parts["faults"].append(msg)
            report(msg)
            continue
        if p["part"] == "button":
            parts["buttons"].append(drv)
        else:
            parts.setdefault(_ROLES[p["part"]], drv)
    from vad import Vad
    parts["vad"] = Vad()
    return parts


def wake_word(board, report):
    """The wake-word detector the board definition asks for, or None (push-to-talk)."""
    ww = board.get("wakeword")
    if not ww:
        return None
    model = ww.get("model", "")
    path = model if model.startswith("/") else "/%s.pwm" % model  # deploy puts models at the root
    try:
        from wakeword.detector import Detector
        if ww.get("model_in") == "ram":  # the whole model in the heap: no flash reads per frame
            with open(path, "rb") as f:
                path = f.read()
        return Detector(path, ww.get("threshold"))
    except Exception as e:  # noqa: BLE001  a missing or corrupt model leaves push-to-talk
        report("wake word off: %s" % e)
        return None


def for_app(board):
    """What the running app reads of the board definition: name and machine
    (for `info` and `hello`), the heap budget and the display's part entry.
    The rest (buses, pins, flash, USB, notes) only serves the build; kept, it
    would hold 2.1 KB of a 32-bit board's heap for good (bench/heap32.py)."""
    slim = {k: board[k] for k in ("name", "machine") if k in board}
    if "heap" in board:
        slim["heap"] = {"budget": board["heap"].get("budget", 0)}
    slim["parts"] = [p for p in board["parts"] if p.get("name") == "display"]
    return slim


def release_boot_code():
    """Drop the functions only boot uses: the app runs from here on and never
    comes back to them, and kept they would hold their code (some 2 KB of a
    32-bit board's heap, bench/heap32.py). Importing main leaves them be."""
    g = globals()
    for name in ("load_board", "part", "safe_mode", "i2s_ibuf", "build_bus", "i2s_args", "bus_conf", "build_part",
                 "_ROLES", "build", "wake_word", "for_app"):
        g.pop(name, None)


def main():
    gc.collect()
    base = gc.mem_alloc()  # what the port's runtime holds before the app: not the app's
    board = load_board()
    if safe_mode(board):
        print("safe mode: the button was held at boot; the app is not started")
        return
    faults: list = []
    parts = build(board, faults.append)
    from app.ui import boot_screen
    boot_screen(parts.get("display"))  # before the wake-word model loads
    detector = wake_word(board, faults.append)
    ms = board.get("watchdog_ms", 8000)
    board = for_app(board)
    release_boot_code()
    gc.collect()
    import watchdog
    wdt = None
    if ms:
        wdt = watchdog.arm(ms)  # fed by the app's main loop from here on
    else:
        watchdog.disarm()
    import os
    from app import run
    boot_id = int.from_bytes(os.urandom(4), "little")
    try:
        run.main(board, parts, wdt, detector, boot_id, faults, base)
    except KeyboardInterrupt:
        if wdt is not None:
            watchdog.hold(wdt)  # a tool took over: keep the REPL alive
        print("app stopped (Ctrl-C); the REPL is yours")


if __name__ == "__main__":
    main()

"""Load and check the board definitions in this folder.

A board definition is a JSON file, data only, read by the host tools, by the
twin and (deployed as /board.json) by the firmware. Names use dashes
(`esp32s3-devkitc`); files use underscores (`esp32s3_devkitc.json`).
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from pocket_agent.errors import PocketError

BOARDS_DIR = Path(__file__).resolve().parent
PORTS = ("esp32", "rp2")
# The board's info reply carries these; its outbox slot is sized for them
# (firmware/app/run.py OUTBOX_SLOT).
NAME_BYTES = {"name": 32, "machine": 64}
_REQUIRED = ("name", "title", "mcu", "port", "machine", "usb", "mpy_arch", "flash", "heap")
BUS_PINS = {"i2c": ("scl", "sda"), "i2s": ("sck", "ws", "sd"), "spi": ("sck", "mosi", "miso")}
# The parts the twin has models for: the bus type each sits on, and the
# addresses the real part can answer at (its address pins).
I2C_PARTS = {"ssd1306": (0x3C, 0x3D), "bme280": (0x76, 0x77), "mpu6050": (0x68, 0x69)}
I2S_PARTS = {"inmp441": "rx", "max98357a": "tx"}
PIN_PARTS = {"button": "pin", "led": "pin", "ws2812": "pin", "battery": "adc"}
PARTS = tuple(I2C_PARTS) + tuple(I2S_PARTS) + tuple(PIN_PARTS)


@dataclass(frozen=True)
class Flash:
    size: int
    fs_offset: int
    fs_size: int
    block_size: int

    @property
    def fs_blocks(self):
        return self.fs_size // self.block_size


@dataclass(frozen=True)
class Board:
    name: str
    title: str
    mcu: str
    port: str
    machine: str
    vid: int
    pid: int
    mpy_arch: str
    flash: Flash
    heap_budget: int
    path: Path
    raw: dict = field(repr=False, compare=False)


def names():
    """Names of all defined boards, sorted."""
    return sorted(_read(p)["name"] for p in BOARDS_DIR.glob("*.json"))


def load(name):
    """The board called `name`; a PocketError listing the known boards otherwise."""
    for path in sorted(BOARDS_DIR.glob("*.json")):
        data = _read(path)
        if data.get("name") == name:
            return _parse(path, data)
    known = ", ".join(names()) or "none"
    raise PocketError(f"unknown board {name!r}", hint=f"known boards: {known}")


def load_file(path):
    path = Path(path)
    return _parse(path, _read(path))


def _read(path):
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise PocketError(f"cannot read board definition {path}: {exc}") from None
    if not isinstance(data, dict):
        raise PocketError(f"{path}: a board definition is a JSON object")
    return data


def _parse(path, data):
    def bad(entry, why):
        return PocketError(f"{path}: entry {entry!r}: {why}")

    for key in _REQUIRED:
        if key not in data:
            raise bad(key, "missing")
    if data["port"] not in PORTS:
        raise bad("port", f"must be one of {', '.join(PORTS)}")
    for key, most in NAME_BYTES.items():
        if not isinstance(data[key], str) or not 0 < len(data[key].encode()) <= most:
            raise bad(key, f"must be text of 1 to {most} bytes (the board's info reply carries it)")
    flash = data["flash"]
    try:
        fl = Flash(
            size=int(flash["size"]),
            fs_offset=int(flash["fs_offset"]),
            fs_size=int(flash["fs_size"]),
            block_size=int(flash.get("block_size", 4096)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise bad("flash", f"needs integer size, fs_offset and fs_size ({exc})") from None
    if fl.fs_offset + fl.fs_size > fl.size or fl.fs_size % fl.block_size:
        raise bad("flash", "the filesystem must fit in flash and be a whole number of blocks")
    try:
        vid, pid = int(data["usb"]["vid"], 16), int(data["usb"]["pid"], 16)
    except (KeyError, TypeError, ValueError):
        raise bad("usb", 'needs "vid" and "pid" as hex strings') from None
    try:
        budget = int(data["heap"]["budget"])
    except (KeyError, TypeError, ValueError):
        raise bad("heap", 'needs an integer "budget" in bytes') from None
    _check_wiring(path, data)
    return Board(
        name=data["name"],
        title=data["title"],
        mcu=data["mcu"],
        port=data["port"],
        machine=data["machine"],
        vid=vid,
        pid=pid,
        mpy_arch=data["mpy_arch"],
        flash=fl,
        heap_budget=budget,
        path=path,
        raw=data,
    )


def _is_pin(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return 0 <= value <= 63
    return isinstance(value, str) and (value == "LED" or (value[:2] == "GP" and value[2:].isdigit())
                                       or (value[:7] == "WL_GPIO" and value[7:].isdigit()))


def _check_wiring(path, data):
    """Buses and parts: every part known, on a bus of the right type, at an address it can have."""
    buses = data.get("buses", {})
    if not isinstance(buses, dict):
        raise PocketError(f"{path}: entry 'buses': must be an object of named buses")
    for name, bus in buses.items():
        where = f"{path}: entry buses.{name}"
        if not isinstance(bus, dict) or bus.get("type") not in BUS_PINS:
            raise PocketError(f"{where}: needs a type, one of {', '.join(BUS_PINS)}")
        for pin in BUS_PINS[bus["type"]]:
            if pin not in bus or not _is_pin(bus[pin]):
                raise PocketError(f"{where}: pin {pin!r} missing or not a pin number/name")
        if bus["type"] == "i2s" and bus.get("mode") not in ("rx", "tx"):
            raise PocketError(f"{where}: an I2S bus needs mode rx or tx")
    parts = data.get("parts", [])
    if not isinstance(parts, list):
        raise PocketError(f"{path}: entry 'parts': must be a list")
    seen_names = set()
    taken = {}
    for i, part in enumerate(parts):
        label = part.get("name", "?") if isinstance(part, dict) else "?"
        where = f"{path}: entry parts[{i}] ({label})"
        if not isinstance(part, dict) or not isinstance(part.get("name"), str):
            raise PocketError(f"{where}: a part needs a name")
        if part["name"] in seen_names:
            raise PocketError(f"{where}: another part has this name")
        seen_names.add(part["name"])
        kind = part.get("part")
        if kind not in PARTS:
            raise PocketError(f"{where}: unknown part {kind!r}; the twin knows {', '.join(PARTS)}")
        if kind in I2C_PARTS or kind in I2S_PARTS:
            bus = buses.get(part.get("bus"))
            want = "i2c" if kind in I2C_PARTS else "i2s"
            if bus is None or bus["type"] != want:
                raise PocketError(f"{where}: bus {part.get('bus')!r} is not an {want.upper()} bus of this board")
        if kind in I2C_PARTS:
            addr = part.get("addr")
            if not isinstance(addr, int) or addr not in I2C_PARTS[kind]:
                ok = " or ".join(f"0x{a:02X}" for a in I2C_PARTS[kind])
                raise PocketError(f"{where}: bad address {addr!r}; a {kind} answers at {ok}")
            key = (part["bus"], addr)
            if key in taken:
                raise PocketError(f"{where}: address 0x{addr:02X} on {part['bus']} is taken by {taken[key]}")
            taken[key] = part["name"]
            if "int" in part and not _is_pin(part["int"]):
                raise PocketError(f"{where}: 'int' is not a pin")
        elif kind in I2S_PARTS:
            if buses[part["bus"]]["mode"] != I2S_PARTS[kind]:
                raise PocketError(f"{where}: a {kind} needs an I2S bus in {I2S_PARTS[kind]} mode")
        else:
            key = PIN_PARTS[kind]
            if not _is_pin(part.get(key)):
                raise PocketError(f"{where}: {key!r} missing or not a pin number/name")
            if kind == "battery" and not (isinstance(part.get("divider", 1), (int, float)) and part.get("divider", 1) > 0):
                raise PocketError(f"{where}: 'divider' must be a positive ratio")
            if kind == "button" and part.get("active", 0) not in (0, 1):
                raise PocketError(f"{where}: 'active' is the level of a pressed button, 0 or 1")

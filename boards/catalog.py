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
_REQUIRED = ("name", "title", "mcu", "port", "machine", "usb", "mpy_arch", "flash", "heap")


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

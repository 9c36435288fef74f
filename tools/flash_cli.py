"""`pocket flash`: put MicroPython on a board or reset a twin's flash."""

from pocket_agent.errors import PocketError


def register(sub):
    p = sub.add_parser(
        "flash",
        help="put MicroPython on a board (esptool for ESP32-S3, UF2 for the Pico 2 W)",
        description="Flash MicroPython: on an ESP32-S3 with esptool (erase, write at the board's offset "
        "with its flash mode and frequency, verify, reset); on a Pico 2 W by copying the UF2 to its "
        "BOOTSEL drive, or with picotool when it is installed. The image is checked against the board "
        "first. On a twin, the flash is erased and the filesystem formatted, as erase-flash does. "
        "Images: https://micropython.org/download/ (or --version, which downloads and caches them).",
    )
    p.add_argument("--board", help="board definition (see `pocket boards`)")
    p.add_argument("--port", help="serial port of the board (default: found by USB VID:PID, or its twin)")
    p.add_argument("--twin", metavar="NAME", help="flash the running twin NAME")
    p.add_argument("--state-dir", help="root of the twins' state (as for `pocket sim`)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--firmware", metavar="FILE", help="image to write (.bin for ESP32-S3, .uf2 for the Pico 2 W)")
    src.add_argument("--version", metavar="V", help="official MicroPython release, e.g. 1.29.0 (downloaded once, cached)")
    p.add_argument("--no-stub", action="store_true", help="ESP32: talk to the ROM loader only, without esptool's stub")
    p.add_argument("--drive", metavar="DIR", help="Pico: the mounted BOOTSEL drive, if it is not found by itself")
    p.set_defaults(func=run)


def run(args):
    from pocket_agent.boards import catalog
    from pocket_agent.tools import flash

    if not args.board:
        raise PocketError("which board? give --board NAME", hint="known boards: " + ", ".join(catalog.names()))
    flash.flash(args.board, args.port, firmware=args.firmware, version=args.version, twin=args.twin,
                state_dir=args.state_dir, stub=not args.no_stub, drive=args.drive)
    return 0

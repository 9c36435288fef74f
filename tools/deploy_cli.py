"""`pocket deploy`: compile the app for a board and copy only what changed."""

import sys

from pocket_agent.errors import PocketError


def register(sub):
    p = sub.add_parser(
        "deploy",
        help="put the app (firmware/) on a board or twin, sending only what changed",
        description="Compile firmware/ with mpy-cross for the board's architecture (boot.py and main.py "
        "stay source), add the board definition (/board.json) and the model files, and sync them to "
        "the board: one round trip reads the board's hashes, then only changed files are sent and stale "
        "ones deleted, each written atomically. Works on real boards and on twins.",
    )
    p.add_argument("--board", required=False, help="board definition to deploy for (see `pocket boards`)")
    p.add_argument("--port", help="serial port of the board (default: the one board of this kind on USB, "
                   "or the one running twin of it)")
    p.add_argument("--twin", metavar="NAME", help="deploy to the running twin NAME")
    p.add_argument("--state-dir", help="root of the twins' state (as for `pocket sim`)")
    p.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    p.add_argument("--no-compile", action="store_true", help="send modules as .py source")
    p.add_argument("--no-reset", action="store_true",
                   help="leave the board at the REPL instead of soft-resetting it to run the app")
    p.add_argument("--app", metavar="DIR", help="app folder to deploy (default: the project's firmware/)")
    p.add_argument("--models", metavar="DIR", help="folder whose model files (.pwm) go on the board "
                   "(default: the project's models/)")
    img = p.add_argument_group(
        "one flashable image", "instead of deploying, write one image holding MicroPython and a LittleFS "
        "filesystem with the app, to flash with `pocket flash --firmware OUT` (or esptool / the BOOTSEL drive)")
    img.add_argument("--image", metavar="OUT", help="write the image to OUT (.bin for ESP32-S3, .uf2 for the Pico 2 W)")
    src = img.add_mutually_exclusive_group()
    src.add_argument("--firmware", metavar="FILE", help="the MicroPython image to start from")
    src.add_argument("--version", metavar="V", help="the official MicroPython release to start from (cached download)")
    img.add_argument("--arch", help="mpy arch of the image's modules (default: the board definition's)")
    p.set_defaults(func=run)


def run(args):
    from pocket_agent.boards import catalog
    from pocket_agent.tools import deploy as d

    if not args.board:
        raise PocketError("which board? give --board NAME", hint="known boards: " + ", ".join(catalog.names()))
    kwargs = {}
    if args.app:
        kwargs["firmware_dir"] = args.app
    if args.models:
        from pathlib import Path

        if not Path(args.models).is_dir():
            raise PocketError(f"no models folder {args.models}", hint="give a folder holding .pwm model files")
        kwargs["models_dir"] = args.models
    if args.image:
        return build_image(args, kwargs)
    if args.firmware or args.version or args.arch:
        raise PocketError("--firmware, --version and --arch go with --image", hint="see `pocket deploy --help`")
    bar = _Bar() if sys.stdout.isatty() and not args.dry_run else None
    try:
        result = d.deploy(args.board, args.port, twin=args.twin, state_dir=args.state_dir,
                          dry_run=args.dry_run, compile=not args.no_compile, reset=not args.no_reset,
                          out=print, progress=bar.update if bar else None, **kwargs)
    finally:
        if bar:
            bar.close()
    if args.dry_run:
        print("dry run: nothing was changed")
    elif not result.plan.empty:
        print(f"deployed to {result.port} in {result.seconds:.2f} s ({result.sent} bytes sent)")
    return 0


def build_image(args, kwargs):
    from pocket_agent.boards import catalog
    from pocket_agent.tools.deploy import image
    from pocket_agent.tools.flash import images, releases

    if not (args.firmware or args.version):
        raise PocketError("an image starts from MicroPython: give --firmware FILE or --version V")
    firmware = args.firmware
    if args.version:
        board = catalog.load(args.board)
        firmware = releases.resolve(board, args.version,
                                    validate=lambda data, url: images.check(board, data, url))
    image.build(args.board, args.image, firmware, arch=args.arch, **kwargs)
    return 0


class _Bar:
    """A rich progress bar, started at the first byte of the stream."""

    def __init__(self):
        self.progress = None
        self.task = None

    def update(self, done, total):
        if self.progress is None:
            from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

            self.progress = Progress("deploying", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                                     transient=True)
            self.progress.start()
            self.task = self.progress.add_task("deploy", total=total)
        self.progress.update(self.task, completed=done)

    def close(self):
        if self.progress:
            self.progress.stop()

"""`pocket deploy`: put the app on a board, sending only what changed.

    result = deploy("pico2w", port="/dev/ttyACM0")

One session on the board's port: a survey (hashes, .mpy format, free space,
manifest) in one round trip, then, if anything differs, one stream of
operations with flow control. See docs/deploy.md.
"""

import time
from dataclasses import dataclass

from pocket_agent.errors import PocketError

from . import borrow, mpy, ports, remote, sync, tree
from .link import Link


@dataclass
class Result:
    board: str
    port: str
    arch: str
    plan: sync.Plan
    survey: sync.Survey
    sent: int  # bytes written to the port: the board-side programs and the stream
    seconds: float
    compiled: int  # modules mpy-cross compiled (the rest came from the cache)
    dry_run: bool


def _check_board(board, survey, port):
    if survey.platform != board.port:
        raise PocketError(
            f"the board on {port} runs MicroPython for {survey.platform} ({survey.machine}), "
            f"not for {board.port}: it is not a {board.title}",
            hint="pick its board with --board (see `pocket boards`), or another --port")


def _board_mpy(survey, compile):
    """The board's .mpy format, checked against our compiler; None when not compiling."""
    if not compile:
        return None
    if survey.mpy is None:
        raise PocketError("this board's MicroPython cannot load .mpy files",
                          hint="deploy source instead with --no-compile")
    board = mpy.BoardMpy(survey.mpy)
    version, sub, text = mpy.compiler_output()
    if board.version != version:
        running = ".".join(str(v) for v in survey.version)
        raise PocketError(
            f"the board runs MicroPython {running}, which loads .mpy version {board.version}; "
            f"this mpy-cross writes version {version}.{sub} ({text.splitlines()[0]})",
            hint="flash a current MicroPython (`pocket flash --board BOARD --version 1.29.0`), "
            "or deploy source with --no-compile")
    return board


def deploy(board_name, port=None, *, twin=None, state_dir=None, dry_run=False, compile=True,
           reset=True, firmware_dir=tree.FIRMWARE_DIR, models_dir=tree.MODELS_DIR,
           out=print, progress=None, window=sync.WINDOW):
    """Make the board's files match the app. `out` gets the plan and notes;
    `progress(done, total)` gets stream progress in bytes."""
    from pocket_agent.boards import catalog

    started = time.monotonic()
    board = catalog.load(board_name)
    port = ports.find_port(board, port, twin, state_dir)
    sources = tree.collect(board, firmware_dir=firmware_dir, models_dir=models_dir, compile=compile)
    shadows = tree.shadowed_sources(sources)
    paths = sorted(set(s.path for s in sources) | set(shadows))
    with borrow.port(port, out) as usable, Link.open(usable) as link:
        link.enter_raw(soft_reset=True)
        survey = sync.Survey.parse(link.exec(remote.survey_code(paths)))
        _check_board(board, survey, port)
        board_mpy = _board_mpy(survey, compile)
        arch = board_mpy.arch if board_mpy else "none"
        if board_mpy and arch != board.mpy_arch:
            twin_ref = ports.twin_of(port, state_dir)
            why = "a twin runs the VM of this machine" if twin_ref else "check the board definition"
            out(f"note: the board reports mpy arch {arch}, its definition says {board.mpy_arch} "
                f"({why}); compiling for {arch}")
        compiler = mpy.Compiler(arch) if compile else None
        entries = tree.build(sources, compiler, warn=out)
        if board_mpy:
            bad = [(e.path, mpy.loads_on(e.data, board_mpy)) for e in entries if e.kind == "mpy"]
            bad = [(p, why) for p, why in bad if why]
            if bad:
                raise PocketError(
                    "the board cannot load these compiled modules: "
                    + "; ".join(f"{p} ({why})" for p, why in bad),
                    hint="flash the MicroPython release this mpy-cross matches, or use --no-compile")
        plan = sync.make_plan(board.name, entries, survey, shadows)
        for path in survey.removed:
            out(f"removed {path} (left by a deploy cut short)")
        describe(plan, out)
        if plan.empty or dry_run:
            if not dry_run and reset:
                link.leave(soft_reset=True)
            return Result(board.name, port, arch, plan, survey, link.sent, time.monotonic() - started,
                          compiler.compiled if compiler else 0, dry_run)
        sync.check_room(plan)
        total = len(b"".join(sync.encode(op) for op in plan.ops()))
        sync.send(link, plan.ops(), progress=(lambda n: progress(n, total)) if progress else None,
                  window=window)
        link.leave(soft_reset=reset)
        return Result(board.name, port, arch, plan, survey, link.sent, time.monotonic() - started,
                      compiler.compiled if compiler else 0, dry_run)


def _size(n):
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KiB"


def describe(plan, out):
    for op in plan.writes:
        mark = "+" if op.why == "new" else "~"
        out(f"  {mark} {op.path} ({op.why}, {_size(len(op.data))})")
    for op in plan.deletes:
        out(f"  - {op.path} ({op.why})")
    if plan.empty:
        out(f"up to date: {len(plan.unchanged)} files unchanged")
    else:
        out(f"{len(plan.writes)} to write ({_size(plan.payload_bytes)}), {len(plan.deletes)} to delete, "
            f"{len(plan.unchanged)} unchanged; needs {_size(plan.need_bytes)} of {_size(plan.free_bytes)} free")

"""Bring a board's files in line with a build: what differs, whether it fits, and the stream that fixes it."""

import ast
import json
import struct
import time
from dataclasses import dataclass, field

from pocket_agent.errors import PocketError

from . import remote

RESERVE_BLOCKS = 2  # LittleFS needs a few free blocks to move metadata around
WINDOW = 256  # bytes in flight to the board: fits the smallest stdin buffer of the ports (esp32: 260)


@dataclass
class Survey:
    """What the board said in one round trip."""

    mpy: int | None
    platform: str
    version: tuple
    machine: str
    block: int
    blocks: int
    free_blocks: int
    files: dict  # path -> (size, sha256 hex)
    removed: list  # temporary files of a cut-short deploy, removed now
    manifest: dict | None

    @classmethod
    def parse(cls, out):
        files, removed, info = {}, [], None
        try:
            for line in out.decode().splitlines():
                kind, _, rest = line.partition(" ")
                if kind == "F":
                    path, size, digest = rest.rsplit(" ", 2)
                    files[path] = (int(size), digest)
                elif kind == "T":
                    removed.append(rest)
                elif kind == "I":
                    info = ast.literal_eval(rest)
            if info is None:
                raise ValueError("no summary line")
        except (ValueError, SyntaxError, UnicodeDecodeError) as exc:
            raise PocketError(f"the board's answer to the survey makes no sense: {out[-200:]!r} ({exc})") from None
        manifest = None
        if info["manifest"]:
            try:
                manifest = json.loads(info["manifest"])
                if not isinstance(manifest.get("files"), list):
                    manifest = None
            except (ValueError, AttributeError):
                manifest = None  # damaged: treat as absent; hashes still tell the truth
        return cls(info["mpy"], info["platform"], tuple(info["version"]), info["machine"], info["block"],
                   info["blocks"], info["free"], files, removed, manifest)

    @property
    def free_bytes(self):
        return self.free_blocks * self.block


@dataclass
class Op:
    kind: str  # "W" or "D"
    path: str
    data: bytes = b""
    why: str = ""


@dataclass
class Plan:
    writes: list = field(default_factory=list)  # Op W for app files, changed or new
    deletes: list = field(default_factory=list)  # Op D: stale or shadowing files
    unchanged: list = field(default_factory=list)
    manifest_before: bytes | None = None  # written first when files come or go
    manifest_after: bytes | None = None
    need_bytes: int = 0
    free_bytes: int = 0

    @property
    def empty(self):
        return not (self.writes or self.deletes or self.manifest_before or self.manifest_after)

    def ops(self):
        out = []
        if self.manifest_before is not None:
            out.append(Op("W", remote.MANIFEST, self.manifest_before, "manifest"))
        out += self.deletes + self.writes
        if self.manifest_after is not None:
            out.append(Op("W", remote.MANIFEST, self.manifest_after, "manifest"))
        return out

    @property
    def payload_bytes(self):
        return sum(len(op.data) for op in self.ops())


def manifest_bytes(board_name, paths):
    return json.dumps({"board": board_name, "files": sorted(paths)}, separators=(",", ":")).encode()


def make_plan(board_name, entries, survey, shadows):
    """What to send and delete so that the board holds exactly `entries`.

    The manifest on the board lists the files deploy put there; only those are
    ever deleted as stale (files the app writes itself are left alone). When
    files come or go, the manifest first grows to the union of old and new, so
    a deploy cut short still knows every file that is ours.
    """
    plan = Plan()
    want = {e.path: e for e in entries}
    on_board = survey.files
    old = set(survey.manifest["files"]) if survey.manifest else None
    for e in entries:
        have = on_board.get(e.path)
        if have and have[1] == e.sha and have[0] == len(e.data):
            plan.unchanged.append(e.path)
        else:
            plan.writes.append(Op("W", e.path, e.data, "changed" if have else "new"))
    for path in sorted(old or ()):
        if path not in want and path in on_board:
            plan.deletes.append(Op("D", path, why="stale"))
    for path in shadows:
        if path not in want and path in on_board and path not in (old or ()):
            plan.deletes.append(Op("D", path, why="would hide " + path[:-3] + ".mpy"))
    final = set(want)
    known = old
    if plan.writes or plan.deletes:
        union = (old or set()) | final
        if union != old:
            plan.manifest_before = manifest_bytes(board_name, union)
            known = union
    if final != known:
        plan.manifest_after = manifest_bytes(board_name, final)
    plan.need_bytes, plan.free_bytes = room(plan, survey)
    return plan


def _blocks(size, block):
    if size == 0:
        return 0
    return -(-size // (block - 8))  # LittleFS keeps a few pointer bytes per block


def room(plan, survey):
    """(bytes the stream needs free at its peak, bytes free once stale files go)."""
    block = survey.block
    free = survey.free_blocks
    for op in plan.deletes:
        free += _blocks(survey.files.get(op.path, (0,))[0], block)
    peak = used = 0
    for op in plan.ops():
        if op.kind != "W":
            continue
        new = _blocks(len(op.data), block)
        old = _blocks(survey.files.get(op.path, (0,))[0], block) if op.path != remote.MANIFEST else 1
        peak = max(peak, used + new)  # the new copy is complete before the old one goes
        used += new - old
    return (peak + RESERVE_BLOCKS) * block, free * block


def check_room(plan):
    if plan.need_bytes > plan.free_bytes:
        short = plan.need_bytes - plan.free_bytes
        raise PocketError(
            f"not enough room on the board: this deploy needs {plan.need_bytes // 1024} KiB free, "
            f"the board has {plan.free_bytes // 1024} KiB ({-(-short // 1024)} KiB short); nothing was written",
            hint="remove files you no longer need from the board (mpremote fs rm), or deploy fewer models")


def encode(op):
    path = op.path.encode()
    return struct.pack("<BBI", ord(op.kind), len(path), len(op.data)) + path + op.data


QUIT = struct.pack("<BBI", ord("Q"), 0, 0)


def send(link, ops, progress=None, window=WINDOW, timeout=10.0):
    """Run the receive program and stream `ops` through it. Returns the bytes sent.

    At most `window` bytes are ever unconsumed on the board; each \\x01 from the
    board makes room for another window. After a failed operation the board
    skips the rest of the stream; the host cuts the stream short at the end of
    the current operation and raises.
    """
    link.start(remote.receive_code(window))
    head = link.read_until(bytes([remote.READY]), timeout)
    if b"\x04" in head:
        link.unread(head[head.index(b"\x04"):])
        out, err = link.finish()
        raise PocketError(f"the board could not start the receiver: {err.strip() or out!r}")
    parts = [encode(op) for op in ops]
    ends = []
    pos = 0
    for p in parts:
        pos += len(p)
        ends.append(pos)
    stream = b"".join(parts) + QUIT
    total = len(stream)
    sent = consumed = done = 0
    credit = window
    failure = None
    pending = b""
    deadline = time.monotonic() + timeout
    while sent < total or (done < len(ops) and not failure):
        if sent < total and credit > 0:
            n = min(credit, total - sent)
            link.write(stream[sent:sent + n])
            sent += n
            credit -= n
            if credit > 0 and sent < total and not link.has_input():
                continue
        pending += link.read_some(deadline)
        deadline = time.monotonic() + timeout
        while pending and not (sent >= total and (done >= len(ops) or failure)):
            b = pending[0]
            if b == remote.OP_FAILED:
                j = pending.find(b"\n")
                if j < 0:
                    break  # the rest of the message is still on its way
                failure = pending[1:j].decode(errors="replace")
                pending = pending[j + 1:]
                # The board now only needs the current op's remaining bytes, then quit.
                cut = next((e for e in ends if e >= sent), len(stream) - len(QUIT))
                if cut < total - len(QUIT):
                    stream = stream[:cut] + QUIT
                    total = len(stream)
                continue
            pending = pending[1:]
            if b == remote.CREDIT:
                credit += window
                consumed += window
                if progress:
                    progress(min(consumed, total))
            elif b == remote.OP_OK:
                done += 1
            elif b == 0x04:
                link.unread(bytes([b]) + pending)
                out, err = link.finish()
                raise PocketError(f"the receiver on the board stopped early ({done} of {len(ops)} operations "
                                  f"done, {sent} of {total} bytes sent): {err.strip() or out!r}")
    link.unread(pending)
    out, err = link.finish(timeout)
    if progress:
        progress(total)
    if err:
        raise PocketError(f"the receiver on the board raised: {err.strip().splitlines()[-1]}")
    if failure:
        raise PocketError(f"writing to the board failed: {failure}",
                          hint="nothing is half-written: run the deploy again once the cause is fixed")
    return sent

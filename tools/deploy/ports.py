"""Finding a board's port, telling a twin from a real board, and saying why a port won't open.

Shared by `pocket deploy` and `pocket flash`.
"""

import errno
import grp
import json
import os
from dataclasses import dataclass
from pathlib import Path

from pocket_agent.errors import PocketError


@dataclass(frozen=True)
class TwinRef:
    """A running twin, reached through its control socket."""

    name: str
    state_dir: Path  # the state root the twin runs under
    board: str
    link: str

    def control(self, cmd, timeout=10.0, **args):
        from pocket_agent.tools.twin import control

        return control.call(self.name, cmd, state_dir=self.state_dir, timeout=timeout, **args)


def _state_roots(state_dir):
    from pocket_agent.tools.twin import state

    roots = [Path(state_dir)] if state_dir else []
    roots.append(state.state_root())
    return roots


def _twin_at(twin_dir):
    info_path = twin_dir / "twin.json"
    from pocket_agent.tools.twin.state import control_socket_path

    if not control_socket_path(twin_dir).exists():
        return None
    try:
        info = json.loads(info_path.read_text())
    except (OSError, ValueError):
        return None
    return TwinRef(twin_dir.name, twin_dir.parent.parent, info.get("board", ""), str(twin_dir / "tty"))


def twin_of(port, state_dir=None):
    """The running twin whose port `port` is (its stable link or its pty), else None."""
    p = Path(port)
    if p.name == "tty" and p.parent.parent.name == "twins":
        ref = _twin_at(p.parent)
        if ref:
            return ref
    real = os.path.realpath(port)
    for root in _state_roots(state_dir):
        twins = root / "twins"
        if not twins.is_dir():
            continue
        for d in sorted(twins.iterdir()):
            ref = _twin_at(d)
            if ref and os.path.realpath(ref.link) == real:
                return ref
    return None


def named_twin(name, state_dir=None):
    for root in _state_roots(state_dir):
        ref = _twin_at(root / "twins" / name)
        if ref:
            return ref
    raise PocketError(f"no twin named {name!r} is running",
                      hint=f"start one with `pocket sim --board BOARD --name {name}`")


def running_twins(board_name, state_dir=None):
    found = []
    for root in _state_roots(state_dir):
        twins = root / "twins"
        if twins.is_dir():
            for d in sorted(twins.iterdir()):
                ref = _twin_at(d)
                if ref and ref.board == board_name and ref not in found:
                    found.append(ref)
    return found


def usb_ports(board):
    """Serial ports whose USB VID:PID is the board's."""
    from serial.tools import list_ports

    return sorted(p.device for p in list_ports.comports() if p.vid == board.vid and p.pid == board.pid)


def find_port(board, port=None, twin=None, state_dir=None):
    """The port to use: the one given, a named twin's, the one board of this
    kind on USB, or the one running twin of this board."""
    if port:
        return port
    if twin:
        return named_twin(twin, state_dir).link
    usb = usb_ports(board)
    if len(usb) == 1:
        return usb[0]
    if len(usb) > 1:
        raise PocketError(f"several {board.title} boards are plugged in: {', '.join(usb)}",
                          hint="say which with --port")
    twins = running_twins(board.name, state_dir)
    if len(twins) == 1:
        return twins[0].link
    if twins:
        raise PocketError(f"several twins of {board.name} are running: {', '.join(t.name for t in twins)}",
                          hint="say which with --twin NAME or --port")
    raise PocketError(
        f"no {board.title} found (USB {board.vid:04X}:{board.pid:04X})",
        hint="plug it in and give --port (e.g. /dev/ttyACM0), or start its twin: "
        f"`pocket sim --board {board.name}`")


def holders(port):
    """(pid, command line) of other processes that have `port` open (Linux /proc)."""
    if not os.path.exists(port):
        return []
    target = os.path.realpath(port)
    me = str(os.getpid())
    found = []
    try:
        pids = [d for d in os.listdir("/proc") if d.isdigit() and d != me]
    except OSError:
        return []
    for pid in pids:
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"{fd_dir}/{fd}") != target:
                    continue
            except OSError:
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                cmd = "?"
            found.append((int(pid), cmd))
            break
    return found


def busy_error(port, who):
    pid, cmd = who[0]
    if "bridge" in cmd:
        return PocketError(
            f"{port} is held by the bridge (pid {pid}: {cmd})",
            hint="the bridge lends its ports through its control socket, but none answered for this "
            "port: check `pocket bridge status` (and POCKET_BRIDGE_CONTROL_SOCKET), or stop the bridge")
    return PocketError(f"{port} is in use by pid {pid} ({cmd})",
                       hint="close that program (a serial console, mpremote, Thonny...) and try again")


def permission_error(port):
    try:
        group = grp.getgrgid(os.stat(port).st_gid).gr_name
    except (OSError, KeyError):
        group = "dialout"
    return PocketError(
        f"no permission to open {port}",
        hint=f"join the group that owns it: `sudo usermod -aG {group} $USER`, then log out and in again "
        f"(on Arch the group is usually uucp)")


def check_can_open(port):
    """Raise a PocketError that says what to do when `port` is missing, busy or forbidden."""
    if "://" in port:
        return  # a pyserial URL (loop://, socket://, rfc2217://): nothing to check here
    if not os.path.exists(port):
        raise PocketError(f"no such port: {port}",
                          hint="is the board plugged in (and is the cable a data cable)? "
                          "`pocket boards` and `ls /dev/ttyACM* /dev/ttyUSB*` list what is there")
    if not os.access(port, os.R_OK | os.W_OK):
        raise permission_error(port)
    who = holders(port)
    if who:
        raise busy_error(port, who)


def explain_open_failure(port, exc):
    """Turn a failure to open the port into a PocketError (called after the open failed)."""
    check_can_open(port)
    err = getattr(exc, "errno", None) or getattr(getattr(exc, "__cause__", None), "errno", None)
    text = str(exc)
    if err in (errno.EACCES, errno.EPERM):
        return permission_error(port)
    if err == errno.EBUSY or "exclusively lock" in text or "Resource temporarily unavailable" in text:
        return PocketError(f"{port} is in use by another program",
                           hint="close serial consoles, mpremote or the bridge, and try again")
    return PocketError(f"cannot open {port}: {text}")

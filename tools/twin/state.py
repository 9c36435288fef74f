"""Where a twin keeps its state: its flash image, lock, port link and control socket.

Each twin has a directory under the state root, named after the twin (the board
name unless --name says otherwise). The flash image persists there across runs,
as a real board's flash does.
"""

import fcntl
import hashlib
import json
import os
import tempfile
from pathlib import Path

import littlefs

from pocket_agent.errors import PocketError

ERASED = 0xFF
# sockaddr_un holds 108 bytes with the final NUL; a deeper state directory
# keeps its control socket in a short per-user runtime directory instead.
SOCKET_PATH_MAX = 100


def state_root():
    env = os.environ.get("POCKET_STATE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "pocket-agent"


def control_socket_path(twin_dir):
    """The twin's control socket: in its directory, unless that path is too long
    for a UNIX socket; then a name derived from the directory under the runtime
    directory, so every client finds the same one."""
    path = Path(twin_dir) / "control.sock"
    if len(os.fsencode(str(path))) <= SOCKET_PATH_MAX:
        return path
    runtime = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    digest = hashlib.sha256(os.fsencode(str(Path(twin_dir).resolve()))).hexdigest()[:20]
    short = Path(runtime) / f"pocket-agent-{os.getuid()}" / f"{digest}.sock"
    if len(os.fsencode(str(short))) > SOCKET_PATH_MAX:
        short = Path("/tmp") / f"pocket-agent-{os.getuid()}" / f"{digest}.sock"
    return short


class TwinState:
    """The files of one twin. Holding the lock means owning the twin's flash."""

    def __init__(self, name, root=None):
        self.name = name
        self.dir = Path(root or state_root()) / "twins" / name
        self.flash = self.dir / "flash.bin"
        self.link = self.dir / "tty"
        self.control = control_socket_path(self.dir)
        self.info = self.dir / "twin.json"
        self.vm_log = self.dir / "vm.log"
        self._lock_fd = None

    def lock(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        self.control.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            running = self.read_info()
            where = f" (pid {running.get('pid')}, port {running.get('port')})" if running else ""
            raise PocketError(
                f"twin {self.name!r} is already running{where}; its flash is in use",
                hint=f"stop it with `pocket sim ctl stop --name {self.name}`, "
                "or start another twin of this board with its own flash: --name OTHER",
            ) from None
        self._lock_fd = fd

    def unlock(self):
        for path in (self.link, self.control, self.info):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def write_info(self, info):
        tmp = self.info.with_suffix(".tmp")
        tmp.write_text(json.dumps(info))
        os.replace(tmp, self.info)

    def read_info(self):
        try:
            return json.loads(self.info.read_text())
        except (OSError, ValueError):
            return None

    def point_link(self, port):
        """Point the stable link at the current pty, atomically; None removes it."""
        if port is None:
            try:
                self.link.unlink()
            except FileNotFoundError:
                pass
            return
        tmp = self.dir / "tty.new"
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        os.symlink(port, tmp)
        os.replace(tmp, self.link)


def erase_flash(path, size):
    """A fresh, fully erased flash chip: every byte 0xFF, as after esptool erase-flash."""
    tmp = Path(str(path) + ".tmp")
    chunk = bytes([ERASED]) * (1 << 20)
    with open(tmp, "wb") as f:
        left = size
        while left:
            n = min(left, len(chunk))
            f.write(chunk[:n])
            left -= n
    os.replace(tmp, path)


def prepare_flash(path, board, wipe=False):
    """Make sure the flash image exists and holds a filesystem the board can mount.

    An erased filesystem region is fine: the board formats it on first boot,
    as the ports' _boot.py does. A corrupt image is refused here rather than
    left to the port's own recovery, which on rp2 reformats it and loses the
    user's files.
    """
    fl = board.flash
    if wipe or not path.exists():
        erase_flash(path, fl.size)
        return
    size = path.stat().st_size
    if size != fl.size:
        raise PocketError(
            f"flash image {path} is {size} bytes, but {board.name} has {fl.size} bytes of flash",
            hint="start with --wipe to erase it (its files are lost), or use --name for a separate twin",
        )
    with open(path, "rb") as f:
        f.seek(fl.fs_offset)
        head = f.read(2 * fl.block_size)
        if head.count(ERASED) == len(head):
            return
        f.seek(fl.fs_offset)
        region = bytearray(f.read(fl.fs_size))
    check_filesystem(path, region, board)


def check_filesystem(path, region, board):
    fl = board.flash
    fs = littlefs.LittleFS(
        context=littlefs.UserContext(buffer=region),
        mount=False,
        block_size=fl.block_size,
        block_count=fl.fs_blocks,
    )
    try:
        fs.mount()
    except littlefs.LittleFSError as exc:
        # Never unmount a filesystem that did not mount: the library frees twice.
        raise PocketError(
            f"flash image {path} does not hold a filesystem {board.name} can mount ({exc})",
            hint="start with --wipe to erase and format it (its files are lost)",
        ) from None
    try:
        fs.stat("/")
        list(fs.scandir("/"))
    except littlefs.LittleFSError as exc:
        raise PocketError(
            f"flash image {path} holds a damaged filesystem ({exc})",
            hint="copy off what you can with mpremote after --name, or start with --wipe to erase it",
        ) from None
    finally:
        fs.unmount()


def read_files(path, board):
    """{path: bytes} of every file on a twin's flash (for tests and inspection)."""
    fl = board.flash
    with open(path, "rb") as f:
        f.seek(fl.fs_offset)
        region = bytearray(f.read(fl.fs_size))
    fs = littlefs.LittleFS(context=littlefs.UserContext(buffer=region), mount=False,
                           block_size=fl.block_size, block_count=fl.fs_blocks)
    fs.mount()
    files = {}
    for root, _dirs, names in fs.walk("/"):
        for name in names:
            full = root.rstrip("/") + "/" + name
            with fs.open(full, "rb") as fh:
                files[full] = fh.read()
    return files

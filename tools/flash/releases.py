"""`--version V`: find the official MicroPython download for a board, and keep it.

Official files are named BOARD[-VARIANT]-YYYYMMDD-vX.Y.Z.ext and listed on
https://micropython.org/download/BOARD/. The date is only known from that
page, so resolving needs it once; the file is then cached and found offline.
"""

import os
import re
import urllib.error
import urllib.request
from pathlib import Path

from pocket_agent.errors import PocketError

DOWNLOAD_PAGE = "https://micropython.org/download/{board}/"
FILES_BASE = "https://micropython.org/resources/firmware/"
EXT = {"esp32": ".bin", "rp2": ".uf2"}
TIMEOUT_S = 15


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(os.environ.get("POCKET_FIRMWARE_CACHE") or Path(base) / "pocket-agent" / "firmware")


def stock_name(board):
    """BOARD or BOARD-VARIANT, as the download files start."""
    name = board.raw.get("firmware_board")
    if not name:
        raise PocketError(f"{board.name} names no stock firmware", hint="give the image with --firmware FILE")
    variant = board.raw.get("firmware_variant")
    return f"{name}-{variant}" if variant else name


def normalise(version):
    v = version.strip().lstrip("v")
    if not re.fullmatch(r"\d+\.\d+(\.\d+)?(-preview[.\w-]*)?", v):
        raise PocketError(f"{version!r} is not a MicroPython version", hint="for example --version 1.29.0")
    if v.count(".") == 1 and "preview" not in v:
        v += ".0"
    return v


def file_pattern(board, version):
    """A regex for the official file name of `version` for `board`."""
    return re.compile(re.escape(stock_name(board)) + r"-(\d{8})-v" + re.escape(version)
                      + re.escape(EXT[board.port]) + "$")


def cached(board, version):
    """The cached download, if any (the newest build date wins)."""
    pattern = file_pattern(board, version)
    d = cache_dir()
    found = sorted(p for p in d.glob("*") if pattern.match(p.name)) if d.is_dir() else []
    return found[-1] if found else None


def find_url(board, version, page_html):
    """The URL of `version` in the HTML of the board's download page, or None."""
    pattern = file_pattern(board, version)
    for href in re.findall(r'href="([^"]+)"', page_html):
        name = href.rsplit("/", 1)[-1]
        if pattern.match(name):
            return href if "://" in href else urllib.request.urljoin(FILES_BASE, name)
    return None


def _fetch(url):
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as r:
        return r.read()


def offline_help(board, version):
    name = stock_name(board)
    return (f"fetch {name}-<date>-v{version}{EXT[board.port]} from {DOWNLOAD_PAGE.format(board=board.raw['firmware_board'])} "
            f"and put it in {cache_dir()}/ (or pass it with --firmware FILE)")


def resolve(board, version, fetch=_fetch, offline=None, out=print, validate=None):
    """A local path to the official image of MicroPython `version` for `board`,
    from the cache or downloaded into it."""
    version = normalise(version)
    path = cached(board, version)
    if path:
        out(f"using {path}")
        return path
    if offline is None:
        offline = os.environ.get("POCKET_OFFLINE") == "1"
    page_url = DOWNLOAD_PAGE.format(board=board.raw.get("firmware_board"))
    if offline:
        raise PocketError(f"MicroPython {version} for {board.name} is not in the cache and this is offline",
                          hint=offline_help(board, version))
    try:
        page = fetch(page_url).decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as exc:
        raise PocketError(f"cannot reach {page_url} ({getattr(exc, 'reason', exc)})",
                          hint=offline_help(board, version)) from None
    url = find_url(board, version, page)
    if not url:
        raise PocketError(f"{page_url} lists no MicroPython {version} for {stock_name(board)}",
                          hint="check the version on that page (for example --version 1.29.0)")
    out(f"downloading {url}")
    try:
        data = fetch(url)
    except (urllib.error.URLError, OSError) as exc:
        raise PocketError(f"download of {url} failed ({getattr(exc, 'reason', exc)})",
                          hint=offline_help(board, version)) from None
    if validate:
        validate(data, url)  # a bad download is never cached
    d = cache_dir()
    d.mkdir(parents=True, exist_ok=True)
    dest = d / url.rsplit("/", 1)[-1]
    tmp = dest.with_name(dest.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, dest)
    return dest

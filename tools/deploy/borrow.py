"""Borrowing a board's port from the bridge while deploy or flash needs it.

The bridge (host/bridge) keeps boards' ports open. Its control socket offers
"lend": it closes the port and hands its URL over until "return", or until
the borrower's connection closes. So a deploy never fights the bridge for the
port, and the bridge picks the board up again afterwards.
"""

import contextlib
import os

from pocket_agent.errors import PocketError

from . import ports


def _bridge_session(port):
    """(control connection, board name) if a running bridge has `port` open, else (None, None)."""
    try:
        from pocket_agent.host.bridge import settings as bridge_settings
        from pocket_agent.host.bridge.control import Control
    except ImportError:
        return None, None
    try:
        path = bridge_settings.load().control_socket
    except PocketError:
        return None, None
    if not os.path.exists(path):
        return None, None
    try:
        control = Control(path, timeout=15)
    except PocketError:
        return None, None
    target = os.path.realpath(port)
    try:
        for b in control.call("status").get("boards", []):
            url = b.get("port") or ""
            if url == port or ("://" not in url and os.path.realpath(url) == target):
                return control, b["board"]
    except (PocketError, OSError, ValueError):
        pass
    control.close()
    return None, None


@contextlib.contextmanager
def port(path, out=print):
    """The port to open for `path`: itself, or the same port lent by the bridge
    for the time of the `with` block. Another program holding it is an error."""
    holders = ports.holders(path) if "://" not in path else []
    control, board = _bridge_session(path)
    if control is None:
        if holders:
            raise ports.busy_error(path, holders)
        yield path
        return
    try:
        lent = control.call("lend", board=board)["port"]
        out(f"borrowed {path} from the bridge (board {board}); it gets it back afterwards")
        yield lent
    finally:
        try:
            control.call("return")
        except (PocketError, OSError):
            pass  # closing the connection gives the port back too
        control.close()

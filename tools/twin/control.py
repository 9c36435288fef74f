"""Talk to a running twin's supervisor over its control socket (JSON lines)."""

import json
import socket

from pocket_agent.errors import PocketError

from . import state as twin_state

# Actions on the world around the board, forwarded to the world process.
WORLD_ACTIONS = ("press", "release", "hold", "environment", "orientation", "shake", "tap", "mic_play",
                 "mic_stop", "speaker_record", "speaker_stop", "display", "display_frames", "battery", "led", "world",
                 "audio_speed")
ACTIONS = ("status", "reset", "power_cut", "unplug", "replug", "faults", "capture", "bootloader", "erase_flash",
           "stop") + WORLD_ACTIONS


def running(state_dir=None):
    """Names of the twins that have a live control socket."""
    root = twin_state.TwinState("x", state_dir).dir.parent
    names = []
    if root.is_dir():
        for d in sorted(root.iterdir()):
            if twin_state.control_socket_path(d).exists():
                try:
                    call(d.name, "status", state_dir=state_dir, timeout=1.0)
                    names.append(d.name)
                except PocketError:
                    pass
    return names


def only_running(state_dir=None):
    names = running(state_dir)
    if len(names) == 1:
        return names[0]
    if not names:
        raise PocketError("no twin is running", hint="start one with `pocket sim --board NAME`")
    raise PocketError(f"several twins are running ({', '.join(names)})", hint="say which with --name")


def parse_args(items):
    """key=value pairs from the command line; values are JSON where they parse."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise PocketError(f"argument {item!r} is not key=value")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def call(name, cmd, state_dir=None, timeout=10.0, **args):
    st = twin_state.TwinState(name, state_dir)
    path = str(st.control)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(path)
            s.sendall((json.dumps(dict(args, cmd=cmd)) + "\n").encode())
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
    except (FileNotFoundError, ConnectionRefusedError):
        raise PocketError(f"no twin named {name!r} is running",
                          hint=f"start it with `pocket sim --board BOARD --name {name}`") from None
    except socket.timeout:
        raise PocketError(f"twin {name!r} did not answer within {timeout:g} s") from None
    if not buf:
        raise PocketError(f"twin {name!r} closed its control socket")
    reply = json.loads(buf)
    if not reply.get("ok"):
        raise PocketError(f"twin {name!r}: {reply.get('error')}")
    return reply.get("result")

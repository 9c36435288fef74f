"""The bridge's settings: one frozen dataclass, fed by defaults, a TOML file
and POCKET_BRIDGE_* environment variables (in that order of precedence, the
environment last)."""

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from pocket_agent.errors import PocketError

# USB VID:PID of the boards we look for.
USB_IDS = (
    "303A:1001",  # ESP32-S3 native USB (USB-Serial/JTAG)
    "303A:4001",  # ESP32-S3 native USB (MicroPython's TinyUSB CDC)
    "2E8A:0005",  # MicroPython on RP2040 / RP2350
    "10C4:EA60",  # CP210x USB-UART bridge
    "1A86:7523",  # CH340
    "1A86:55D4",  # CH9102
)


def _state_home():
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "pocket"


def _runtime_dir():
    run = os.environ.get("XDG_RUNTIME_DIR")
    return Path(run) / "pocket" if run else _state_home()


def default_config_path(env=None):
    env = os.environ if env is None else env
    base = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "pocket" / "bridge.toml"


@dataclass(frozen=True)
class BridgeSettings:
    ports: tuple = ()  # ports or pyserial URLs (loop://, socket://host:port, rfc2217://...)
    scan: bool = True  # also find boards by USB VID:PID
    usb_ids: tuple = USB_IDS
    serials: tuple = ()  # only these USB serial numbers (empty: any)
    names: dict = field(default_factory=dict)  # port or serial number -> board name
    baudrate: int = 115200
    heartbeat_ms: int = 1000
    request_timeout_s: float = 5.0
    scan_interval_s: float = 1.0
    reconnect_s: float = 0.5  # first wait before reopening a port; doubles up to 5 s
    rx_buffer_bytes: int = 65536  # bytes a board may have waiting; beyond that they are dropped
    tx_buffer_bytes: int = 16384  # audio waits while this much is not yet written
    outbox_slots: int = 32  # reliable messages in flight to one board
    restart_app_after_lend: bool = True  # Ctrl-B Ctrl-D when a lent port comes back
    clock_every_s: float = 3600.0
    state_db: Path = field(default_factory=lambda: _state_home() / "bridge.sqlite")
    log_dir: Path = field(default_factory=lambda: _state_home() / "bridge-logs")
    control_socket: Path = field(default_factory=lambda: _runtime_dir() / "bridge.sock")
    # the pipeline (host/pipeline): what answers the boards
    agent: str = "offline"  # offline | llm | none (the bridge alone)
    agent_state: str = ""  # the agents' SQLite file (empty: ~/.local/share/pocket-agent/agent.sqlite3)
    speak: bool = True  # answers also go to the board's speaker
    voice: str = "en-us"  # espeak-ng voice of the answers


_FIELDS = {f.name: f for f in dataclasses.fields(BridgeSettings)}


def _coerce(name, value):
    default = getattr(BridgeSettings(), name)
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                if value.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                    raise ValueError(value)
                return value.lower() in ("1", "true", "yes", "on")
            return bool(value)
        if isinstance(default, tuple):
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            return tuple(str(v) for v in value)
        if isinstance(default, dict):
            if isinstance(value, str):
                value = dict(kv.split("=", 1) for kv in value.split(",") if kv.strip())
            return {str(k).strip(): str(v).strip() for k, v in value.items()}
        if isinstance(default, Path):
            return Path(os.path.expanduser(str(value)))
        if isinstance(default, str):
            if not isinstance(value, str):
                raise ValueError(value)
            return value.strip()
        if isinstance(default, float):
            v = float(value)
        else:
            v = int(value)
        if v < 0:
            raise ValueError(value)
        return v
    except (ValueError, TypeError, AttributeError):
        raise PocketError(f"bridge setting {name}: {value!r} is not a valid {type(default).__name__}",
                          hint=f"see docs/bridge.md for {name}") from None


def load(path=None, env=None, **overrides):
    """Settings from the file at `path` (default: $POCKET_BRIDGE_CONFIG or
    ~/.config/pocket/bridge.toml, if present), then POCKET_BRIDGE_<NAME>
    variables, then `overrides` (from the command line)."""
    env = os.environ if env is None else env
    values = {}
    explicit = path or env.get("POCKET_BRIDGE_CONFIG")
    path = Path(explicit) if explicit else default_config_path(env)
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise PocketError(f"cannot read the bridge config {path}: {exc}",
                              hint="it is TOML; see docs/bridge.md for an example") from None
        data = data.get("bridge", data)
        for name, value in data.items():
            if name not in _FIELDS:
                raise PocketError(f"unknown bridge setting {name!r} in {path}",
                                  hint="known settings: " + ", ".join(_FIELDS))
            values[name] = _coerce(name, value)
    elif explicit:
        raise PocketError(f"bridge config {path} does not exist", hint="check the path, or leave it out")
    for name in _FIELDS:
        key = "POCKET_BRIDGE_" + name.upper()
        if key in env:
            values[name] = _coerce(name, env[key])
    for name, value in overrides.items():
        if value is not None:
            values[name] = _coerce(name, value)
    return BridgeSettings(**values)


def describe(settings):
    """The settings as plain data for logs and status (paths as text)."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(settings).items()}

"""The device as the agents see it: abstract calls the bridge implements over the link.

Agents, tools and the MCP server only ever talk to a `Device`. The bridge's
session implements it with link frames to a real board or a twin; tests and
`pocket agent ask` use `SimulatedDevice`, which records every call.
"""

import abc

from pocket_agent.errors import PocketError


class DeviceError(PocketError):
    """The device could not do what was asked (unplugged, timed out, refused)."""


class Device(abc.ABC):
    board: str = "unknown"

    @abc.abstractmethod
    async def read_sensors(self):
        """-> dict with any of temperature_c, humidity_pct, pressure_hpa, co2_ppm, battery_pct."""

    @abc.abstractmethod
    async def show_text(self, text, title=None):
        """Replace the screen's text (already fitted to the screen)."""

    @abc.abstractmethod
    async def notify(self, text, level="info"):
        """A short alert: text, LED and tone as the board sees fit (quiet in do-not-disturb)."""

    @abc.abstractmethod
    async def play_tone(self, freq_hz, duration_ms):
        """Beep."""

    @abc.abstractmethod
    async def play_audio(self, pcm, rate=16000):
        """Play 16-bit mono PCM on the speaker."""

    @abc.abstractmethod
    async def set_led(self, color):
        """'off', a colour name or '#rrggbb'."""

    @abc.abstractmethod
    async def set_timer(self, timer_id, seconds, label, kind="timer"):
        """Arm a countdown on the device; it fires there, host or no host."""

    @abc.abstractmethod
    async def cancel_timer(self, timer_id):
        """Disarm a countdown; unknown ids are ignored."""

    @abc.abstractmethod
    async def set_setting(self, name, value):
        """brightness (0-100), volume (0-100) or dnd (bool)."""

    @abc.abstractmethod
    async def confirm(self, summary, action, nonce, expiry_ms, ttl_ms):
        """Show the summary and wait for the button.

        -> {"approved": True, "signature": bytes} or {"approved": False, "reason": "denied"|"timeout"}
        """

    @abc.abstractmethod
    async def pair(self, key):
        """Store a new approval key on the device."""

    @abc.abstractmethod
    async def device_info(self):
        """-> dict: board name, firmware version, display size, free memory..."""

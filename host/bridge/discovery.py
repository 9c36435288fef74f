"""Which serial ports hold boards: USB VID:PID and serial number, through
pyserial's list_ports, plus the ports and URLs named in the settings."""

from dataclasses import dataclass

from serial.tools import list_ports


@dataclass(frozen=True)
class Candidate:
    board: str  # the name the bridge and its logs use for the board
    url: str  # what serial_for_url opens
    serial_number: str = ""
    usb_id: str = ""  # "VID:PID" in hex, "" for a URL
    description: str = ""


def _safe(name):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("_") or "board"


def board_name(url, serial_number, names):
    if serial_number and serial_number in names:
        return names[serial_number]
    if url in names:
        return names[url]
    if serial_number:
        return _safe(serial_number)
    return _safe(url.split("://", 1)[-1].rsplit("/", 1)[-1])


def scan(settings, comports=list_ports.comports):
    """Boards on USB: every port whose VID:PID is known (and whose serial
    number is listed, when the settings list any)."""
    wanted = {u.upper() for u in settings.usb_ids}
    found = []
    for p in comports():
        if p.vid is None or p.pid is None:
            continue
        usb_id = f"{p.vid:04X}:{p.pid:04X}"
        serial_number = p.serial_number or ""
        if usb_id not in wanted or (settings.serials and serial_number not in settings.serials):
            continue
        found.append(Candidate(board_name(p.device, serial_number, settings.names), p.device,
                               serial_number, usb_id, p.description or ""))
    return found


def configured(settings):
    return [Candidate(board_name(url, "", settings.names), url) for url in settings.ports]

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


GENERIC = ("tty", "port", "serial")


def _safe(name):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("_") or "board"


def board_name(url, serial_number, names):
    if serial_number and serial_number in names:
        return names[serial_number]
    if url in names:
        return names[url]
    if serial_number:
        return _safe(serial_number)
    parts = [p for p in url.split("://", 1)[-1].split("/") if p]
    if len(parts) > 1 and parts[-1] in GENERIC:  # a twin's link is <state>/twins/<name>/tty
        return _safe(parts[-2])
    return _safe(parts[-1] if parts else url)


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
    """The ports and URLs the settings name, each under a name of its own."""
    out, taken = [], set()
    for url in settings.ports:
        name = base = board_name(url, "", settings.names)
        k = 2
        while name in taken:
            name = f"{base}-{k}"
            k += 1
        taken.add(name)
        out.append(Candidate(name, url))
    return out

"""The bridge daemon: one session per board, boards found by USB id or named
by port/URL, a local control socket (status, lend, send, events), and the
board events fanned out to subscribers with bounded queues."""

import asyncio
import contextlib
import inspect
import json
import logging
import os
import time

from pocket_agent.errors import PocketError
from pocket_agent.firmware import link
from pocket_agent.host.link import catalogue

from . import discovery
from .device import BoardDevice
from .session import BoardSession, DeviceGone
from .store import BridgeStore

log = logging.getLogger("pocket.bridge")
SUBSCRIBER_QUEUE = 256  # events a slow subscriber may fall behind before the oldest are dropped
# the Device calls other processes may make through the control socket (not play_audio: raw PCM)
DEVICE_CALLS = {"read_sensors", "show_text", "notify", "play_tone", "set_led", "set_timer", "cancel_timer",
                "set_setting", "confirm", "pair", "device_info", "set_note", "delete_note"}


class Bridge:
    def __init__(self, settings, store=None, comports=None):
        self.settings = settings
        self.store = store or BridgeStore(settings.state_db)
        self.comports = comports
        self.sessions = {}
        self.tasks = {}
        self.subscribers = set()
        self.started = time.time()
        self.server = None
        self.log_handlers = []
        self.stopped = asyncio.Event()

    # -- boards

    def device(self, board):
        """The agent's Device for a board (host/agent/device.py)."""
        return BoardDevice(self._session(board))

    def _session(self, board):
        s = self.sessions.get(board)
        if s is None:
            raise PocketError(f"no board named {board!r}", hint="known boards: " + (", ".join(self.sessions) or "none"))
        return s

    def _board_log(self, name):
        logger = logging.getLogger("pocket.bridge." + name)
        if self.settings.log_dir:
            try:
                self.settings.log_dir.mkdir(parents=True, exist_ok=True)
                handler = logging.FileHandler(self.settings.log_dir / f"{name}.log", encoding="utf-8")
            except OSError as exc:
                log.warning("no log file for %s: %s", name, exc)
            else:
                handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
                logger.addHandler(handler)
                if logger.level == logging.NOTSET:
                    logger.setLevel(logging.INFO)  # the board's file logs INFO whatever the console shows
                self.log_handlers.append((logger, handler))
        return logger

    def add(self, candidate):
        known = self.sessions.get(candidate.board)
        if known is not None:
            if known.url != candidate.url and candidate.usb_id == "":
                log.warning("two boards named %s (%s, %s): keeping the first", candidate.board, known.url,
                            candidate.url)
            return known
        s = BoardSession(candidate, self.settings, self.store, self.publish, self._board_log(candidate.board))
        self.sessions[candidate.board] = s
        self.tasks[candidate.board] = asyncio.create_task(s.run(), name=f"board {candidate.board}")
        log.info("board %s on %s%s", candidate.board, candidate.url,
                 f" (USB {candidate.usb_id}, serial {candidate.serial_number})" if candidate.usb_id else "")
        return s

    def _scan(self):
        kw = {"comports": self.comports} if self.comports else {}
        for c in discovery.scan(self.settings, **kw):
            known = self.sessions.get(c.board)
            if known is None:
                self.add(c)
            elif known.url != c.url and known.state in ("offline", "connecting") and known.transport is None:
                known.log.info("board re-enumerated as %s", c.url)  # same serial number, new device node
                known.url = c.url
                known.candidate = c

    async def _scan_loop(self):
        while True:
            try:
                self._scan()
            except Exception as exc:  # a flaky USB listing must not stop the bridge
                log.warning("USB scan failed: %s", exc)
            await asyncio.sleep(self.settings.scan_interval_s)

    # -- events

    def publish(self, board, kind, data):
        event = {"board": board, "kind": kind, "time": time.time(), "data": data}
        for q in list(self.subscribers):
            if q.full():
                q.get_nowait()
                q.dropped += 1
            q.put_nowait(event)

    @contextlib.contextmanager
    def subscribe(self):
        q = asyncio.Queue(SUBSCRIBER_QUEUE)
        q.dropped = 0
        self.subscribers.add(q)
        try:
            yield q
        finally:
            self.subscribers.discard(q)

    # -- running

    async def start(self):
        for c in discovery.configured(self.settings):
            self.add(c)
        if self.settings.scan:
            self.tasks["<scan>"] = asyncio.create_task(self._scan_loop(), name="usb scan")
        await self._serve_control()

    async def stop(self):
        for s in self.sessions.values():
            s.stopping = True
            s.give_back()
        for t in self.tasks.values():
            t.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        if self.server:
            self.server.close()
            await self.server.wait_closed()
            with contextlib.suppress(OSError):
                os.unlink(self.settings.control_socket)
        self.store.close()
        for logger, handler in self.log_handlers:
            logger.removeHandler(handler)
            handler.close()
        self.stopped.set()

    def status(self):
        return {"started": self.started, "pid": os.getpid(), "control_socket": str(self.settings.control_socket),
                "boards": [s.status() for s in self.sessions.values()]}

    # -- the control socket: JSON lines, one request, one or more answers

    async def _serve_control(self):
        path = self.settings.control_socket
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            try:
                _r, w = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), 1)
                w.close()
                raise PocketError(f"a bridge is already running (control socket {path})",
                                  hint="`pocket bridge status` shows it; stop it first, or set control_socket")
            except (ConnectionRefusedError, FileNotFoundError, asyncio.TimeoutError):
                path.unlink()
        self.server = await asyncio.start_unix_server(self._client, path=str(path))
        os.chmod(path, 0o600)

    async def _client(self, reader, writer):
        async def say(obj):
            writer.write((json.dumps(obj, default=_plain) + "\n").encode())
            await writer.drain()

        lent = None
        try:
            while line := await reader.readline():
                try:
                    req = json.loads(line)
                    cmd = req["cmd"]
                except (ValueError, KeyError, TypeError):
                    await say({"ok": False, "error": "bad request: one JSON object with a cmd per line"})
                    continue
                try:
                    if cmd == "status":
                        await say({"ok": True, **self.status()})
                    elif cmd == "lend":
                        s = self._session(req["board"])
                        port = await asyncio.wait_for(s.lend(), 10)
                        lent = s
                        await say({"ok": True, "board": s.name, "port": port})
                    elif cmd == "return":
                        if lent:
                            lent.give_back()
                            lent = None
                        await say({"ok": True})
                    elif cmd == "send":
                        await say(await self._send(req))
                    elif cmd == "events":
                        await self._stream_events(say, req.get("board"))
                    elif cmd == "device":
                        await say(await self._device_call(req))
                    else:
                        await say({"ok": False, "error": f"unknown cmd {cmd!r}"})
                except (PocketError, DeviceGone, ValueError, KeyError, asyncio.TimeoutError) as exc:
                    await say({"ok": False, "error": getattr(exc, "message", None) or str(exc) or type(exc).__name__})
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if lent:  # the borrower went away: take the port back
                lent.give_back()
            writer.close()

    async def _send(self, req):
        """Send any catalogue message: {"board", "type": name, "fields": {...}};
        a request waits for its response."""
        s = self._session(req["board"])
        mtype = link.type_of(req["type"])
        fields = req.get("fields", {})
        values = []
        for name, code, _unit in catalogue.fields(mtype):
            v = fields[name]
            values.append(bytes.fromhex(v) if code in "xy" else v)
        if req["type"] in ("info_get", "heap_get", "sensor_read"):
            return {"ok": True, "reply": await s.request(req["type"], values)}
        ticket = s.send(req["type"], *values)
        if link.reliable(mtype):
            await s.delivered(ticket, self.settings.request_timeout_s)
        return {"ok": True}

    async def _device_call(self, req):
        """A call of the agents' Device interface on a board, for tools in other processes
        (`pocket mcp`): {"board", "method", "args": {...}}; bytes travel as {"$hex": "..."}."""
        method = req.get("method")
        if method not in DEVICE_CALLS:
            raise ValueError(f"no device call {method!r}; calls: {', '.join(sorted(DEVICE_CALLS))}")
        args = {k: from_json(v) for k, v in (req.get("args") or {}).items()}
        call = getattr(self.device(req["board"]), method)
        try:
            inspect.signature(call).bind(**args)
        except TypeError as exc:
            raise ValueError(f"{method}: {exc}") from None
        return {"ok": True, "result": to_json(await call(**args))}

    async def _stream_events(self, say, board):
        with self.subscribe() as q:
            await say({"ok": True, "subscribed": board or "*"})
            while True:
                event = await q.get()
                if board and event["board"] != board or event["kind"] == "audio_chunk":
                    continue  # the utterance comes whole, as `audio`
                data = dict(event["data"])
                if "pcm" in data:
                    data["pcm_bytes"] = len(data.pop("pcm"))
                await say({"ok": True, **event, "data": data})


def to_json(value):
    """Device results for the control socket: bytes as {"$hex": ...}."""
    if isinstance(value, (bytes, bytearray)):
        return {"$hex": bytes(value).hex()}
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def from_json(value):
    if isinstance(value, dict):
        if set(value) == {"$hex"}:
            return bytes.fromhex(value["$hex"])
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def _plain(obj):
    if isinstance(obj, (bytes, bytearray)):
        return obj.hex()
    return str(obj)


async def run(settings, ready=None):
    bridge = Bridge(settings)
    try:
        await bridge.start()
        log.info("bridge running; control socket %s", settings.control_socket)
        if ready:
            ready(bridge)
        await bridge.stopped.wait()
    finally:
        if not bridge.stopped.is_set():
            await bridge.stop()

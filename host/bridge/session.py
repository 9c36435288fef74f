"""One board's session: the port, the link endpoint, what the board must hold
again after it comes back, and the board's events.

The session outlives the port: when the port vanishes (reset, unplug,
re-enumeration, a lend) it goes offline, keeps the unacknowledged messages
of its endpoint, reopens the port with backoff, handshakes again, sets the
board's clock and resends the durable state from SQLite.
"""

import asyncio
import datetime
import logging
import time

from pocket_agent.firmware import adpcm, link, linkio
from pocket_agent.host.link import catalogue

from .transport import PortError, SerialTransport

T = link.type_of
CHUNK_SAMPLES = 1024
MAX_UTTERANCE_S = 30  # a longer stream from the board is cut here (bounded memory)


class DeviceGone(Exception):
    """The board is offline, or went offline before it answered."""


class BoardSession:
    def __init__(self, candidate, settings, store, publish, log=None):
        self.candidate = candidate
        self.name = candidate.board
        self.url = candidate.url
        self.settings = settings
        self.store = store
        self.publish = publish  # publish(board, kind, data): to the bridge's subscribers
        self.log = log or logging.getLogger("pocket.bridge." + self.name)
        self.state = "connecting"
        self.ep = linkio.Endpoint(self._queue_tx, link.ROLE_HOST, int(time.time() * 1000) & 0xFFFFFFFF,
                                  "pocket-bridge", "pocket-agent bridge", slots=settings.outbox_slots,
                                  slot_payload=link.MAX_PAYLOAD, heartbeat=settings.heartbeat_ms)
        self.t0 = time.monotonic()
        self.transport = None
        self.tx = bytearray()
        self.requests = {}  # request seq -> (response type, future)
        self.confirm_waiters = {}  # cid -> future
        self.delivery_waiters = []  # (ticket, future)
        self.streams = {}  # stream id -> {"pcm": bytearray, "state": array, ...}
        self.stream_id = 0
        self.lend_requested = None  # a future the run loop resolves once the port is closed
        self.lend_over = None
        self.stopping = False
        self.opened = 0
        self.links_up = 0
        self.resyncs = 0
        self.last_error = ""
        self.last_up = None
        self.clock_sent = 0.0
        self.sync_generation = 0
        self.bad_seen = 0
        self.restart_app = False
        self.info = {}

    # -- time and output

    def now_ms(self):
        return int((time.monotonic() - self.t0) * 1000)

    def _queue_tx(self, buf, n):
        self.tx += buf[:n]
        if self.transport:
            self.transport.kick()

    @property
    def online(self):
        return self.state == "online"

    # -- the run loop

    async def run(self):
        backoff = self.settings.reconnect_s
        while not self.stopping:
            if self.lend_over is not None:
                await self.lend_over
                self.lend_over = None
                self.restart_app = self.settings.restart_app_after_lend
                continue
            try:
                transport = await SerialTransport.open(self.url, self.settings.baudrate,
                                                       self.settings.rx_buffer_bytes)
            except PortError as exc:
                if exc.args[0] != self.last_error:
                    self.log.warning("cannot open %s: %s (retrying)", self.url, exc)
                    self.last_error = exc.args[0]
                self._set_state("offline")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = self.settings.reconnect_s
            self.last_error = ""
            self.opened += 1
            self.transport = transport
            self.log.info("port %s open", self.url)
            self._set_state("connecting")
            try:
                await self._pump(transport)
            except PortError as exc:
                self.log.warning("port %s lost: %s", self.url, exc)
                self.last_error = str(exc)
            finally:
                self.transport = None
                transport.close()
                self._went_offline("port closed")
                if self.lend_requested is not None:
                    self.lend_requested.set_result(self.url)
                    self.lend_requested = None
            if not self.stopping and self.lend_over is None:
                await asyncio.sleep(self.settings.reconnect_s)

    async def _pump(self, transport):
        ep = self.ep
        ep.restart(self.now_ms())
        self.tx.clear()
        if self.restart_app:  # after a lend: leave any REPL and soft-reset into main.py
            self.restart_app = False
            await transport.write(b"\r\x03\x03\x02\x04")
        while not self.stopping and self.lend_requested is None:
            data = await transport.read(0.05)  # data or a kick wakes it sooner
            if data:
                ep.feed(data)
            now = self.now_ms()
            while ev := ep.poll(now):
                self._dispatch(ev, now)
            if self.tx:
                out = bytes(self.tx)
                self.tx.clear()
                await transport.write(out)
            self._check_deliveries()
            self._check_bad_frames()
            if self.online and time.time() - self.clock_sent > self.settings.clock_every_s:
                self.send_clock()

    def _set_state(self, state):
        if state != self.state:
            self.state = state
            self.publish(self.name, "state", {"state": state})

    def _went_offline(self, why):
        was = self.state
        self.ep.restart(self.now_ms())
        self._set_state("lent" if self.lend_requested is not None else "offline")
        for mtype, fut in self.requests.values():
            if not fut.done():
                fut.set_exception(DeviceGone(f"board {self.name} went offline ({why})"))
        self.requests.clear()
        if was == "online":
            self.log.warning("link down: %s", why)

    # -- what the board says

    def _dispatch(self, ev, now):
        ep = self.ep
        if ev == linkio.LINK_UP:
            self._link_up(now)
            return
        if ev == linkio.LINK_DOWN:
            self._went_offline("silent")
            self._set_state("connecting")
            return
        if ev == linkio.BAD_FRAME:
            return
        if ev == link.AUDIO_CHUNK:
            self._audio_chunk()
            return
        try:
            values = link.unpack(ev, ep.dec.body, link.HEADER, link.HEADER + ep.dec.length)
        except ValueError as exc:
            ep.bad_payload += 1
            self.log.warning("bad %s payload: %s", link.name_of(ev), exc)
            return
        name = link.name_of(ev)
        fields = catalogue.named(ev, values)
        if "re" in fields:
            waiting = self.requests.pop(fields["re"], None)
            if waiting and not waiting[1].done():
                if name == "error":
                    waiting[1].set_exception(DeviceGone(f"board {self.name} refused: {fields['text']}"))
                else:
                    waiting[1].set_result(fields)
                return
        handler = getattr(self, "_on_" + name, None)
        if handler:
            handler(fields)
        else:
            self.publish(self.name, name, fields)

    def _link_up(self, now):
        peer = self.ep.peer
        self.links_up += 1
        self.last_up = time.time()
        self.log.info("link up: %s (%s), boot %08x%s", peer["name"], peer["software"], peer["boot_id"],
                      ", board restarted" if self.ep.peer_reset else "")
        self._set_state("online")
        self.send_clock()
        self.resync()
        self.publish(self.name, "online", {"peer": peer, "reset": self.ep.peer_reset})

    def _on_log(self, f):
        level = {0: logging.DEBUG, 1: logging.INFO, 2: logging.WARNING}.get(f["level"], logging.ERROR)
        self.log.log(level, "board: %s", f["text"])
        self.publish(self.name, "log", f)

    def _on_error(self, f):
        self.log.warning("board error %d: %s", f["code"], f["text"])
        self.publish(self.name, "error", f)

    def _on_confirm_result(self, f):
        f["signature"] = f["signature"].hex()
        if self.store.remove(self.name, "confirm", f["cid"]) or f["cid"] in self.confirm_waiters:
            waiter = self.confirm_waiters.pop(f["cid"], None)
            f["late"] = not waiter or waiter.done()  # nobody waits for it any more: nothing will run
            if not f["late"]:
                waiter.set_result(f)
            else:
                self.store.add_event(self.name, "confirm_result", f)
            self.publish(self.name, "confirm_result", f)

    def _on_timer_fired(self, f):
        item = self.store.get(self.name, "timer", f["tid"])
        self.store.remove(self.name, "timer", f["tid"])
        f["label"] = item["label"] if item else ""
        self.store.add_event(self.name, "timer_fired", f)
        self.log.info("timer %d fired: %s", f["tid"], f["label"])
        self.publish(self.name, "timer_fired", f)

    def _on_audio_start(self, f):
        if len(self.streams) >= 4:  # a board that opens streams and never ends them
            self.streams.pop(next(iter(self.streams)))
        self.streams[f["stream"]] = {"pcm": bytearray(), "state": adpcm.new_state(), "cut": False,
                                     "start": time.time(), "lost_before": self.ep.lost_chunks}
        self.publish(self.name, "audio_start", f)

    def _audio_chunk(self):
        b = self.ep.dec.body
        s = self.streams.get(b[link.AUDIO_STREAM])
        if s is None:
            return
        n = link.u16(b, link.AUDIO_SAMPLES)
        if n > 2 * (self.ep.dec.length - (link.AUDIO_DATA - link.HEADER)):
            self.ep.bad_payload += 1
            return
        if len(s["pcm"]) + 2 * n > MAX_UTTERANCE_S * 32000:
            s["cut"] = True
            return
        out = bytearray(2 * n)
        s["state"][0] = link.i16(b, link.AUDIO_PREDICTED)
        s["state"][1] = b[link.AUDIO_STEP_INDEX]
        adpcm.decode(s["state"], b, link.AUDIO_DATA, out, n)
        s["pcm"] += out
        # as it arrives, so a recogniser decodes while the user speaks
        self.publish(self.name, "audio_chunk", {"stream": b[link.AUDIO_STREAM], "pcm": bytes(out)})

    def _on_audio_end(self, f):
        s = self.streams.pop(f["stream"], None)
        if s is None:
            return
        f["lost_chunks"] = self.ep.lost_chunks - s["lost_before"]
        f["cut"] = s["cut"]
        f["pcm"] = bytes(s["pcm"])
        f["seconds"] = len(s["pcm"]) / 32000
        self.log.info("audio stream %d: %.2f s, %d chunks lost", f["stream"], f["seconds"], f["lost_chunks"])
        self.publish(self.name, "audio", f)

    def _check_bad_frames(self):
        bad = self.ep.dec.bad_frames() + self.ep.bad_payload
        if bad != self.bad_seen:
            d = self.ep.dec
            self.log.warning("bad frames so far: crc %d, length %d, version %d, type %d, truncated %d, "
                             "bytes %d, payload %d", d.bad_crc, d.bad_length, d.bad_version, d.bad_type,
                             d.truncated, d.bad_byte, self.ep.bad_payload)
            self.bad_seen = bad

    # -- sending

    def send(self, name, *values):
        """Queue a message for the board; reliable ones wait in the outbox
        (and survive the link going down). Returns the delivery ticket."""
        mtype = T(name)
        if not self.ep.send(mtype, values, self.now_ms()):
            if link.reliable(mtype):
                raise DeviceGone(f"board {self.name}: too many messages waiting for the board")
            raise DeviceGone(f"board {self.name} is offline")
        return self.ep.sent

    def _check_deliveries(self):
        if self.delivery_waiters:
            keep = []
            for ticket, fut in self.delivery_waiters:
                if self.ep.acked >= ticket:
                    if not fut.done():
                        fut.set_result(True)
                elif not fut.done():
                    keep.append((ticket, fut))
            self.delivery_waiters = keep

    async def delivered(self, ticket, timeout):
        """Wait until the board acknowledged message `ticket`."""
        if self.ep.acked >= ticket:
            return True
        fut = asyncio.get_running_loop().create_future()
        self.delivery_waiters.append((ticket, fut))
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise DeviceGone(f"board {self.name} did not acknowledge within {timeout:g} s") from None

    async def request(self, name, values, timeout=None):
        if not self.online:
            raise DeviceGone(f"board {self.name} is {self.state}")
        seq = self.ep.tx_rseq
        self.send(name, *values)
        fut = asyncio.get_running_loop().create_future()
        self.requests[seq] = (name, fut)
        try:
            return await asyncio.wait_for(fut, timeout or self.settings.request_timeout_s)
        except asyncio.TimeoutError:
            raise DeviceGone(f"board {self.name} did not answer {name} in time") from None
        finally:
            self.requests.pop(seq, None)

    def send_clock(self):
        now = time.time()
        offset = datetime.datetime.now().astimezone().utcoffset()
        minutes = int(offset.total_seconds() // 60) if offset else 0
        self.send("clock_set", int(now), int(now * 1000) % 1000, minutes)
        self.clock_sent = now

    def resync(self):
        """Send the board everything it must hold, between sync_begin and sync_end."""
        items = self.store.items(self.name)
        self.sync_generation = (self.sync_generation + 1) & 0xFFFFFFFF
        self.send("sync_begin", self.sync_generation)
        for kind, item_id, p in items:
            self._send_item(kind, item_id, p)
        self.send("sync_end", self.sync_generation, len(items))
        self.resyncs += 1
        if items:
            self.log.info("resynced %d items", len(items))

    def _send_item(self, kind, item_id, p):
        if kind == "timer":
            return self.send("timer_set", item_id, p["due"], p["kind"], p["label"])
        if kind == "note":
            return self.send("note_set", item_id, p["text"])
        return self.send("confirm_request", item_id, p["ttl_ms"], p["expiry_ms"],
                         bytes.fromhex(p["nonce"]), p["action"])

    def put_item(self, kind, item_id, payload):
        """Keep an item in SQLite and, when online, send it now (else at resync)."""
        self.store.put(self.name, kind, item_id, payload)
        if self.online:
            return self._send_item(kind, item_id, payload)
        return None

    async def play(self, pcm):
        """Stream 16-bit mono 16 kHz PCM to the speaker, as fast as the port takes it."""
        if not self.online:
            raise DeviceGone(f"board {self.name} is {self.state}")
        self.stream_id = (self.stream_id + 1) & 0xFF
        self.send("audio_start", self.stream_id, 1, 16000, 1)
        state = adpcm.new_state()
        samples = len(pcm) // 2
        index = 0
        for start in range(0, samples, CHUNK_SAMPLES):
            while self.transport and self.transport.tx_pending + len(self.tx) > self.settings.tx_buffer_bytes:
                await asyncio.sleep(0.005)
            if not self.online:
                raise DeviceGone(f"board {self.name} went offline during playback")
            n = min(CHUNK_SAMPLES, samples - start)
            pred, step = state[0], state[1]
            chunk = memoryview(pcm)[2 * start:2 * (start + n)]
            nbytes = adpcm.encode(state, chunk, self.ep.enc.body, link.AUDIO_DATA, n)
            self.ep.send_audio(self.stream_id, index, pred, step, n, nbytes)
            index += 1
            await asyncio.sleep(0)
        self.send("audio_end", self.stream_id, index, 0)
        return index

    # -- lending the port to another tool

    async def lend(self):
        """Close the port and return its URL; the session stays away from it
        until give_back()."""
        if self.lend_over is not None:
            raise DeviceGone(f"board {self.name} is already lent")
        loop = asyncio.get_running_loop()
        self.lend_over = loop.create_future()
        if self.transport is None:
            self._went_offline("lent")
            self._set_state("lent")
            return self.url
        self.lend_requested = loop.create_future()
        url = await self.lend_requested
        self._set_state("lent")
        self.log.info("port lent")
        return url

    def give_back(self):
        if self.lend_over is not None and not self.lend_over.done():
            self.lend_over.set_result(None)
            self.log.info("port given back")

    def status(self):
        st = self.ep.stats()
        peer = self.ep.peer or {}
        return {
            "board": self.name, "port": self.url, "state": self.state, "serial_number": self.candidate.serial_number,
            "usb_id": self.candidate.usb_id, "peer": {k: peer.get(k) for k in ("name", "software", "boot_id", "caps")},
            "board_uptime_ms": self.ep.peer_uptime, "board_mem_free": self.ep.peer_mem_free,
            "opened": self.opened, "links_up": self.links_up, "resyncs": self.resyncs,
            "pending_items": len(self.store.items(self.name)), "last_error": self.last_error,
            "rx_bytes": self.transport.rx_bytes if self.transport else None,
            "rx_dropped": self.transport.dropped if self.transport else None,
            "link": st,
        }

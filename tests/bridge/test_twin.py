"""The bridge against virtual boards (tools/twin) running the link as main.py:
faults injected by the twin's serial relay, unplug, reset, and mpremote taking
over a board that is streaming audio."""

import asyncio
import subprocess
import time

import pytest

from pocket_agent.host.bridge import bridge as bridge_mod

from . import twins
from .test_bridge import make_settings, until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    root = tmp_path_factory.mktemp("twin-image")
    twin = twins.start(root, "image")
    try:
        path = root / "flash.bin"
        path.write_bytes(twins.flash_image(twin).read_bytes())
    finally:
        twin.stop()
    return path


def run_twin_bridge(tmp_path, image, body, timeout=120, **kw):
    twin = twins.start(tmp_path / "twins", "tw", image=image)

    async def main():
        br = bridge_mod.Bridge(make_settings(tmp_path, [twin.port], **kw))
        await br.start()
        try:
            s = br.sessions["tw"]
            assert await until(lambda: s.online), s.status()
            await body(br, s, twin)
        finally:
            await br.stop()

    try:
        asyncio.run(asyncio.wait_for(main(), timeout))
    finally:
        twin.stop()


async def next_event(q, kind, timeout=20, pred=lambda e: True):
    end = time.monotonic() + timeout
    while True:
        ev = await asyncio.wait_for(q.get(), max(0.01, end - time.monotonic()))
        if ev["kind"] == kind and pred(ev):
            return ev


async def acks_round(br, s, q, start, count):
    """Send `count` reliable display texts, each answered by a reliable button
    event; wait for all the answers."""
    got = []
    for i in range(start, start + count):
        while s.ep.pending() >= s.settings.outbox_slots - 1:
            await asyncio.sleep(0.01)
        s.send("display_text", 0, 0, f"ack {i}")
    want = set(range(start, start + count))
    end = time.monotonic() + 60
    while not want <= set(got) and time.monotonic() < end:
        try:
            ev = await asyncio.wait_for(q.get(), 1)
        except asyncio.TimeoutError:
            continue
        if ev["kind"] == "button":
            got.append(ev["data"]["uptime"])
    await asyncio.sleep(0.3)  # a duplicate would show up now
    while not q.empty():
        ev = q.get_nowait()
        if ev["kind"] == "button":
            got.append(ev["data"]["uptime"])
    return got


async def board_says(br, s, q, text, prefix):
    s.send("display_text", 0, 0, text)
    return (await next_event(q, "log", pred=lambda e: e["data"]["text"].startswith(prefix)))["data"]["text"]


def test_faults_on_the_wire_lose_no_control_message(tmp_path, image):
    async def body(br, s, twin):
        with br.subscribe() as q:
            sent = 0
            phases = [
                ({"drop_rate": 0.002}, {"drop_rate": 0.002, "corrupt_rate": 0.002}),
                ({"chunk": 1}, {"chunk": 1}),  # every byte on its own
                ({"delay_ms": 30}, {"delay_ms": 30, "chunk": 7}),
            ]
            for to_board, to_host in phases:
                twin.control("faults", clear=True, to_board=to_board, to_host=to_host)
                got = await acks_round(br, s, q, sent, 40)
                assert got == list(range(sent, sent + 40)), (to_board, to_host, got)
                sent += 40
            # a stall longer than the link's patience: the session goes down and comes back
            twin.control("faults", clear=True, to_host={"stall_ms": 5000})
            s.send("display_text", 0, 0, f"ack {sent}")
            assert await until(lambda: not s.online, 8)
            assert await until(lambda: s.online, 15)
            got = await acks_round(br, s, q, sent + 1, 10)
            # "ack {sent}" reached the board but its acknowledgement was stalled, so the
            # new session delivers it again (at least once across sessions, by design):
            # its answer may come once per session, and nothing else is repeated.
            extra = [e for e in got if e == sent]
            assert [e for e in got if e != sent] == list(range(sent + 1, sent + 11)) and len(extra) <= 2
            twin.control("faults", clear=True)
            report = await board_says(br, s, q, "acks", "acks ")
            n, distinct, ordered = map(int, report.split()[1:])
            assert distinct == sent + 11 and ordered == 1  # the board heard every one, in order
            stats = twin.status()
            link = s.status()["link"]
            assert link["retransmits"] > 0 and link["bad_crc"] + link["truncated"] + link["bad_byte"] > 0
            assert stats["bytes_to_board"] > 0

    run_twin_bridge(tmp_path, image, body)


def test_audio_loss_is_counted_and_unplug_mid_stream_loses_no_control(tmp_path, image):
    async def body(br, s, twin):
        with br.subscribe() as q:
            twin.control("faults", to_host={"drop_rate": 0.0005})
            s.send("display_text", 0, 0, "stream 60 0")
            audio = (await next_event(q, "audio", 30))["data"]
            received = len(audio["pcm"]) // 2048
            assert received + audio["lost_chunks"] == 60 and audio["lost_chunks"] > 0
            twin.control("faults", clear=True)
            # unplug while the board talks; durable and queued messages survive
            s.send("display_text", 0, 0, "stream 200 1")
            await asyncio.sleep(0.5)
            twin.control("unplug")
            assert await until(lambda: not s.online, 5)
            dev = br.device("tw")
            await dev.set_timer(31, 300, "pasta")
            await dev.set_note(41, "unplugged note")
            await asyncio.sleep(0.5)
            twin.control("replug")
            assert await until(lambda: s.online, 15)
            state = await board_says(br, s, q, "state", "timers")
            assert "timers [31] notes [41]" in state
            got = await acks_round(br, s, q, 0, 20)
            assert got == list(range(20))

    run_twin_bridge(tmp_path, image, body)


def test_a_reset_re_enumerates_and_the_session_comes_back(tmp_path, image):
    async def body(br, s, twin):
        await br.device("tw").set_timer(5, 600, "tea")
        opened = s.opened
        boots = twin.status()["boots"]
        twin.control("reset")
        twin.wait_port(boots=boots)
        assert await until(lambda: s.online and s.opened > opened, 15)
        assert s.ep.peer_reset
        with br.subscribe() as q:
            assert "timers [5]" in await board_says(br, s, q, "state", "timers")

    run_twin_bridge(tmp_path, image, body)


def test_mpremote_takes_over_a_streaming_board_and_the_app_comes_back(tmp_path, image):
    async def body(br, s, twin):
        loop = asyncio.get_running_loop()
        await br.device("tw").set_note(7, "survives mpremote")
        boot = s.ep.peer["boot_id"]
        with br.subscribe() as q:
            s.send("display_text", 0, 0, "stream 300 1")  # about 19 s of speech
            await next_event(q, "audio_start", 10)
            await asyncio.sleep(0.5)  # mid-stream
            port = await s.lend()
            assert s.state == "lent"
            r = await loop.run_in_executor(None, lambda: subprocess.run(
                [twins.MPREMOTE, "connect", port, "exec", "import sys; print('hello from', sys.platform)"],
                capture_output=True, text=True, timeout=30))
            assert r.returncode == 0 and r.stdout.strip() == "hello from rp2", (r.stdout, r.stderr)
            s.give_back()
            assert await until(lambda: s.online, 20), s.status()
            assert s.ep.peer["boot_id"] != boot  # the app restarted (soft reset into main.py)
            assert "notes [7]" in await board_says(br, s, q, "state", "timers")
            got = await acks_round(br, s, q, 0, 10)
            assert got == list(range(10))

    run_twin_bridge(tmp_path, image, body)

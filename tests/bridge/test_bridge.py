"""The bridge with boards running the link in the real MicroPython VM behind
ptys: sessions, the agent's Device calls, events, the control socket, lending,
unplug and replug with durable state resynced."""

import asyncio
import json
import os
import subprocess
import sys
import time

import pytest

from pocket_agent.firmware import approval
from pocket_agent.host.agent.device import DeviceError
from pocket_agent.host.bridge import bridge as bridge_mod
from pocket_agent.host.bridge import settings
from pocket_agent.host.bridge.control import Control

from .vmboard import PtyBoard


def make_settings(tmp_path, ports, **kw):
    return settings.load(None, env={"XDG_CONFIG_HOME": str(tmp_path / "none")}, ports=[str(p) for p in ports],
                         scan=False, state_db=tmp_path / "state.sqlite", log_dir=tmp_path / "logs",
                         control_socket=tmp_path / "bridge.sock", **kw)


async def until(cond, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        await asyncio.sleep(0.02)
    return False


def run_with_bridge(tmp_path, body, n_boards=1, timeout=90, **kw):
    boards = [PtyBoard(tmp_path / f"board{i}", name=f"vm{i}") for i in range(n_boards)]
    for b in boards:
        b.plug()

    async def main():
        br = bridge_mod.Bridge(make_settings(tmp_path, [b.link for b in boards], **kw))
        await br.start()
        try:
            assert await until(lambda: all(s.online for s in br.sessions.values())), \
                {n: s.status() for n, s in br.sessions.items()}
            await body(br, boards)
        finally:
            await br.stop()

    try:
        asyncio.run(asyncio.wait_for(main(), timeout))
    finally:
        for b in boards:
            b.unplug()


async def ask_state(br, name):
    """What board_app holds (it answers "state" with a log line)."""
    with br.subscribe() as q:
        await br.device(name).show_text("state")
        while True:
            ev = await asyncio.wait_for(q.get(), 10)
            if ev["kind"] == "log" and ev["data"]["text"].startswith("timers"):
                return ev["data"]["text"]


def test_device_calls_reach_the_board_and_answers_come_back(tmp_path):
    async def body(br, boards):
        dev = br.device("board0")
        info = await dev.device_info()
        assert info["board"] == "vm0" and info["width"] == 128 and info["heap"] > 0
        assert await dev.read_sensors() == {"temperature_c": 21.5, "humidity_pct": 45.3,
                                            "pressure_hpa": 1013.25, "battery_pct": 80}
        await dev.show_text("hello", title="Pocket")
        await dev.set_led("#ff8000")
        with pytest.raises(DeviceError, match="unknown colour"):
            await dev.set_led("ultraviolet")
        await dev.play_tone(440, 100)
        await dev.set_setting("volume", 30)
        with pytest.raises(DeviceError, match="no setting"):
            await dev.set_setting("warp", 9)
        with pytest.raises(DeviceError, match="does not report its heap") as exc:  # board_app: caps 0x7FF
            await dev.heap_report()
        assert "pocket deploy" in exc.value.hint
        s = br.sessions["board0"]
        assert s.ep.pending() == 0 and s.status()["link"]["bad_crc"] == 0

    run_with_bridge(tmp_path, body)


def test_signed_confirmation_round_trip(tmp_path):
    key = bytes(range(32))

    async def body(br, boards):
        dev = br.device("board0")
        nonce = os.urandom(16)
        action = json.dumps({"summary": "yes: send the mail", "tool": "send_email"}).encode()
        not_paired = await dev.confirm("yes", action, nonce, 1790000000000, 5000)
        assert not_paired == {"approved": False, "reason": "not paired"}
        await dev.pair(key)
        got = await dev.confirm("yes: send the mail", action, nonce, 1790000000000, 5000)
        assert got["approved"] is True
        import hashlib
        want = approval.hmac_sha256(key, approval.message(hashlib.sha256(action).digest(), nonce, 1790000000000))
        assert got["signature"] == want
        no = json.dumps({"summary": "no thanks"}).encode()
        assert await dev.confirm("no thanks", no, nonce, 1, 5000) == {"approved": False, "reason": "denied"}
        assert br.store.items("board0", "confirm") == []

    run_with_bridge(tmp_path, body)


def test_audio_both_ways(tmp_path):
    async def body(br, boards):
        s = br.sessions["board0"]
        with br.subscribe() as q:
            await br.device("board0").show_text("stream 12 0")
            while (ev := await asyncio.wait_for(q.get(), 10))["kind"] != "audio":
                pass
        audio = ev["data"]
        assert audio["chunks"] == 12 and audio["lost_chunks"] == 0 and len(audio["pcm"]) == 12 * 2048
        pcm = bytes(range(256)) * 160  # 20480 samples
        assert await s.play(pcm) == 20
        with br.subscribe() as q:
            await br.device("board0").show_text("report")
            while (ev := await asyncio.wait_for(q.get(), 10))["kind"] != "log":
                pass
        assert ev["data"]["text"] == "played 20480 lost 0 bad 0"

    run_with_bridge(tmp_path, body)


def test_unplug_keeps_durable_state_and_resyncs_a_new_board(tmp_path):
    async def body(br, boards):
        s = br.sessions["board0"]
        dev = br.device("board0")
        await dev.set_timer(11, 600, "tea")
        await dev.set_note(21, "buy milk")
        assert "timers [11] notes [21]" in await ask_state(br, "board0")
        boards[0].unplug()
        assert await until(lambda: s.state == "offline")
        with pytest.raises(DeviceError, match="offline"):
            await dev.show_text("nobody there")
        await dev.set_timer(12, 900, "eggs", kind="alarm")
        await dev.cancel_timer(11)
        await dev.set_note(22, "call mum")
        nonce = os.urandom(16)
        action = json.dumps({"summary": "yes: book it"}).encode()
        confirm = asyncio.ensure_future(dev.confirm("yes: book it", action, nonce, 5, 20000))
        await asyncio.sleep(0.3)
        assert {(k, i) for k, i, _ in br.store.items("board0")} == {("timer", 12), ("note", 21), ("note", 22),
                                                                    ("confirm", 1)}
        boards[0].plug()  # a new board process: its RAM is empty; the bridge resyncs it
        assert await until(lambda: s.online)
        assert s.ep.peer_reset
        # not paired after the reset, so the board answers "not paired": the request got there.
        assert await asyncio.wait_for(confirm, 10) == {"approved": False, "reason": "not paired"}
        assert "timers [12] notes [21, 22]" in await ask_state(br, "board0")
        st = s.status()
        assert st["opened"] == 2 and st["links_up"] == 2 and st["resyncs"] == 2

    run_with_bridge(tmp_path, body)


def test_lend_closes_the_port_and_takes_it_back(tmp_path):
    async def body(br, boards):
        s = br.sessions["board0"]
        loop = asyncio.get_running_loop()

        def lend_and_use():
            with Control(br.settings.control_socket) as c:
                port = c.call("lend", board="board0")["port"]
                st = c.call("status")
                state = st["boards"][0]["state"]
                import serial
                with serial.serial_for_url(port, timeout=0.5) as p:  # the tool has the port to itself
                    p.write(b"")
                return port, state

        port, state = await loop.run_in_executor(None, lend_and_use)
        assert port == str(boards[0].link) and state == "lent"
        assert await until(lambda: s.online)  # the connection closed: the port came back
        assert s.opened == 2
        await br.device("board0").show_text("back")

    run_with_bridge(tmp_path, body, restart_app_after_lend=False)


def test_several_boards_at_once_and_status_over_the_socket(tmp_path):
    async def body(br, boards):
        loop = asyncio.get_running_loop()
        infos = await asyncio.gather(*(br.device(f"board{i}").device_info() for i in range(3)))
        assert [i["board"] for i in infos] == ["vm0", "vm1", "vm2"]

        def status():
            with Control(br.settings.control_socket) as c:
                return c.call("status")

        st = await loop.run_in_executor(None, status)
        assert [(b["board"], b["state"], b["peer"]["name"]) for b in st["boards"]] == [
            ("board0", "online", "vm0"), ("board1", "online", "vm1"), ("board2", "online", "vm2")]
        for i in range(3):
            log = (br.settings.log_dir / f"board{i}.log").read_text()
            assert "link up: vm%d" % i in log

    run_with_bridge(tmp_path, body, n_boards=3)


def test_cli_runs_the_daemon_and_status_reads_it(tmp_path):
    with PtyBoard(tmp_path / "board0", name="vmcli") as board:
        env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "none"), POCKET_BRIDGE_SCAN="0",
                   POCKET_BRIDGE_STATE_DB=str(tmp_path / "s.sqlite"), POCKET_BRIDGE_LOG_DIR=str(tmp_path / "logs"),
                   POCKET_BRIDGE_CONTROL_SOCKET=str(tmp_path / "c.sock"))
        pocket = [sys.executable, "-m", "pocket_agent.cli", "bridge"]
        daemon = subprocess.Popen(pocket + ["--port", str(board.link)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out = ""
            for _ in range(100):
                r = subprocess.run(pocket + ["status"], env=env, capture_output=True, text=True, timeout=10)
                out = r.stdout
                if r.returncode == 0 and " online " in out:
                    break
                time.sleep(0.1)
            assert "board0" in out and " online " in out and "app: vmcli" in out, (out, r.stderr)
            r = subprocess.run(pocket + ["lend", "board0", "--", sys.executable, "-c",
                                         "import sys; print('got', sys.argv[1])", "{port}"],
                               env=env, capture_output=True, text=True, timeout=20)
            assert r.returncode == 0 and r.stdout.strip() == f"got {board.link}"
        finally:
            daemon.terminate()
            _, err = daemon.communicate(timeout=10)
        assert daemon.returncode == 0, err
        assert b"link up: vmcli" in err
        r = subprocess.run(pocket + ["status"], env=env, capture_output=True, text=True, timeout=10)
        assert r.returncode == 2 and "no bridge is running" in r.stderr and "Traceback" not in r.stderr


class TcpBoard:
    """board_app in the VM behind a TCP socket, for socket:// URLs."""

    def __init__(self):
        import socket
        import threading
        from tests import mpy
        from .vmboard import APP
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.url = "socket://127.0.0.1:%d" % self.server.getsockname()[1]
        self.proc = subprocess.Popen([mpy.micropython_exe(), "-X", "heapsize=200K", str(APP), "tcp"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=dict(os.environ, MICROPYPATH=str(mpy.FIRMWARE)))
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import threading
        conn, _ = self.server.accept()
        self.conn = conn

        def up():
            while data := os.read(self.proc.stdout.fileno(), 4096):
                conn.sendall(data)

        threading.Thread(target=up, daemon=True).start()
        while data := conn.recv(4096):
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def close(self):
        self.proc.kill()
        self.proc.wait()
        self.server.close()


class Flood:
    """A 'board' on a socket that sends garbage as fast as it can."""

    def __init__(self):
        import socket
        import threading
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.url = "socket://127.0.0.1:%d" % self.server.getsockname()[1]
        self.sent = 0
        self.stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        conn, _ = self.server.accept()
        junk = bytes((i * 7919) & 0xFF for i in range(65536)).replace(b"\x10", b"\x11")
        try:
            while not self.stop:
                conn.sendall(junk)
                self.sent += len(junk)
        except OSError:
            pass
        conn.close()

    def close(self):
        self.stop = True
        self.server.close()


def test_socket_url_board_control_commands_and_a_flooding_board(tmp_path):
    import resource
    tcp = TcpBoard()
    flood = Flood()

    async def main():
        br = bridge_mod.Bridge(make_settings(tmp_path, [tcp.url, flood.url]))
        await br.start()
        try:
            good = br.sessions["127.0.0.1_%s" % tcp.url.rsplit(":", 1)[1]]
            bad = br.sessions["127.0.0.1_%s" % flood.url.rsplit(":", 1)[1]]
            assert await until(lambda: good.online, 15)
            rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            await asyncio.sleep(3)  # the flood runs
            loop = asyncio.get_running_loop()

            def control():
                with Control(br.settings.control_socket) as c:
                    info = c.call("send", board=good.name, type="info_get", fields={})["reply"]
                    c.call("send", board=good.name, type="display_text",
                           fields={"region": 0, "flags": 0, "text": "echo over the socket"})
                    with Control(br.settings.control_socket) as ev:
                        ev.call("events", board=good.name)
                        c.call("send", board=good.name, type="display_text",
                               fields={"region": 0, "flags": 0, "text": "echo second"})
                        while (e := ev.answer())["kind"] != "log" or e["data"]["text"] != "second":
                            pass  # the first echo's answer may come after the subscription
                    with pytest.raises(Exception, match="no board named"):
                        c.call("send", board="nope", type="tone", fields={})
                    return info, e

            t = time.monotonic()
            info, ev = await loop.run_in_executor(None, control)
            assert time.monotonic() - t < 5  # the flood does not starve the other board
            assert info["board"] == "tcp" and ev["data"]["text"] == "second"
            st = bad.status()
            assert flood.sent > 20_000_000, flood.sent  # tens of MB thrown at the bridge
            assert st["state"] != "online" and st["link"]["noise_bytes"] > 1_000_000
            assert st["rx_dropped"] > 0  # what the bridge could not take in time was dropped, not kept
            grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
            assert grown_mb < 20, grown_mb
        finally:
            flood.stop = True
            await br.stop()

    try:
        asyncio.run(asyncio.wait_for(main(), 60))
    finally:
        tcp.close()
        flood.close()

"""Bridge settings, USB discovery and the SQLite store."""

from types import SimpleNamespace

import pytest

from pocket_agent.errors import PocketError
from pocket_agent.host.bridge import discovery, settings
from pocket_agent.host.bridge.store import BridgeStore


NO_CONFIG = {"XDG_CONFIG_HOME": "/nonexistent"}


def test_defaults_file_then_environment_then_overrides(tmp_path):
    cfg = tmp_path / "bridge.toml"
    cfg.write_text('[bridge]\nports = ["/dev/ttyACM0", "socket://127.0.0.1:7000"]\nheartbeat_ms = 500\n'
                   'names = {"ABC123" = "kitchen"}\nstate_db = "~/x.sqlite"\n')
    s = settings.load(cfg, env={"POCKET_BRIDGE_HEARTBEAT_MS": "700", "POCKET_BRIDGE_SCAN": "off"})
    assert s.ports == ("/dev/ttyACM0", "socket://127.0.0.1:7000")
    assert s.heartbeat_ms == 700 and s.scan is False and s.names == {"ABC123": "kitchen"}
    assert str(s.state_db).endswith("/x.sqlite") and "~" not in str(s.state_db)
    s = settings.load(cfg, env={}, heartbeat_ms=250)
    assert s.heartbeat_ms == 250 and s.scan is True
    assert settings.load(None, env={"POCKET_BRIDGE_CONFIG": str(cfg)}).heartbeat_ms == 500
    (tmp_path / "pocket").mkdir()
    (tmp_path / "pocket" / "bridge.toml").write_text("baudrate = 9600\n")
    assert settings.load(None, env={"XDG_CONFIG_HOME": str(tmp_path)}).baudrate == 9600
    with pytest.raises(Exception):
        s.heartbeat_ms = 1  # frozen


def test_bad_settings_are_clear_errors(tmp_path):
    cfg = tmp_path / "bridge.toml"
    cfg.write_text("heartbeat = 5\n")
    with pytest.raises(PocketError, match="unknown bridge setting 'heartbeat'") as info:
        settings.load(cfg, env={})
    assert "heartbeat_ms" in info.value.hint
    cfg.write_text("heartbeat_ms = [\n")
    with pytest.raises(PocketError, match="cannot read"):
        settings.load(cfg, env={})
    with pytest.raises(PocketError, match="not a valid int"):
        settings.load(None, env={"POCKET_BRIDGE_BAUDRATE": "fast", **NO_CONFIG})
    with pytest.raises(PocketError, match="not a valid bool"):
        settings.load(None, env={"POCKET_BRIDGE_SCAN": "maybe", **NO_CONFIG})
    with pytest.raises(PocketError, match="does not exist"):
        settings.load(tmp_path / "nope.toml", env={})


def port(device, vid, pid, serial_number, description="USB"):
    return SimpleNamespace(device=device, vid=vid, pid=pid, serial_number=serial_number, description=description)


def test_scan_finds_known_usb_ids_and_names_boards():
    ports = [
        port("/dev/ttyACM0", 0x303A, 0x4001, "S3-1"),
        port("/dev/ttyACM1", 0x2E8A, 0x0005, "e6614c31"),
        port("/dev/ttyUSB0", 0x1A86, 0x55D4, "CH-9"),
        port("/dev/ttyUSB1", 0x0403, 0x6001, "FTDI"),  # not one of ours
        port("/dev/ttyS0", None, None, None),
    ]
    s = settings.load(None, env=NO_CONFIG, names={"S3-1": "kitchen"})
    found = discovery.scan(s, comports=lambda: ports)
    assert [(c.board, c.url, c.usb_id) for c in found] == [
        ("kitchen", "/dev/ttyACM0", "303A:4001"), ("e6614c31", "/dev/ttyACM1", "2E8A:0005"),
        ("CH-9", "/dev/ttyUSB0", "1A86:55D4")]
    s = settings.load(None, env=NO_CONFIG, serials=["e6614c31"])
    assert [c.board for c in discovery.scan(s, comports=lambda: ports)] == ["e6614c31"]
    s = settings.load(None, env=NO_CONFIG, ports=["socket://localhost:7000", "/tmp/x/pico"])
    assert [c.board for c in discovery.configured(s)] == ["localhost_7000", "pico"]
    s = settings.load(None, env=NO_CONFIG, ports=["/st/twins/tw0/tty", "/st/twins/tw1/tty", "/dev/ttyACM0",
                                                  "/other/ttyACM0"])
    assert [c.board for c in discovery.configured(s)] == ["tw0", "tw1", "ttyACM0", "ttyACM0-2"]


def test_store_keeps_items_and_events_across_reopen(tmp_path):
    db = tmp_path / "s.sqlite"
    st = BridgeStore(db)
    a, b = st.new_id(), st.new_id()
    assert b == a + 1
    st.put("k", "timer", 5, {"due": 100, "kind": 0, "label": "tea"})
    st.put("k", "note", 6, {"text": "milk"})
    st.put("other", "note", 7, {"text": "x"})
    ev = st.add_event("k", "timer_fired", {"tid": 5})
    st.close()
    st = BridgeStore(db)
    assert st.items("k") == [("timer", 5, {"due": 100, "kind": 0, "label": "tea"}), ("note", 6, {"text": "milk"})]
    assert st.remove("k", "timer", 5) and not st.remove("k", "timer", 5)
    assert [e["payload"] for e in st.events("k")] == [{"tid": 5}]
    st.consume(ev)
    assert st.events("k") == [] and st.new_id() == b + 1
    with pytest.raises(PocketError):
        BridgeStore(tmp_path / "s.sqlite" / "inside-a-file")

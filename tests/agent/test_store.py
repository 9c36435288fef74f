"""State in SQLite: schema migrations, per-board rows, clear errors for unreadable files."""

import sqlite3

import pytest

from pocket_agent.errors import PocketError
from pocket_agent.host.agent.store import MIGRATIONS, Store


def test_fresh_file_is_at_the_latest_version(tmp_path):
    store = Store(tmp_path / "a.sqlite3")
    assert store.version == len(MIGRATIONS)
    tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"notes", "shopping", "reminders", "timers", "outbox", "actions", "settings"} <= tables


def test_an_old_file_is_upgraded_and_keeps_its_rows(tmp_path):
    path = tmp_path / "a.sqlite3"
    old = Store.__new__(Store)
    old.path, old.clock = path, lambda: 1.0
    old.db = sqlite3.connect(str(path), isolation_level=None)
    old.migrate(MIGRATIONS[:1])
    old.db.execute("INSERT INTO shopping (board, item, added) VALUES ('b', 'milk', 1)")
    old.db.execute("INSERT INTO actions (board, tool, args, status, created, updated) VALUES ('b', 't', '{}', 'ran', 1, 1)")
    old.db.close()
    store = Store(path)
    assert store.version == len(MIGRATIONS)
    assert [(r["item"], r["quantity"]) for r in store.items("b")] == [("milk", 1)]
    assert store.actions("b")[0]["approved"] is None


def test_a_failed_migration_leaves_the_previous_version(tmp_path):
    store = Store(tmp_path / "a.sqlite3")
    broken = MIGRATIONS + ["CREATE TABLE extra (x INTEGER); ALTER TABLE nowhere ADD COLUMN y INTEGER"]
    with pytest.raises(sqlite3.OperationalError):
        store.migrate(broken)
    assert store.version == len(MIGRATIONS)
    assert store.db.execute("SELECT name FROM sqlite_master WHERE name = 'extra'").fetchone() is None


def test_a_newer_file_is_refused_with_a_hint(tmp_path):
    path = tmp_path / "a.sqlite3"
    Store(path).db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    with pytest.raises(PocketError, match="newer pocket-agent"):
        Store(path)


def test_a_corrupt_file_is_a_clear_error_and_is_left_alone(tmp_path):
    path = tmp_path / "a.sqlite3"
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(PocketError) as info:
        Store(path)
    assert info.value.hint and path.read_bytes() == b"not a database" * 100


def test_rows_belong_to_one_board(tmp_path):
    store = Store(tmp_path / "a.sqlite3")
    store.add_note("a", "one")
    store.add_note("b", "two")
    store.set_setting("a", "volume", 30)
    assert [n["text"] for n in store.notes("a")] == ["one"]
    assert store.delete_note("a", store.notes("b")[0]["id"]) == 0
    assert store.setting("a", "volume") == 30 and store.setting("b", "volume", 50) == 50

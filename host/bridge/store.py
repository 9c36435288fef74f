"""The bridge's own SQLite store: what a board must hold again after it comes
back (pending confirmations, timers, notes), and what a board said that its
consumer has not taken yet (confirmation results, fired timers).

The agent keeps its own database; the two meet only through the bridge's
Device methods and events (docs/bridge.md), never through shared tables.
"""

import json
import sqlite3
import time
from pathlib import Path

from pocket_agent.errors import PocketError

SCHEMA = """
CREATE TABLE IF NOT EXISTS board_items (
    board TEXT NOT NULL, kind TEXT NOT NULL, item_id INTEGER NOT NULL,
    payload TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (board, kind, item_id));
CREATE TABLE IF NOT EXISTS board_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, board TEXT NOT NULL, kind TEXT NOT NULL,
    payload TEXT NOT NULL, created REAL NOT NULL, consumed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS ids (name TEXT PRIMARY KEY, next INTEGER NOT NULL);
"""
KINDS = ("confirm", "timer", "note")


class BridgeStore:
    def __init__(self, path, clock=time.time):
        self.path = Path(path)
        self.clock = clock
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(self.path), isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise PocketError(f"cannot open the bridge's state database {self.path}: {exc}",
                              hint="set state_db in the bridge config or POCKET_BRIDGE_STATE_DB") from None

    def close(self):
        self.db.close()

    def new_id(self):
        """A fresh id for a confirmation, timer or note (fits the link's u32)."""
        with self.db:
            self.db.execute("INSERT OR IGNORE INTO ids VALUES ('item', 1)")
            (n,) = self.db.execute("SELECT next FROM ids WHERE name = 'item'").fetchone()
            self.db.execute("UPDATE ids SET next = ? WHERE name = 'item'", ((n % 0xFFFFFFFF) + 1,))
        return n

    def put(self, board, kind, item_id, payload):
        if kind not in KINDS:
            raise ValueError(kind)
        self.db.execute("INSERT OR REPLACE INTO board_items VALUES (?, ?, ?, ?, ?)",
                        (board, kind, item_id, json.dumps(payload), self.clock()))

    def remove(self, board, kind, item_id):
        cur = self.db.execute("DELETE FROM board_items WHERE board = ? AND kind = ? AND item_id = ?",
                              (board, kind, item_id))
        return cur.rowcount > 0

    def get(self, board, kind, item_id):
        row = self.db.execute("SELECT payload FROM board_items WHERE board = ? AND kind = ? AND item_id = ?",
                              (board, kind, item_id)).fetchone()
        return json.loads(row[0]) if row else None

    def items(self, board, kind=None):
        sql = "SELECT kind, item_id, payload FROM board_items WHERE board = ?"
        args = [board]
        if kind:
            sql += " AND kind = ?"
            args.append(kind)
        rows = self.db.execute(sql + " ORDER BY created, item_id", args).fetchall()
        return [(k, i, json.loads(p)) for k, i, p in rows]

    def add_event(self, board, kind, payload):
        cur = self.db.execute("INSERT INTO board_events (board, kind, payload, created) VALUES (?, ?, ?, ?)",
                              (board, kind, json.dumps(payload), self.clock()))
        return cur.lastrowid

    def events(self, board=None, kind=None, pending_only=True):
        sql, args = "SELECT id, board, kind, payload, created FROM board_events WHERE 1", []
        if board:
            sql += " AND board = ?"
            args.append(board)
        if kind:
            sql += " AND kind = ?"
            args.append(kind)
        if pending_only:
            sql += " AND consumed = 0"
        return [{"id": i, "board": b, "kind": k, "payload": json.loads(p), "created": c}
                for i, b, k, p, c in self.db.execute(sql + " ORDER BY id", args)]

    def consume(self, event_id):
        self.db.execute("UPDATE board_events SET consumed = 1 WHERE id = ?", (event_id,))

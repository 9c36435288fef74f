"""The agent's state in SQLite: notes, shopping, reminders, timers, the outbox, the action log.

Migrations are numbered SQL scripts; `PRAGMA user_version` records how many
have run, and each runs in one transaction, so a crash mid-upgrade leaves the
file at the previous version instead of half-migrated. Every row belongs to one
board.
"""

import json
import os
import sqlite3
import time
from pathlib import Path

from pocket_agent.errors import PocketError

MIGRATIONS = [
    # 1: the first schema
    """
    CREATE TABLE notes (id INTEGER PRIMARY KEY, board TEXT NOT NULL, text TEXT NOT NULL,
                        created REAL NOT NULL);
    CREATE TABLE shopping (id INTEGER PRIMARY KEY, board TEXT NOT NULL, item TEXT NOT NULL,
                           added REAL NOT NULL);
    CREATE TABLE reminders (id INTEGER PRIMARY KEY, board TEXT NOT NULL, text TEXT NOT NULL,
                            due REAL NOT NULL, timer_id INTEGER, created REAL NOT NULL);
    CREATE TABLE timers (id INTEGER PRIMARY KEY, board TEXT NOT NULL, kind TEXT NOT NULL,
                         label TEXT NOT NULL, seconds INTEGER NOT NULL, due REAL NOT NULL,
                         cancelled INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL);
    CREATE TABLE outbox (id INTEGER PRIMARY KEY, board TEXT NOT NULL, kind TEXT NOT NULL,
                         recipient TEXT, body TEXT NOT NULL, status TEXT NOT NULL,
                         action_id INTEGER, created REAL NOT NULL);
    CREATE TABLE actions (id INTEGER PRIMARY KEY, board TEXT NOT NULL, tool TEXT NOT NULL,
                          args TEXT NOT NULL, digest TEXT, nonce TEXT UNIQUE, expires REAL,
                          status TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '',
                          created REAL NOT NULL, updated REAL NOT NULL);
    CREATE TABLE settings (board TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
                           PRIMARY KEY (board, name));
    CREATE INDEX notes_board ON notes (board, id);
    CREATE INDEX actions_board ON actions (board, id);
    """,
    # 2: shopping list quantities kept apart from the item name
    """
    ALTER TABLE shopping ADD COLUMN quantity INTEGER NOT NULL DEFAULT 1;
    """,
    # 3: when the board's approval verified (NULL: the action needed none, or never got one)
    """
    ALTER TABLE actions ADD COLUMN approved REAL;
    """,
]


def default_path():
    base = os.environ.get("POCKET_AGENT_HOME") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "pocket-agent")
    return Path(base) / "agent.sqlite3"


class Store:
    """One SQLite file; `board` scopes every query."""

    def __init__(self, path=None, clock=time.time):
        self.path = Path(path) if path else default_path()
        self.clock = clock
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(str(self.path), isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL" if str(self.path) != ":memory:" else "PRAGMA journal_mode=MEMORY")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.migrate()
        except sqlite3.DatabaseError as exc:
            raise PocketError(f"the agent's state file {self.path} cannot be read: {exc}",
                              hint="move it aside; a new one is made on the next run") from exc

    @property
    def version(self):
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self, migrations=MIGRATIONS):
        current = self.version
        if current > len(migrations):
            raise PocketError(f"{self.path} was written by a newer pocket-agent (schema {current})",
                              hint="upgrade pocket-agent")
        for number, script in enumerate(migrations[current:], start=current + 1):
            # executescript would commit on its own; run statement by statement in one transaction
            self.db.execute("BEGIN")
            try:
                for statement in (s.strip() for s in script.split(";")):
                    if statement:
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {number}")
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def close(self):
        self.db.close()

    def _rows(self, sql, *args):
        return [dict(r) for r in self.db.execute(sql, args).fetchall()]

    def _insert(self, sql, *args):
        return self.db.execute(sql, args).lastrowid

    # notes
    def add_note(self, board, text):
        return self._insert("INSERT INTO notes (board, text, created) VALUES (?, ?, ?)", board, text, self.clock())

    def notes(self, board):
        return self._rows("SELECT * FROM notes WHERE board = ? ORDER BY id", board)

    def delete_note(self, board, note_id):
        return self.db.execute("DELETE FROM notes WHERE board = ? AND id = ?", (board, note_id)).rowcount

    def delete_all_notes(self, board):
        return self.db.execute("DELETE FROM notes WHERE board = ?", (board,)).rowcount

    # shopping
    def add_item(self, board, item, quantity=1):
        row = self.db.execute("SELECT id FROM shopping WHERE board = ? AND item = ?", (board, item)).fetchone()
        if row:
            self.db.execute("UPDATE shopping SET quantity = quantity + ? WHERE id = ?", (quantity, row["id"]))
            return row["id"]
        return self._insert("INSERT INTO shopping (board, item, quantity, added) VALUES (?, ?, ?, ?)",
                            board, item, quantity, self.clock())

    def items(self, board):
        return self._rows("SELECT * FROM shopping WHERE board = ? ORDER BY id", board)

    def remove_item(self, board, item):
        return self.db.execute("DELETE FROM shopping WHERE board = ? AND item = ?", (board, item)).rowcount

    def clear_items(self, board):
        return self.db.execute("DELETE FROM shopping WHERE board = ?", (board,)).rowcount

    # timers, alarms and reminders (the device keeps the countdown; this is the record)
    def add_timer(self, board, kind, label, seconds):
        now = self.clock()
        return self._insert("INSERT INTO timers (board, kind, label, seconds, due, created) VALUES (?, ?, ?, ?, ?, ?)",
                            board, kind, label, int(seconds), now + seconds, now)

    def active_timers(self, board, kind=None):
        rows = self._rows("SELECT * FROM timers WHERE board = ? AND cancelled = 0 AND due > ? ORDER BY due",
                          board, self.clock())
        return [r for r in rows if kind is None or r["kind"] == kind]

    def cancel_timer(self, board, timer_id):
        return self.db.execute("UPDATE timers SET cancelled = 1 WHERE board = ? AND id = ?", (board, timer_id)).rowcount

    def add_reminder(self, board, text, due, timer_id):
        return self._insert("INSERT INTO reminders (board, text, due, timer_id, created) VALUES (?, ?, ?, ?, ?)",
                            board, text, due, timer_id, self.clock())

    def reminders(self, board, pending_only=True):
        sql = "SELECT * FROM reminders WHERE board = ?" + (" AND due > ?" if pending_only else "") + " ORDER BY due"
        return self._rows(sql, board, *([self.clock()] if pending_only else []))

    # outbox
    def add_outbox(self, board, kind, recipient, body, status, action_id):
        return self._insert("INSERT INTO outbox (board, kind, recipient, body, status, action_id, created) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?)", board, kind, recipient, body, status, action_id, self.clock())

    def outbox(self, board):
        return self._rows("SELECT * FROM outbox WHERE board = ? ORDER BY id", board)

    # action log
    def log_action(self, board, tool, args, status, digest=None, nonce=None, expires=None, detail=""):
        now = self.clock()
        return self._insert("INSERT INTO actions (board, tool, args, digest, nonce, expires, status, detail, created, updated) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", board, tool,
                            json.dumps(args, sort_keys=True), digest, nonce, expires, status, detail, now, now)

    def update_action(self, action_id, status, detail=""):
        self.db.execute("UPDATE actions SET status = ?, detail = ?, updated = ? WHERE id = ?",
                        (status, detail, self.clock(), action_id))

    def claim_action(self, action_id, from_status, to_status):
        """Move an action on only if it is still in `from_status`: each approval is used once."""
        now = self.clock()
        cur = self.db.execute("UPDATE actions SET status = ?, updated = ?, approved = ? WHERE id = ? AND status = ?",
                              (to_status, now, now if to_status == "approved" else None, action_id, from_status))
        return cur.rowcount == 1

    def action(self, action_id):
        rows = self._rows("SELECT * FROM actions WHERE id = ?", action_id)
        return rows[0] if rows else None

    def action_by_nonce(self, nonce):
        rows = self._rows("SELECT * FROM actions WHERE nonce = ?", nonce)
        return rows[0] if rows else None

    def actions(self, board):
        return self._rows("SELECT * FROM actions WHERE board = ? ORDER BY id", board)

    # settings
    def set_setting(self, board, name, value):
        self.db.execute("INSERT INTO settings (board, name, value) VALUES (?, ?, ?) "
                        "ON CONFLICT (board, name) DO UPDATE SET value = excluded.value",
                        (board, name, json.dumps(value)))

    def setting(self, board, name, default=None):
        row = self.db.execute("SELECT value FROM settings WHERE board = ? AND name = ?", (board, name)).fetchone()
        return json.loads(row["value"]) if row else default

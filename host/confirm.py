"""Physical confirmation, host side: ask the board, verify its signed approval, log it.

A consequential tool (send, order, delete) runs only when the board returns an
approval that verifies: the MAC is the board's (key set at pairing), it covers
the exact action bytes this request logged, it arrives before the expiry, and
its nonce has not been used. The key lives in a key file next to the state
file, read only by this module; agents, tools and the LLM see only outcomes.
Every request, decision and result lands in the action log.
"""

import asyncio
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from pocket_agent.firmware import approval

DEFAULT_TTL_S = 30.0


class ApprovalRejected(Exception):
    """An approval that did not verify: forged, replayed, for another action, or late."""


def canonical_action(tool, args, summary):
    """The exact bytes the board hashes and signs (and shows the summary of)."""
    return json.dumps({"args": args, "summary": summary, "tool": tool},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


class Keyring:
    """Pairing keys, one file per board, readable only by the owner."""

    def __init__(self, folder):
        self.folder = Path(folder)

    def _path(self, board):
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in board)
        return self.folder / f"{safe}.key"

    def get(self, board):
        try:
            return self._path(board).read_bytes()
        except FileNotFoundError:
            return None

    def put(self, board, key):
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(board)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        os.replace(tmp, path)


@dataclass
class Outcome:
    approved: bool
    status: str  # approved | denied | timeout | rejected | unpaired
    action_id: int
    message: str


class Confirmer:
    def __init__(self, store, keyring, clock=time.time, ttl_s=DEFAULT_TTL_S, grace_s=2.0):
        self.store = store
        self.keyring = keyring
        self.clock = clock
        self.ttl_s = ttl_s
        self.grace_s = grace_s  # beyond the board's own time limit, for the link

    async def pair(self, device, board):
        """Give the board a fresh key; from now on only its approvals verify."""
        key = secrets.token_bytes(32)
        await device.pair(key)
        self.keyring.put(board, key)
        self.store.log_action(board, "pair", {}, "paired")
        return True

    async def confirm(self, device, board, tool, args, summary):
        """Ask the user on the device; returns an Outcome. Never raises for a no."""
        action = canonical_action(tool, args, summary)
        nonce = secrets.token_bytes(approval.NONCE_BYTES)
        expires = self.clock() + self.ttl_s
        expiry_ms = int(expires * 1000)
        action_id = self.store.log_action(board, tool, args, "awaiting", digest=hashlib.sha256(action).hexdigest(),
                                          nonce=nonce.hex(), expires=expires, detail=summary)
        if self.keyring.get(board) is None:
            self.store.update_action(action_id, "unpaired", "board not paired")
            return Outcome(False, "unpaired", action_id, "Board not paired:\nnothing done.")
        try:
            answer = await asyncio.wait_for(
                device.confirm(summary, action, nonce, expiry_ms, int(self.ttl_s * 1000)), self.ttl_s + self.grace_s)
        except asyncio.TimeoutError:
            answer = {"approved": False, "reason": "timeout"}
        if not answer.get("approved"):
            status = "timeout" if answer.get("reason") == "timeout" else "denied"
            self.store.update_action(action_id, status, summary)
            text = "No answer in time:\nnothing done." if status == "timeout" else "Cancelled:\nnothing done."
            return Outcome(False, status, action_id, text)
        try:
            self.verify(action_id, answer.get("signature") or b"")
        except ApprovalRejected as exc:
            return Outcome(False, "rejected", action_id, f"Approval rejected:\n{exc}")
        return Outcome(True, "approved", action_id, "Approved.")

    def verify(self, action_id, signature):
        """Check a signature against the logged request; marks the request used. Raises ApprovalRejected."""
        row = self.store.action(action_id)
        if row is None:
            raise ApprovalRejected("unknown request")
        key = self.keyring.get(row["board"])
        if key is None:
            raise ApprovalRejected("board not paired")
        expected = approval.hmac_sha256(key, approval.message(
            bytes.fromhex(row["digest"]), bytes.fromhex(row["nonce"]), int(row["expires"] * 1000)))
        if not hmac.compare_digest(expected, bytes(signature)):
            self._reject(row, "bad signature")
        if self.clock() > row["expires"]:
            self._reject(row, "approval expired")
        if not self.store.claim_action(action_id, "awaiting", "approved"):
            raise ApprovalRejected(f"request already {row['status']}")

    def _reject(self, row, why):
        if row["status"] == "awaiting":
            self.store.update_action(row["id"], "rejected", why)
        raise ApprovalRejected(why)

    def finished(self, action_id, ok, detail):
        """Record whether the approved action then ran."""
        self.store.update_action(action_id, "ran" if ok else "failed", detail)


def default_keyring(store_path):
    return Keyring(Path(store_path).parent / "keys")


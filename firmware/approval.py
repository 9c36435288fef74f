"""Physical approval: the board signs an action only when its button is pressed.

Runs unchanged on MicroPython and CPython. At pairing the board keeps a secret
key. To approve, the host sends the action (canonical JSON, with the summary the
screen shows), a nonce and an expiry; the board hashes the action itself and,
when the user presses the button before the time to live runs out, returns
HMAC-SHA256(key, tag | sha256(action) | nonce | expiry). The agent and the LLM
never hold the key, so they cannot make an approval; the host's verifier checks
the MAC, the binding to the action, the expiry, and that each nonce is used once.
MicroPython has hashlib.sha256 but no hmac module, hence hmac_sha256 below.
"""

import hashlib
import os
import json

try:
    from time import ticks_diff, ticks_ms
except ImportError:  # CPython
    import time

    def ticks_ms():
        return int(time.monotonic() * 1000)  # type: ignore[attr-defined]  # CPython only

    def ticks_diff(a, b):
        return a - b

TAG = b"pocket-approve/1"
NONCE_BYTES = 16
MIN_KEY_BYTES = 16
_BLOCK = 64


def hmac_sha256(key, msg):
    """HMAC-SHA256 (RFC 2104) from hashlib.sha256 alone."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key + bytes(_BLOCK - len(key))
    inner = hashlib.sha256(bytes([b ^ 0x36 for b in key]))
    inner.update(msg)
    outer = hashlib.sha256(bytes([b ^ 0x5C for b in key]))
    outer.update(inner.digest())
    return outer.digest()


def message(digest, nonce, expiry_ms):
    """The bytes the board signs: what is approved, which request, until when."""
    if len(digest) != 32 or len(nonce) != NONCE_BYTES:
        raise ValueError("approval: bad digest or nonce length")
    return TAG + digest + nonce + int(expiry_ms).to_bytes(8, "big")


def summary(action):
    """The text the screen shows for an action (it travels inside the signed bytes)."""
    return json.loads(action)["summary"]


class Approver:
    """Holds the pairing key and at most one pending request."""

    def __init__(self, key):
        if len(key) < MIN_KEY_BYTES:
            raise ValueError("approval: pairing key too short")
        self._key = bytes(key)
        self._pending = None

    def request(self, action, nonce, expiry_ms, ttl_ms):
        """A new request replaces any pending one; returns the summary to show."""
        text = summary(action)
        self._pending = (hashlib.sha256(action).digest(), bytes(nonce), int(expiry_ms), ticks_ms(), int(ttl_ms))
        return text

    @property
    def pending(self):
        return self._pending is not None

    def expired(self):
        p = self._pending
        return p is None or ticks_diff(ticks_ms(), p[3]) > p[4]

    def press(self):
        """The button was pressed: the signature, or None if nothing is pending or it ran out."""
        if self._pending is None:
            return None
        if self.expired():
            self._pending = None
            return None
        digest, nonce, expiry_ms = self._pending[0], self._pending[1], self._pending[2]
        self._pending = None
        return hmac_sha256(self._key, message(digest, nonce, expiry_ms))

    def deny(self):
        self._pending = None


def load_key(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def save_key(path, key):
    if len(key) < MIN_KEY_BYTES:
        raise ValueError("approval: pairing key too short")
    # A power cut while pairing must leave the old key or the new, not half of one.
    tmp = path + ".new"
    with open(tmp, "wb") as f:
        f.write(key)
    os.rename(tmp, path)

"""Physical confirmation: approve, deny, timeout; forged, replayed, misbound and late approvals rejected."""

import asyncio
import hashlib
import hmac
import json
import secrets

import pytest

from pocket_agent.firmware import approval
from pocket_agent.host.confirm import Confirmer, Keyring, canonical_action
from tests import mpy

from .conftest import Rig

# RFC 4231 test cases 1, 2 and 6 (the last has a key longer than a block)
RFC4231 = [
    (b"\x0b" * 20, b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", b"what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
]


@pytest.mark.parametrize("key,msg,mac", RFC4231)
def test_hmac_matches_rfc4231_in_cpython(key, msg, mac):
    assert approval.hmac_sha256(key, msg).hex() == mac == hmac.new(key, msg, hashlib.sha256).hexdigest()


def test_firmware_approval_runs_in_micropython_and_signs_what_the_host_expects():
    key = bytes(range(32))
    action = canonical_action("send_message", {"recipient": "mom", "body": "hi"}, "Send to Mom:\nhi")
    nonce, expiry = bytes(range(100, 116)), 1773130530000
    vectors = "\n".join(f"print(approval.hmac_sha256({k!r}, {m!r}).hex())" for k, m, _ in RFC4231)
    out = mpy.run(f"""
import approval, gc, time
{vectors}
ap = approval.Approver({key!r})
gc.collect(); before = gc.mem_alloc()
print(repr(ap.request({action!r}, {nonce!r}, {expiry}, 5000)))
print(ap.press().hex(), ap.pending, ap.press())
print(gc.mem_alloc() - before)
ap.request({action!r}, {nonce!r}, {expiry}, 0)
time.sleep_ms(5)
print(ap.press())
""", heap="200K").split("\n")
    assert out[:3] == [mac for _, _, mac in RFC4231]
    assert out[3] == repr("Send to Mom:\nhi")
    expected = hmac.new(key, approval.TAG + hashlib.sha256(action).digest() + nonce + expiry.to_bytes(8, "big"),
                        hashlib.sha256).hexdigest()
    assert out[4] == f"{expected} False None"
    assert int(out[5]) < 8 * 1024  # one approval costs a few KB of a ~200 KB heap, transient
    assert out[6] == "None"  # pressed after its time to live: no signature


def test_a_short_key_is_refused():
    with pytest.raises(ValueError):
        approval.Approver(b"short")


def _ask(rig, tool="send_message", args=None):
    args = args or {"recipient": "mom", "body": "hi"}
    return asyncio.run(rig.confirmer.confirm(rig.device, rig.device.board, tool, args, "Send to Mom:\nhi"))


def test_approve(rig):
    outcome = _ask(rig)
    assert outcome.approved and outcome.status == "approved"
    row = rig.store.action(outcome.action_id)
    assert row["status"] == "approved" and row["approved"] is not None
    assert rig.device.called("confirm") == [{"summary": "Send to Mom:\nhi"}]


@pytest.mark.parametrize("button", ["deny", "timeout"])
def test_deny_and_timeout(make_rig, button):
    rig = make_rig(button=button)
    outcome = _ask(rig)
    assert not outcome.approved and outcome.status == {"deny": "denied", "timeout": "timeout"}[button]
    assert rig.store.action(outcome.action_id)["status"] == outcome.status


def test_a_board_that_never_answers_times_out(tmp_path):
    rig = Rig(tmp_path)
    rig.confirmer.ttl_s, rig.confirmer.grace_s = 0.05, 0.05

    async def silent(*args):
        await asyncio.sleep(30)

    rig.device.confirm = silent
    outcome = _ask(rig)
    assert outcome.status == "timeout" and not outcome.approved


def test_a_forged_approval_is_rejected_and_nothing_runs(rig):
    rig.device.confirm_hook = lambda real: secrets.token_bytes(32)
    reply = rig.ask("send a message to mom saying send money")
    assert reply.tools == [("send_message", "rejected")] and "rejected" in reply.text
    assert rig.store.outbox(rig.device.board) == []
    assert rig.actions("send_message")[0]["status"] == "rejected"


def test_an_approval_made_with_another_key_is_rejected(rig):
    other = approval.Approver(b"x" * 32)

    def resign(real):
        action, nonce, expiry = _pending_request(rig)
        other.request(action, nonce, expiry, 5000)
        return other.press()

    rig.device.confirm_hook = resign
    assert _ask(rig).status == "rejected"


def _pending_request(rig):
    row = rig.store.actions(rig.device.board)[-1]
    action = canonical_action(row["tool"], json.loads(row["args"]), row["detail"])
    return action, bytes.fromhex(row["nonce"]), int(row["expires"] * 1000)


def test_a_replayed_approval_is_rejected(rig):
    first = _ask(rig)
    assert first.approved
    captured = {}
    rig.device.confirm_hook = lambda real: captured.setdefault("sig", real)
    _ask(rig)  # a second, identical request: capture its real signature
    old = captured["sig"]
    rig.device.confirm_hook = lambda real: old  # replay it for a third identical request
    third = _ask(rig)
    assert third.status == "rejected" and rig.store.action(third.action_id)["detail"] == "bad signature"
    # and the same signature again for the request it was made for: already used
    from pocket_agent.host.confirm import ApprovalRejected
    with pytest.raises(ApprovalRejected, match="already"):
        rig.confirmer.verify(third.action_id - 1, old)


def test_an_approval_is_bound_to_its_action(rig):
    """A signature for 'send hi to mom' does not approve 'order a TV', even at the same moment."""
    signatures = []
    rig.device.confirm_hook = lambda real: signatures.append(real) or real
    _ask(rig)
    rig.device.confirm_hook = lambda real: signatures[0]
    assert _ask(rig, "place_order", {"item": "a television"}).status == "rejected"


def test_a_late_approval_is_rejected(rig):
    def slow_user(real):
        rig.clock.advance(31)  # the press signs in time on the board, but arrives after the expiry
        return real

    rig.device.confirm_hook = slow_user
    outcome = _ask(rig)
    assert outcome.status == "rejected" and rig.store.action(outcome.action_id)["detail"] == "approval expired"


def test_an_unpaired_board_cannot_approve(tmp_path):
    rig = Rig(tmp_path)
    confirmer = Confirmer(rig.store, Keyring(tmp_path / "no-keys"), clock=rig.clock)
    outcome = asyncio.run(confirmer.confirm(rig.device, rig.device.board, "place_order", {"item": "x"}, "Order x"))
    assert outcome.status == "unpaired" and rig.device.called("confirm") == []


def test_the_key_file_is_private(rig, tmp_path):
    (key_file,) = (tmp_path / "keys").glob("*.key")
    assert key_file.stat().st_mode & 0o077 == 0 and len(key_file.read_bytes()) == 32

"""The session (firmware/linkio.py Endpoint) over lossy simulated wires, in
CPython and in the MicroPython VM: the same run gives the same result."""

import json

from pocket_agent.firmware import link, linkio
from tests import mpy

from . import endpoint_sim

TESTS_LINK = endpoint_sim.__file__.rsplit("/", 1)[0]


def check_run(r, messages=150):
    lost_with_board = next(e[1] for e in r["events"] if e[0] == "lost_with_board")
    # Board -> host: in order, never twice; only what died in the old board's RAM is missing.
    assert r["host_got"] == sorted(set(r["host_got"]))
    assert len(r["host_got"]) == messages - lost_with_board
    # Host -> board: everything arrives, in order per board session; at most the
    # unacknowledged tail of the old session is delivered again to the new board.
    first = [m for i, m in enumerate(r["board_got"]) if m not in r["board_got"][:i]]
    assert first == ["m%d" % i for i in range(messages)]
    assert len(r["board_got"]) - messages <= 16
    assert r["pending"] == [0, 0]
    # Every chunk the wire dropped or damaged is counted lost, and no other.
    sent, received, lost, damaged = r["audio"]
    assert received + lost == sent and lost == damaged
    ups = [e for e in r["events"] if e[1:2] == ["up"]]
    assert [e[0] for e in ups] == ["host", "board", "host", "board"] and ups[2][3] is True


def test_lossy_wire_with_a_board_reset_loses_no_control_message():
    r = endpoint_sim.run()
    assert sum(r["faults"]) > 100 and r["host_stats"]["retransmits"] > 0
    check_run(r)


def test_clean_wire_needs_no_retransmission():
    r = endpoint_sim.run(drop=0, corrupt=0)
    check_run(r)
    assert r["host_stats"]["retransmits"] == 0 and r["audio"][2] == 0


def test_micropython_runs_the_same_session():
    out = mpy.run("import endpoint_sim\nendpoint_sim.main()", path=(mpy.FIRMWARE, TESTS_LINK), heap="200K")
    assert json.loads(out) == json.loads(json.dumps(endpoint_sim.run()))


def pair():
    wires = {"a": bytearray(), "b": bytearray()}
    a = linkio.Endpoint(lambda b, n: wires["b"].extend(b[:n]), link.ROLE_HOST, 1, "host", "h", slots=2)
    b = linkio.Endpoint(lambda b, n: wires["a"].extend(b[:n]), link.ROLE_BOARD, 2, "board", "f")

    def step(now, deliver=True):
        evs = []
        for ep, key in ((a, "a"), (b, "b")):
            if deliver:
                ep.feed(bytes(wires[key]))
            wires[key].clear()
            while ev := ep.poll(now):
                values = None
                if ev > 0:
                    values = link.unpack(ev, ep.dec.body, link.HEADER, link.HEADER + ep.dec.length)
                evs.append((key, ev, values))
        return evs

    return a, b, step


def test_silence_takes_the_link_down_and_the_outbox_waits_for_the_next_session():
    a, b, step = pair()
    assert ("a", linkio.LINK_UP, None) in step(0) + step(10)
    tone = link.type_of("tone")
    assert a.send(tone, (440, 100, 50), 20) and a.send(tone, (880, 100, 50), 20)
    assert not a.send(tone, (990, 100, 50), 20)  # two slots: the outbox is full
    evs = []
    for t in range(30, 5000, 100):
        evs += step(t, deliver=False)  # the board hears nothing and says nothing
    assert ("a", linkio.LINK_DOWN, None) in evs and not a.up and a.pending() == 2
    got = []
    for t in range(5000, 8000, 50):
        for key, ev, values in step(t):
            if key == "b" and ev == tone:
                got.append(values[0])
    assert a.up and got == [440, 880] and a.pending() == 0


def test_no_session_without_a_common_version_or_with_a_peer_of_the_same_role():
    from . import make_vectors, spec_ref
    wires = []
    host = linkio.Endpoint(lambda b, n: wires.append(bytes(b[:n])), link.ROLE_HOST, 1, "host", "h")
    future = make_vectors.payload(link.HELLO, [0, 77, 9, 9, link.ROLE_BOARD, 5, 0, 1024, "b", "f"])
    echo = make_vectors.payload(link.HELLO, [0, 78, 1, 1, link.ROLE_HOST, 5, 0, 1024, "h", "h"])
    for t, payload in enumerate((future, echo, future)):
        host.feed(spec_ref.frame(link.HELLO, payload, version=9 if payload is future else 1))
        while host.poll(t * 100):
            pass
    assert not host.up and host.dec.bad_version == 2 and host.bad_payload == 1
    # and it answered neither: everything it sent is its own hello (reply 0)
    replies = [link.unpack(link.HELLO, body, 0, len(body))[0]
               for _, _, _, body in (spec_ref.frames_in(w)[0] for w in wires)]
    assert replies and set(replies) == {0}


def test_a_reliable_message_of_an_unknown_type_is_acknowledged_and_refused():
    """A newer host may send what an older board does not know: the board takes
    it off the sender's hands (ack) and reports it, so nothing is retransmitted forever."""
    from . import spec_ref

    sent = []
    board = linkio.Endpoint(lambda b, n: sent.append(bytes(b[:n])), link.ROLE_BOARD, 2, "board", "f")
    host = linkio.Endpoint(lambda b, n: board.feed(bytes(b[:n])) or None, link.ROLE_HOST, 1, "host", "h")
    now = 0
    for now in range(0, 400, 50):  # handshake: the host's hello reaches the board; feed back its answers
        while host.poll(now):
            pass
        events = []
        while ev := board.poll(now):
            events.append(ev)
        for chunk in sent:
            host.feed(chunk)
        sent.clear()
    assert host.up and board.up
    assert not link.known(0x7E)
    tone = link.type_of("tone")
    board.feed(spec_ref.frame(0x7E, b"from the future", seq=0, flags=link.FLAG_RELIABLE)
               + spec_ref.frame(tone, _payload(tone, (440, 100, 50)), seq=1, flags=link.FLAG_RELIABLE))
    events = []
    while ev := board.poll(now + 10):
        events.append(ev)
    assert events == [linkio.BAD_FRAME, tone]  # refused, then the next message is delivered in order
    acks = [f for f in spec_ref.frames_in(b"".join(sent)) if f[0] == link.ACK]
    assert [link.u16(f[3], 0) for f in acks] == [0, 1]
    assert board.dec.bad_type == 1


def _payload(mtype, values):
    buf = bytearray(link.MAX_PAYLOAD)
    n = link.pack(buf, 0, mtype, values)
    return bytes(buf[:n])

"""docs/link-protocol.md and the code say the same thing; the board's
catalogue (firmware/link.py) is the host's (pocket_agent.host.link.catalogue)."""

import json
import re
from pathlib import Path

import pytest

from pocket_agent.firmware import link, linkio
from pocket_agent.host.link import catalogue
from tests import mpy

DOC = (Path(__file__).resolve().parents[2] / "docs" / "link-protocol.md").read_text(encoding="utf-8")


def render_catalogue():
    rows = ["| type | name | delivery | fields |", "| --- | --- | --- | --- |"]
    for mtype, (name, reliable, spec) in sorted(catalogue.MESSAGES.items()):
        fields = []
        for f in spec.split():
            parts = f.split(":")
            fields.append(f"{parts[0]}:{parts[1]}" + (f" ({parts[2]})" if len(parts) > 2 else ""))
        delivery = "reliable" if reliable else "best effort"
        rows.append(f"| 0x{mtype:02X} | {name} | {delivery} | {', '.join(fields) or '(none)'} |")
    return "\n".join(rows)


def test_catalogue_table_matches_the_code():
    table = DOC.split("<!-- catalogue: generated from pocket_agent.host.link.catalogue by tests/link/test_spec.py -->\n")[1]
    table = table.split("\n<!-- end of catalogue -->")[0]
    assert table == render_catalogue()


def test_every_field_code_and_unit_is_one_the_spec_defines():
    units = {"ms", "s", "bytes", "px", "Hz", "%", "min", "unix_s", "unix_ms", "frames", "chunks", "samples", "items"}
    for name, _, spec in catalogue.MESSAGES.values():
        for f in spec.split():
            parts = f.split(":")
            assert parts[1] in "BHhIiQstxly" and len(parts[1]) == 1, (name, f)
            assert len(parts) == 2 or parts[2] in units, (name, f)
            assert "`%s`" % parts[1] in DOC


def test_numbers_in_the_spec_are_the_code_s():
    assert f"0..{link.MAX_PAYLOAD} (`MAX_PAYLOAD`)" in DOC
    assert "`DLE` is 0x%02X and `SOF` is 0x%02X" % (link._DLE, link._SOF) in DOC
    assert "`w = b XOR 0x%02X`" % link._MASK in DOC
    ep = linkio.Endpoint(None, 1, 0)
    assert f"({ep.rto} ms, doubling per try" in DOC and f"After {ep.tries} tries" in DOC
    assert f"for {ep.dead_after / 1000} s" in DOC
    assert re.search(r"protocol version of this frame, %d" % link.VERSION, DOC)


def test_the_board_s_table_is_generated_from_the_host_s_catalogue():
    source = Path(link.__file__).read_text(encoding="utf-8")
    assert catalogue.board_source(source) == source, (
        "firmware/link.py's catalogue differs from host/link/catalogue.py: "
        "run .venv/bin/python -m pocket_agent.host.link.catalogue")


def expected_board_view():
    return {t: [name, reliable, "".join(f[1] for f in catalogue.fields(t))]
            for t, (name, reliable, _) in catalogue.MESSAGES.items()}


VM_CATALOGUE = """
import json, link
out = {}
for t in range(256):
    if link.known(t):
        name = link.name_of(t)
        assert link.type_of(name) == t
        out[t] = [name, 1 if link.reliable(t) else 0, link.codes(t).decode()]
    else:
        for f in (link.name_of, link.reliable, link.codes):
            try:
                f(t)
                out[t] = "no KeyError from %s" % f
            except KeyError:
                pass
for bad in ("no_such_message", "", "hello ack", "ello", "audio"):
    try:
        link.type_of(bad)
        print("no KeyError for %r" % bad)
    except KeyError:
        pass
# what the app calls for each message it sends allocates nothing
import gc
gc.collect()
before = gc.mem_alloc()
for name in ("hello", "audio_stop", "button", "log", "info", "sensor_value"):
    t = link.type_of(name)
    link.reliable(t)
    link.known(t)
allocated = gc.mem_alloc() - before
print(json.dumps({"types": out, "allocated": allocated}))
"""


def board_view_in_cpython():
    out = {}
    for t in range(256):
        if link.known(t):
            assert link.type_of(link.name_of(t)) == t
            out[t] = [link.name_of(t), 1 if link.reliable(t) else 0, link.codes(t).decode()]
        else:
            for f in (link.name_of, link.reliable, link.codes):
                with pytest.raises(KeyError):
                    f(t)
    for bad in ("no_such_message", "", "hello ack", "ello", "audio"):
        with pytest.raises(KeyError):
            link.type_of(bad)
    return out


def test_the_board_reads_each_message_as_the_host_s_catalogue_says_in_cpython():
    assert board_view_in_cpython() == expected_board_view()


def test_the_board_reads_each_message_as_the_host_s_catalogue_says_in_micropython():
    out = json.loads(mpy.run(VM_CATALOGUE, path=(mpy.FIRMWARE,), heap="200K"))
    assert {int(t): v for t, v in out["types"].items()} == expected_board_view()
    assert out["allocated"] == 0


def test_the_generator_rewrites_a_stale_table():
    source = Path(link.__file__).read_text(encoding="utf-8")
    stale = source.replace('b"HHB"  # 0x23 tone', 'b"HH"  # 0x23 tone')
    assert stale != source and catalogue.board_source(stale) == source
    with pytest.raises(ValueError, match="markers"):
        catalogue.board_source(source.replace(catalogue.END, ""))


def test_the_generator_refuses_a_name_the_board_could_not_find(monkeypatch):
    for bad in ("audio start", "tóne", ""):
        monkeypatch.setitem(catalogue.MESSAGES, 0x23, (bad, 1, "freq:H:Hz"))
        with pytest.raises(ValueError, match="ASCII identifier"):
            catalogue.board_table()

"""docs/link-protocol.md and the code say the same thing."""

import re
from pathlib import Path

from pocket_agent.firmware import link, linkio

DOC = (Path(__file__).resolve().parents[2] / "docs" / "link-protocol.md").read_text(encoding="utf-8")


def render_catalogue():
    rows = ["| type | name | delivery | fields |", "| --- | --- | --- | --- |"]
    for mtype, (name, reliable, spec) in sorted(link.MESSAGES.items()):
        fields = []
        for f in spec.split():
            parts = f.split(":")
            fields.append(f"{parts[0]}:{parts[1]}" + (f" ({parts[2]})" if len(parts) > 2 else ""))
        delivery = "reliable" if reliable else "best effort"
        rows.append(f"| 0x{mtype:02X} | {name} | {delivery} | {', '.join(fields) or '(none)'} |")
    return "\n".join(rows)


def test_catalogue_table_matches_the_code():
    table = DOC.split("<!-- catalogue: generated from link.MESSAGES by tests/link/test_spec.py -->\n")[1]
    table = table.split("\n<!-- end of catalogue -->")[0]
    assert table == render_catalogue()


def test_every_field_code_and_unit_is_one_the_spec_defines():
    units = {"ms", "s", "bytes", "px", "Hz", "%", "min", "unix_s", "unix_ms", "frames", "chunks", "samples", "items"}
    for name, _, spec in link.MESSAGES.values():
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

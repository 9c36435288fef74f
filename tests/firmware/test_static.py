"""firmware/ type-checks against both ports' MicroPython stubs (mypy), and
the check does catch a call that one port lacks."""

import pytest

from tests.firmware import static


@pytest.mark.parametrize("port", sorted(static.STUBS))
def test_firmware_checks_clean_against_the_port_stubs(port):
    _code, out = static.check(port)
    assert static.findings(out) == [], out


PROBE = """\
import machine
import {module}
{call}
machine.Pin(1).value(1)
"""


@pytest.mark.parametrize("port,module,call,fails", [
    ("rp2", "esp32", "esp32.raw_temperature()", True),  # there is no esp32 module on the RP2
    ("esp32", "esp32", "esp32.raw_temperature()", False),
    ("esp32", "rp2", "rp2.PIO(0)", True),
    ("rp2", "rp2", "rp2.PIO(0)", False),
    ("esp32", "time", "time.ticks_ms()", False),
    ("rp2", "time", "time.monotonic()", True),  # CPython's, not MicroPython's
    ("esp32", "machine", "machine.I2C(0).read_register(1)", True),  # no such method
])
def test_the_check_catches_an_api_the_port_lacks(tmp_path, port, module, call, fails):
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE.format(module=module, call=call))
    _code, out = static.check(port, [str(probe)])
    assert bool(static.findings(out)) == fails, out

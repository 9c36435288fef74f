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


# What firmware/ uses of machine, per port (the composition root and the drivers).
USED = {
    "Pin": ["IN", "OUT", "PULL_UP", "PULL_DOWN", "IRQ_FALLING", "IRQ_RISING", "value", "irq"],
    "I2C": ["scan", "readfrom_mem_into", "writeto_mem", "writeto", "writevto"],
    "I2S": ["RX", "TX", "MONO", "readinto", "write", "deinit"],
    "ADC": ["read_u16"],
    "WDT": ["feed"],
    "Timer": ["PERIODIC", "init"],
}
USED_ESP32 = {"ADC": ["read_uv", "atten", "ATTN_11DB"]}


@pytest.mark.slow
@pytest.mark.parametrize("port", sorted(static.STUBS))
def test_the_twin_machine_offers_what_the_firmware_uses_as_the_port_does(port, tmp_path):
    stub = static.stub_api(port)
    twin = static.twin_api(port, tmp_path)
    used = {k: list(v) for k, v in USED.items()}
    if port == "esp32":
        for k, v in USED_ESP32.items():
            used[k] += v
    for cls, members in used.items():
        for m in members:
            assert m in stub[cls], f"the {port} stub has no machine.{cls}.{m}: the firmware must not use it"
            assert m in twin[cls], f"the {port} twin lacks machine.{cls}.{m}"
    # the full comparison, for the record (tests/firmware/static.py --twin prints it)
    print("\n".join(static.api_diff(stub, twin)))

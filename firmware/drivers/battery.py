# A single Li-ion cell measured through a resistor divider on an ADC pin.
from micropython import const

_VREF_MV = const(3300)  # full scale of read_u16 on the RP2 (and the fallback)
# open-circuit voltage to charge, a typical 1S Li-ion curve: pairs of (mV / 100,
# %) as bytes, not a tuple of tuples (the objects cost ten times the bytes):
# 3300 0, 3500 7, 3600 16, 3700 30, 3800 48, 3900 64, 4000 78, 4100 90, 4200 100
_CURVE = b"\x21\x00\x23\x07\x24\x10\x25\x1e\x26\x30\x27\x40\x28\x4e\x29\x5a\x2a\x64"


def charge_pct(mv):
    if mv <= 100 * _CURVE[0]:
        return 0
    for k in range(2, len(_CURVE), 2):
        v1 = 100 * _CURVE[k]
        if mv <= v1:
            v0, p0, p1 = 100 * _CURVE[k - 2], _CURVE[k - 1], _CURVE[k + 1]
            return p0 + (p1 - p0) * (mv - v0) // (v1 - v0)
    return 100


class Battery:
    """adc: a machine.ADC built by the caller; divider: cell voltage over pin voltage."""

    def __init__(self, adc, divider, samples=8):
        if not 1.0 <= divider <= 10.0:
            raise ValueError("battery: divider %r is not between 1 and 10" % (divider,))
        self.adc = adc
        self.scale = int(divider * 1000)  # integer maths from here on
        self.samples = samples
        self.calibrated = hasattr(adc, "read_uv")  # ESP32: factory-calibrated microvolts

    def millivolts(self):
        total = 0
        for _ in range(self.samples):
            if self.calibrated:
                total += self.adc.read_uv() // 1000
            else:
                total += self.adc.read_u16() * _VREF_MV // 65535
        return total * self.scale // (1000 * self.samples)

    def read(self):
        """(cell voltage mV, charge %)."""
        mv = self.millivolts()
        return mv, charge_pct(mv)

# A single Li-ion cell measured through a resistor divider on an ADC pin.
from micropython import const

_VREF_MV = const(3300)  # full scale of read_u16 on the RP2 (and the fallback)
# open-circuit voltage (mV) to charge (%), a typical 1S Li-ion curve
_CURVE = ((3300, 0), (3500, 7), (3600, 16), (3700, 30), (3800, 48), (3900, 64),
          (4000, 78), (4100, 90), (4200, 100))


def charge_pct(mv):
    if mv <= _CURVE[0][0]:
        return 0
    for k in range(1, len(_CURVE)):
        v1, p1 = _CURVE[k]
        if mv <= v1:
            v0, p0 = _CURVE[k - 1]
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

"""The battery driver's charge curve in the real VM: its points, and linear between them."""

from tests import mpy

CODE = r'''
from drivers.battery import charge_pct
print(" ".join(str(charge_pct(mv)) for mv in (3000, 3300, 3400, 3500, 3650, 3900, 4050, 4200, 4500)))
'''


def test_charge_follows_the_li_ion_curve_and_interpolates():
    got = [int(v) for v in mpy.run(CODE, path=(mpy.FIRMWARE,), heap="200K").split()]
    assert got == [0, 0, 3, 7, 23, 64, 84, 100, 100]

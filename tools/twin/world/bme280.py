"""Bosch BME280 temperature, humidity and pressure sensor (datasheet rev 1.6).

Registers as a driver sees them: chip id, soft reset, calibration NVM,
ctrl_hum/ctrl_meas/config, status (measuring, im_update) and the raw ADC
values. The raw values are chosen so that the datasheet's compensation
formulas give back the temperature, humidity and pressure set in the world,
at the resolution the oversampling settings give.
"""

import functools

from .regdev import RegisterDevice

CHIP_ID = 0x60
# Calibration trimming of one real part (datasheet section 4.2.2 layout).
T_CAL = (27504, 26435, -1000)
P_CAL = (36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000)
H_CAL = (75, 362, 0, 313, 50, 30)
_SKIPPED_20 = 0x80000
_SKIPPED_16 = 0x8000


def compensate_t(adc_t, cal=T_CAL):
    """Datasheet 4.2.3: (temperature in 0.01 degC, t_fine)."""
    t1, t2, t3 = cal
    var1 = (((adc_t >> 3) - (t1 << 1)) * t2) >> 11
    var2 = (((((adc_t >> 4) - t1) * ((adc_t >> 4) - t1)) >> 12) * t3) >> 14
    t_fine = var1 + var2
    return (t_fine * 5 + 128) >> 8, t_fine


def _cdiv(a, b):
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def compensate_p(adc_p, t_fine, cal=P_CAL):
    """Datasheet 4.2.3, 64-bit version: pressure in Pa as Q24.8."""
    p1, p2, p3, p4, p5, p6, p7, p8, p9 = cal
    var1 = t_fine - 128000
    var2 = var1 * var1 * p6
    var2 = var2 + ((var1 * p5) << 17)
    var2 = var2 + (p4 << 35)
    var1 = ((var1 * var1 * p3) >> 8) + ((var1 * p2) << 12)
    var1 = (((1 << 47) + var1) * p1) >> 33
    if var1 == 0:
        return 0
    p = 1048576 - adc_p
    p = _cdiv(((p << 31) - var2) * 3125, var1)
    var1 = (p9 * (p >> 13) * (p >> 13)) >> 25
    var2 = (p8 * p) >> 19
    return ((p + var1 + var2) >> 8) + (p7 << 4)


def compensate_h(adc_h, t_fine, cal=H_CAL):
    """Datasheet 4.2.3: relative humidity in %RH as Q22.10."""
    h1, h2, h3, h4, h5, h6 = cal
    v = t_fine - 76800
    v = ((((adc_h << 14) - (h4 << 20) - (h5 * v)) + 16384) >> 15) * (
        ((((((v * h6) >> 10) * (((v * h3) >> 11) + 32768)) >> 10) + 2097152) * h2 + 8192) >> 14)
    v = v - (((((v >> 15) * (v >> 15)) >> 7) * h1) >> 4)
    v = max(0, min(v, 419430400))
    return v >> 12


def _search(f, target, lo, hi, increasing=True):
    """The integer x in [lo, hi) whose f(x) is nearest `target` (f monotonic)."""
    a, b = lo, hi - 1
    while a < b:
        mid = (a + b) // 2
        v = f(mid)
        if (v < target) == increasing:
            a = mid + 1
        else:
            b = mid
    best = min((x for x in (a - 1, a, a + 1) if lo <= x < hi), key=lambda x: abs(f(x) - target))
    return best


@functools.lru_cache(maxsize=256)
def raw_for(temperature, humidity, pressure, t_bits=20, p_bits=20):
    """Raw ADC values (adc_T, adc_P, adc_H) the compensation turns into these values."""
    t_step = 1 << (20 - t_bits)
    adc_t = _search(lambda x: compensate_t(x * t_step)[0], round(temperature * 100), 0, 1 << t_bits) * t_step
    t_fine = compensate_t(adc_t)[1]
    p_step = 1 << (20 - p_bits)
    adc_p = _search(lambda x: compensate_p(x * p_step, t_fine), round(pressure * 256), 1, 1 << p_bits,
                    increasing=False) * p_step
    adc_h = _search(lambda x: compensate_h(x, t_fine), round(humidity * 1024), 0, 1 << 16)
    return adc_t, adc_p, adc_h


def _u16(v):
    return (v & 0xFF, (v >> 8) & 0xFF)


class BME280(RegisterDevice):
    kind = "bme280"
    pairs = True

    def __init__(self, addr, world_env):
        self.addr = addr
        self.env = world_env  # dict with temperature (degC), humidity (%RH), pressure (Pa)
        nvm = bytearray(0x100)
        for i, v in enumerate(T_CAL + P_CAL):
            nvm[0x88 + 2 * i:0x8A + 2 * i] = bytes(_u16(v))
        h1, h2, h3, h4, h5, h6 = H_CAL
        nvm[0xA1] = h1
        nvm[0xE1:0xE3] = bytes(_u16(h2))
        nvm[0xE3] = h3
        nvm[0xE4] = (h4 >> 4) & 0xFF
        nvm[0xE5] = (h4 & 0x0F) | ((h5 & 0x0F) << 4)
        nvm[0xE6] = (h5 >> 4) & 0xFF
        nvm[0xE7] = h6 & 0xFF
        self.nvm = bytes(nvm)
        self.power_on(0.0)

    def power_on(self, now=0.0):
        self.ctrl_hum = 0
        self.ctrl_meas = 0
        self.config = 0
        self.osrs_h = 0  # ctrl_hum takes effect with the next ctrl_meas write
        self.data = (_SKIPPED_20, _SKIPPED_20, _SKIPPED_16)  # adc_P, adc_T, adc_H
        self.nvm_copy_until = now + 0.002
        self.busy_until = 0.0
        self.pending = False  # a forced measurement in progress
        self.normal_since = None
        self.cycles_done = 0
        self.filtered = None

    # ---- timing (datasheet 9.1) ----

    def _t_measure(self):
        ot, op = (self.ctrl_meas >> 5) & 7, (self.ctrl_meas >> 2) & 7
        n = (0, 1, 2, 4, 8, 16, 16, 16)
        t = 1.25
        t += 2.3 * n[ot]
        t += (2.3 * n[op] + 0.575) if op else 0
        t += (2.3 * n[self.osrs_h] + 0.575) if self.osrs_h else 0
        return t / 1000

    def _t_standby(self):
        return (0.5, 62.5, 125, 250, 500, 1000, 10, 20)[self.config >> 5] / 1000

    def _update(self, now):
        mode = self.ctrl_meas & 3
        if self.pending and now >= self.busy_until:
            self.pending = False
            self._measure()
            self.ctrl_meas &= ~3  # forced mode ends in sleep
        elif mode == 3 and self.normal_since is not None:
            period = self._t_measure() + self._t_standby()
            done = int((now - self.normal_since - self._t_measure()) // period) + 1
            if done > self.cycles_done:
                for _ in range(min(done - self.cycles_done, 32)):
                    self._measure()
                self.cycles_done = done

    def _measure(self):
        ot, op = (self.ctrl_meas >> 5) & 7, (self.ctrl_meas >> 2) & 7
        coef = (1, 2, 4, 8, 16, 16, 16, 16)[(self.config >> 2) & 7]
        env = self.env
        t, p = env["temperature"], env["pressure"]
        if coef > 1:  # the IIR filter acts on temperature and pressure
            if self.filtered is None:
                self.filtered = (t, p)
            ft, fp = self.filtered
            t = (ft * (coef - 1) + t) / coef
            p = (fp * (coef - 1) + p) / coef
            self.filtered = (t, p)
        bits = lambda o: 20 if coef > 1 else 15 + min(o, 5)  # noqa: E731
        adc_t, adc_p, adc_h = raw_for(t, env["humidity"], p, t_bits=bits(ot) if ot else 20,
                                      p_bits=bits(op) if op else 20)
        self.data = (adc_p if op else _SKIPPED_20, adc_t if ot else _SKIPPED_20,
                     adc_h if self.osrs_h else _SKIPPED_16)

    # ---- registers ----

    def read_reg(self, reg, now):
        self._update(now)
        if reg == 0xD0:
            return CHIP_ID
        if reg == 0xF2:
            return self.ctrl_hum
        if reg == 0xF3:
            measuring = now < self.busy_until or ((self.ctrl_meas & 3) == 3 and self._in_conversion(now))
            return (8 if measuring else 0) | (1 if now < self.nvm_copy_until else 0)
        if reg == 0xF4:
            return self.ctrl_meas
        if reg == 0xF5:
            return self.config
        if 0xF7 <= reg <= 0xFE:
            adc_p, adc_t, adc_h = self.data
            raw = [adc_p >> 12, (adc_p >> 4) & 0xFF, (adc_p & 0xF) << 4,
                   adc_t >> 12, (adc_t >> 4) & 0xFF, (adc_t & 0xF) << 4,
                   adc_h >> 8, adc_h & 0xFF]
            return raw[reg - 0xF7]
        if 0x88 <= reg <= 0xA1 or 0xE1 <= reg <= 0xE7:
            return self.nvm[reg]
        return 0x00

    def _in_conversion(self, now):
        period = self._t_measure() + self._t_standby()
        return (now - self.normal_since) % period < self._t_measure()

    def write_reg(self, reg, value, now):
        self._update(now)
        if reg == 0xE0 and value == 0xB6:
            self.power_on(now)
        elif reg == 0xF2:
            self.ctrl_hum = value & 7
        elif reg == 0xF5:
            self.config = value & 0xFD
        elif reg == 0xF4:
            self.ctrl_meas = value
            self.osrs_h = self.ctrl_hum
            mode = value & 3
            if mode in (1, 2):
                self.pending = True
                self.busy_until = now + self._t_measure()
            elif mode == 3:
                self.normal_since = now
                self.cycles_done = 0
            else:
                self.normal_since = None

    def state(self):
        return {"temperature": self.env["temperature"], "humidity": self.env["humidity"],
                "pressure": self.env["pressure"], "ctrl_meas": self.ctrl_meas, "config": self.config}

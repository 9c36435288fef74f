# The status LED: a WS2812 (NeoPixel) or a plain LED on a pin. Both take a
# colour; a plain LED is on for any colour but black.
from machine import Pin


class PlainLed:
    def __init__(self, pin):
        self.pin = Pin(pin, Pin.OUT, value=0)

    def set(self, r, g, b):
        self.pin.value(1 if (r or g or b) else 0)


class Ws2812:
    def __init__(self, pin, count=1):
        import neopixel  # frozen into the ESP32 and RP2 firmware
        self.np = neopixel.NeoPixel(Pin(pin, Pin.OUT), count)
        self.count = count

    def set(self, r, g, b):
        for i in range(self.count):
            self.np[i] = (r, g, b)
        self.np.write()

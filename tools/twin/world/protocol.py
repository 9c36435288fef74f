"""The wire between the VM's `machine` shim (rom/rom_world.py) and the world.

Each VM connection starts with one text line naming its channel:
    bus SESSION\\n    requests from the VM's main thread, answered in order; SESSION names the VM's boot
    events\\n         the world pushes 4-byte events (pin edges, timers) to the VM's IRQ thread;
                    the first is EV_READY, once the world will deliver to this channel
    i2s {json}\\n     one I2S stream: RX samples flow to the VM, TX samples from it
    control\\n        JSON lines from the supervisor (world control)

A bus request is a 6-byte header: op, a, b, c, length (u16 LE), then `length`
payload bytes. Ops marked "reply" get one status byte (0: OK, else one of the
ST_ codes) followed, when OK, by the reply data the op defines.
The same numbers are written out in rom/rom_world.py (MicroPython cannot import this).
"""

HEADER = 6

I2C_OPEN = 1  # a=id, payload: scl, sda (u8 each) -> reply: bus handle (u8)
I2C_WRITE = 2  # a=handle, b=addr, c=stop; payload data -> reply
I2C_READ = 3  # a=handle, b=addr, c=stop; payload: n (u16) -> reply: n bytes
I2C_WRITE_READ = 4  # a=handle, b=addr; payload: n (u16), bytes to write -> reply: n bytes
I2C_SCAN = 5  # a=handle -> reply: count, then addresses
SPI_OPEN = 8  # a=id, payload: sck, mosi, miso -> reply: handle
SPI_XFER = 9  # a=handle, b=cs pin (255: none held low); payload data -> reply: len bytes read
PIN_MODE = 16  # a=pin, b=mode (PM_*), c=pull (PULL_*) -> reply: status
PIN_SET = 17  # a=pin, b=value -> reply: status
PIN_GET = 18  # a=pin -> reply: 1 byte
PIN_IRQ = 19  # a=pin, b=trigger mask (EDGE_*); 0 disables
BITSTREAM = 20  # a=pin; payload: 4 x u32 timing (ns), then data bytes -> reply: status once sent
PWM_SET = 21  # a=pin; payload: freq (u32), duty_u16 (u16); freq 0 stops
ADC_READ = 24  # a=pin -> reply: microvolts at the pin (u32)
TIMER = 28  # a=slot, b=mode (0 one-shot, 1 periodic, 255 stop); payload: period (u32, us)
WAKE = 29  # the world answers with an EV_WAKE event (wakes the VM's IRQ thread)

ST_OK = 0
ST_NACK_ADDR = 1  # no device acknowledged the address
ST_NACK_DATA = 2  # the device refused a data byte
ST_BAD = 3  # a request the world cannot parse

PM_IN = 0
PM_OUT = 1
PM_OPEN_DRAIN = 2
PM_ALT = 3
PM_ANALOG = 4
PULL_NONE = 0
PULL_UP = 1
PULL_DOWN = 2

EDGE_RISING = 1
EDGE_FALLING = 2

EV_PIN = 1  # a=pin, b=edge (EDGE_*), c=level after the edge
EV_TIMER = 2  # a=slot
EV_WAKE = 3
EV_READY = 4  # first on the events channel: events from now on reach the VM

# Pins on the wire are one byte; names map to numbers above the GPIOs.
PIN_NAMES = {"LED": 64, "WL_GPIO0": 64, "WL_GPIO1": 65, "WL_GPIO2": 66}


def pin_number(pin):
    """The wire number of a pin as a board definition names it (int, "GPn" or "LED")."""
    if isinstance(pin, int):
        return pin
    if isinstance(pin, str):
        if pin in PIN_NAMES:
            return PIN_NAMES[pin]
        if pin.startswith("GP") and pin[2:].isdigit():
            return int(pin[2:])
    raise ValueError(f"unknown pin {pin!r}")

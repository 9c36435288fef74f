"""Watchdog, deep sleep, a dying world, and board definitions the twin refuses."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from pocket_agent.boards import catalog
from pocket_agent.errors import PocketError

from .. import mpy
from .conftest import mpremote


@pytest.mark.parametrize("board", ["pico2w", "esp32s3-devkitc"])
def test_a_starved_watchdog_resets_the_board(start_twin, board):
    twin = start_twin(board)
    # Fed, it keeps the board up; a soft reset does not stop it (as on hardware).
    out = mpremote(twin.port, "exec", (
        "import machine, time\nw = machine.WDT(timeout=400)\n"
        "for i in range(8):\n    time.sleep_ms(100)\n    w.feed()\nprint('alive')\n"
    ))
    assert out == "alive\n"
    st = twin.status()
    boots = st["boots"]
    assert st["reset_cause"] == "power" and st["wdt_timeout_s"] == 0.4  # no reset while it was fed
    st = twin.wait_port(timeout=5, boots=boots)  # nobody feeds it at the REPL
    assert st["reset_cause"] == "wdt"
    assert "watchdog" in twin.messages()
    assert mpremote(twin.port, "exec", "import machine; print(machine.reset_cause() == machine.WDT_RESET)") == "True\n"
    assert twin.status()["wdt_timeout_s"] is None  # a reset stops the watchdog


def test_esp32_deepsleep_ends_in_a_reset_with_its_cause(start_twin):
    twin = start_twin("esp32s3-devkitc")
    boots = twin.status()["boots"]
    mpremote(twin.port, "exec", "import machine; machine.deepsleep(600)", check=False, timeout=10)
    st = twin.status()
    assert st["vm_state"] == "deepsleep" and st["port"] is None  # the chip and its USB are off
    twin.wait_port(timeout=5, boots=boots)
    out = mpremote(twin.port, "exec", "import machine; print(machine.reset_cause(), machine.wake_reason())")
    assert out == "4 4\n"  # DEEPSLEEP_RESET, TIMER_WAKE


def test_rp2_deepsleep_is_lightsleep_then_a_reset(start_twin):
    twin = start_twin("pico2w")
    boots = twin.status()["boots"]
    mpremote(twin.port, "exec", "import machine; machine.deepsleep(300)", check=False, timeout=10)
    twin.wait_port(timeout=5, boots=boots)
    out = mpremote(twin.port, "exec", "import machine; print(machine.reset_cause(), hasattr(machine, 'DEEPSLEEP_RESET'))")
    assert out == "3 False\n"  # the RP2 port resets through the watchdog and has no deep-sleep cause


def test_a_world_that_dies_stops_the_twin_with_an_error(start_twin):
    twin = start_twin("pico2w")
    os.kill(twin.info["world_pid"], signal.SIGKILL)
    assert twin.proc.wait(10) != 0
    assert "world process died" in twin.messages()


def _write_board(tmp_path, change):
    data = json.loads(catalog.load("pico2w").path.read_text())
    change(data)
    path = tmp_path / "board.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("change, words", [
    (lambda d: d["parts"].append({"name": "lcd", "part": "st7789", "bus": "i2c0", "addr": 60}),
     ["parts[9] (lcd)", "unknown part 'st7789'"]),
    (lambda d: d["parts"][1].update(addr=0x50), ["parts[1] (env)", "bad address 80", "0x76 or 0x77"]),
    (lambda d: d["parts"][0].update(bus="i2s_mic"), ["parts[0] (display)", "not an I2C bus"]),
    (lambda d: d["parts"].append({"name": "env2", "part": "bme280", "bus": "i2c0", "addr": 118}),
     ["parts[9] (env2)", "0x76 on i2c0 is taken by env"]),
    (lambda d: d["parts"][5].pop("pin"), ["parts[5] (button)", "'pin' missing"]),
    (lambda d: d["buses"]["i2c0"].pop("sda"), ["buses.i2c0", "'sda' missing"]),
])
def test_bad_wiring_names_the_file_and_the_entry(tmp_path, change, words):
    path = _write_board(tmp_path, change)
    with pytest.raises(PocketError) as info:
        catalog.load_file(path)
    assert str(path) in str(info.value)
    for w in words:
        assert w in str(info.value)


def test_world_control_errors_are_clear(start_twin, state_dir):
    twin = start_twin("pico2w")
    with pytest.raises(PocketError) as info:
        twin.world.press("nope")
    assert "no button named 'nope'" in str(info.value) and "button2" in str(info.value)
    with pytest.raises(PocketError) as info:
        twin.world.environment(temperature=200)
    assert "outside the BME280's range" in str(info.value)
    with pytest.raises(PocketError) as info:
        twin.world.mic_play(state_dir / "missing.wav")
    assert "cannot read WAV" in str(info.value)
    out = subprocess.run([sys.executable, "-m", "pocket_agent.cli", "sim", "ctl", "environment", "humidity=55",
                          "--state-dir", str(state_dir)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and json.loads(out.stdout)["humidity"] == 55.0
    assert twin.status()["vm_state"] == "running"


def test_garbage_on_the_world_socket_does_not_take_it_down(start_twin):
    import random
    import socket
    import struct

    twin = start_twin("pico2w")
    rng = random.Random(3)
    addr = twin.info["world_socket"]
    with socket.socket(socket.AF_UNIX) as s:  # well-formed requests with nonsense in them
        s.settimeout(5)
        s.connect(addr)
        s.sendall(b"bus\n")
        for op, status in ((2, b"\x01"), (3, b"\x01"), (4, b"\x01"), (99, b"\x03"), (3, b"\x01")):
            s.sendall(struct.pack("<BBBBH", op, 200, 0x50, 0, 2) + b"\x04\x00")  # I2C handle 200: none
            assert s.recv(1) == status  # NACK, or "bad request"; never silence
    for channel in (b"bus\n", b"control\n", b"i2s {not json\n", b"events\n", b"what\n"):
        with socket.socket(socket.AF_UNIX) as s:  # then plain garbage on every channel
            s.connect(addr)
            s.sendall(channel + bytes(rng.getrandbits(8) for _ in range(3000)))
    out = mpremote(twin.port, "exec", "import machine\nprint(machine.I2C(0, scl=5, sda=4).scan())")
    assert out == "[60, 104, 118]\n"
    assert twin.world.environment()["temperature"] == 22.0
    assert twin.proc.poll() is None


def test_parts_keep_running_through_an_mcu_reset_but_not_a_power_cut(start_twin):
    twin = start_twin("pico2w")
    init = ",".join(str(c) for c in (0xAE, 0x20, 0x00, 0xA1, 0xC8, 0xDA, 0x12, 0x81, 0xFF, 0x8D, 0x14, 0xAF, 0xA5))
    mpremote(twin.port, "exec", "import machine\ni2c = machine.I2C(0, scl=5, sda=4)\n"
             f"for c in ({init},):\n    i2c.writeto(60, bytes((0x80, c)))\n"
             "machine.Pin('LED', machine.Pin.OUT).on()")
    lit = sum(map(sum, twin.world.display_pixels()))
    assert lit == 128 * 64 and twin.world.led()["on"]  # entire display on, LED on
    boots = twin.status()["boots"]
    twin.control("reset")
    twin.wait_port(boots=boots)
    # The MCU reset: its pins float again (LED off), the OLED has its own supply and keeps showing.
    assert sum(map(sum, twin.world.display_pixels())) == lit and not twin.world.led()["on"]
    boots = twin.status()["boots"]
    twin.control("power_cut")
    twin.wait_port(boots=boots)
    assert sum(map(sum, twin.world.display_pixels())) == 0  # the OLED powers up off


def test_a_vm_asking_for_an_event_as_it_boots_gets_it_from_a_late_world(monkeypatch):
    # Under load the world's thread for the VM's event channel can start after the VM has
    # connected (the listen backlog accepts for it) and already asked for an event, as a
    # non-blocking I2S write in the first lines of code does: that event must not be lost.
    from pocket_agent.tools.twin import vm
    from pocket_agent.tools.twin.world import server
    from pocket_agent.tools.twin.world.model import World

    def late_events(world, sock, on_time=server.serve_events):
        time.sleep(0.3)
        on_time(world, sock)

    monkeypatch.setattr(server, "serve_events", late_events)
    world = World(catalog.load("pico2w"))
    name = f"pocket-test-late-world-{os.getpid()}"
    with socket.socket(socket.AF_UNIX) as srv:
        srv.bind("\0" + name)
        srv.listen()

        def accept():
            while True:
                try:
                    conn, _ = srv.accept()
                except OSError:
                    return
                threading.Thread(target=server.serve, args=(world, conn), daemon=True).start()

        threading.Thread(target=accept, daemon=True).start()
        out = mpy.run(f"""import time, rom_world
rom_world.start({name!r})
rom_world.wake()
t0 = time.ticks_ms()
while not rom_world.woken[0] and time.ticks_diff(time.ticks_ms(), t0) < 2000:
    time.sleep_ms(5)
print(rom_world.woken[0])
""", path=(vm.ROM_DIR,), timeout=20)
    assert out == "1\n"

"""Starting, stopping, resetting and unplugging twins; and what users get wrong."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from pocket_agent.errors import PocketError
from pocket_agent.tools.twin import control, launcher

from .conftest import Port, friendly_prompt, mpremote, pid_alive


def pocket(*args, timeout=30):
    return subprocess.run([sys.executable, "-m", "pocket_agent.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_json_names_port_pids_and_state(start_twin, state_dir):
    twin = start_twin("esp32s3-devkitc")
    info = twin.info
    assert info["port"].startswith("/dev/pts/") and os.readlink(info["link"]) == info["port"]
    assert info["state_dir"] == str(state_dir / "twins" / "esp32s3-devkitc")
    assert pid_alive(info["pid"]) and pid_alive(info["vm_pid"])


def test_sigterm_stops_cleanly(start_twin):
    twin = start_twin()
    vm_pid = twin.info["vm_pid"]
    assert twin.stop() == 0
    assert not os.path.exists(twin.link)
    assert not os.path.exists(twin.info["control"])
    deadline = time.monotonic() + 2
    while pid_alive(vm_pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not pid_alive(vm_pid)


def test_ctrl_c_stops_cleanly(start_twin):
    twin = start_twin()
    twin.proc.send_signal(signal.SIGINT)
    assert twin.proc.wait(5) == 0
    assert not os.path.exists(twin.link)


def test_unknown_board_lists_the_known_ones(state_dir):
    out = pocket("sim", "--board", "esp8266", "--state-dir", str(state_dir))
    assert out.returncode == 2
    assert "unknown board 'esp8266'" in out.stderr and "pico2w" in out.stderr and "esp32s3-devkitc" in out.stderr
    assert "Traceback" not in out.stderr


def test_second_twin_on_the_same_state_is_refused(start_twin, state_dir):
    first = start_twin()
    with pytest.raises(PocketError) as info:
        launcher.start("pico2w", state_dir=state_dir)
    assert "already running" in str(info.value) and "--name" in str(info.value)
    second = start_twin(name="pico2w-b")
    mpremote(first.port, "exec", "open('who.txt','w').write('first')")
    assert mpremote(second.port, "exec", "import os; print(os.listdir())") == "[]\n"
    assert mpremote(first.port, "fs", "cat", ":who.txt").endswith("first")


def test_exception_in_boot_py_leaves_the_repl_reachable(twin):
    mpremote(twin.port, "exec", "f=open('boot.py','w'); f.write('x = 1\\nraise RuntimeError(\"boot broke\")\\n'); f.close();"
             "f=open('main.py','w'); f.write('print(\"main ran\")\\n'); f.close()")
    twin.control("reset")
    twin.wait_port()
    p = Port(twin.port)
    try:
        friendly_prompt(p)
        p.send(b"\x04")
        out = p.expect(b">>> ")
    finally:
        p.close()
    assert b'Traceback (most recent call last):\r\n  File "boot.py", line 2, in <module>\r\nRuntimeError: boot broke\r\n' in out
    # ESP32 skips main.py when boot.py fails; the rp2 port runs it anyway.
    assert (b"main ran" in out) == (twin.info["board"] == "pico2w")
    assert mpremote(twin.port, "exec", "print('still here')") .endswith("still here\n")


def test_main_py_that_swallows_ctrl_c(start_twin):
    twin = start_twin()
    mpremote(twin.port, "exec", (
        "f = open('main.py', 'w')\n"
        "f.write('import time\\nwhile True:\\n    try:\\n        time.sleep_ms(10)\\n    except KeyboardInterrupt:\\n        print(\"no\")\\n')\n"
        "f.close()"
    ))
    boots = twin.status()["boots"]
    twin.control("reset")
    twin.wait_port(boots=boots)
    p = Port(twin.port)
    try:
        for _ in range(100):  # as a user would: Ctrl-C until main.py is there to catch it
            p.send(b"\x03")
            if b"no\r\n" in p.quiet(0.1):
                break
        else:
            raise AssertionError("main.py never caught Ctrl-C")
        p.send(b"\x03\x01")
        assert b"raw REPL" not in p.quiet(0.5)  # main.py keeps the board; Ctrl-C cannot get in
    finally:
        p.close()
    # A hard reset still works, and booting in safe mode skips boot.py and main.py.
    boots = twin.status()["boots"]
    twin.control("reset", safe=True)
    twin.wait_port(boots=boots)
    mpremote(twin.port, "resume", "fs", "rm", ":main.py")
    boots = twin.status()["boots"]
    twin.control("reset")
    twin.wait_port(boots=boots)  # as after every reset: the port goes away while the board boots
    assert mpremote(twin.port, "exec", "print('recovered')") == "recovered\n"


def test_power_cut_reboots_from_scratch(twin):
    mpremote(twin.port, "exec", "f = open('kept.txt', 'w'); f.write('flushed'); f.close(); open('lost.txt','w').write('x' * 100)")
    boots = twin.status()["boots"]
    twin.control("power_cut")
    st = twin.wait_port(boots=boots)
    assert st["reset_cause"] == "power"
    out = mpremote(twin.port, "exec", "import os, machine; print(open('kept.txt').read(), machine.reset_cause())")
    assert out == "flushed 1\n"


def test_unplug_keeps_the_board_running(twin):
    p = Port(twin.port)
    friendly_prompt(p)
    p.send(b"import time\rt0 = time.ticks_ms()\r")
    p.expect(b">>> ")
    p.close()
    twin.control("unplug")
    assert not os.path.exists(twin.link)
    time.sleep(0.2)
    twin.control("replug")
    twin.wait_port()
    p = Port(twin.port)
    try:
        p.send(b"time.ticks_diff(time.ticks_ms(), t0) >= 200\r")
        assert p.expect(b">>> ", timeout=5).endswith(b"True\r\n>>> ")
    finally:
        p.close()


def test_a_stopped_twin_never_hangs_its_caller(start_twin):
    twin = start_twin()
    os.kill(twin.info["pid"], signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        with pytest.raises(PocketError) as info:
            twin.control("status", timeout=0.5)
        assert "did not answer" in str(info.value)
        assert time.monotonic() - t0 < 2
    finally:
        os.kill(twin.info["pid"], signal.SIGCONT)


def test_control_of_a_twin_that_is_not_running(state_dir):
    with pytest.raises(PocketError) as info:
        control.call("nobody", "status", state_dir=state_dir)
    assert "no twin named 'nobody' is running" in str(info.value)
    out = pocket("sim", "ctl", "status", "--name", "nobody", "--state-dir", str(state_dir))
    assert out.returncode == 2 and "pocket sim --board" in out.stderr and "Traceback" not in out.stderr


def test_ctl_command_line(start_twin, state_dir):
    twin = start_twin()
    out = pocket("sim", "ctl", "status", "--state-dir", str(state_dir))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["port"] == twin.status()["port"]
    out = pocket("sim", "ctl", "faults", "to_board={\"baud\": 115200}", "--state-dir", str(state_dir))
    assert json.loads(out.stdout)["to_board"]["baud"] == 115200


def test_bootloader_then_erase_flash(twin):
    mpremote(twin.port, "exec", "f = open('data.txt', 'w'); f.write('x'); f.close()")
    twin.control("bootloader")
    st = twin.status()
    assert st["vm_state"] == "bootloader"
    boots = st["boots"]
    twin.control("erase_flash")
    st = twin.wait_port(boots=boots)
    assert st["reset_cause"] == "power"
    listing = mpremote(twin.port, "exec", "import os; print(os.listdir())")
    assert listing == ("['boot.py']\n" if twin.info["board"] != "pico2w" else "[]\n")

"""The twin's console, byte for byte as MicroPython's pyexec and readline produce it."""

import contextlib
import hashlib
import os
import re
import signal
import subprocess
import sys
import time

from .conftest import Port, friendly_prompt, mpremote

BANNER = re.compile(
    rb"MicroPython v\d+\.\d+\.\d+(-\w+)? on \d{4}-\d\d-\d\d; ([^\r\n]+)\r\n"
    rb'Type "help\(\)" for more information\.\r\n>>> $'
)


def test_banner_names_the_board(twin, port):
    port.send(b"\x02")
    out = port.expect(b">>> ")
    m = BANNER.search(out)
    assert m, out
    assert m.group(2).decode() == _machine(twin)


def _machine(twin):
    from pocket_agent.boards import catalog

    return catalog.load(twin.info["board"]).machine


def test_friendly_prompt_keys(port):
    friendly_prompt(port)
    port.send(b"\r")
    assert port.expect(b">>> ") == b"\r\n>>> "
    port.send(b"abc\x03")
    assert port.expect(b">>> ") == b"abc\r\n>>> "
    port.send(b"1+1\r")
    assert port.expect(b">>> ") == b"1+1\r\n2\r\n>>> "
    port.send(b"\x05")
    assert port.expect(b"=== ") == b"\r\npaste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== "
    port.send(b"for i in range(2):\r    print(i * 7)\r\x04")
    assert port.expect(b">>> ") == b"for i in range(2):\r\n===     print(i * 7)\r\n=== \r\n0\r\n7\r\n>>> "


def test_friendly_compound_statement_and_auto_indent(port):
    friendly_prompt(port)
    port.send(b"def f(x):\r")
    assert port.expect(b"...     ") == b"def f(x):\r\n...     "
    port.send(b"return x * 2\r\r\r\r")
    port.expect(b">>> ")
    port.send(b"f(21)\r")
    assert port.expect(b">>> ").endswith(b"42\r\n>>> ")


def test_errors_print_as_on_a_board(port):
    friendly_prompt(port)
    port.send(b"1/0\r")
    out = port.expect(b">>> ")
    assert out == (
        b"1/0\r\nTraceback (most recent call last):\r\n"
        b'  File "<stdin>", line 1, in <module>\r\nZeroDivisionError: divide by zero\r\n>>> '
    )


def test_raw_repl_protocol(port):
    friendly_prompt(port)
    port.send(b"\x01")
    assert port.expect(b">") == b"\r\nraw REPL; CTRL-B to exit\r\n>"
    port.send(b"print('out')\x04")
    assert port.expect(b">") == b"OKout\r\n\x04\x04>"
    port.send(b"import sys\nprint('x')\nraise ValueError('bad')\x04")
    out = port.expect(b"\x04>")
    assert out == (
        b"OKx\r\n\x04Traceback (most recent call last):\r\n"
        b'  File "<stdin>", line 3, in <module>\r\nValueError: bad\r\n\x04>'
    )
    port.send(b"garbage\x03print(5)\x04")  # Ctrl-C clears the line
    assert port.expect(b">") == b"OK5\r\n\x04\x04>"
    port.send(b"\x01")
    assert port.expect(b">") == b"raw REPL; CTRL-B to exit\r\n>"
    port.send(b"\x02")
    assert BANNER.search(port.expect(b">>> "))


def test_raw_paste_flow_control(port):
    friendly_prompt(port)
    port.send(b"\x01")
    port.expect(b"raw REPL; CTRL-B to exit\r\n>")
    port.send(b"\x05A\x01")
    assert port.expect(b"\x80\x00\x01", timeout=5) == b"R\x01\x80\x00\x01"
    lines = [f"v{i} = {i}\n".encode() for i in range(60)]
    code = b"".join(lines) + b"print(sum([v0, v59]), len(globals()) > 60)\n"
    assert len(code) > 4 * 128
    # The host may send one window beyond what the board has acknowledged.
    sent, allowed = 0, 2 * 128
    acks = 0
    while sent < len(code):
        n = min(allowed - sent, len(code) - sent)
        if n > 0:
            port.send(code[sent:sent + n])
            sent += n
        else:
            got = port.expect(b"\x01")
            assert got == b"\x01", got
            acks += 1
            allowed += 128
    port.send(b"\x04")
    rest = port.expect(b"\x04>", timeout=5)
    acks += rest.count(b"\x01")
    assert rest.replace(b"\x01", b"") == b"\x0459 True\r\n\x04\x04>"
    assert acks == len(code) // 128


def test_raw_paste_syntax_error(port):
    friendly_prompt(port)
    port.send(b"\x01")
    port.expect(b">")
    port.send(b"\x05A\x01")
    port.expect(b"R\x01\x80\x00\x01")
    port.send(b"x = (\x04")
    out = port.expect(b"\x04>")
    assert out.startswith(b"\x04\x04Traceback") and b"SyntaxError" in out


def test_ctrl_c_interrupts_raw_paste_code(port):
    friendly_prompt(port)
    port.send(b"\x01")
    port.expect(b">")
    port.send(b"\x05A\x01")
    port.expect(b"R\x01\x80\x00\x01")
    port.send(b"print('looping')\nwhile True:\n    pass\n\x04")
    port.expect(b"looping\r\n")
    port.send(b"\x03")
    out = port.expect(b"\x04>", timeout=5)
    assert out.startswith(b"\x04Traceback") and b"KeyboardInterrupt: \r\n\x04>" in out
    port.send(b"print('alive')\x04")
    assert port.expect(b">") == b"OKalive\r\n\x04\x04>"


def test_ctrl_c_interrupts_a_busy_main_py(twin, port):
    mpremote(twin.port, "exec", "open('main.py','w').write('print(\"main running\")\\nwhile True:\\n    pass\\n')")
    friendly_prompt(port)
    port.send(b"\x04")
    port.expect(b"main running\r\n")
    port.send(b"\x03")
    out = port.expect(b">>> ")
    # Line 1 too: the print's text can reach the host before its line has finished running.
    assert re.search(rb'File "main.py", line [123], in <module>\r\nKeyboardInterrupt: \r\n', out), out
    assert BANNER.search(out)
    mpremote(twin.port, "fs", "rm", ":main.py")


def test_soft_reset_runs_boot_then_main_only_in_friendly_mode(twin, port):
    mpremote(twin.port, "exec", "open('boot.py','w').write('print(\"BOOT\")\\n');"
             "open('main.py','w').write('print(\"MAIN\")\\n')")
    friendly_prompt(port)
    port.send(b"x = 5\r")
    port.expect(b">>> ")
    port.send(b"\x04")
    out = port.expect(b">>> ")
    assert out.startswith(b"\r\nMPY: soft reboot\r\nBOOT\r\nMAIN\r\nMicroPython ")
    port.send(b"'x' in globals()\r")
    assert port.expect(b">>> ").endswith(b"False\r\n>>> ")  # a soft reset clears the heap
    port.send(b"\x01")
    port.expect(b">")
    port.send(b"\x04")
    out = port.expect(b"raw REPL; CTRL-B to exit\r\n>")
    assert out == b"OK\r\nMPY: soft reboot\r\nBOOT\r\nraw REPL; CTRL-B to exit\r\n>"


def test_print_is_crlf_but_buffers_are_binary(port):
    friendly_prompt(port)
    port.send(b"\x01")
    port.expect(b">")
    every = bytes(range(256))
    port.send(b"import sys\nprint('a\\nb')\nsys.stdout.write('c\\n')\nsys.stdout.buffer.write(bytes(range(256)))\x04")
    out = port.expect(b"\x04\x04>")
    assert out == b"OKa\r\nb\r\nc\r\n" + every + b"\x04\x04>"
    # stdin.buffer: every byte value reaches the code once Ctrl-C is released, as mpremote mount does.
    port.send(b"import sys, micropython, hashlib\nmicropython.kbd_intr(-1)\n"
              b"d = sys.stdin.buffer.read(256)\nmicropython.kbd_intr(3)\n"
              b"print(hashlib.sha256(d).digest().hex())\x04")
    port.expect(b"OK")
    port.send(every)
    out = port.expect(b"\x04\x04>")
    assert out == hashlib.sha256(every).hexdigest().encode() + b"\r\n\x04\x04>"
    assert b"\r\r\n" not in out


def test_board_hides_the_host(twin):
    out = mpremote(twin.port, "exec", (
        "import os, sys\n"
        "print(os.listdir('/'))\n"
        "print(sys.platform, hasattr(os, 'system'), hasattr(os, 'getenv'))\n"
        "try:\n    open('/etc/passwd')\nexcept OSError as e:\n    print('no host files', e.errno)\n"
        "print(sys.path, os.getcwd())\n"
    ))
    lines = out.splitlines()
    assert lines[1] == ("rp2" if twin.info["board"] == "pico2w" else "esp32") + " False False"
    assert lines[2] == "no host files 2"
    assert lines[3] == "['', '.frozen', '/lib'] /"


def test_heap_is_capped_to_the_budget(twin):
    from pocket_agent.boards import catalog

    budget = catalog.load(twin.info["board"]).heap_budget
    out = mpremote(twin.port, "exec", (
        "import gc\ngc.collect()\nprint(gc.mem_free())\n"
        f"try:\n    b = bytearray({budget + 64 * 1024})\nexcept MemoryError:\n    print('MemoryError')\n"
    ))
    free, result = out.split()
    # the app gets its whole budget, and not much more (supervisor.ROM_HEAP)
    assert budget <= int(free) <= budget + 4096
    assert result == "MemoryError"


def test_code_that_leaves_the_heap_locked_still_gets_its_traceback(twin, port):
    friendly_prompt(port)
    port.send(b"import micropython\rmicropython.heap_lock(); 1/0\r")
    out = port.expect(b"ZeroDivisionError: divide by zero\r\n>>> ")
    assert b"Traceback" in out
    port.send(b"[1] * 3\r")
    assert port.expect(b">>> ").endswith(b"[1, 1, 1]\r\n>>> ")


def test_timers_run_while_the_repl_waits(twin, port):
    friendly_prompt(port)
    port.send(b"import machine\rticks = []\rt = machine.Timer(0 if sys.platform == 'esp32' else -1)\r"
              .replace(b"sys.platform", b"__import__('sys').platform"))
    port.expect(b">>> ")
    port.send(b"t.init(period=20, mode=machine.Timer.PERIODIC, callback=lambda _: ticks.append(1))\r")
    port.expect(b">>> ")
    port.quiet(0.5)  # the REPL sits waiting for a line
    port.send(b"t.deinit(); len(ticks) >= 10\r")
    assert port.expect(b">>> ").endswith(b"True\r\n>>> ")


@contextlib.contextmanager
def raw_repl(twin):
    port = Port(twin.port)
    try:
        friendly_prompt(port)
        port.send(b"\x01")
        port.expect(b">")
        yield port
    finally:
        port.close()


def answers(port):
    port.send(b"print(6 * 7)\x04")
    return port.expect(b"\x04>", timeout=10) == b"OK42\r\n\x04\x04>"


def test_ctrl_c_inside_the_garbage_collector_keeps_the_port_and_the_repl(start_twin):
    # The unix port raises Ctrl-C from its signal handler wherever the VM is, in
    # the middle of a collection too, which leaves the heap unusable; a board
    # raises it at a safe point and never dies of it. Nearly all of this loop's
    # time is spent collecting, so nearly every Ctrl-C lands there.
    twin = start_twin("pico2w")
    with raw_repl(twin) as port:
        for i in range(6):
            port.send(b"import gc\nkeep = [None] * 1500\nfor i in range(1500):\n    keep[i] = [i]\n"
                      b"print('collecting')\nwhile True:\n    gc.collect()\n\x04")
            port.expect(b"OKcollecting\r\n", timeout=10)
            time.sleep(0.02 * i)
            port.send(b"\x03")
            out = port.expect(b"\x04>", timeout=10)
            assert b"KeyboardInterrupt: \r\n\x04" in out, out
            assert answers(port)
    assert "Ctrl-C landed inside the VM's garbage collector" in twin.messages()
    assert "resetting it" not in twin.messages()


def test_a_vm_that_dies_just_after_a_ctrl_c_comes_back_in_the_same_repl(start_twin):
    # However the unix port dies of a Ctrl-C (a crash, a deadlock), the host sees
    # what a board shows: the interrupted code's end, then the same REPL, same port.
    twin = start_twin("esp32s3-devkitc")
    with raw_repl(twin) as port:
        port.send(b"print('looping')\nwhile True:\n    pass\n\x04")
        port.expect(b"OKlooping\r\n")
        port.send(b"\x03")
        port.expect(b"\x04>")
        os.kill(twin.status()["vm_pid"], signal.SIGKILL)
        assert port.expect(b">", timeout=10) == b"\x04KeyboardInterrupt: \r\n\x04>"
        assert answers(port)
    assert "a Ctrl-C stopped the VM at an unsafe moment" in twin.messages()


def test_a_deadlock_is_told_from_a_wait():
    from pocket_agent.tools.twin.supervisor import _threads_on_futex

    locked = subprocess.Popen([sys.executable, "-c", "import threading; l = threading.Lock(); l.acquire(); l.acquire()"])
    sleeping = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.5)
        assert _threads_on_futex(locked.pid)
        assert not _threads_on_futex(sleeping.pid)
    finally:
        locked.kill()
        sleeping.kill()
        locked.wait()
        sleeping.wait()
    assert not _threads_on_futex(locked.pid)  # gone: nothing to read

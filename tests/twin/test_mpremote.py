"""Unmodified mpremote drives the twin: as a program and as a library."""

import os

import pytest
from mpremote.transport_serial import SerialTransport

from .conftest import mpremote


def test_exec_eval_run(twin, tmp_path):
    assert mpremote(twin.port, "exec", "print('hello', 6 * 7)") == "hello 42\n"
    assert mpremote(twin.port, "eval", "[1, 2] * 2") == "[1, 2, 1, 2]\n"
    script = tmp_path / "script.py"
    script.write_text("import sys\nprint('run on', sys.platform)\n")
    expect = "rp2" if twin.info["board"] == "pico2w" else "esp32"
    assert mpremote(twin.port, "run", str(script)) == f"run on {expect}\n"


def test_filesystem_commands(twin, tmp_path):
    tree = tmp_path / "app"
    (tree / "lib").mkdir(parents=True)
    (tree / "main.py").write_text("print('main')\n")
    (tree / "lib" / "util.py").write_bytes(bytes(range(256)) * 40)  # binary, several chunks
    p = twin.port
    mpremote(p, "fs", "cp", "-r", str(tree), ":")
    assert mpremote(p, "fs", "ls", ":app").split() == ["ls", ":app", "0", "lib/", "14", "main.py"]
    assert mpremote(p, "fs", "cat", ":app/main.py").endswith("print('main')\n")
    mpremote(p, "fs", "cp", ":app/lib/util.py", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == (tree / "lib" / "util.py").read_bytes()
    import hashlib

    digest = hashlib.sha256((tree / "lib" / "util.py").read_bytes()).hexdigest()
    assert digest in mpremote(p, "fs", "sha256sum", ":app/lib/util.py")
    mpremote(p, "fs", "mkdir", ":empty")
    assert "empty/" in mpremote(p, "fs", "ls", ":")
    mpremote(p, "fs", "rmdir", ":empty")
    mpremote(p, "fs", "rm", ":app/main.py")
    assert "main.py" not in mpremote(p, "fs", "ls", ":app")
    df = mpremote(p, "df").splitlines()
    assert df[0].split()[:3] == ["filesystem", "size", "used"]
    from pocket_agent.boards import catalog

    assert int(df[1].split()[1]) == catalog.load(twin.info["board"]).flash.fs_size


def test_soft_reset_and_reset(twin):
    mpremote(twin.port, "exec", "marker = 1")
    assert mpremote(twin.port, "resume", "exec", "print('marker' in globals())") == "True\n"
    mpremote(twin.port, "soft-reset")
    assert mpremote(twin.port, "resume", "exec", "print('marker' in globals())") == "False\n"
    boots = twin.status()["boots"]
    mpremote(twin.port, "reset")  # a soft reset to get the raw REPL, then machine.reset()
    st = twin.wait_port(boots=boots + 1)
    assert st["reset_cause"] in ("soft", "wdt")
    assert os.readlink(twin.port) == st["port"]
    assert os.path.exists(twin.port)
    cause = "5" if twin.info["board"] != "pico2w" else "3"  # SOFT_RESET on esp32, WDT_RESET on rp2
    assert mpremote(twin.port, "exec", "import machine; print(machine.reset_cause())") == cause + "\n"


def test_mount_a_host_folder(twin, tmp_path):
    tmp_path = tmp_path / "share"
    tmp_path.mkdir()
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "greet.py").write_text("def hi():\n    return 'hi from the host'\n")
    (tmp_path / "data.bin").write_bytes(bytes(range(256)) * 8)
    out = mpremote(twin.port, "mount", str(tmp_path), "exec", (
        "import os, hashlib\n"
        "from pkg import greet\n"
        "print(greet.hi())\n"
        "print(sorted(os.listdir('/remote')))\n"
        "print(hashlib.sha256(open('/remote/data.bin','rb').read()).digest().hex())\n"
        "open('/remote/made_on_board.txt','w').write('made')\n"
    ))
    lines = out.splitlines()
    assert "hi from the host" in lines
    assert "['data.bin', 'pkg']" in lines
    import hashlib

    assert hashlib.sha256(bytes(range(256)) * 8).hexdigest() in lines
    assert (tmp_path / "made_on_board.txt").read_text() == "made"


def test_mpremote_as_a_library(twin):
    t = SerialTransport(twin.port)
    try:
        t.enter_raw_repl(soft_reset=True)
        assert t.exec("print(1 + 1)") == b"2\r\n"
        t.exec("import os\ntry:\n    os.mkdir('lib')\nexcept OSError:\n    pass")
        t.fs_writefile("lib/x.py", b"VALUE = 7\n")
        assert t.eval("__import__('x').VALUE") == 7
        assert [e.name for e in t.fs_listdir("lib")] == ["x.py"]
        assert t.fs_readfile("lib/x.py") == b"VALUE = 7\n"
        with pytest.raises(Exception) as info:
            t.exec("raise OSError(28)")
        assert "OSError: 28" in str(info.value)
        t.exit_raw_repl()
    finally:
        t.close()

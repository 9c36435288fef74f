"""pocket deploy against running twins, checked through the twin's port."""

import hashlib
import threading

import pytest

from pocket_agent.errors import PocketError
from pocket_agent.tools.deploy import deploy, remote, sync

from .conftest import Port, board_files, friendly_prompt, mpremote

NO_MODELS = "/nonexistent"


def run(twin, app, **kw):
    kw.setdefault("models_dir", NO_MODELS)
    kw.setdefault("out", lambda *_: None)
    return deploy(twin.info["board"], twin.port, firmware_dir=app, state_dir=twin.state_dir, **kw)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def test_deploy_compiles_and_the_app_boots_from_mpy(start_twin, app):
    twin = start_twin("pico2w")
    result = run(twin, app)
    assert result.arch == "x64"  # the twin's VM, not the chip its definition names
    files = board_files(twin.port)
    assert set(files) == {"/boot.py", "/main.py", "/app.mpy", "/board.json", "/gadget/__init__.mpy",
                          "/gadget/fast.mpy", "/gadget/words.mpy", "/gadget/settings.json",
                          remote.MANIFEST}
    assert files["/main.py"] == sha((app / "main.py").read_bytes())
    assert files["/gadget/settings.json"] == sha((app / "gadget/settings.json").read_bytes())
    port = Port(twin.port)
    try:
        friendly_prompt(port)
        port.send(b"\x04")  # soft reset in the friendly REPL: boot.py, then main.py
        line = port.expect(b"\r\n", timeout=10) + port.expect(b"\r\n", timeout=10)
        while b"app:" not in line:
            line = port.expect(b"\r\n", timeout=10)
        assert b"app: 1.0 on pico2w, checksum" in line
        assert b"modules from app.mpy gadget/fast.mpy gadget/__init__.mpy" in line
    finally:
        port.close()


def test_redeploy_sends_exactly_the_changed_file(start_twin, app):
    twin = start_twin("esp32s3-devkitc")
    run(twin, app)
    before = twin.status()["bytes_to_board"]
    noop = run(twin, app)
    noop_bytes = twin.status()["bytes_to_board"] - before
    assert noop.plan.empty and noop.sent == noop_bytes  # every byte the twin got, counted by deploy

    (app / "gadget" / "settings.json").write_text('{"greeting": "hi", "volume": 3}\n')
    new = (app / "gadget" / "settings.json").read_bytes()
    before = twin.status()["bytes_to_board"]
    one = run(twin, app)
    one_bytes = twin.status()["bytes_to_board"] - before
    assert [op.path for op in one.plan.writes] == ["/gadget/settings.json"]
    assert not one.plan.deletes and one.plan.manifest_before is None and one.plan.manifest_after is None
    # Beyond the survey of a no-op deploy: the receiver program (raw-paste: \x05A\x01 ... \x04),
    # one write op (6-byte header, path, data) and the 6-byte quit op. Nothing else.
    receiver = len(remote.receive_code(sync.WINDOW)) + 4
    op = 6 + len(b"/gadget/settings.json") + len(new)
    assert one_bytes - noop_bytes == receiver + op + 6
    assert board_files(twin.port)["/gadget/settings.json"] == sha(new)


def test_power_cut_mid_deploy_is_repaired_by_the_next(start_twin, app):
    twin = start_twin("pico2w")
    run(twin, app)
    v1 = board_files(twin.port)
    # Version 2 changes every module; the big one makes the stream long enough to cut.
    for p in sorted(app.rglob("*.py")):
        p.write_text(p.read_text() + "\nVERSION_2 = True\n")
    (app / "gadget" / "extra.py").write_text("X = 1\n" * 2000)
    cut = {}

    def progress(done, total):
        if not cut and done > total // 3:
            cut["at"] = (done, total)
            twin.control("power_cut")

    with pytest.raises(PocketError) as info:
        run(twin, app, progress=progress)
    assert cut, "the stream ended before it could be cut"
    assert "lost the board" in info.value.message or "stopped answering" in info.value.message
    twin.wait_port(boots=twin.status()["boots"] - 1)

    # The filesystem mounts, and every file is whole: the old version, or absent.
    after_cut = board_files(twin.port)
    full = run(twin, app, dry_run=True)
    v2 = {op.path: sha(op.data) for op in full.plan.writes}
    v2.update({p: after_cut[p] for p in full.plan.unchanged})
    for path, digest in after_cut.items():
        if path.endswith(remote.TMP_SUFFIX) or path == remote.MANIFEST:
            continue
        assert digest in (v1.get(path), v2.get(path)), path

    repair = run(twin, app)
    assert repair.plan.writes, "the cut deploy cannot have finished"
    final = board_files(twin.port)
    assert not [p for p in final if p.endswith(remote.TMP_SUFFIX)]
    assert {p: final[p] for p in v2} == v2
    assert run(twin, app).plan.empty


def test_stale_files_go_user_files_stay_and_sources_no_longer_shadow(start_twin, app, tmp_path):
    twin = start_twin("pico2w")
    (tmp_path / "notes.txt").write_text("the user's own file\n")
    (tmp_path / "old_app.py").write_text("print('old app')\n")
    mpremote(twin.port, "fs", "cp", str(tmp_path / "notes.txt"), ":notes.txt")
    mpremote(twin.port, "fs", "cp", str(tmp_path / "old_app.py"), ":app.py")
    first = run(twin, app)
    assert [(op.path, op.why) for op in first.plan.deletes] == [("/app.py", "would hide /app.mpy")]
    (app / "gadget" / "words.py").unlink()
    (app / "app.py").write_text("def start():\n    print('app without words')\n")
    second = run(twin, app)
    assert [(op.path, op.why) for op in second.plan.deletes] == [("/gadget/words.mpy", "stale")]
    files = board_files(twin.port)
    assert "/notes.txt" in files and "/app.py" not in files and "/gadget/words.mpy" not in files


def test_not_enough_room_stops_before_writing(start_twin, app):
    twin = start_twin("pico2w")
    # Fill the flash until about 40 KiB are left: less than the app needs.
    mpremote(twin.port, "exec", (
        "import os\n"
        "b = bytearray(4096)\n"
        "with open('/filler', 'wb') as f:\n"
        "    while os.statvfs('/')[3] * 4096 > 40 * 1024:\n"
        "        f.write(b)\n"
    ), timeout=60)
    before = board_files(twin.port)
    with pytest.raises(PocketError) as info:
        run(twin, app)
    assert "not enough room" in info.value.message and "KiB short" in info.value.message
    assert "nothing was written" in info.value.message
    assert board_files(twin.port) == before


def test_dry_run_changes_nothing(start_twin, app):
    twin = start_twin("pico2w")
    before = board_files(twin.port)
    result = run(twin, app, dry_run=True)
    assert len(result.plan.writes) == 8 and result.dry_run
    assert board_files(twin.port) == before


def test_a_board_of_another_kind_is_refused(start_twin, app):
    twin = start_twin("pico2w")
    with pytest.raises(PocketError) as info:
        deploy("esp32s3-devkitc", twin.port, firmware_dir=app, models_dir=NO_MODELS, out=lambda *_: None)
    assert "runs MicroPython for rp2" in info.value.message and "not a ESP32-S3" in info.value.message


def test_deploy_the_project_firmware(start_twin):
    """Whatever firmware/ holds today compiles, deploys, and loads from .mpy on the twin.

    A module may still fail at import for reasons of its own (a peripheral the
    twin does not model yet); what deploy answers for is that every module is
    there and its .mpy loads: no "incompatible .mpy", no module missing.
    """
    twin = start_twin("esp32s3-devkitc")
    # reset=False: the app itself must not start here (it arms the board's watchdog, which a
    # soft reset by mpremote leaves running, and would reset the board in the middle of the check).
    result = deploy("esp32s3-devkitc", twin.port, state_dir=twin.state_dir, out=lambda *_: None, reset=False)
    modules = sorted(e.path for e in result.plan.writes if e.path.endswith(".mpy"))
    assert modules
    names = [m[1:-4].replace("/", ".").removesuffix(".__init__") for m in modules]
    code = (
        "import sys\n"
        f"for n in {names!r}:\n"
        "    try:\n"
        "        __import__(n)\n"
        "        print('ok', n, sys.modules[n].__file__)\n"
        "    except Exception as e:\n"
        "        print('err', n, type(e).__name__, e)\n"
    )
    lines = mpremote(twin.port, "exec", code, timeout=60).splitlines()
    assert len(lines) == len(names)
    for line in lines:
        assert ".mpy" not in line or line.startswith("ok"), line  # incompatible .mpy file/arch
        if line.startswith("ok"):
            assert line.endswith(".mpy"), line
        else:
            assert "no module named" not in line.lower() or not any(f"'{n}'" in line for n in names), line
    assert sum(line.startswith("ok") for line in lines) >= len(names) // 2, lines


def hold(port, *tag):
    import subprocess
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c", "import serial, sys, time; s = serial.Serial(sys.argv[1]); print('open', flush=True); "
         "time.sleep(30)", port, *tag], stdout=subprocess.PIPE)
    assert holder.stdout.readline() == b"open\n"
    return holder


def test_a_port_held_by_another_program_is_explained(start_twin, app):
    twin = start_twin("pico2w")
    holder = hold(twin.port, "serial-console")
    try:
        with pytest.raises(PocketError) as info:
            run(twin, app)
        assert f"is in use by pid {holder.pid}" in info.value.message and "serial-console" in info.value.message
        assert "close that program" in info.value.hint
    finally:
        holder.kill()
        holder.wait()


def test_a_bridge_that_does_not_lend_the_port_is_explained(start_twin, app):
    """A bridge process holds the port but no control socket answers for it."""
    twin = start_twin("pico2w")
    holder = hold(twin.port, "pocket-bridge")
    try:
        with pytest.raises(PocketError) as info:
            run(twin, app)
        assert f"held by the bridge (pid {holder.pid}" in info.value.message
        assert "pocket bridge status" in info.value.hint and "stop the bridge" in info.value.hint
    finally:
        holder.kill()
        holder.wait()

"""The firmware's heap on a 32-bit MicroPython, and an estimate for the real boards.

    .venv/bin/python bench/heap32.py [--board pico2w] [--model FILE.pwm]

The twin's VM (the unix port) is 64-bit; the boards are 32-bit. This runs the
boot path of main.py step by step in MicroPython's WebAssembly port (wasm32,
1.29) and in the unix port, with the same compiled firmware, board definition,
wake-word model and stand-ins for `machine` (tools/heap32), and prints per
step the heap it holds after a collection in both VMs, without and with the
wake word. Then it estimates each board's steady-state heap: the 32-bit
figure plus what the 32-bit VM cannot show (native code where the port keeps
it on the heap, the port's own I2S buffers, what the app allocates once it
runs), against the 60 % target.

Without --model it uses models/wakeword/hey_pocket.pwm if present, else an
untrained model of the shipped architecture (48 channels), which takes the
same memory.
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pocket_agent.boards import catalog  # noqa: E402
from pocket_agent.tools import heap32  # noqa: E402

SHIPPED_MODEL = ROOT / "models" / "wakeword" / "hey_pocket.pwm"
# rp2 (ports/rp2/machine_i2s.c): the I2S object (a 256-byte DMA buffer and
# some 80 bytes of fields) and a ring buffer of `ibuf` bytes, both from the
# heap. esp32: the DMA buffers come from ESP-IDF's heap, outside MicroPython's.
RP2_I2S_OBJECT = 352
# The wake word keeps its model file open (wakeword/modelfile.py). A LittleFS
# file object (extmod/vfs_lfsx_file.c) carries a cache of cache_size = 4 *
# max(readsize, progsize) bytes (extmod/vfs_lfsx.c) besides lfs2_file_t and
# its config (about 120 bytes on 32-bit). rp2's _boot.py mounts with
# progsize=256; esp32 mounts with the defaults (readsize = progsize = 32).
# The VMs here open it on their own file systems, with no such cache.
LFS_FILE = {"rp2": 4 * 256 + 120, "esp32": 4 * 32 + 120}


def model_bytes(path):
    if path:
        return Path(path).read_bytes(), str(path)
    if SHIPPED_MODEL.exists():
        return SHIPPED_MODEL.read_bytes(), str(SHIPPED_MODEL.relative_to(ROOT))
    return heap32.untrained_model(), "untrained, 48 channels, the shipped architecture (hey_pocket.pwm is not committed yet)"


IBUF = r'''
import json, main
board = json.loads(%r)
for p in board["parts"]:
    if "bus" in p and board["buses"][p["bus"]]["type"] == "i2s":
        print("@ibuf", p["bus"], p["part"], main.i2s_ibuf(main.bus_conf(p, board)))
'''
# Playback closes the amp's bus while nothing plays (drivers/max98357a.py
# sleep()): rp2 frees the ring buffer (mp_machine_i2s_deinit) and keeps the
# object, which the port holds for good (MP_STATE_PORT(machine_i2s_obj)).
CLOSED_AT_REST = ("max98357a",)


def i2s_ibufs(board):
    """[(bus, part, ibuf bytes)] as main.py sizes each I2S bus, asked of main.py in the VM."""
    import json
    from tests import mpy
    out = mpy.run(IBUF % json.dumps(board.raw), path=(mpy.FIRMWARE,))
    return [(w[1], w[2], int(w[3])) for w in (line.split() for line in out.splitlines()) if w[:1] == ["@ibuf"]]


def port_buffers(board):
    """(bytes the port allocates on the heap for the app's buses at rest, more
    while sound plays, a note)."""
    if board.port != "rp2":
        return 0, 0, "none on the heap (I2S DMA buffers are ESP-IDF's)"
    ibufs = i2s_ibufs(board)
    rest = sum(RP2_I2S_OBJECT + (0 if part in CLOSED_AT_REST else n) for _, part, n in ibufs)
    playing = sum(n for _, part, n in ibufs if part in CLOSED_AT_REST)
    sizes = ", ".join("%s %d%s" % (bus, n, " while sound plays" if part in CLOSED_AT_REST else "")
                      for bus, part, n in sorted(ibufs))
    return rest, playing, "%d I2S objects and ring buffers (ibuf bytes: %s)" % (len(ibufs), sizes)


RUNTIME = r'''
import gc
import link
from vmparts import make_app, step
app, loop = make_app()
now = [0]
def run(ms):
    end = now[0] + ms
    while now[0] < end:
        now[0] += 20
        step(app, loop, now[0])
def cycle(k):
    app.buttons[0].queue.append(1)
    run(400)
    app.buttons[0].queue.append(2)
    run(100)
    loop.host.send(link.type_of("display_text"), (0, 0, "An answer of a few words, cycle %d." % k), now[0])
    run(app.flow.hold_ms + 200)
loop.keep = False
gc.collect()
a0 = gc.mem_alloc()
for k in range(5):
    cycle(k)
gc.collect()
print("@runtime", gc.mem_alloc() - a0)
'''


def runtime_growth():
    """What the app holds after five listening cycles beyond what it held once
    built, in the 64-bit VM with real viper (tests/firmware/vmparts.py: the
    host's endpoint in the same VM counts too, so this is an upper bound)."""
    from tests import mpy
    out = mpy.run(RUNTIME, path=(mpy.FIRMWARE, ROOT / "tests" / "firmware", ".frozen"), heap="400K")
    return int(out.split("@runtime")[1].split()[0])


def kb(n):
    return "%.1f" % (n / 1024)


def table(board_name, plain, ww):
    a, b = ww["wasm32"], ww["unix64"]
    print(f"\n{board_name}: heap each step of the boot path holds, after a collection (KB)")
    print("%-22s %8s %8s %7s" % ("step", "32-bit", "64-bit", "64/32"))
    for x, y in zip(a.rows, b.rows):
        if x.step != y.step:
            raise RuntimeError("the two VMs took different steps: %s, %s" % (x.step, y.step))
        ratio = "%.2f" % (y.own / x.own) if x.own else "-"
        print("%-22s %8s %8s %7s" % (x.step, kb(x.own), kb(y.own), ratio))
    print("(part:* rows build each part alone, then release them all; build builds them for good)")
    print("%-22s %8s %8s %7s" % ("qstr tables", kb(a.qstr_pools), kb(b.qstr_pools),
                                 "%.2f" % (b.qstr_pools / a.qstr_pools)))
    print("(speaking: held only while the host's sound plays; the totals are the idle app's)")
    for label, s in (("total, no wake word", plain), ("total with wake word", ww)):
        x, y = s["wasm32"].idle, s["unix64"].idle
        print("%-22s %8s %8s %7.2f" % (label, kb(x), kb(y), y / x))


def estimate(board, plain, ww, runtime):
    """Print the estimate; returns {"no wake word"|"with wake word": (idle, speaking) bytes}."""
    budget = board.heap_budget
    out = {}
    port, port_playing, port_note = port_buffers(board)
    print(f"\n{board.name}: estimate of the board's steady-state heap ({budget // 1024} KB budget, target <= 60 %)")
    for label, s, with_ww in (("no wake word", plain, False), ("with wake word", ww, True)):
        measured = s["wasm32"].idle
        speaking = s["wasm32"].speaking
        native = heap32.native_code(board.mpy_arch, with_ww)
        on_heap = sum(native.values()) if board.port == "rp2" else 0
        open_file = LFS_FILE.get(board.port, 0) if with_ww else 0
        total = measured + on_heap + port + runtime + open_file
        print(f"  {label}:")
        print(f"    measured on 32-bit (imports, parts, app, tasks), idle  {kb(measured):>6} KB")
        where = "on the heap" if board.port == "rp2" else "in executable RAM outside the heap: not added"
        print(f"    native code for {board.mpy_arch} ({where}): "
              f"{kb(sum(native.values()))} KB more than bytecode  +{kb(on_heap):>5} KB")
        print(f"    the port's buffers: {port_note}  +{kb(port):>5} KB")
        if with_ww:
            print(f"    the open model file's LittleFS cache and state  +{kb(open_file):>5} KB")
        print(f"    run-time growth after boot (64-bit, an upper bound)  +{kb(runtime):>5} KB")
        print(f"    = {kb(total)} KB = {100 * total / budget:.1f} % of the budget, idle")
        print(f"    while the host's sound plays: the speaker's ring (32-bit)  +{kb(speaking):>5} KB")
        if port_playing:
            print(f"      and the amp's I2S ring buffer, open only while sound plays  +{kb(port_playing):>5} KB")
        idle = total
        total += speaking + port_playing
        print(f"    = {kb(total)} KB = {100 * total / budget:.1f} % of the budget, speaking")
        out[label] = (idle, total)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--board", action="append", help="board(s) (default: both reference boards)")
    ap.add_argument("--model", help="a .pwm model (default: see above)")
    args = ap.parse_args(argv)
    model, model_note = model_bytes(args.model)
    print(f"32-bit VM: MicroPython's wasm port ({heap32.PACKAGE}); 64-bit VM: the unix port (the twin's)")
    print(f"wake-word model: {model_note}, {len(model)} bytes")
    runtime = runtime_growth()
    for name in args.board or ["pico2w", "esp32s3-devkitc"]:
        board = catalog.load(name)
        plain = heap32.measure(name)
        ww = heap32.measure(name, model)
        print(f"\n32-bit: {ww['wasm32'].impl}\n64-bit: {ww['unix64'].impl}")
        table(name, plain, ww)
        estimate(board, plain, ww, runtime)
    return 0


if __name__ == "__main__":
    sys.exit(main())

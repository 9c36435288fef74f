"""The app's shell in the real MicroPython VM with a 200 KB heap: flows, bad
input from the host, confirmation, timers without a host, and heap use.
Only the far side of the buses is stood in for (tests/firmware/vmparts.py);
the same flows run on the twins in test_twin_app.py."""

import hashlib
import json

from pocket_agent.firmware import approval
from tests import mpy

VM_PATH = (mpy.FIRMWARE, mpy.ROOT / "tests" / "firmware", ".frozen")

PRELUDE = r'''
import gc, json, link
from vmparts import make_app, step
from app import states as S
T = link.type_of
app, loop = make_app()
now = [0]
def run(ms, frames=1):
    end = now[0] + ms
    while now[0] < end:
        now[0] += 20
        step(app, loop, now[0], frames)
def host(name, *values):
    loop.host.send(T(name), values, now[0])
    run(100)
def press(ms=600, button=0):
    app.buttons[button].queue.append(1)
    run(min(ms, 1000))
    if ms > 1000:  # held: the button driver reports a long press at 1 s
        app.buttons[button].queue.append(3)
        run(ms - 1000)
    app.buttons[button].queue.append(2)
    run(100)
def raw(mtype, payload):
    """A reliable frame the host's endpoint would refuse to build."""
    h = loop.host
    h.enc.body[link.HEADER:link.HEADER + len(payload)] = payload
    n = h.enc.seal(mtype, link.FLAG_RELIABLE, h.tx_rseq, len(payload))
    h.tx_rseq += 1
    loop.to_board.extend(memoryview(h.enc.out)[0:n])
    run(100)
def out(**kw):
    print(json.dumps(kw))
run(300)
'''


def vm(code, heap="200K"):
    text = mpy.run(PRELUDE + code, path=VM_PATH, heap=heap)
    return json.loads(text.strip().splitlines()[-1])


def test_push_to_talk_streams_audio_then_the_answer_shows():
    r = vm(r'''
press(1000)
st1 = S.NAMES[app.flow.state]
starts, ends = loop.named("audio_start"), loop.named("audio_end")
chunks = len(loop.named("audio_chunk"))
host("display_text", 2, 0, "Weather")
host("display_text", 0, 0, "It is 21 degrees and sunny outside today, a fine day for a walk.")
st2 = S.NAMES[app.flow.state]
lines = app.view.lines
run(app.flow.hold_ms + 200)
out(st1=st1, st2=st2, st3=S.NAMES[app.flow.state], starts=starts, ends=ends, chunks=chunks, lines=lines,
    title=app.view.title, buttons=loop.named("button"))
''')
    assert r["st1"] == "THINKING" and r["st2"] == "RESPONDING" and r["st3"] == "IDLE"
    assert r["starts"] == [[1, 1, 16000, 0]]
    # about 1 s of audio in 60 ms chunks; audio_end counts what was sent
    assert 15 <= r["chunks"] <= 19 and r["ends"] == [[1, r["chunks"], 0]]
    assert all(len(x) <= 15 for x in r["lines"]) and len(r["lines"]) == 5
    assert " ".join(r["lines"]) == "It is 21 degrees and sunny outside today, a fine day for a walk."
    assert r["title"] == "Weather"
    assert [b[:2] for b in r["buttons"]] == [[0, 0], [0, 1]]


def test_a_tap_is_not_speech_and_offline_says_so():
    r = vm(r'''
press(100)
st1 = S.NAMES[app.flow.state]
ends = loop.named("audio_end")
loop.keep = False
loop.host.poll = lambda now: 0  # the host falls silent
run(4000)
st2 = S.NAMES[app.flow.state]
press(600)
out(st1=st1, ends=ends, st2=st2, st3=S.NAMES[app.flow.state], note=app.view.note)
''')
    assert r["st1"] == "IDLE" and r["ends"][0][2] == 1  # broken off
    assert r["st2"] == "OFFLINE" and r["st3"] == "OFFLINE"
    assert r["note"][0] == "Offline"


def test_bad_input_gets_an_error_reply_and_nothing_crashes():
    r = vm(r'''
# a well-formed frame of a type the catalogue does not have
enc = loop.host.enc
n = enc.seal(0x7E, link.FLAG_RELIABLE, 40000, 0)
loop.to_board.extend(memoryview(enc.out)[0:n])
run(100)
host("display_text", 0, 0, "x" * 900)  # oversized text
host("display_text", 7, 0, "hi")  # no such region
host("sensor_read", 9)  # no such sensor
host("led", 255, 0, 0, 1, 0)  # this board has no LED
b = bytearray(300)
raw(T("info"), b[:link.pack(b, 0, T("info"), (1, "a", "b", "c", 1, 2, 3, 4))])  # only the board sends info
raw(T("led"), b"red")  # wrong argument types: text where the colour bytes go
run(300)
host("info_get")
run(200)
out(errors=loop.named("error"), logs=[l[1] for l in loop.named("log")], sensor=loop.named("sensor_value"),
    info=loop.named("info"), state=S.NAMES[app.flow.state], bad_type=app.ep.dec.bad_type)
''')
    codes = [(e[1], e[2]) for e in r["errors"]]
    assert (2, "unknown message type 0x7e") in codes
    assert any(c == 1 and "at most 800" in t for c, t in codes)
    assert any(c == 1 and "region 7" in t for c, t in codes)
    assert any(c == 4 and "LED" in t for c, t in codes)
    assert any(c == 2 and "info" in t for c, t in codes)
    assert any(c == 1 and "bad led payload" in t for c, t in codes)
    assert r["errors"][0][0] == 40000  # the reply names the request it answers
    assert r["sensor"][0][1:] == [9, 1, []]  # "no such sensor", as the spec says
    assert len(r["logs"]) >= 6 and r["bad_type"] == 1
    assert r["info"] and r["info"][0][1] == "vmboard" and r["state"] == "IDLE"


def test_confirmation_press_approves_long_press_denies_timeout_and_cancel():
    r = vm(r'''
key = bytes(range(32))
def ask(cid, summary, ttl=5000):
    action = json.dumps({"tool": "send", "summary": summary})
    host("confirm_request", cid, ttl, 1700000000000, bytes(16), action)
    return action
host("confirm_request", 1, 5000, 1700000000000, bytes(16), '{"summary": "x"}')  # not paired yet
host("pair", key)
a2 = ask(2, "Send Alice: on my way")
shown = (S.NAMES[app.flow.state], app.view.summary)
press(200)
ask(3, "Buy milk")
press(1300)
ask(4, "Delete notes", ttl=1000)
run(1300)
ask(5, "Order pizza")
host("confirm_cancel", 5)
out(results=[(c[0], c[1]) for c in loop.named("confirm_result")], shown=shown, state=S.NAMES[app.flow.state])
''')
    res = {c[0]: (c[1],) for c in r["results"]}
    assert res[1] == (4,)
    assert r["shown"] == ["CONFIRM", ["Send Alice: on", "my way"]]
    assert res[2][0] == 0 and res[3][0] == 1 and res[4][0] == 2 and res[5][0] == 3
    assert r["state"] == "IDLE"
    # the signature is the one the host's verifier expects
    ok = vm(r'''
import approval, hashlib
host("pair", bytes(range(32)))
action = json.dumps({"summary": "Send Bob: hi"})
host("confirm_request", 9, 5000, 1700000000123, b"n" * 16, action)
press(200)
res = loop.named("confirm_result")[0]
out(result=res[1], sig=res[2].hex(), action=action)
''')
    want = approval.hmac_sha256(bytes(range(32)), approval.message(
        hashlib.sha256(ok["action"].encode()).digest(), b"n" * 16, 1700000000123))
    assert ok["result"] == 0 and bytes.fromhex(ok["sig"]) == want


def test_timer_fires_without_a_host_and_is_reported_when_it_returns():
    r = vm(r'''
host("clock_set", 1700000000, 0, 60)
host("timer_set", 77, 1700000003, 0, "Tea")
loop.keep = False
real_poll = loop.host.poll
loop.host.poll = lambda now: 0  # the host is gone
run(4000)
st = S.NAMES[app.flow.state]
alarm = app.view.alarm
press(100)  # dismisses the alarm
cleared = app.view.alarm
loop.host.poll = real_poll
loop.keep = True
run(6000)
out(st=st, alarm=alarm, cleared=cleared, fired=loop.named("timer_fired"), clock=app.view.clock)
''')
    assert r["st"] == "OFFLINE" and r["alarm"] == "Tea" and r["cleared"] == ""
    assert r["fired"] and r["fired"][0][0] == 77 and r["fired"][0][1] >= 1700000003
    assert r["clock"] == "23:13"  # 22:13 UTC plus the 60 minutes offset


def test_no_heap_growth_over_1000_state_cycles_and_no_allocation_in_the_audio_path():
    r = vm(r'''
def cycle():
    press(400)  # IDLE -> LISTENING -> THINKING
    host("display_text", 0, 0, "Answer number %d is here" % (now[0] % 1000))
    run(app.flow.hold_ms + 40)  # RESPONDING -> IDLE
loop.keep = False
for _ in range(20):
    cycle()
gc.collect()
a0 = gc.mem_alloc()
cycles0 = app.flow.changes
for _ in range(1000):
    cycle()
gc.collect()
a1 = gc.mem_alloc()
# the audio path: a mic frame read, converted, VAD, chunked and sent as ADPCM
app.buttons[0].queue.append(1)
run(100)
cap = app.capture
sent = [0]
def wire(buf, n):  # the UART: takes the bytes, keeps nothing
    sent[0] += n
app.ep.write = wire
for _ in range(10):
    app.audio_step(now[0])
gc.collect()
gc.disable()
b0 = gc.mem_alloc()
for _ in range(60):  # 1.2 s: the steady test tone is not yet taken for room noise
    app.audio_step(now[0])
b1 = gc.mem_alloc()
gc.enable()
out(growth=a1 - a0, changes=app.flow.changes - cycles0, audio=b1 - b0, streaming=cap.streaming, wire=sent[0],
    sent=cap.index, alloc=a1, state=S.NAMES[app.flow.state])
''')
    assert r["changes"] >= 4000  # each cycle visits LISTENING, THINKING, RESPONDING, IDLE
    assert r["growth"] == 0, r
    assert r["streaming"] and r["sent"] >= 20 and r["wire"] > 20 * 480, r
    assert r["audio"] == 0, r


def _random_model():
    import numpy as np

    from pocket_agent.models.wakeword import frontend, net
    rng = np.random.default_rng(5)
    p = net.init(rng, channels=24)
    speech = (8000 * np.sin(np.arange(48000) * 0.2) * np.sin(np.arange(48000) * 0.001)).astype(np.int16)
    q = net.calibrate(p, frontend.features(speech)[None])
    return net.export(p, q, "hey test", smooth=3, refractory=20, threshold=0.6)


def test_wake_word_is_wired_and_a_bad_model_leaves_push_to_talk(tmp_path):
    good = tmp_path / "good.pwm"
    good.write_bytes(_random_model().to_bytes())
    bad = tmp_path / "bad.pwm"
    bad.write_bytes(good.read_bytes()[:-7])  # truncated
    r = vm(r'''
import main
from app import run
said = []
dets = {}
for name, model in (("good", "%s"), ("bad", "%s"), ("missing", "/nowhere/hey.pwm")):
    dets[name] = main.wake_word({"wakeword": {"model": model, "threshold": 0.7}}, said.append)
det = dets["good"]
app2 = run.App(app.board, app.parts, app.link, det, now[0], app.key_file, app.settings.path)
app2.event(S.READY, now[0])
app2.event(S.LINK_UP, now[0])
fed = 0
for _ in range(50):
    fed += app2.audio_step(now[0])
out(kinds=[type(d).__name__ for d in (dets["good"], dets["bad"], dets["missing"])], said=said,
    frames=det.frames, fed=fed, firmware=app2.firmware, hint=app2.view.hint, threshold=det.threshold,
    ptt=[S.NAMES[app2.flow.state], app2.flow.handle(S.PRESS, now[0]) == S.STREAM_START])
''' % (good, bad), heap="320K")  # two apps and the host's endpoint share this VM's heap; heap is measured elsewhere
    assert r["kinds"] == ["Detector", "NoneType", "NoneType"]
    assert len(r["said"]) == 2 and all(s.startswith("wake word off:") for s in r["said"])
    assert "truncated" in r["said"][0]
    # in IDLE every mic frame goes to the detector (20 ms frames: one feature frame each)
    assert r["fed"] == 50 and r["frames"] >= 45
    assert r["firmware"].endswith("ww:hey test") and r["threshold"] == 0.7
    assert r["ptt"] == ["IDLE", True]  # push-to-talk still works


def test_the_wake_word_detector_starts_afresh_each_time_the_app_is_idle_again(tmp_path):
    model = tmp_path / "m.pwm"
    model.write_bytes(_random_model().to_bytes())
    r = vm(r'''
from wakeword.detector import Detector
from app import run
det = Detector("%s", 0.7)
app2 = run.App(app.board, app.parts, app.link, det, now[0], app.key_file, app.settings.path)
app2.event(S.READY, now[0])
app2.event(S.LINK_UP, now[0])
for _ in range(30):
    app2.audio_step(now[0])
fresh = (det.cool, det.pos, det.frames)
det.cool = det.model.refractory  # as a detection leaves it
app2.event(S.WAKE, now[0])  # -> LISTENING
for _ in range(30):
    app2.audio_step(now[0])
during = (S.NAMES[app2.flow.state], det.cool, det.frames)
app2.event(S.SPEECH_END, now[0])  # -> THINKING
app2.event(S.REPLY, now[0])  # -> RESPONDING
app2.event(S.TICK, now[0] + app2.flow.hold_ms + 100)  # the answer has been shown: back to IDLE
after = (S.NAMES[app2.flow.state], det.cool, det.total, det.pos, det.frames, list(det.recent))
out(fresh=fresh, during=during, after=after, smooth=det.model.smooth, refractory=det.model.refractory)
''' % model, heap="320K")
    assert r["fresh"][2] >= 25 and r["refractory"] == 20  # idle: the detector hears every frame
    assert r["during"] == ["LISTENING", 20, r["fresh"][2]]  # the mic streams while listening; the detector waits
    assert r["after"] == ["IDLE", 0, 0, 0, 0, [0] * r["smooth"]], r


def test_screen_dims_then_blanks_and_a_tap_or_a_button_wakes_it():
    r = vm(r'''
class Imu:  # the accelerometer's readings, as the MPU-6050 driver returns them
    def __init__(self):
        self.v = [0, 0, 1000, 0, 0, 0]
    def read(self):
        return self.v
    def moved(self):
        return False
    def watch_motion(self):
        pass
imu = Imu()
app.power.imu = imu
d = app.display
run(19000)
m0 = (app.power.mode, d.level)
run(2000)
m1 = (app.power.mode, d.level)
run(40000)
m2 = (app.power.mode, d.powered)
shows = d.shows
run(1000)
still = d.shows == shows  # nothing is drawn while blank
imu.v = [600, 0, 800, 0, 0, 0]  # lifted
run(400)
m3 = (app.power.mode, d.powered, d.level)
run(62000)
app.buttons[1].queue.append(1)
run(100)
m4 = (app.power.mode, d.powered)
out(m0=m0, m1=m1, m2=m2, still=still, m3=m3, m4=m4, wakes=app.power.wakes)
''')
    assert r["m0"] == [0, 255]  # awake for 20 s
    assert r["m1"] == [1, 31]  # then dimmed to an eighth
    assert r["m2"] == [2, False] and r["still"]  # blank after 60 s, and no drawing
    assert r["m3"] == [0, True, 255]  # a lift wakes it
    assert r["m4"] == [0, True] and r["wakes"] == 2  # so does a button


def test_results_the_host_must_get_wait_when_the_outbox_is_full():
    r = vm(r'''
host("clock_set", 1700000000, 0, 0)
for tid in range(10):
    host("timer_set", tid, 1700000002, 0, "t%d" % tid)
loop.keep = False
real_poll = loop.host.poll
loop.host.poll = lambda now: 0  # the host is gone: nothing is acknowledged
for _ in range(10):
    run(1500)
    press(100)  # each alarm is dismissed, the next fires
waiting = len(app.backlog) + app.ep.pending()
loop.host.poll = real_poll
loop.keep = True
run(8000)
out(waiting=waiting, fired=sorted(v[0] for v in loop.named("timer_fired")), backlog=len(app.backlog))
''')
    assert r["waiting"] == 10  # more than the outbox's 6 slots
    assert r["fired"] == list(range(10)) and r["backlog"] == 0


def test_a_board_without_a_speaker_refuses_sound_and_survives_audio():
    r = mpy.run(r'''
import json, link
from vmparts import make_app, step
from app import states as S
app, loop = make_app(amp=False)
now = 0
for _ in range(20):
    now += 20; step(app, loop, now)
h = loop.host
h.send(link.type_of("audio_start"), (3, 1, 16000, 1), now)
h.send(link.type_of("tone"), (440, 100, 50), now)
for k in range(4):  # chunks of the refused stream still arrive
    h.send_audio(3, k, 0, 0, 64, 32)
    now += 20; step(app, loop, now)
h.send(link.type_of("audio_end"), (3, 4, 0), now)
for _ in range(20):
    now += 20; step(app, loop, now)
print(json.dumps({"errors": [(e[1], e[2]) for e in loop.named("error")], "state": S.NAMES[app.flow.state],
                  "bad": app.ep.bad_payload}))
''', path=VM_PATH, heap="200K")
    res = json.loads(r.strip().splitlines()[-1])
    assert [c for c, _t in res["errors"]] == [4, 4] and all("speaker" in t for _c, t in res["errors"])
    assert res["state"] == "IDLE" and res["bad"] == 4


PLAY = r'''
import adpcm
from array import array
amp_bus = app.parts["amp"].i2s
pcm = array("h", (3000 if (i // 20) % 2 else -3000 for i in range(1024)))  # 400 Hz square
coder = adpcm.new_state()
sent = []  # (predicted, step index, ADPCM bytes) of each chunk the host sent
def answer(stream, chunks, end=True):
    """The host sends an answer as fast as the link takes it (the board's backpressure paces it)."""
    loop.host.send(T("audio_start"), (stream, 1, 16000, 1), now[0])
    for k in range(chunks):
        pred, step = coder[0], coder[1]
        n = adpcm.encode(coder, pcm, loop.host.enc.body, link.AUDIO_DATA, 1024)
        sent.append((pred, step, bytes(loop.host.enc.body[link.AUDIO_DATA:link.AUDIO_DATA + n])))
        loop.host.send_audio(stream, k, pred, step, 1024, n)
        while len(loop.to_board) > 2048:
            run(20)  # the serial line is full: the board is not reading
    if end:
        loop.host.send(T("audio_end"), (stream, chunks, 0), now[0])
'''


def test_answer_audio_queues_without_blocking_and_a_press_cuts_it():
    r = vm(PLAY + r'''
app.event(S.LINK_UP, now[0])
heard = []
bus_write = amp_bus.write
def speaker(buf):  # what the amp plays, kept
    heard.append(bytes(buf))
    return bus_write(buf)
amp_bus.write = speaker
w0 = amp_bus.written
answer(5, 16)  # 16 x 64 ms = 1.02 s of answer
t_sent = now[0]
while app.flow.playing and now[0] - t_sent < 3000:  # until PLAY_END
    run(20)
played = amp_bus.written - w0
amp_bus.write = bus_write
# the same chunks decoded here one by one, at the amp's volume
one = array("h", bytes(2 * 1024))
same = len(heard) == 32
for j, (p0, i0, data) in enumerate(sent[:16]):
    adpcm.decode(adpcm.new_state(p0, i0), data, 0, one, 1024)
    app.parts["amp"].apply_volume(one, 1024)
    mv = memoryview(one)  # 1024 samples: two of the amp's 512-sample blocks
    same = same and heard[2 * j] == bytes(mv[0:512]) and heard[2 * j + 1] == bytes(mv[512:1024])
t_end = now[0]
run(app.flow.hold_ms + 100)
after_hold = S.NAMES[app.flow.state]
# a second answer, cut by a press after 300 ms of it
w1 = amp_bus.written
answer(6, 16, end=False)
run(300)
app.buttons[0].queue.append(1)
run(20)
at_press = amp_bus.written
queued = app.playback.fill
run(400)
out(played=played, same=same, t_sent=t_sent, t_end=t_end, after_hold=after_hold, before_press=at_press - w1,
    after_press=amp_bus.written - at_press, queued=queued, stop=loop.named("audio_stop"),
    state=S.NAMES[app.flow.state], dropped=app.playback.dropped)
''', heap="320K")  # the test keeps 32 KB of what the speaker played; the heap is measured elsewhere
    # every sample of the answer went to the amp, in whole 32 ms blocks
    assert r["played"] == 16 * 1024 * 2 and r["dropped"] == 0, r
    assert r["same"]  # sample for sample, in order
    # the board held the host back: it had sent the last chunk only some 160 + 120 ms before the end
    # of the answer (the ring and what the amp holds), and RESPONDING lasted until it had played
    assert 100 <= r["t_end"] - r["t_sent"] <= 600, r
    assert r["after_hold"] == "IDLE"
    # the press: the queue is dropped and nothing more is written; the host is told
    assert r["before_press"] > 0 and r["queued"] == 0 and r["after_press"] == 0, r
    assert r["stop"] == [[6]] and r["state"] == "LISTENING"


def test_no_allocation_per_chunk_played():
    r = vm(PLAY + r'''
app.event(S.LINK_UP, now[0])
from app import tools
# one chunk, as the board's endpoint decoded it: dispatched again and again
loop.host.send(T("audio_start"), (7, 1, 16000, 1), now[0])
run(40)
n = adpcm.encode(coder, pcm, loop.host.enc.body, link.AUDIO_DATA, 1024)
loop.host.send_audio(7, 0, 0, 0, 1024, n)
loop.host_step(now[0])
while loop.pump(now[0]) != link.AUDIO_CHUNK:  # until the board's decoder holds the chunk
    pass
dec = app.ep.dec
assert dec.body[link.AUDIO_STREAM] == 7
def play_one():
    now[0] += 64
    if not app.playback.full():
        tools.dispatch(app, link.AUDIO_CHUNK, now[0])
    app.play_step(now[0])
    app.play_step(now[0] + 20)
    app.play_step(now[0] + 40)
for _ in range(5):
    play_one()
gc.collect()
gc.disable()
w0 = amp_bus.written
a0 = gc.mem_alloc()
for _ in range(50):  # 3.2 s of answer: decoded, queued and handed to the amp
    play_one()
a1 = gc.mem_alloc()
gc.enable()
out(alloc=a1 - a0, written=amp_bus.written - w0, dropped=app.playback.dropped, bad=app.ep.bad_payload)
''')
    assert r["written"] >= 45 * 2048 and r["dropped"] == 0 and r["bad"] == 0, r
    assert r["alloc"] == 0, r


def test_odd_sized_chunks_play_in_order_with_one_silent_sample_between():
    r = vm(PLAY + r'''
app.event(S.LINK_UP, now[0])
heard = []
bus_write = amp_bus.write
def speaker(buf):
    heard.append(bytes(buf))
    return bus_write(buf)
amp_bus.write = speaker
loop.host.send(T("audio_start"), (8, 1, 16000, 1), now[0])
want = bytearray()
one = array("h", bytes(2 * 333))
for k in range(6):
    pred, idx = coder[0], coder[1]
    n = adpcm.encode(coder, pcm, loop.host.enc.body, link.AUDIO_DATA, 333)
    adpcm.decode(adpcm.new_state(pred, idx), loop.host.enc.body, link.AUDIO_DATA, one, 333)
    app.parts["amp"].apply_volume(one, 333)
    want.extend(one)
    want.extend(bytes(2))  # the silent sample after an odd chunk
    loop.host.send_audio(8, k, pred, idx, 333, n)
    run(20)
loop.host.send(T("audio_end"), (8, 6, 0), now[0])
while app.flow.playing and now[0] < 5000:
    run(20)
got = b"".join(heard)
want.extend(bytes(len(got) - len(want)))  # the last block is filled up with silence
out(same=got == bytes(want), samples=len(got) // 2, playing=app.flow.playing)
''', heap="320K")  # the test keeps what the speaker played
    assert r["samples"] == 4 * 512 and not r["playing"], r  # 6 x 334 samples in four 512-sample blocks
    assert r["same"]


def test_a_lost_write_callback_does_not_stop_the_speaker_for_good():
    r = vm(PLAY + r'''
app.event(S.LINK_UP, now[0])
amp_bus.lose = 1  # the port drops the callback of the first block
w0 = amp_bus.written
answer(5, 8)
while app.flow.playing and now[0] < 10000:
    run(20)
out(written=amp_bus.written - w0, lost=app.playback.lost, playing=app.flow.playing)
''')
    assert r["lost"] == 1 and not r["playing"] and r["written"] == 8 * 2048, r


def test_the_amp_never_holds_more_than_the_ring_buffer_main_gives_it():
    """The amp's port ring buffer (main.i2s_ibuf) is sized by what Playback can
    have handed it and not yet played; here the amp plays 16 samples a ms and
    the most it ever held is measured through an answer."""
    r = vm(PLAY + r'''
import main
ibuf = main.i2s_ibuf({"type": "i2s", "mode": "tx", "rate": 16000, "bits": 16})
app.event(S.LINK_UP, now[0])
held = [0, 0, 0]  # bytes queued, when last drained, most queued
bus_write = amp_bus.write
def drain():
    t = now[0]
    held[0] = max(0, held[0] - 32 * (t - held[1]))  # 16-bit mono at 16 kHz: 32 bytes a ms
    held[1] = t
def speaker(buf):
    drain()
    held[0] += len(buf)
    held[2] = max(held[2], held[0])
    return bus_write(buf)
amp_bus.write = speaker
answer(5, 32, end=False)  # 2 s of answer
for _ in range(20):
    run(20)
    drain()
out(ibuf=ibuf, most=held[2])
''', heap="320K")  # the test keeps what the host sent
    assert r["most"] > 4096, r  # the answer really queued ahead (120 ms and a block)
    assert r["most"] <= r["ibuf"] < 8192, r


def test_the_speakers_ring_is_held_only_while_the_hosts_sound_plays():
    r = vm(PLAY + r'''
app.event(S.LINK_UP, now[0])
pb = app.playback
idle = not pb.blocks
gc.collect()
a0 = gc.mem_alloc()
answer(5, 8)
during = bool(pb.blocks)
while app.flow.playing and now[0] < 5000:
    run(20)
run(100)
after_end = not pb.blocks
answer(6, 16, end=False)
run(300)
app.buttons[0].queue.append(1)  # barge-in
run(220)
after_press = not pb.blocks
app.buttons[0].queue.append(2)
run(100)
host("display_text", 0, 0, "The second answer.")  # THINKING -> RESPONDING -> IDLE
run(app.flow.hold_ms + 40)
state = S.NAMES[app.flow.state]
sent.clear()
loop.got.clear()
gc.collect()
a1 = gc.mem_alloc()
pb.start_stream(7)
gc.collect()
out(idle=idle, during=during, after_end=after_end, after_press=after_press, grew=a1 - a0,
    ring=gc.mem_alloc() - a1, state=state)
''', heap="320K")
    assert r["idle"] and r["during"] and r["after_end"] and r["after_press"], r
    assert r["state"] == "IDLE" and r["ring"] >= 5120 and r["grew"] < 1024, r  # its 5 KB went back


def test_the_amps_bus_is_open_only_while_sound_plays():
    r = vm(PLAY + r'''
amp = app.parts["amp"]
amp.reopen = lambda: amp_bus.init()  # as main.py wires it: the bus's own init
app.event(S.LINK_UP, now[0])
run(400)
at_rest = amp_bus.open
w0 = amp_bus.written
app.notify("Note", "a chime", 1, 1000, now[0])  # 440 ms of chime
run(200)
chiming = amp_bus.open
run(1000)
chime = amp_bus.written - w0
after_chime = amp_bus.open
w1 = amp_bus.written
answer(5, 8)
while app.flow.playing and now[0] < 10000:
    run(20)
answer_bytes = amp_bus.written - w1
run(400)
out(at_rest=at_rest, chiming=chiming, chime=chime, after_chime=after_chime, answer=answer_bytes,
    after=amp_bus.open, opens=amp_bus.opens)
''', heap="320K")
    assert not r["at_rest"] and r["chiming"] and not r["after_chime"] and not r["after"], r
    assert r["chime"] >= 440 * 32 and r["answer"] == 8 * 2048, r  # every block of both, then closed
    assert r["opens"] == 3, r  # built open; opened again for each sound


def test_an_answer_the_heap_has_no_room_for_is_refused_and_the_app_carries_on():
    r = vm(PLAY + r'''
app.event(S.LINK_UP, now[0])
pb = app.playback
def no_room(on):
    if on:
        raise MemoryError("memory allocation failed")
    pb.blocks.clear()
pb._ring = no_room  # a fragmented heap: no 1 KB piece left for the ring
answer(5, 2)
run(200)
errors = loop.named("error")
del pb._ring  # room again
answer(6, 4)
while app.flow.playing and now[0] < 5000:
    run(20)
out(errors=errors, written=amp_bus.written)
''', heap="320K")
    assert len(r["errors"]) == 1 and "no memory" in r["errors"][0][2], r
    assert r["written"] == 4 * 2048, r  # the next answer played in full



def test_a_speaker_bus_that_cannot_open_again_drops_the_sound_and_the_app_carries_on():
    r = vm(PLAY + r'''
amp = app.parts["amp"]
room = [False]
def reopen():
    if not room[0]:
        raise MemoryError("memory allocation failed")  # no 5 KB in one piece for the port's ring
    amp_bus.init()
amp.reopen = reopen
app.event(S.LINK_UP, now[0])
run(400)
closed = not amp_bus.open
app.notify("Note", "a chime", 1, 1000, now[0])
run(1000)
chime = amp_bus.written
answer(5, 2)
run(200)
errors = loop.named("error")
room[0] = True
answer(6, 4)
while app.flow.playing and now[0] < 8000:
    run(20)
out(closed=closed, chime=chime, errors=errors, written=amp_bus.written, no_room=app.playback.no_room,
    logs=[m[1] for m in loop.named("log")])
''', heap="320K")
    assert r["closed"] and r["chime"] == 0 and r["no_room"] == 1, r  # the chime was dropped, not fatal
    assert len(r["errors"]) == 1 and "no memory" in r["errors"][0][2], r  # the answer was refused
    assert r["written"] == 4 * 2048, r  # with room again, the next answer played in full
    assert not [m for m in r["logs"] if "crashed" in m], r  # and the app never restarted


def test_the_largest_replies_fit_the_outbox():
    """An error's text is clipped to its slot at a character boundary (the log
    keeps it whole); info with the longest names the board catalogue allows fits."""
    r = vm(r'''
from app import run as R
app.reply_error(7, 1, "\u00e9" * 300, now[0])  # 600 UTF-8 bytes
app.reply_error(8, 1, "a" + "\u20ac" * 100, now[0])  # a 3-byte character across the cut
app.board["name"], app.board["machine"] = "n" * 32, "m" * 64
host("info_get")
run(200)
out(errors=loop.named("error"), logs=[l[1] for l in loop.named("log")], info=loop.named("info"),
    slot=R.OUTBOX_SLOT, fw=len(R.FIRMWARE.encode()), state=S.NAMES[app.flow.state])
''')
    e1, e2 = r["errors"][0][2], r["errors"][1][2]
    assert e1 == "\u00e9" * 70 and e2 == "a" + "\u20ac" * 46
    assert "\u00e9" * 300 in r["logs"]
    assert r["info"] and r["info"][0][1:3] == ["n" * 32, "m" * 64] and r["state"] == "IDLE"
    assert r["fw"] <= 24


def test_the_board_catalogue_caps_the_names_the_info_reply_carries(tmp_path):
    from pocket_agent.boards import catalog
    from pocket_agent.errors import PocketError
    import pytest

    data = json.loads(catalog.load("pico2w").path.read_text())
    data["machine"] = "m" * 65
    path = tmp_path / "long.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PocketError, match="'machine': must be text of 1 to 64 bytes"):
        catalog.load_file(path)
    data["machine"] = "m" * 64
    path.write_text(json.dumps(data))
    assert catalog.load_file(path).machine == "m" * 64


def test_heap_get_reports_the_largest_block_the_heap_gives():
    """`largest_free` agrees with MicroPython's own count (mem_info's "max free sz", in blocks
    of 32 bytes on the 64-bit VM) on a heap cut into small holes, stops at the heap budget, and
    comes back over the link with what `info` reports."""
    text = mpy.run(PRELUDE + r'''
import micropython
keep, junk = [], []
try:
    while True:
        junk.append(bytearray(400))
        keep.append(bytearray(16))
except MemoryError:
    pass
junk = None
gc.collect()
largest = app.largest_free()
gc.collect()
micropython.mem_info()
app.heap_budget = 1000
capped = app.largest_free()
app.heap_budget = 0
host("heap_get")
run(200)
out(largest=largest, capped=capped, free=gc.mem_free(), reply=loop.named("heap"))
''', path=VM_PATH, heap="200K")
    r = json.loads(text.strip().splitlines()[-1])
    max_free = int(text.split("max free sz: ")[1].split()[0]) * 32
    assert max_free - 64 <= r["largest"] <= max_free, (r["largest"], max_free)
    assert r["largest"] < r["free"] // 4  # the holes: plenty free, no big piece
    assert r["capped"] == 1000
    (re, heap, free, largest), = [h[:4] for h in r["reply"]]
    assert heap > free > 0 and abs(largest - r["largest"]) <= largest // 2


def test_the_app_interns_nothing_new_once_it_has_run():
    """Every qstr the app interns at run time stays for good, and the tables grow by doubling:
    one new character at the wrong moment can cost a large block (the clock's digits did, 8 Dec).
    After one conversation, more conversations and every digit on the clock intern nothing."""
    text = mpy.run(PRELUDE + r'''
import micropython
def talk(answer):
    press(1000)
    host("display_text", 2, 0, "T\u00eftle")
    host("display_text", 0, 0, answer)
    run(app.flow.hold_ms + 200)
talk("It is 21.5 C inside.")
micropython.qstr_info()
for h, m in ((10, 23), (14, 56), (17, 58), (19, 9), (20, 47)):
    host("clock_set", 1700000000 - 1700000000 % 86400 + h * 3600 + m * 60, 0, 0)
    run(1500)
    talk("\u00bfQu\u00e9 tal? %d:%02d \u2603 \u00e5\u00df\u00e7" % (h, m))
micropython.qstr_info()
out(state=S.NAMES[app.flow.state], clock=app.view.clock)
''', path=VM_PATH, heap="200K")
    r = json.loads(text.strip().splitlines()[-1])
    assert r["state"] == "IDLE" and r["clock"] == "20:47", r
    before, after = mpy.qstr_counts(text)
    assert before == after, text

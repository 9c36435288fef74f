# The device's tools as the host sees them: one handler per link message the
# board serves (docs/link-protocol.md). Bad input (a type the board does not
# serve, a payload that does not parse, an oversized text, a part the board
# lacks) gets an `error` reply and a log line; nothing raises out of here.
from micropython import const

import link
import linkio

from . import states as S
from .text import printable

T = link.type_of
MAX_TEXT = const(800)  # characters of answer text the board keeps
E_PAYLOAD = const(1)
E_TYPE = const(2)
E_CAPABLE = const(4)
E_FAILED = const(5)


class BadRequest(Exception):
    def __init__(self, code, text):
        super().__init__(text)
        self.code = code
        self.text = text


def dispatch(app, ev, now):
    """Handle what Endpoint.poll returned."""
    ep = app.ep
    if ev == linkio.LINK_UP:
        for text in app.pending:
            app.log(3, text)
        app.pending = []
        app.event(S.LINK_UP, now)
        return
    if ev == linkio.LINK_DOWN:
        app.event(S.LINK_DOWN, now)
        return
    if ev == linkio.BAD_FRAME:
        dec = ep.dec
        if dec.bad_type != app.bad_types:  # a whole, checked frame of a type we do not know
            app.bad_types = dec.bad_type
            b = dec.body
            app.reply_error(b[3] | (b[4] << 8), E_TYPE, "unknown message type 0x%02x" % b[1], now)
        return
    if ev == link.AUDIO_CHUNK:
        if app.playback is None or not app.playback.chunk(ep.dec.body, ep.dec.length):
            ep.bad_payload += 1  # no speaker (audio_start was refused), or a chunk that does not fit
        return
    seq = ep.dec.seq
    handler = HANDLERS.get(ev)
    try:
        if handler is None:
            raise BadRequest(E_TYPE, "the board does not take %s" % link.name_of(ev))
        try:
            v = link.unpack(ev, ep.dec.body, link.HEADER, link.HEADER + ep.dec.length)
        except ValueError as e:
            ep.bad_payload += 1
            raise BadRequest(E_PAYLOAD, "bad %s payload: %s" % (link.name_of(ev), e))
        handler(app, v, now)
    except BadRequest as e:
        app.reply_error(seq, e.code, e.text, now)


def _need(part, name):
    if part is None:
        raise BadRequest(E_CAPABLE, "this board has no " + name)
    return part


def _text(s):
    if len(s) > MAX_TEXT:
        raise BadRequest(E_PAYLOAD, "text of %d characters; the board shows at most %d" % (len(s), MAX_TEXT))
    return printable(s)


def info_get(app, v, now):
    total, free = app.heap()
    app.keep("info", app.ep.dec.seq, app.board.get("name", "?"), app.board.get("machine", "?"),
             app.firmware, total, free, app.width, app.height)


def heap_get(app, v, now):
    total, free = app.heap()
    app.keep("heap", app.ep.dec.seq, total, free, app.largest_free())


def clock_set(app, v, now):
    app.clock.set(v[0], v[1], v[2], now)
    app.dirty = True


def display_text(app, v, now):
    region, flags, text = v
    text = _text(text)
    view = app.view
    if region == 0:
        view.answer(text, flags & 1)
        app.event(S.REPLY, now)
    elif region == 1:
        view.hint = text[:16]
    elif region == 2:
        view.title = text
    else:
        raise BadRequest(E_PAYLOAD, "no display region %d" % region)
    app.dirty = True  # a streamed answer changes the screen without changing the state
    app.wake(now)


def notify(app, v, now):
    level, duration, title, text = v
    app.notify(printable(title)[:16], _text(text), level, duration or 5000, now)


def led(app, v, now):
    r, g, b, mode, period = v
    if mode > 3:
        raise BadRequest(E_PAYLOAD, "no LED mode %d" % mode)
    _need(app.parts.get("led"), "LED")
    app.set_led(r, g, b, mode, period)


def tone(app, v, now):
    freq, duration, volume = v
    _need(app.parts.get("amp"), "speaker")
    if not 20 <= freq <= 8000:
        raise BadRequest(E_PAYLOAD, "tone of %d Hz is out of range (20..8000)" % freq)
    if not app.dnd:
        app.playback.sound(((freq, min(duration, 10000)),), min(volume, 100), now)


def sound(app, v, now):
    from .audio import SOUNDS
    _need(app.parts.get("amp"), "speaker")
    if v[0] >= len(SOUNDS):
        raise BadRequest(E_PAYLOAD, "no sound %d" % v[0])
    if not app.dnd:
        app.playback.sound(SOUNDS[v[0]], min(v[1], 100), now)


def setting_set(app, v, now):
    setting, value = v
    if setting == 0:
        app.change_setting("brightness", value, now)
    elif setting == 1:
        _need(app.parts.get("amp"), "speaker")
        app.change_setting("volume", value, now)
    elif setting == 2:
        app.change_setting("dnd", bool(value), now)
    else:
        raise BadRequest(E_PAYLOAD, "no setting %d" % setting)


def sensor_read(app, v, now):
    sensor = v[0]
    status, values = app.read_sensor(sensor)
    app.keep("sensor_value", app.ep.dec.seq, sensor, status, values)


def confirm_request(app, v, now):
    cid, ttl, expiry, nonce, action = v
    app.confirm_ask(cid, ttl, expiry, nonce, action, now)


def confirm_cancel(app, v, now):
    if app.cid == v[0]:
        app.event(S.CONFIRM_CANCEL, now)


def pair(app, v, now):
    try:
        app.pair(v[0])
    except ValueError as e:
        raise BadRequest(E_PAYLOAD, str(e))


def timer_set(app, v, now):
    tid, due, kind, label = v
    try:
        app.timers.set(tid, due, kind, printable(label))
    except ValueError as e:
        raise BadRequest(E_FAILED, str(e))
    app.synced.append(tid)


def timer_cancel(app, v, now):
    app.timers.cancel(v[0])


def note_set(app, v, now):
    if v[0] not in app.notes and len(app.notes) >= 16:
        raise BadRequest(E_FAILED, "too many notes on the board (at most 16)")
    app.notes[v[0]] = _text(v[1])


def note_delete(app, v, now):
    app.notes.pop(v[0], None)


def sync_begin(app, v, now):
    app.timers.clear()
    app.notes.clear()
    app.synced = []


def sync_end(app, v, now):
    if app.cid is not None and app.cid not in app.synced:
        app.event(S.CONFIRM_CANCEL, now)  # the host no longer waits for it
    app.log(1, "synced %d timers, %d notes" % (len(app.timers.items), len(app.notes)))


def audio_start(app, v, now):
    stream, codec, rate, purpose = v
    if purpose != 1 or codec != 1 or rate != 16000:
        raise BadRequest(E_PAYLOAD, "the board plays 16 kHz IMA-ADPCM to its speaker only")
    _need(app.parts.get("amp"), "speaker")
    if not app.playback.start_stream(stream):
        raise BadRequest(E_FAILED, "no memory for the speaker's queue now; the answer is not played")
    app.flow.playing = True
    app.event(S.REPLY, now)


def audio_end(app, v, now):
    if app.playback is not None:
        app.playback.end_stream(v[0])  # PLAY_END once what is queued has played


def audio_stop(app, v, now):
    if app.capture is not None and app.capture.streaming and v[0] == app.capture.stream:
        app.event(S.SPEECH_END, now)  # the host heard enough


def error(app, v, now):
    app.log(2, "host refused message %d: %s" % (v[0], v[2]), send=False)


def ignore(app, v, now):
    pass


HANDLERS = {
    T("info_get"): info_get, T("heap_get"): heap_get, T("clock_set"): clock_set,
    T("display_text"): display_text, T("notify"): notify, T("led"): led, T("tone"): tone,
    T("sound"): sound, T("setting_set"): setting_set, T("sensor_read"): sensor_read,
    T("confirm_request"): confirm_request, T("confirm_cancel"): confirm_cancel, T("pair"): pair,
    T("timer_set"): timer_set, T("timer_cancel"): timer_cancel, T("note_set"): note_set,
    T("note_delete"): note_delete, T("sync_begin"): sync_begin, T("sync_end"): sync_end,
    T("audio_start"): audio_start, T("audio_end"): audio_end, T("audio_stop"): audio_stop,
    T("error"): error, T("log"): ignore,
}

# The app's state machine, pure: events and the time in, the new state and
# what the shell must do out. No machine, no I/O, so it runs in tests as it
# runs on the board.
try:
    from micropython import const
    from time import ticks_diff
except ImportError:  # CPython (tests): plain meanings
    from pocket_agent.host.link.viper import const

    def ticks_diff(a, b):
        return a - b

BOOT = const(0)
IDLE = const(1)
LISTENING = const(2)
THINKING = const(3)
RESPONDING = const(4)
CONFIRM = const(5)
OFFLINE = const(6)
ERROR = const(7)
NAMES = ("BOOT", "IDLE", "LISTENING", "THINKING", "RESPONDING", "CONFIRM", "OFFLINE", "ERROR")

# Events
READY = const(1)  # drivers up
PRESS = const(2)  # talk button down
RELEASE = const(3)
LONG = const(4)  # talk button held past the long-press time
WAKE = const(5)  # wake word heard
SPEECH_END = const(6)  # the VAD heard the end of speech
LINK_UP = const(7)
LINK_DOWN = const(8)
REPLY = const(9)  # the host showed an answer or started sound
PLAY_END = const(10)  # the host's sound has been played
CONFIRM_ASK = const(11)
CONFIRM_CANCEL = const(12)
TICK = const(13)
FAULT = const(14)
SPEECH_START = const(15)  # the VAD heard speech begin

# Actions for the shell (bits)
STREAM_START = const(1)
STREAM_END = const(2)  # end of speech: the host answers
STREAM_CANCEL = const(4)  # too short or broken off: the host ignores it
PLAY_STOP = const(8)
APPROVE = const(16)
DENY = const(32)
CONFIRM_TIMEOUT = const(64)
CONFIRM_CANCELLED = const(128)
NO_HOST = const(256)  # asked to listen with no host: say so

LISTEN_MAX_MS = const(10000)
NO_SPEECH_MS = const(4000)  # hands-free: nothing said this long after the wake word
MIN_UTTERANCE_MS = const(300)
THINK_MAX_MS = const(20000)
ERROR_SHOW_MS = const(3000)


class Flow:
    def __init__(self, now=0):
        self.state = BOOT
        self.since = now
        self.online = False
        self.ptt = False  # this LISTENING was started by the button
        self.heard = False  # the VAD heard speech in this LISTENING
        self.confirm_waiting = False  # a request arrived while listening
        self.confirm_ttl = 0
        self.armed = False  # the press being released began in CONFIRM
        self.playing = False
        self.hold_ms = 4000  # how long an answer stays up after its sound
        self.error = ""
        self.changes = 0

    def _to(self, state, now):
        if state != self.state:
            self.state = state
            self.changes += 1
        self.since = now

    def _rest(self, now):
        if self.confirm_waiting:
            self.confirm_waiting = False
            self.armed = False
            self._to(CONFIRM, now)
        else:
            self._to(IDLE if self.online else OFFLINE, now)

    def fail(self, text, now):
        """An error to show; the app recovers after ERROR_SHOW_MS."""
        self.error = text
        return self.handle(FAULT, now)

    def handle(self, ev, now):
        """Apply one event; returns the actions (bits) for the shell."""
        s = self.state
        age = ticks_diff(now, self.since)
        act = 0
        if ev == LINK_UP:
            self.online = True
            if s == OFFLINE:
                self._to(IDLE, now)
            return 0
        if ev == LINK_DOWN:
            self.online = False
            if s in (IDLE, LISTENING, THINKING, RESPONDING):
                if s == LISTENING:
                    act = STREAM_CANCEL
                elif s == RESPONDING and self.playing:
                    act = PLAY_STOP
                self.playing = False
                self._to(OFFLINE, now)
            return act
        if ev == FAULT:
            if s == LISTENING:
                act = STREAM_CANCEL
            if self.playing:
                act |= PLAY_STOP
                self.playing = False
            self._to(ERROR, now)
            return act
        if ev == CONFIRM_ASK:
            if s == LISTENING:
                self.confirm_waiting = True
            elif s == CONFIRM:
                self.since = now  # a new request replaces the one shown
                self.armed = False
            else:
                if self.playing:
                    act = PLAY_STOP
                    self.playing = False
                self.armed = False
                self._to(CONFIRM, now)
            return act
        if ev == CONFIRM_CANCEL:
            if s == CONFIRM:
                self._rest(now)
                return CONFIRM_CANCELLED
            self.confirm_waiting = False
            return 0

        if s == BOOT:
            if ev == READY:
                self._to(IDLE if self.online else OFFLINE, now)
        elif s == IDLE or s == OFFLINE:
            if ev == PRESS or ev == WAKE:
                if not self.online:
                    return NO_HOST
                self.ptt = ev == PRESS
                self.heard = False
                self._to(LISTENING, now)
                act = STREAM_START
            elif ev == REPLY:
                self._to(RESPONDING, now)
        elif s == LISTENING:
            if ev == SPEECH_START:
                self.heard = True
            elif ev == TICK and not self.ptt and not self.heard and age >= NO_SPEECH_MS:
                self._rest(now)  # woken, then nothing was said
                return STREAM_CANCEL
            if ev == RELEASE and self.ptt:
                if age < MIN_UTTERANCE_MS:
                    self._rest(now)
                    return STREAM_CANCEL
                act = STREAM_END
            elif ev == SPEECH_END or (ev == TICK and age >= LISTEN_MAX_MS):
                act = STREAM_END
            if act:
                if self.confirm_waiting:
                    self._rest(now)
                else:
                    self._to(THINKING, now)
        elif s == THINKING:
            if ev == REPLY:
                self._to(RESPONDING, now)
            elif ev == PRESS:
                self.ptt = True
                self.heard = False
                self._to(LISTENING, now)
                act = STREAM_START
            elif ev == TICK and age >= THINK_MAX_MS:
                self.error = "no answer from the host"
                self._to(ERROR, now)
        elif s == RESPONDING:
            if ev == PRESS:  # barge-in: stop talking, listen
                if self.playing:
                    act = PLAY_STOP
                    self.playing = False
                self.ptt = True
                self.heard = False
                self._to(LISTENING, now)
                act |= STREAM_START
            elif ev == REPLY:
                self.since = now
            elif ev == PLAY_END:
                self.playing = False
                self.since = now
            elif ev == TICK and not self.playing and age >= self.hold_ms:
                self._rest(now)
        elif s == CONFIRM:
            if ev == PRESS:
                self.armed = True
            elif ev == RELEASE and self.armed:
                act = APPROVE
            elif ev == LONG and self.armed:
                act = DENY
            elif ev == TICK and age >= self.confirm_ttl:
                act = CONFIRM_TIMEOUT
            if act:
                self.armed = False
                self._rest(now)
        elif s == ERROR:
            if ev == PRESS or (ev == TICK and age >= ERROR_SHOW_MS):
                self._rest(now)
        return act

# Cases for the pure state machine, run by both VMs: CPython imports
# pocket_agent.firmware.app.states, MicroPython imports app.states; each
# calls run(S) with the module. A failed case raises AssertionError.


def run(S):
    n = 0

    def flow(online=True):
        f = S.Flow(0)
        if online:
            f.handle(S.LINK_UP, 0)
        f.handle(S.READY, 0)
        return f

    def check(cond, what):
        if not cond:
            raise AssertionError(what)

    f = flow(online=False)
    check(f.state == S.OFFLINE, "boot without a host ends OFFLINE")
    check(f.handle(S.PRESS, 10) == S.NO_HOST and f.state == S.OFFLINE, "no listening offline")
    f.handle(S.LINK_UP, 20)
    check(f.state == S.IDLE, "host arrives: IDLE")
    n += 1

    f = flow()
    check(f.handle(S.PRESS, 100) == S.STREAM_START and f.state == S.LISTENING, "press: LISTENING")
    check(f.handle(S.RELEASE, 200) == S.STREAM_CANCEL and f.state == S.IDLE, "a tap is not speech")
    check(f.handle(S.PRESS, 1000) == S.STREAM_START, "press again")
    check(f.handle(S.RELEASE, 2000) == S.STREAM_END and f.state == S.THINKING, "release: THINKING")
    check(f.handle(S.REPLY, 2500) == 0 and f.state == S.RESPONDING, "reply: RESPONDING")
    f.handle(S.TICK, 2500 + f.hold_ms - 1)
    check(f.state == S.RESPONDING, "answer stays up")
    f.handle(S.TICK, 2500 + f.hold_ms)
    check(f.state == S.IDLE, "then IDLE")
    n += 1

    f = flow()
    f.handle(S.WAKE, 0)
    check(f.state == S.LISTENING and not f.ptt, "wake word: LISTENING hands-free")
    check(f.handle(S.RELEASE, 5000) == 0 and f.state == S.LISTENING, "a release does not end hands-free listening")
    check(f.handle(S.SPEECH_END, 6000) == S.STREAM_END and f.state == S.THINKING, "VAD end: THINKING")
    f.handle(S.TICK, 6000 + S.THINK_MAX_MS)
    check(f.state == S.ERROR and f.error, "no answer: ERROR")
    f.handle(S.TICK, 6000 + S.THINK_MAX_MS + S.ERROR_SHOW_MS)
    check(f.state == S.IDLE, "ERROR recovers")
    n += 1

    f = flow()
    f.handle(S.PRESS, 0)
    check(f.handle(S.TICK, S.LISTEN_MAX_MS) == S.STREAM_END and f.state == S.THINKING, "listening times out")
    n += 1

    f = flow()
    f.handle(S.WAKE, 0)
    check(f.handle(S.TICK, S.NO_SPEECH_MS) == S.STREAM_CANCEL and f.state == S.IDLE, "woken, nothing said")
    f.handle(S.WAKE, 10000)
    f.handle(S.SPEECH_START, 10500)
    check(f.handle(S.TICK, 10000 + S.NO_SPEECH_MS) == 0 and f.state == S.LISTENING, "speech started: keep listening")
    f = flow()
    f.handle(S.PRESS, 0)
    check(f.handle(S.TICK, S.NO_SPEECH_MS + 100) == 0 and f.state == S.LISTENING,
          "push-to-talk is not cut for silence")
    n += 1

    f = flow()
    f.handle(S.REPLY, 0)
    f.playing = True
    check(f.handle(S.TICK, 60000) == 0 and f.state == S.RESPONDING, "stays while sound plays")
    act = f.handle(S.PRESS, 60001)
    check(act == S.PLAY_STOP | S.STREAM_START and f.state == S.LISTENING, "barge-in")
    n += 1

    f = flow()
    f.confirm_ttl = 5000
    f.handle(S.CONFIRM_ASK, 0)
    check(f.state == S.CONFIRM, "confirm shown")
    check(f.handle(S.RELEASE, 10) == 0, "a release without a press in CONFIRM does nothing")
    f.handle(S.PRESS, 20)
    check(f.handle(S.RELEASE, 100) == S.APPROVE and f.state == S.IDLE, "press approves")
    f.handle(S.CONFIRM_ASK, 200)
    f.handle(S.PRESS, 210)
    check(f.handle(S.LONG, 1210) == S.DENY, "long press denies")
    f.handle(S.CONFIRM_ASK, 2000)
    check(f.handle(S.TICK, 7000) == S.CONFIRM_TIMEOUT and f.state == S.IDLE, "timeout")
    f.handle(S.CONFIRM_ASK, 8000)
    check(f.handle(S.CONFIRM_CANCEL, 8100) == S.CONFIRM_CANCELLED, "cancel")
    n += 1

    f = flow()
    f.confirm_ttl = 5000
    f.handle(S.PRESS, 0)
    f.handle(S.CONFIRM_ASK, 100)
    check(f.state == S.LISTENING, "a request waits while the user talks")
    f.handle(S.RELEASE, 1000)
    check(f.state == S.CONFIRM, "then it is shown")
    n += 1

    f = flow()
    f.handle(S.PRESS, 0)
    check(f.handle(S.LINK_DOWN, 10) == S.STREAM_CANCEL and f.state == S.OFFLINE, "host lost while listening")
    check(f.handle(S.FAULT, 20) == 0 and f.state == S.ERROR, "fault")
    f.handle(S.PRESS, 30)
    check(f.state == S.OFFLINE, "a press dismisses the error")
    n += 1
    return n

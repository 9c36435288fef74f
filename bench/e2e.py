"""Benchmark: end of speech to the first reply on the board's display, on the twin.

A twin of the board runs the deployed firmware; the bridge with the pipeline and
the offline agent answers it, all on this machine. Each request is synthesized
with espeak-ng and played into the twin's microphone while the twin's button is
held (push-to-talk), and the button is let go as the last sample goes in. The
clock runs from that last sample to the first read of the display on which the
answer's words appear (the display is read every ~10 ms through world control;
a frame's time is the middle of the read that got it). Between requests the
board goes back to idle on its own, as after any answer.

    .venv/bin/python bench/e2e.py                    # 20 requests, push-to-talk
    .venv/bin/python bench/e2e.py --requests 40 --hands-free   # wake word; the board's VAD ends the utterance
    .venv/bin/python bench/e2e.py --adapt            # the board's recogniser adapted (bench/agent.py --adapt's model)

Printed: p50/p95 of end of speech -> answer on the screen, and its parts as the
pipeline saw them (board's audio_end reaching the bridge -> transcript -> answer
acknowledged by the board), with the share of requests that ran the expected tool.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(1, str(Path(__file__).resolve().parent))  # bench/agent.py, for --adapt

from pocket_agent.hil.stage import Stage  # noqa: E402

# (request, the tool it must run): answers that need no confirmation
REQUESTS = [
    ("what's the temperature", "read_sensors"),
    ("what time is it", "get_time"),
    ("set a timer for five minutes", "set_timer"),
    ("what is seven times eight", "calculate"),
    ("add eggs to the shopping list", "add_shopping_item"),
    ("is it stuffy in here", "check_air"),
    ("how humid is it", "read_sensors"),
    ("convert five miles to kilometers", "convert_units"),
    ("set the volume to forty percent", "change_setting"),
    ("what is on my shopping list", "list_shopping"),
]


def pct(values, q):
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--board", default="pico2w")
    ap.add_argument("--requests", type=int, default=20, help="how many requests (cycling through the set)")
    ap.add_argument("--hands-free", action="store_true",
                    help="say the wake word instead of holding the button (the board's VAD ends each utterance)")
    ap.add_argument("--snapshots", help="folder for a PNG of each answer as first read")
    ap.add_argument("--adapt", action="store_true",
                    help="give the board the acoustic model adapted on bench/agent.py's tuning voices")
    args = ap.parse_args(argv)

    state = Path(tempfile.mkdtemp(prefix="pocket-bench-e2e-"))
    snaps = Path(args.snapshots) if args.snapshots else None
    if snaps:
        snaps.mkdir(parents=True, exist_ok=True)
    rows = []
    with Stage(args.board, state) as stage:
        print(f"started in {stage.timings['total']:.1f} s: " + ", ".join(
            f"{k} {v:.1f} s" for k, v in stage.timings.items() if k != "total"), flush=True)
        if args.adapt:  # as `pocket speech adapt` leaves it; the bridge loads it when the board comes online
            import agent as agent_bench

            from pocket_agent.host.agent.store import Store
            from pocket_agent.host.speech.adapt import BOARD_SETTING as SETTING

            model = agent_bench.adaptation(agent_bench.TUNING_VOICES)
            made_from = len(agent_bench.TUNING_VOICES) * agent_bench.ADAPT_PER_VOICE
            Store(stage.pipeline_settings.state).set_setting(stage.board_name, SETTING, {
                "model": model, "recordings": made_from, "made": time.time()})
            stage.stop_bridge()
            stage.start_bridge()
        stage.world.environment(temperature=21.5, humidity=45.0)
        for i in range(args.requests):
            request, tool = REQUESTS[i % len(REQUESTS)]
            stage.wait_idle()
            turn = stage.converse(request, hands_free=args.hands_free, until=("shown",))
            heard, shown = turn.step("heard"), turn.step("shown")
            ran = [name for name, _ in turn.tools]
            ok = tool in ran
            # the parts: mic end -> audio_end at the bridge -> transcript -> answer acknowledged
            end_at = heard["time"] - heard["at_ms"] / 1000
            rows.append({"request": request, "ok": ok, "mode": turn.utterance.mode, "screen_ms": turn.screen_ms,
                         "to_bridge_ms": round((end_at - turn.utterance.ended) * 1000),
                         "heard_ms": heard["at_ms"], "finish_ms": heard.get("finish_ms"),
                         "shown_ms": shown["at_ms"], "heard": heard["text"]})
            r = rows[-1]
            print(f"{i + 1:3} {request:<34} {'ok ' if ok else 'BAD'} screen {r['screen_ms']:5} ms "
                  f"(to bridge {r['to_bridge_ms']:4}, transcript +{r['heard_ms']:4} [finish {r['finish_ms']}], "
                  f"shown +{r['shown_ms']:4})  {turn.utterance.mode}; heard {heard['text']!r}", flush=True)
            if snaps:
                stage.save_png(turn.rows, snaps / f"{i + 1:03}-{turn.screen_ms}ms.png")
    screen = [r["screen_ms"] for r in rows]
    print()
    print(f"board {args.board}, offline agent, {'hands-free (wake word, VAD end)' if args.hands_free else 'push-to-talk'}, "
          f"{len(rows)} requests, recogniser {'adapted' if args.adapt else 'not adapted'}")
    print(f"end of speech -> answer on the display: p50 {pct(screen, .5):.0f} ms, p95 {pct(screen, .95):.0f} ms "
          f"(min {min(screen)}, max {max(screen)}); target p50 <= 800 ms")
    for key, label in (("to_bridge_ms", "end of speech -> audio_end at the bridge"),
                       ("heard_ms", "audio_end -> transcript"), ("finish_ms", "  of which the recogniser's finish"),
                       ("shown_ms", "audio_end -> answer acknowledged by the board")):
        v = [r[key] for r in rows if r[key] is not None]
        print(f"  {label:<48} p50 {pct(v, .5):5.0f} ms, p95 {pct(v, .95):5.0f} ms")
    ok = sum(r["ok"] for r in rows)
    print(f"expected tool ran: {ok}/{len(rows)}; wake word missed (push-to-talk instead): "
          f"{sum('missed' in r['mode'] for r in rows)}")
    print(f"mean: {statistics.mean(screen):.0f} ms")


if __name__ == "__main__":
    main()

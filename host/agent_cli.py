"""`pocket agent`: try the agents from the command line against a simulated device.

    pocket agent ask "set a timer for five minutes"
    pocket agent hear request.wav          # PocketSphinx, then the agent
    pocket agent parse "add milk to the shopping list"
    pocket agent log                        # the action log: what ran, what was approved
"""

import asyncio
import json
import sys



def register(subparsers):
    p = subparsers.add_parser("agent", help="ask the offline or LLM agent (simulated device)",
                              description="Run the agents against a simulated device: typed or spoken requests, "
                                          "the parse of a request, and the action log.")
    sub = p.add_subparsers(dest="agent_command", metavar="ACTION")
    common = dict(board=("--board", dict(default="sim-1", help="board name the state belongs to (default sim-1)")),
                  state=("--state", dict(default=None, help="SQLite state file (default ~/.local/share/pocket-agent)")))

    def add_common(q, button=False):
        for flag, kw in common.values():
            q.add_argument(flag, **kw)
        if button:
            q.add_argument("--button", choices=["approve", "deny", "timeout", "ask"], default="ask",
                           help="what the simulated user does when asked to confirm (default: ask on the terminal)")
            q.add_argument("--llm", action="store_true",
                           help="use the LLM agent (POCKET_LLM_BASE_URL, POCKET_LLM_MODEL, POCKET_LLM_API_KEY)")
            q.add_argument("--json", action="store_true", help="print the reply as JSON")

    q = sub.add_parser("ask", help="answer a typed request", description="Answer a typed request.")
    q.add_argument("text", help="the request, e.g. \"what time is it\"")
    add_common(q, button=True)
    q.set_defaults(func=_ask)
    q = sub.add_parser("hear", help="recognise a WAV file, then answer",
                       description="Recognise speech in a WAV file with PocketSphinx, then answer it.")
    q.add_argument("wav", help="a 16-bit WAV file (any rate, resampled to 16 kHz)")
    add_common(q, button=True)
    q.set_defaults(func=_hear)
    q = sub.add_parser("parse", help="show how the offline agent reads a request",
                       description="Show the intent and slots the offline agent reads from a request; runs nothing.")
    q.add_argument("text")
    q.set_defaults(func=_parse)
    q = sub.add_parser("log", help="show the action log", description="Show the action log of a board.")
    add_common(q)
    q.set_defaults(func=_log)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def _button(choice):
    if choice != "ask":
        return choice

    def ask_terminal(summary):
        if not sys.stdin.isatty():
            return "deny"
        print("--- device asks ---\n" + summary + "\n-------------------")
        answer = input("press the button? [y/N] ").strip().lower()
        return "approve" if answer in ("y", "yes") else "deny"

    return ask_terminal


async def _session(args, speech=False):
    from pocket_agent.host.agent.llm import LLMAgent, LLMSettings
    from pocket_agent.host.agent.offline import OfflineAgent
    from pocket_agent.host.agent.session import AgentSession
    from pocket_agent.host.agent.simdevice import SimulatedDevice
    from pocket_agent.host.agent.store import Store
    from pocket_agent.host.agent.toolset import build_registry
    from pocket_agent.host.confirm import Confirmer, default_keyring

    store = Store(args.state)
    device = SimulatedDevice(board=args.board, button=_button(args.button))
    confirmer = Confirmer(store, default_keyring(store.path))
    await confirmer.pair(device, args.board)  # a simulated board gets a fresh key each run
    registry = build_registry()
    llm = None
    if args.llm:
        llm = LLMAgent(LLMSettings.load(), registry, OfflineAgent(registry))
    return AgentSession(device, store, confirmer, llm=llm, registry=registry), device


def _print(reply, device, as_json, heard=None):
    if as_json:
        heard_json = None if heard is None else {"text": heard.text, "confidence": heard.confidence,
                                                 "source": heard.source}
        print(json.dumps({"heard": heard_json, "screen": reply.text, "speech": reply.speech, "intent": reply.intent,
                          "tools": reply.tools, "ok": reply.ok}))
        return
    if heard is not None:
        print(f"heard: {heard.text!r} (confidence {heard.confidence:.2f}, {heard.source or 'nothing'})")
    width = max(21, *(len(line) for line in reply.text.splitlines() or [""]))
    print("+" + "-" * width + "+")
    for line in reply.text.splitlines():
        print("|" + line.ljust(width) + "|")
    print("+" + "-" * width + "+")
    for name, status in reply.tools:
        print(f"tool {name}: {status}")


def _ask(args):
    async def run():
        session, device = await _session(args)
        reply = await session.ask(args.text, speak=False)
        _print(reply, device, args.json)
        return 0 if reply.ok else 1
    return asyncio.run(run())


def _hear(args):
    from pocket_agent.host.agent.store import Store
    from pocket_agent.host.speech.audio import read_wav
    from pocket_agent.host.speech.sphinx import PocketSphinxEngine
    from pocket_agent.host.speech.adapt import BOARD_SETTING as SETTING

    pcm = read_wav(args.wav).tobytes()
    adapted = Store(args.state).setting(args.board, SETTING) or {}  # `pocket speech adapt`

    async def run():
        session, device = await _session(args)
        heard = PocketSphinxEngine(acoustic_model=adapted.get("model")).transcribe(pcm, whole=True)
        reply = await session.hear(heard, speak=False)
        _print(reply, device, args.json, heard=heard)
        return 0 if reply.ok else 1
    return asyncio.run(run())


def _parse(args):
    from pocket_agent.host.agent.grammar import grammar, normalize
    from pocket_agent.host.agent.offline import describe

    print(f"{normalize(args.text)!r} -> {describe(grammar().parse(args.text))}")
    return 0


def _log(args):
    from pocket_agent.host.agent.store import Store

    rows = Store(args.state).actions(args.board)
    if not rows:
        print(f"no actions for board {args.board}")
    for r in rows:
        detail = " ".join(r["detail"].split())[:50]
        approved = "approved" if r["approved"] else ""
        print(f"{r['id']:>5} {r['tool']:<20} {r['status']:<9} {approved:<8} {r['args']} {detail}")
    return 0




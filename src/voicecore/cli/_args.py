"""The argument parser of the command line: one-line usage errors (exit 2,
no traceback) and value checks that say the accepted range and unit."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import NoReturn

__all__ = ["Parser", "UsageError", "bounded_float", "non_negative_int", "one_of"]

USAGE_ERROR = 2  # exit status of a usage error (argparse's, and the shell convention)


class UsageError(Exception):
    """A bad value found after parsing; reported like an argparse error (exit 2)."""


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are one line on stderr:
    ``PROG: error: MESSAGE (see 'PROG --help')`` and exit status 2."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        one_line = " ".join(message.split())
        sys.stderr.write(f"{self.prog}: error: {one_line} (see '{self.prog} --help')\n")
        sys.exit(USAGE_ERROR)


def _number(text: str) -> float:
    value = float(text)  # ValueError for text that is not a number
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def bounded_float(lo: float, hi: float | None, unit: str = "") -> Callable[[str], float]:
    """An argparse ``type=`` for a finite number in ``[lo, hi]`` (``hi`` None: no
    upper bound). ``unit`` follows the range in the error (``"ms"``)."""
    accepted = f"a number from {lo:g} to {hi:g}" if hi is not None else f"a number >= {lo:g}"
    if unit:
        accepted += f" ({unit})"

    def parse(text: str) -> float:
        try:
            value = _number(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {accepted}, got {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"must be {accepted}, got {text}")
        return value

    return parse


def non_negative_int() -> Callable[[str], int]:
    """An argparse ``type=`` for an integer >= 0."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
        return value

    return parse


def one_of(known: list[str], what: str) -> Callable[[str], str]:
    """An argparse ``type=`` for one name out of ``known`` (a shorter message
    than ``choices=``, and help text that can describe the names)."""

    def parse(text: str) -> str:
        if text not in known:
            raise argparse.ArgumentTypeError(f"unknown {what} {text!r}; known: {', '.join(known)}")
        return text

    return parse

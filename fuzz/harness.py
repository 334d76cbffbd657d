"""Shared by the fuzz targets (not a target): the input framing, the seed
writer and the atheris entry point.

Every target reads its input with :class:`Reader`: a few configuration bytes,
then records (an opcode byte and its operands). Reads past the end return
zeros / empty bytes, so every byte string is a valid input. The seed builder
(``make_seeds.py``) writes the same records with :class:`Writer`, so the seed
corpora are real test traffic in the targets' own format.
"""

from __future__ import annotations

import os
import struct
import sys
from collections.abc import Callable


class Reader:
    """Sequential reader over one fuzz input; past the end it yields zeros."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def more(self) -> bool:
        return self.pos < len(self.data)

    def take(self, n: int) -> bytes:
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def u8(self) -> int:
        b = self.take(1)
        return b[0] if b else 0

    def u16(self) -> int:
        return int.from_bytes(self.take(2).ljust(2, b"\0"), "little")

    def u32(self) -> int:
        return int.from_bytes(self.take(4).ljust(4, b"\0"), "little")

    def i16(self) -> int:
        return int.from_bytes(self.take(2).ljust(2, b"\0"), "little", signed=True)

    def i32(self) -> int:
        return int.from_bytes(self.take(4).ljust(4, b"\0"), "little", signed=True)

    def i64(self) -> int:
        return int.from_bytes(self.take(8).ljust(8, b"\0"), "little", signed=True)

    def blob(self, limit: int = 4096) -> bytes:
        """A length-prefixed (u16) byte string, at most ``limit`` bytes."""
        return self.take(self.u16() % (limit + 1))


class Writer:
    """Builds inputs in the Reader's format (seed corpora, regression inputs)."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def u8(self, v: int) -> Writer:
        self.buf += bytes([v & 0xFF])
        return self

    def u16(self, v: int) -> Writer:
        self.buf += struct.pack("<H", v & 0xFFFF)
        return self

    def u32(self, v: int) -> Writer:
        self.buf += struct.pack("<I", v & 0xFFFFFFFF)
        return self

    def i16(self, v: int) -> Writer:
        self.buf += struct.pack("<h", max(-32768, min(32767, v)))
        return self

    def i32(self, v: int) -> Writer:
        self.buf += struct.pack("<i", max(-(2**31), min(2**31 - 1, v)))
        return self

    def i64(self, v: int) -> Writer:
        self.buf += struct.pack("<q", v)
        return self

    def raw(self, b: bytes) -> Writer:
        self.buf += b
        return self

    def blob(self, b: bytes) -> Writer:
        self.buf += struct.pack("<H", len(b)) + b
        return self

    def bytes(self) -> bytes:
        return bytes(self.buf)


def check(cond: bool, what: str) -> None:
    """An invariant of the component under test (an AssertionError is a crash
    for the fuzzer; plain ``assert`` would vanish under ``python -O``)."""
    if not cond:
        raise AssertionError(what)


def main(test_one_input: Callable[[bytes], None], setup: Callable[[], None] | None = None) -> None:
    """Run the target: under atheris when it is installed (coverage-guided,
    libFuzzer's command line), else replay the files / folders given on the
    command line once (regression mode, no fuzzing)."""
    try:
        import atheris
    except ImportError:
        atheris = None
    if setup is not None:
        setup()
    if atheris is None or os.environ.get("VOICECORE_FUZZ_REPLAY"):
        paths = [a for a in sys.argv[1:] if not a.startswith("-")]
        n = 0
        for p in paths:
            files = [os.path.join(p, f) for f in sorted(os.listdir(p))] if os.path.isdir(p) else [p]
            for f in files:
                with open(f, "rb") as fh:
                    test_one_input(fh.read())
                n += 1
        print(f"replayed {n} inputs: ok")
        return
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()

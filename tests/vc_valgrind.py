"""Run a Python snippet under valgrind's memcheck and keep only the errors
voicecore is responsible for.

Running the whole interpreter under valgrind reports things CPython does on
purpose (obmalloc reading arena headers, objects held through interior
pointers at exit, "possibly lost"), which made a plain ``--error-exitcode``
run fail wherever valgrind was installed. Here: PYTHONMALLOC=malloc (no
obmalloc), the interpreter suppressions in ``tests/valgrind/python.supp``,
the report as XML, and only errors whose culprit frame (the first frame past
valgrind's malloc/memcpy replacements and libc) is in a voicecore file (or in
a path the caller names, such as a test probe) are counted. Definite leaks
are reported, possible ones are not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

SUPPRESSIONS = Path(__file__).resolve().parent / "valgrind" / "python.supp"
HAVE_VALGRIND = shutil.which("valgrind") is not None
#: A sanitizer runtime preloaded into this process (the suite run under the ASan
#: build): valgrind cannot run a process that carries it, so its tests skip.
SANITIZER_PRELOADED = "asan" in os.environ.get("LD_PRELOAD", "")


@dataclass
class Frame:
    fn: str
    obj: str
    file: str
    line: int | None


@dataclass
class VgError:
    kind: str
    what: str
    frames: list[Frame] = field(default_factory=list)

    def __str__(self) -> str:
        stack = "\n".join(f"    {f.fn} ({f.file or f.obj}{':' + str(f.line) if f.line else ''})" for f in self.frames[:12])
        return f"{self.kind}: {self.what}\n{stack}"


@dataclass
class VgResult:
    returncode: int
    errors: list[VgError]          # every error valgrind reported (after suppressions)
    ours: list[VgError]            # those with a frame matching `frame_markers`
    stderr: str

    def report(self) -> str:
        return "\n\n".join(str(e) for e in self.ours) or "(no voicecore errors)"


def _frames(err: ET.Element) -> list[Frame]:
    out = []
    for st in err.iter("stack"):
        for fr in st.iter("frame"):
            line = fr.findtext("line")
            out.append(Frame(fr.findtext("fn") or "", fr.findtext("obj") or "",
                             os.path.join(fr.findtext("dir") or "", fr.findtext("file") or ""),
                             int(line) if line else None))
    return out


# Frames that only say "memory was touched here" (valgrind's malloc/memcpy
# replacements, libc, the loader): the culprit is the first frame past them.
_PASS_THROUGH = ("vgpreload_", "/libc.so", "/libc-", "/ld-linux", "/libpthread")


def culprit(e: VgError) -> Frame | None:
    """The first frame of the error's (first) stack that is not a malloc /
    memcpy replacement or libc: for an invalid access, the code that did it;
    for a leak, the code that allocated the block."""
    for f in e.frames:
        if not any(m in f.obj for m in _PASS_THROUGH):
            return f
    return None


def parse(xml_text: str, frame_markers: tuple[str, ...]) -> tuple[list[VgError], list[VgError]]:
    """All errors in a valgrind XML report, and those whose culprit frame (see
    ``culprit``) lies in a file whose path contains one of ``frame_markers``.
    An error deeper in the interpreter that merely has a voicecore frame
    further up its stack (a string the parser interned while a voicecore
    module was being imported) is the interpreter's, not voicecore's."""
    root = ET.fromstring(xml_text)
    errors = []
    for e in root.iter("error"):
        what = e.findtext("what") or e.findtext("xwhat/text") or ""
        errors.append(VgError(e.findtext("kind") or "", what, _frames(e)))
    ours = []
    for e in errors:
        f = culprit(e)
        if f is not None and any(m in (f.obj + " " + f.file) for m in frame_markers):
            ours.append(e)
    return errors, ours


def run(code: str, *args: str, frame_markers: tuple[str, ...] = (f"{os.sep}voicecore{os.sep}",),
        timeout: float = 900) -> VgResult:
    """Run ``python -c code args`` under memcheck; see the module docstring."""
    # the C allocator for Python's objects and for voicecore's per-call blocks
    # (VOICECORE_HUGEPAGES=0: not the huge-page arena), so memcheck sees every block
    env = dict(os.environ, PYTHONMALLOC="malloc", VOICECORE_HUGEPAGES="0")
    with tempfile.TemporaryDirectory(prefix="vc-valgrind-") as tmp:
        xml = Path(tmp) / "report.xml"
        proc = subprocess.run(
            ["valgrind", "--tool=memcheck", "--xml=yes", f"--xml-file={xml}",
             f"--suppressions={SUPPRESSIONS}", "--leak-check=full", "--show-leak-kinds=definite",
             "--errors-for-leak-kinds=definite", "--num-callers=40",
             sys.executable, "-c", code, *args],
            env=env, capture_output=True, text=True, timeout=timeout,
        )
        text = xml.read_text(errors="replace") if xml.exists() else "<valgrindoutput/>"
    errors, ours = parse(text, frame_markers)
    return VgResult(proc.returncode, errors, ours, proc.stderr)

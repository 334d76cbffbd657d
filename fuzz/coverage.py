"""Edge coverage a corpus reaches in the native modules, from libFuzzer's
``-print_coverage=1`` (run through fuzz/run.sh with ``-runs=0``):

    fuzz/run.sh $VENV/bin/python rtp_jitter -runs=0 -print_coverage=1 > cov.txt 2>&1
    python fuzz/coverage.py cov.txt jitter

Counts only the code voicecore wrote: Cython's ``__pyx_f_*`` (cdef / nogil
functions) and ``__pyx_pf_*`` (bodies of Python-visible methods) of each
module, not the generated module plumbing (type slots, argument parsing,
module init). Prints covered / total edges per module and the least covered
functions.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict

LINE = re.compile(r"^(UN)?COVERED_FUNC: hits: (\d+) edges: (\d+)/(\d+) (\S+) (\S+?):\d+")


def parse(path: str) -> dict[str, list[tuple[str, int, int]]]:
    mods: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            _, _hits, cov, tot, func, src = m.groups()
            if not (func.startswith("__pyx_f_") or func.startswith("__pyx_pf_")):
                continue
            mod = re.search(r"/([\w.]+)\.cpython[^/]*\.so\.p/", src)
            name = mod.group(1) if mod else src
            if "/ring/" in src:
                name = "ring." + name
            mods[name].append((func, int(cov), int(tot)))
    return mods


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    mods = parse(argv[0])
    want = argv[1:] or sorted(mods)
    for name in want:
        funcs = mods.get(name, [])
        cov = sum(c for _, c, _ in funcs)
        tot = sum(t for _, _, t in funcs)
        pct = 100.0 * cov / tot if tot else 0.0
        print(f"{name}: {cov}/{tot} edges ({pct:.1f} %) in {len(funcs)} functions")
        worst = sorted((c / t, f, c, t) for f, c, t in funcs if t >= 8 and c < t)[:4]
        for _, f, c, t in worst:
            print(f"    {c}/{t}  {f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

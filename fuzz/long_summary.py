"""Totals of the long fuzz runs made with fuzz/long.sh, one line per target:

    python fuzz/long_summary.py WORKDIR [TARGET ...]

CPU minutes (user + sys of every process, summed over the chunks' /usr/bin/time
files), wall minutes, inputs executed, crashes / timeouts / out-of-memory as
libFuzzer's fork mode counted them (a sanitizer finding is a crash), crash
inputs kept in WORKDIR/artifacts/, corpus size, and the coverage libFuzzer
reported last (cov: edges of the instrumented code, ft: features).
"""

from __future__ import annotations

import glob
import os
import re
import sys

TARGETS = ("rtp_jitter", "rtp_events", "rtcp", "g711_pcm", "resample", "rings", "engine")
TIME = re.compile(r"cpu_user=([\d.]+) cpu_sys=([\d.]+) wall=([\d.]+)")
STATUS = re.compile(r"#(\d+): cov: (\d+) ft: (\d+) corp: \d+ exec/s \d+ oom/timeout/crash: (\d+)/(\d+)/(\d+)")


def summarize(workdir: str, target: str) -> dict[str, float]:
    cpu = wall = 0.0
    for path in glob.glob(os.path.join(workdir, f"{target}.time.*")):
        with open(path) as f:
            m = TIME.search(f.read())
        if m:
            cpu += float(m.group(1)) + float(m.group(2))
            wall += float(m.group(3))
    execs = ooms = timeouts = crashes = cov = ft = 0
    last = (0, 0, 0, 0)  # execs, ooms, timeouts, crashes of the chunk being read
    log = os.path.join(workdir, f"{target}.log")
    if os.path.exists(log):
        with open(log, errors="replace") as f:
            for line in f:
                m = STATUS.match(line)
                if not m:
                    continue
                n, c, fts, o, t, x = (int(g) for g in m.groups())
                if n < last[0]:  # a new chunk: its counters start again
                    execs, ooms, timeouts, crashes = (a + b for a, b in zip((execs, ooms, timeouts, crashes), last))
                last, cov, ft = (n, o, t, x), c, fts
        execs, ooms, timeouts, crashes = (a + b for a, b in zip((execs, ooms, timeouts, crashes), last))
    corpus_dir = os.path.join(workdir, "corpus", target)
    kept = glob.glob(os.path.join(workdir, "artifacts", f"{target}-*"))
    slow = sum("-slow-unit-" in os.path.basename(k) for k in kept)
    return {
        "cpu_min": cpu / 60, "wall_min": wall / 60, "execs": execs, "crashes": crashes, "timeouts": timeouts,
        "ooms": ooms, "artifacts": len(kept) - slow, "slow": slow,
        "corpus": len(os.listdir(corpus_dir)) if os.path.isdir(corpus_dir) else 0, "cov": cov, "ft": ft,
    }


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    workdir, targets = argv[0], argv[1:] or list(TARGETS)
    print(f"{'target':11s} {'CPU-min':>8s} {'wall-min':>8s} {'execs':>10s} crash timeout oom artifacts slow corpus   cov    ft")
    for t in targets:
        s = summarize(workdir, t)
        print(f"{t:11s} {s['cpu_min']:8.1f} {s['wall_min']:8.1f} {s['execs']:10,d} {s['crashes']:5d} {s['timeouts']:7d}"
              f" {s['ooms']:3d} {s['artifacts']:9d} {s['slow']:4d} {s['corpus']:6d} {s['cov']:5d} {s['ft']:5d}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

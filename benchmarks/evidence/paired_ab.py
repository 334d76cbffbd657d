"""Paired A/B of two builds on the receive path (issue 10's measuring method).

Both builds' receivers run at the same time, each with N calls, both pinned to
CPU 0 and their load generators to CPU 1 (voicecore.bench.load.Pair and
measure_many), so the machine's drift over minutes (+-30 % here) hits both
alike; the figure is the ratio B/A of CPU-us per packet in each round, and its
median. Each argument is a Python interpreter with one build installed (a
venv, or a wrapper script that sets an environment variable first).

    python benchmarks/evidence/paired_ab.py /venv-a/bin/python /venv-b/bin/python \
        [rounds=6] [calls=1000] [stack=voicecore] [seconds=10]

Run it from outside both source trees. Not a test: it takes about 45 s a round.
"""

from __future__ import annotations

import statistics
import sys

from voicecore.bench.load import Pair, free_base, measure_many


def main(argv: list[str]) -> None:
    a, b = argv[0], argv[1]
    rounds = int(argv[2]) if len(argv) > 2 else 6
    calls = int(argv[3]) if len(argv) > 3 else 1000
    stack = argv[4] if len(argv) > 4 else "voicecore"
    secs = float(argv[5]) if len(argv) > 5 else 10.0
    ra: list[float] = []
    rb: list[float] = []
    for r in range(rounds):
        base_a = free_base(2 * calls + 60)              # room for both port ranges
        base_b = base_a + 2 * calls + 100
        pa = Pair(stack, calls, seconds=secs, warmup=3, both=False, rx_cpu=0, gen_cpu=1, base=base_a, python=a)
        pb = Pair(stack, calls, seconds=secs, warmup=3, both=False, rx_cpu=0, gen_cpu=1, base=base_b, python=b)
        first_a = r % 2 == 0                            # alternate which one starts first
        res = measure_many([pa, pb] if first_a else [pb, pa], timeout=300 + calls * 0.05)
        x, y = res if first_a else res[::-1]
        ra.append(x["cpu_us_per_packet"])
        rb.append(y["cpu_us_per_packet"])
        print(f"round {r}: A {ra[-1]:.3f}  B {rb[-1]:.3f}  B/A {rb[-1] / ra[-1]:.3f}  "
              f"delivered {x['delivered_pct']:.2f} / {y['delivered_pct']:.2f} %", flush=True)
    ratios = [y / x for x, y in zip(ra, rb)]
    print(f"A median {statistics.median(ra):.3f}  B median {statistics.median(rb):.3f}  "
          f"B/A median {statistics.median(ratios):.3f} ({sum(q < 1 for q in ratios)} of {rounds} rounds B lower)")


if __name__ == "__main__":
    main(sys.argv[1:])

"""Worst-case concealment cost per 20 ms frame through the public JitterBuffer API
(runs unchanged on the pre-fix tree 896c1d1 and on main): N buffers fed the same
netsim traffic (so a concealing tick has all N concealing at once), pulled once per
20 ms tick with pull_into; every pull timed with perf_counter_ns.

    python evidence/conceal_worst.py [N] [repeats]

Per scenario and rate: per tick, the mean pull time over the N buffers (= cost per frame
in that tick); 'worst' = the most expensive tick, 'mean' = over all ticks; 'max pull' =
the single most expensive pull. Each figure is the median over the repeats; 'worst(min)'
= max over ticks of the per-tick minimum over repeats (robust to machine noise).
The timer overhead (an empty perf_counter_ns pair) is printed, not subtracted.
"""
import statistics
import sys
import time

import numpy as np

from voicecore.jitter import JitterBuffer
from voicecore.testing import netsim as ns

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200
REPEATS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
TICK_MS = 4000
SCEN = {"loss10": dict(loss=0.10), "stall": dict(spike_every_ms=1000, spike_ms=200, jitter_ms=1)}
pc = time.perf_counter_ns


def traffic(rate, scen):
    s = ns.Sender(clock_rate=rate, audio=ns.speech_like(rate * 10, seed=3))
    s.talk(TICK_MS)
    s.silence(100)
    arr = ns.deliver(s.packets, seed=3, base_delay_ms=40, **SCEN[scen])
    return [(a.arrival_ns, a.data) for a in sorted(arr, key=lambda a: a.arrival_ns)], s.start_ns, (TICK_MS + 100) // 20


def one_pass(rate, scen):
    arr, t0, nticks = traffic(rate, scen)
    bufs = [JitterBuffer(clock_rate=rate) for _ in range(N)]
    out = bytearray(2 * rate // 50)
    tick = np.zeros(nticks)
    pmax = np.zeros(nticks)
    kinds = np.zeros(nticks, int)
    i = 0
    for k in range(nticks):
        t = t0 + k * 20_000_000
        while i < len(arr) and arr[i][0] <= t:
            for jb in bufs:
                jb.push(arr[i][1], arr[i][0])
            i += 1
        tot = 0
        mx = 0
        for jb in bufs:
            a = pc()
            kd = jb.pull_into(out, t)
            d = pc() - a
            tot += d
            mx = d if d > mx else mx
        tick[k] = tot / N
        pmax[k] = mx
        kinds[k] = int(kd)
    return tick, pmax, kinds


def main():
    ovs = []
    for _ in range(10000):
        a = pc(); ovs.append(pc() - a)
    print(f"N={N} repeats={REPEATS} timer overhead median {statistics.median(ovs)} ns")
    for rate in (8000, 48000):
        for scen in SCEN:
            ticks, pmaxes = [], []
            for _ in range(REPEATS):
                tk, pm, kinds = one_pass(rate, scen)
                ticks.append(tk)
                pmaxes.append(pm)
            T = np.array(ticks)
            conc = kinds == 1
            worst_med = statistics.median(float(t.max()) for t in T) / 1e3
            worst_kind = [int(kinds[int(t.argmax())]) for t in T]
            mean_med = statistics.median(float(t.mean()) for t in T) / 1e3
            conc_mean = statistics.median(float(t[conc].mean()) for t in T) / 1e3
            robust = T.min(axis=0)
            pmax_med = statistics.median(float(p.max()) for p in pmaxes) / 1e3
            print(f"{rate:5d} Hz {scen:6s}: worst tick {worst_med:7.2f} us/frame (kinds {worst_kind}), "
                  f"worst(min) {robust.max()/1e3:7.2f} us/frame (kind {int(kinds[int(robust.argmax())])}), "
                  f"mean {mean_med:5.2f} us/frame, mean of concealing ticks {conc_mean:5.2f} us/frame "
                  f"({int(conc.sum())} of {len(kinds)} ticks), max single pull {pmax_med:7.2f} us")


main()

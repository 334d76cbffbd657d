"""Reproductions of the jitter-buffer impairments of issue 16, printed as figures.

Run from outside the tree (the installed voicecore is measured)::

    python benchmarks/jitter_repro.py            # all reproductions
    python benchmarks/jitter_repro.py ssrc phase # a selection

``ssrc``: a second SSRC interleaved with the established stream (RELIABILITY
case 14): 2 foreign packets between two of ours (the issue's exact case), 28 %
of all packets from a second SSRC at random, and bursts of 2, 3 and 10
foreign packets in a row; plus a genuine SSRC change (case 13) for contrast.
``phase``: packets whose delay is inside the playout target but which arrive
late in the pull period (every 10th packet 50 ms late), swept over the pull
phase; and a 60 s call with 7 % loss, 25 % of packets delayed 20-60 ms and
jitter. Counters that do not exist in the measured build print as "-".
"""

from __future__ import annotations

import random
import struct
import sys

import numpy as np

from voicecore.jitter import JitterBuffer
from voicecore.testing import netsim as ns

MS = 1_000_000
A_SSRC, B_SSRC = 0xAAAA, 0xBBBB


def rtp(seq: int, ts: int, ssrc: int, payload: bytes) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload


def _payloads(n: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [bytes(rng.integers(0, 0x7F, 160, dtype=np.uint8)) for _ in range(n)]


def _drive(events, nframes: int, phase_ns: int = 0, **kw):
    """events: (arrival_ns, datagram); pulls every 20 ms at ``phase_ns``.
    Returns (buffer, pcm frames, kinds, push results in event order)."""
    jb = JitterBuffer(**kw)
    ev = sorted(events, key=lambda e: e[0])
    out, kinds, results = [], [], []
    i = 0
    for f in range(nframes):
        t = f * 20 * MS + phase_ns
        while i < len(ev) and ev[i][0] <= t:
            results.append(jb.push(ev[i][1], ev[i][0]))
            i += 1
        pcm, kind = jb.pull(t)
        out.append(pcm)
        kinds.append(int(kind))
    return jb, out, kinds, results


def _a_played(out: list[bytes], pay: list[bytes]) -> int:
    """How many of stream A's packets are in the output, whole and in order."""
    pcm = b"".join(out)
    n = 0
    for p in pay:
        r = ns.ulaw_decode(p).tobytes()
        k = pcm.find(r)
        while k >= 0 and k % 2:
            k = pcm.find(r, k + 1)
        n += k >= 0
    return n


def _stat(st, name):
    return st.get(name, "-")


def ssrc_two_between_ours():
    """The issue's case: 200 packets of A, 30 ms transit, B 500/501 at +3/+15 ms after A 100."""
    pay = _payloads(200, 1)
    ev = [(1000 * MS + i * 20 * MS + 30 * MS, rtp(1000 + i, 160 * i, A_SSRC, pay[i])) for i in range(200)]
    t100 = ev[100][0]
    foreign = [(t100 + 3 * MS, rtp(500, 7777, B_SSRC, b"\xff" * 160)),
               (t100 + 15 * MS, rtp(501, 7777 + 160, B_SSRC, b"\xff" * 160))]
    jb, out, kinds, res = _drive(ev + foreign, 1000 // 20 + 230)
    _, out0, _, _ = _drive(ev, 1000 // 20 + 230)
    order = sorted(range(len(ev) + 2), key=lambda k: (ev + foreign)[k][0])
    fres = [int(res[order.index(200)]), int(res[order.index(201)])]
    st = jb.stats()
    print(f"  2 foreign between two of ours: push results of the foreign pair {fres} "
          f"(FOREIGN_SSRC = 8, OK = 0); ssrc_switches {st['ssrc_switches']}, foreign_ssrc "
          f"{st['foreign_ssrc']}; A packets played whole {_a_played(out, pay)} / 200 (without the intruder "
          f"{_a_played(out0, pay)}); output frames that differ from the run without the intruder "
          f"{sum(1 for a, b in zip(out0, out) if a != b)}")


def _interleaved(pattern: str, seed: int, n_a: int = 3000):
    rng = random.Random(seed)
    pay = _payloads(n_a, seed)
    t0 = 1000 * MS
    ev_a = [(t0 + i * 20 * MS + 30 * MS + int(abs(rng.gauss(0, 3)) * MS), rtp(1000 + i, 160 * i, A_SSRC, pay[i]))
            for i in range(n_a)]
    ev_b = []
    bseq, bts = 40000, 123456
    if pattern == "random28":
        nb = round(n_a * 0.28 / 0.72)
        times = sorted(rng.uniform(t0 + 100 * MS, t0 + n_a * 20 * MS) for _ in range(nb))
        for t in times:
            ev_b.append((int(t), rtp(bseq, bts, B_SSRC, b"\xff" * 160)))
            bseq += 1
            bts += 160
    else:
        k = int(pattern.split("x")[1])
        for j in range(60):                      # 60 bursts of k foreign packets in a row
            i = rng.randrange(20, n_a - 20)
            base = ev_a[i][0]
            nxt = ev_a[i + 1][0]
            for m in range(k):
                ev_b.append((base + (m + 1) * max(1, (nxt - base)) // (k + 2), rtp(bseq, bts, B_SSRC, b"\xff" * 160)))
                bseq += 1
                bts += 160
    nframes = n_a + 100
    jb0, out0, _, _ = _drive(ev_a, nframes)
    jb, out, kinds, res = _drive(ev_a + ev_b, nframes)
    st = jb.stats()
    differ = sum(1 for a, b in zip(out0, out) if a != b)
    return dict(pattern=pattern, foreign=len(ev_b), switches=st["ssrc_switches"], foreign_ssrc=st["foreign_ssrc"],
                a_played=_a_played(out, pay), a_played_clean=_a_played(out0, pay), differ=differ, n_a=n_a)


def ssrc_interleaved():
    for pattern in ("random28", "burst x2", "burst x3", "burst x10"):
        pattern = pattern.replace(" ", "")
        r = _interleaved(pattern, seed=5)
        print(f"  {r['pattern']:<9} {r['foreign']:5d} foreign packets: ssrc_switches {r['switches']}, foreign_ssrc "
              f"{r['foreign_ssrc']}, A packets played whole {r['a_played']} / {r['n_a']} (without the intruder "
              f"{r['a_played_clean']}), output frames that differ from the run without the intruder {r['differ']}")


def ssrc_genuine_change():
    s = ns.Sender()
    s.talk(1500)
    s.restart(ssrc=0xDEADBEEF, seq=40000, ts=99)
    s.talk(1500)
    s.silence(120)
    jb = JitterBuffer()
    r = ns.run(jb, ns.deliver(s.packets, base_delay_ms=40), start_ns=s.start_ns, duration_ms=3600)
    st = jb.stats()
    print(f"  genuine SSRC change (the old SSRC stops): ssrc_switches {st['ssrc_switches']}, concealed samples "
          f"{st['concealed_samples']} (<= 160 wanted), lost {st['lost']}, received {st['received']}, "
          f"foreign_ssrc {st['foreign_ssrc']}, takeover_packets {_stat(st, 'takeover_packets')}, "
          f"packets sent {len(s.packets)}")


def phase_sweep():
    """20 ms PCMU, 30 ms transit, every 10th packet 50 ms later; 30 s, counted after 5 s."""
    pay = _payloads(1500, 3)
    ev = [(i * 20 * MS + 30 * MS + (50 * MS if i % 10 == 5 else 0), rtp(1000 + i, 160 * i, A_SSRC, pay[i]))
          for i in range(1500)]
    rows = []
    for phase_ms in (0, 1, 5, 10, 15, 19):
        jb, out, kinds, _ = _drive(ev, 1500 + 10, phase_ns=phase_ms * MS + 1)
        st = jb.stats()
        conc = sum(1 for k in kinds[250:1480] if k == 1)
        rows.append((phase_ms, conc, st["late"], st["lost"], _stat(st, "late_partial"), st["target_delay_ms"]))
    for phase_ms, conc, late, lost, part, tgt in rows:
        print(f"  pull phase {phase_ms:2d} ms: concealed frames after 5 s {conc:4d}, late {late}, lost {lost}, "
              f"late_partial {part}, target {tgt:.1f} ms")


def phase_60s_call():
    """60 s, 7 % loss, 25 % of packets delayed 20-60 ms, jitter sigma 5 ms."""
    s = ns.Sender()
    s.talk(60000)
    s.silence(200)
    arr = ns.deliver(s.packets, seed=11, base_delay_ms=40, loss=0.07, reorder=0.25, reorder_delay_ms=(20, 60),
                     jitter_ms=5)
    for phase_ms in (0, 10, 19):
        jb = JitterBuffer()
        r = ns.run(jb, arr, start_ns=s.start_ns + phase_ms * MS, duration_ms=60600, trace_every=100)
        at2 = r.trace[1][1]
        st = jb.stats()
        after = st["received"] - at2["received"]
        part = _stat(st, "late_partial")
        part_s = "-" if part == "-" else f"{part - at2['late_partial']} ({100.0 * (part - at2['late_partial']) / after:.1f} %)"
        late_after = st["late"] - at2["late"]
        print(f"  pull phase {phase_ms:2d} ms: after 2 s {after} packets stored, late {late_after} "
              f"({100.0 * late_after / max(1, after + late_after):.2f} %), partly concealed {part_s}, lost "
              f"{st['lost'] - at2['lost']}, target {st['target_delay_ms']:.0f} ms (max seen "
              f"{max(t['target_delay_ms'] for _, t in r.trace):.0f})")


CASES = {"ssrc": [ssrc_two_between_ours, ssrc_interleaved, ssrc_genuine_change], "phase": [phase_sweep, phase_60s_call]}

if __name__ == "__main__":
    for name in sys.argv[1:] or list(CASES):
        print(name)
        for fn in CASES[name]:
            fn()

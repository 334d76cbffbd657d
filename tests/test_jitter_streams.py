"""Jitter buffer: stream ownership, pull-phase independence and counting
(issue 16; RELIABILITY.md cases 13, 14, 20).

1. Another SSRC interleaved with the established stream, at any rate, in any
   pattern and in bursts, never takes it over and is counted in foreign_ssrc
   at push time; a genuine SSRC change (the old SSRC stops) still switches
   with no more than one frame concealed.
2. A packet whose delay is within the target is played whole at any pull
   phase; a packet that is partly concealed is counted (late_partial).
3. The outcome counters agree with the push results after every push.
"""

from __future__ import annotations

import random
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from jitter_helpers import F, offset_of, payload_pcm, play
from voicecore.jitter import FrameKind, JitterBuffer, PushResult
from voicecore.testing import netsim as ns

MS = 1_000_000
A_SSRC, B_SSRC = 0xAAAA, 0xBBBB
OUTCOME = {PushResult.OK: "received", PushResult.HELD: "held", PushResult.DUPLICATE: "duplicates",
           PushResult.LATE: "late", PushResult.MALFORMED: "malformed", PushResult.OVERSIZE: "oversize",
           PushResult.UNKNOWN_PT: "unknown_pt", PushResult.FOREIGN: "foreign",
           PushResult.FOREIGN_SSRC: "foreign_ssrc", PushResult.DISCARDED: "discarded",
           PushResult.MALFORMED_DTMF: "malformed_dtmf"}


def rtp(seq: int, ts: int, ssrc: int, payload: bytes, pt: int = 0) -> bytes:
    return struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload


def drive(events, nframes: int, phase_ns: int = 0, **kw):
    """Push (arrival_ns, datagram) events and pull every 20 ms at ``phase_ns``;
    returns the buffer, the output and the push results in arrival order."""
    jb = JitterBuffer(**kw)
    ev = sorted(events, key=lambda e: e[0])
    out, kinds, results = bytearray(), [], []
    i = 0
    for f in range(nframes):
        t = f * 20 * MS + phase_ns
        while i < len(ev) and ev[i][0] <= t:
            results.append((ev[i], jb.push(ev[i][1], ev[i][0])))
            i += 1
        pcm, kind = jb.pull(t)
        out += pcm
        kinds.append(kind)
    return jb, bytes(out), kinds, results


def stream_a(n: int, seed: int, jitter_ms: float = 2.0):
    rng = random.Random(seed)
    pay = np.random.default_rng(seed).integers(0, 0x7F, (n, 160), dtype=np.uint8)
    return [(1000 * MS + i * 20 * MS + 30 * MS + int(abs(rng.gauss(0, jitter_ms)) * MS),
             rtp(1000 + i, 160 * i, A_SSRC, bytes(pay[i]))) for i in range(n)]


def intruder(pattern: str, ev_a, seed: int):
    """Packets of SSRC B interleaved with stream A: ``random28`` (28 % of all
    packets, at random times), ``sameRate`` (a full second stream 7 ms after
    A), or ``burstK`` (30 bursts of K sequential packets between two of A's)."""
    rng = random.Random(seed + 100)
    t_first, t_last = ev_a[0][0], ev_a[-1][0]
    out, seq, ts = [], 40000, 123456
    if pattern == "random28":
        times = sorted(rng.uniform(t_first, t_last) for _ in range(round(len(ev_a) * 0.28 / 0.72)))
    elif pattern == "sameRate":
        times = [t + 7 * MS for t, _ in ev_a]
    else:
        k = int(pattern[5:])
        times = []
        for i in sorted(rng.sample(range(5, len(ev_a) - 5), 30)):
            t0, t1 = ev_a[i][0], ev_a[i + 1][0]
            times += [t0 + (m + 1) * (t1 - t0) // (k + 1) for m in range(k)]
    for t in times:
        out.append((int(t), rtp(seq, ts, B_SSRC, bytes(160))))
        seq, ts = seq + 1, ts + 160
    return out


# ---------------------------------------------------------------- 1. SSRC (cases 13, 14)
def test_two_foreign_packets_between_two_of_ours():
    """The issue's reproduction: after packet 100 of A, B 500 and 501 arrive at
    +3 and +15 ms. Before the fix the second took the stream over."""
    ev_a = stream_a(200, seed=1, jitter_ms=0)
    t100 = ev_a[100][0]
    ev_b = [(t100 + 3 * MS, rtp(500, 7777, B_SSRC, bytes(160))),
            (t100 + 15 * MS, rtp(501, 7937, B_SSRC, bytes(160)))]
    jb0, out0, _, _ = drive(ev_a, 280)
    jb, out, _, results = drive(ev_a + ev_b, 280)
    assert [r for e, r in results if e in ev_b] == [PushResult.FOREIGN_SSRC] * 2
    st_ = jb.stats()
    assert st_["ssrc_switches"] == 0 and st_["foreign_ssrc"] == 2
    assert out == out0                     # all 200 frames of A, as without the intruder


@pytest.mark.parametrize("pattern", ["random28", "sameRate", "burst2", "burst3", "burst10"])
@pytest.mark.parametrize("seed", range(3))
def test_interleaved_ssrc_never_takes_over(pattern, seed):
    ev_a = stream_a(1500, seed)
    ev_b = intruder(pattern, ev_a, seed)
    jb0, out0, _, _ = drive(ev_a, 1600)
    jb, out, _, results = drive(ev_a + ev_b, 1600)
    st_ = jb.stats()
    assert st_["ssrc_switches"] == 0
    assert st_["foreign_ssrc"] == len(ev_b)                  # every foreign packet, counted at push
    assert all(r == PushResult.FOREIGN_SSRC for e, r in results if e[1][8:12] == B_SSRC.to_bytes(4, "big"))
    assert out == out0                                       # the established stream keeps every frame
    assert st_["received"] == jb0.stats()["received"]


def test_foreign_ssrc_counted_at_push_time():
    ev_a = stream_a(300, seed=4)
    ev_b = intruder("random28", ev_a, 4)
    jb = JitterBuffer()
    n = 0
    for t, d in sorted(ev_a + ev_b, key=lambda e: e[0]):
        r = jb.push(d, t)
        if d[8:12] == B_SSRC.to_bytes(4, "big"):
            n += 1
            assert r == PushResult.FOREIGN_SSRC
        assert jb.stats()["foreign_ssrc"] == n           # never one behind
        jb.pull(t)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("jitter_ms,ptime", [(0, 20), (4, 20), (8, 20), (4, 10), (4, 30)])
def test_genuine_ssrc_change_switches_at_once(seed, jitter_ms, ptime):
    """Case 13: the old SSRC stops and a new one continues (SBC failover):
    one switch, at most one frame concealed, every packet of both played."""
    rng = random.Random(seed)
    s = ns.Sender(ptime_ms=ptime, audio=ns.speech_like(80000, seed=seed))
    s.talk(1500 + rng.randrange(0, 400, 20))
    s.restart(ssrc=rng.getrandbits(32) | 1, seq=rng.randrange(65536), ts=rng.getrandbits(32))
    s.talk(1500)
    s.silence(120)
    jb, r = play(s, ns.deliver(s.packets, base_delay_ms=40, jitter_ms=jitter_ms, seed=seed))
    st_ = jb.stats()
    assert st_["ssrc_switches"] == 1
    assert st_["concealed_samples"] <= F
    assert st_["received"] + st_["takeover_packets"] + st_["late"] == len(s.packets)
    assert st_["late"] <= 0.01 * len(s.packets)
    ref = payload_pcm(s.packets)
    tail = len(ref) - 4000
    d = offset_of(r.pcm, ref, start=tail)
    assert np.array_equal(r.pcm[d + tail:d + len(ref)], ref[tail:])


def test_interleaved_ssrc_waits_through_pauses_then_takes_over_a_dead_stream():
    """An SSRC seen interleaved with the stream does not take over during a
    1.5 s pause of the stream (DTX without CN), only after 2 s of silence."""
    a = ns.Sender(ssrc=A_SSRC)
    a.talk(2000)
    a.silence(60)
    a.pause(1500)
    a.talk(2000)                        # then A stops for good
    b = ns.Sender(ssrc=B_SSRC, seq=7, ts=99, start_ns=a.start_ns + 9 * MS, audio=ns.speech_like(80000, seed=5))
    b.talk(14000)
    arr_a = ns.deliver(a.packets, base_delay_ms=40)
    mixed = sorted(arr_a + ns.deliver(b.packets, base_delay_ms=40), key=lambda x: x.arrival_ns)
    jb0, r0 = play(a, arr_a)
    jb, r = play(a, mixed, extra_ms=6000)
    st_ = jb.stats()
    assert st_["ssrc_switches"] == 1
    n0 = len(r0.pcm) - 400 * 8            # all of A, pause included, as without B
    assert np.array_equal(r.pcm[:n0], r0.pcm[:n0])
    # B plays once A has been silent for 2 s
    kinds = r.kinds
    a_end = int(np.flatnonzero(r0.kinds == FrameKind.AUDIO)[-1])
    assert (kinds[a_end + 105:a_end + 250] == FrameKind.AUDIO).all()
    assert (kinds[a_end + 10:a_end + 90] != FrameKind.AUDIO).all()


# ---------------------------------------------------------------- 2. pull phase (case 20)
def _every_10th_late(delay_ms: int, n: int = 600):
    pay = np.random.default_rng(3).integers(0, 0x7F, (n, 160), dtype=np.uint8)
    return [(i * 20 * MS + 30 * MS + (delay_ms * MS if i % 10 == 5 else 0), rtp(1000 + i, 160 * i, A_SSRC,
             bytes(pay[i]))) for i in range(n)]


@pytest.mark.parametrize("delay_ms", [20, 40, 50, 55])
def test_packet_within_target_played_whole_at_any_phase(delay_ms):
    """Every 10th packet is ``delay_ms`` late (inside the 60 ms target): no
    pull phase in the 20 ms period conceals any of it."""
    ev = _every_10th_late(delay_ms)
    for phase in range(0, 20):
        jb, out, kinds, _ = drive(ev, 600, phase_ns=phase * MS + 1)
        st_ = jb.stats()
        assert st_["target_delay_ms"] >= delay_ms
        assert FrameKind.CONCEALED not in kinds[10:590], (phase, kinds.index(FrameKind.CONCEALED))
        assert st_["late"] == 0 and st_["late_partial"] == 0 and st_["lost"] == 0


@pytest.mark.parametrize("phase", range(0, 20, 3))
def test_partly_concealed_packets_are_counted(phase):
    """With the target pinned at 20 ms, packets 45 ms late (more than the
    target + one frame) are concealed at every pull phase, in whole (``late``)
    or in part (``late_partial``): what the listener heard is in the
    statistics."""
    ev = _every_10th_late(45)
    jb, out, kinds, _ = drive(ev, 600, phase_ns=phase * MS + 1, min_delay_ms=20, max_delay_ms=20)
    st_ = jb.stats()
    assert st_["late"] + st_["late_partial"] == 60          # every delayed packet, one way or the other
    assert kinds[10:590].count(FrameKind.CONCEALED) >= 58
    assert st_["lost"] == st_["late"]


def test_adaptive_delay_covers_partial_lateness():
    """60 s, 7 % loss, 25 % of packets 20-60 ms late, jitter sigma 15 ms: after
    2 s of adaptation at most 1 % of packets are late or partly concealed."""
    s = ns.Sender()
    s.talk(60000)
    s.silence(200)
    arr = ns.deliver(s.packets, seed=11, base_delay_ms=40, loss=0.07, reorder=0.25, reorder_delay_ms=(20, 60),
                     jitter_ms=15)
    for phase_ms in (0, 10, 19):
        jb = JitterBuffer()
        r = ns.run(jb, arr, start_ns=s.start_ns + phase_ms * MS, duration_ms=60600, trace_every=100)
        at2, end = r.trace[1][1], jb.stats()
        stored = end["received"] - at2["received"]
        bad = end["late"] - at2["late"] + end["late_partial"] - at2["late_partial"]
        assert bad <= 0.01 * stored, (phase_ms, bad, stored)
        assert end["target_delay_ms"] <= 200


# ---------------------------------------------------------------- 3. counting
def _outcomes(st_) -> int:
    return sum(st_[v] for v in OUTCOME.values())


packets = st.lists(st.tuples(
    st.sampled_from([A_SSRC, A_SSRC, A_SSRC, B_SSRC, 0x77]), st.integers(-5, 60), st.integers(-3000, 3000),
    st.sampled_from([0, 0, 0, 8, 13, 18, 101]), st.integers(0, 200), st.integers(0, 45), st.booleans()),
    min_size=1, max_size=150)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packets)
def test_outcome_counters_agree_with_push_results(ops):
    """After every push the outcome counters sum to the number of pushes and
    the one named by the result has moved; ``held`` is 0 or 1."""
    jb = JitterBuffer(capacity=16)
    t = 10**12
    seqs = {A_SSRC: 100, B_SSRC: 9000, 0x77: 5}
    pushes = 0
    for ssrc, dseq, dts, pt, plen, dt_ms, pull in ops:
        seqs[ssrc] += dseq if dseq > 3 else 1
        t += dt_ms * MS
        d = rtp(seqs[ssrc], seqs[ssrc] * 160 + dts, ssrc, bytes(plen), pt=pt)
        before = jb.stats()
        r = jb.push(d, t)
        pushes += 1
        after = jb.stats()
        assert isinstance(r, PushResult)
        assert _outcomes(after) == pushes
        assert after["held"] in (0, 1)
        name = OUTCOME[r]
        if r == PushResult.HELD:
            assert after["held"] == 1
        else:
            assert after[name] > before[name], (r, before, after)
        if pull:
            jb.pull(t)
            assert _outcomes(jb.stats()) == pushes


def test_unknown_pt_from_the_stream_leaves_its_slot_lost():
    """Documented: a packet of the stream with a payload type that was not
    negotiated (PT 18 here) is dropped before sequencing, so its sequence
    number counts as lost and is concealed like missing audio."""
    s = ns.Sender()
    s.talk(2000)
    s.silence(120)
    p = s.packets[40]
    s.packets[40].data = ns.rtp_packet(p.seq, p.ts, s.ssrc, 18, bytes(20))
    jb, r = play(s, ns.deliver(s.packets, base_delay_ms=40), payload_types={0: "pcmu"})
    st_ = jb.stats()
    assert st_["unknown_pt"] == 1 and st_["lost"] == 1 and st_["concealed_samples"] == F

"""Property tests: no datagram crashes, raises or grows the jitter buffer, and
the playout contract (exactly one frame per pull) holds whatever arrives."""

from __future__ import annotations

import struct

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from voicecore._native.media.jitter import STAT_NAMES
from voicecore.jitter import FrameKind, JitterBuffer, PushResult
from voicecore.testing import netsim as ns

SSRC = 0x1234ABCD
CODES = {int(c) for c in PushResult}
KINDS = {int(k) for k in FrameKind}


MONOTONIC = [n for n in STAT_NAMES if n != "held"]     # held is a gauge (0 or 1)


def _counters(jb):
    s = jb.stats()
    return {k: s[k] for k in MONOTONIC}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=1600), max_size=40), st.integers(0, 2**40))
def test_random_bytes_never_raise(datagrams, t0):
    jb = JitterBuffer()
    for i, d in enumerate(datagrams):
        assert jb.push(d, t0 + i * 1_000_000) in CODES
        pcm, kind = jb.pull(t0 + i * 1_000_000)
        assert len(pcm) == 2 * jb.frame_samples and kind in KINDS


header = st.tuples(
    st.integers(0, 255), st.integers(0, 255), st.integers(0, 65535),
    st.integers(0, 2**32 - 1), st.sampled_from([SSRC, SSRC, SSRC, 1, 2**32 - 1]),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(header, st.binary(max_size=400), st.integers(0, 80_000_000), st.booleans()),
                min_size=1, max_size=120))
def test_state_machine_invariants(ops):
    """Arbitrary headers (valid and invalid), arrival gaps and pulls: counters
    only grow, every pull returns one frame, accounting stays consistent."""
    jb = JitterBuffer(capacity=16)
    t = 10**12
    prev = _counters(jb)
    pulls = 0
    for (b0, b1, seq, ts, ssrc), payload, dt, do_pull in ops:
        t += dt
        d = struct.pack("!BBHII", b0, b1, seq, ts, ssrc) + payload
        assert jb.push(d, t) in CODES
        if do_pull:
            pcm, kind = jb.pull(t)
            pulls += 1
            assert len(pcm) == 2 * jb.frame_samples and kind in KINDS
        cur = _counters(jb)
        assert all(cur[k] >= prev[k] for k in cur)
        prev = cur
    assert prev["frames_out"] == pulls
    assert prev["audio_frames"] + prev["concealed_frames"] + prev["silence_frames"] + prev["comfort_noise_frames"] == pulls


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(-200, 5000), st.integers(-10**6, 10**6), st.integers(0, 30)),
                min_size=5, max_size=200),
       st.integers(0, 2**16 - 1), st.integers(0, 2**32 - 1))
def test_valid_packets_any_order(moves, seq0, ts0):
    """Valid RTP from one SSRC with arbitrary sequence / timestamp moves: the
    buffer never stores more than it can hold and never plays a frame twice."""
    jb = JitterBuffer(capacity=16)
    t = 10**12
    seq, ts = seq0, ts0
    for dseq, dts, dt_ms in moves:
        seq = (seq + dseq) & 0xFFFF
        ts = (ts + dts) & 0xFFFFFFFF
        t += dt_ms * 1_000_000
        jb.push(ns.rtp_packet(seq, ts, SSRC, 0, bytes([seq & 0xFF]) * 160), t)
        jb.pull(t)
    s = jb.stats()
    assert s["received"] <= len(moves)
    assert s["audio_frames"] <= s["frames_out"]


def _rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4


def test_flood_bounded_memory():
    """Case 24's core for this component: 200,000 hostile datagrams with random
    SSRCs and sequence numbers, no growth, the legitimate stream unaffected."""
    s = ns.Sender()
    s.talk(4000)
    s.silence(200)
    arr = ns.deliver(s.packets, base_delay_ms=40)
    ref_jb = JitterBuffer()
    ref = ns.run(ref_jb, arr, start_ns=s.start_ns, duration_ms=4600)
    jb = JitterBuffer()
    hostile = ns.hostile_datagrams(11, 2000)
    hostile = [h for h in hostile if len(h) < 12 or (h[8:12] != SSRC.to_bytes(4, "big"))]
    base = _rss_kb()
    flood = []
    for i, a in enumerate(arr):
        flood.append(a)
        for k in range(4):
            flood.append(ns.Arrival(a.arrival_ns + k + 1, hostile[(4 * i + k) % len(hostile)]))
    res = ns.run(jb, flood, start_ns=s.start_ns, duration_ms=4600)
    for _ in range(50):
        for h in hostile:
            jb.push(h, 10**13)
    assert _rss_kb() - base < 2048
    assert np.array_equal(res.pcm, ref.pcm)
    st_ = jb.stats()
    assert st_["received"] == len(arr)


# ---------------------------------------------------------------- differential: parser vs Python oracle
from voicecore._reference import jitter as ref_jitter  # noqa: E402

_rtp_like = st.builds(
    lambda b0, b1, rest, tail: bytes([b0, b1]) + rest + tail,
    st.one_of(st.integers(0, 255), st.sampled_from([0x80, 0x81, 0x8F, 0x90, 0xA0, 0xB0, 0xBF])),
    st.one_of(st.integers(0, 255), st.sampled_from([0, 8, 13, 101, 0x80, 0xE5, 18, 200])),
    st.binary(min_size=0, max_size=30),
    st.one_of(st.binary(max_size=64), st.binary(min_size=1480, max_size=1520)),
)


@settings(max_examples=2000, deadline=None)
@given(_rtp_like)
def test_parser_matches_reference(d):
    jb = JitterBuffer()
    assert jb.parse_header(d) == ref_jitter.classify(d)


@settings(max_examples=300, deadline=None)
@given(_rtp_like, st.dictionaries(st.integers(0, 127), st.sampled_from(["pcmu", "pcma"]), max_size=4))
def test_parser_matches_reference_custom_pts(d, pts):
    pts = {k: v for k, v in pts.items() if k not in (101, 13)}
    jb = JitterBuffer(payload_types=pts)
    assert jb.parse_header(d) == ref_jitter.classify(d, payload_types=pts)


def test_push_counts_match_parser():
    """push() drops exactly what parse_header() rejects, under the right counter."""
    names = {PushResult.MALFORMED: "malformed", PushResult.FOREIGN: "foreign",
             PushResult.OVERSIZE: "oversize", PushResult.UNKNOWN_PT: "unknown_pt"}
    jb = JitterBuffer()
    want = dict.fromkeys(names.values(), 0)
    for d in ns.hostile_datagrams(5, 3000):
        code, _ = jb.parse_header(d)
        if code in names:
            want[names[code]] += 1
        jb.push(d, 10**12)
    got = jb.stats()
    assert {k: got[k] for k in want} == want

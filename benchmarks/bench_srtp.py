"""SRTP protect cost per packet as the number of live sessions grows:
voicecore's SRTPSession (the libsrtp2 it was built with; Debian's is built on
NSS) against pylibsrtp (its wheel's own libsrtp build) in the same run.

Each round protects one 172-byte RTP packet (20 ms of G.711) per session,
round-robin over N sessions, as the engine does at N calls. With
``--benchmark-enable`` the table shows the cost at 1, 200 and 1,000 sessions
and the same-run ratio voicecore / pylibsrtp is printed (measured here:
Debian's libsrtp2 2.5.0 on NSS goes from ~3 us at 1 and 200 sessions to
~20 us at 1,000, while pylibsrtp stays at ~2 us: a capacity limit for SRTP
calls with that build). With ``--benchmark-disable`` each case runs once.

    python -m pytest benchmarks/bench_srtp.py --benchmark-enable -s
"""

from __future__ import annotations

import importlib.util
import os
import struct

import pytest

from voicecore.media import srtp

pytestmark = pytest.mark.skipif(not srtp.AVAILABLE, reason=str(srtp.UNAVAILABLE_REASON))

HAVE_PYLIBSRTP = importlib.util.find_spec("pylibsrtp") is not None
SUITE = "AES_CM_128_HMAC_SHA1_80"
RESULTS: dict[tuple[str, int], float] = {}


def _sessions(impl: str, n: int) -> list:
    if impl == "voicecore":
        return [srtp.SRTPSession(SUITE, os.urandom(30), os.urandom(30)) for _ in range(n)]
    import pylibsrtp

    P = pylibsrtp.Policy
    return [pylibsrtp.Session(P(key=os.urandom(30), ssrc_type=P.SSRC_ANY_OUTBOUND,
                                srtp_profile=P.SRTP_PROFILE_AES128_CM_SHA1_80)) for _ in range(n)]


@pytest.mark.parametrize("sessions", [1, 200, 1000])
@pytest.mark.parametrize("impl", ["voicecore", "pylibsrtp"])
def test_protect_round_robin(benchmark, impl, sessions):
    if impl == "pylibsrtp" and not HAVE_PYLIBSRTP:
        pytest.skip("pylibsrtp not installed")
    ss = _sessions(impl, sessions)
    per_round = max(1, 2000 // sessions)            # packets per session per round: ~2,000 protects a round
    seq = [0]

    def one_round() -> None:
        s0 = seq[0]
        for k in range(per_round):
            pkt = struct.pack("!BBHII", 0x80, 0, (s0 + k) & 0xFFFF, 160 * (s0 + k), 0x1234) + bytes(160)
            for s in ss:
                s.protect(pkt)
        seq[0] = s0 + per_round

    benchmark.group = f"srtp-protect-{sessions}-sessions"
    benchmark.extra_info["protects_per_round"] = per_round * sessions
    benchmark.pedantic(one_round, rounds=5, iterations=1, warmup_rounds=1)
    # a real check as well: the last packet protected comes out with the suite's 10-byte tag
    pkt = struct.pack("!BBHII", 0x80, 0, seq[0] & 0xFFFF, 0, 0x1234) + bytes(160)
    assert len(ss[-1].protect(pkt)) == len(pkt) + 10
    if benchmark.stats is not None:
        RESULTS[impl, sessions] = benchmark.stats.stats.min / (per_round * sessions) * 1e6


def test_srtp_ratios(request):
    """Same-run ratio voicecore / pylibsrtp per session count (printed)."""
    if not RESULTS:
        pytest.skip("figures only with --benchmark-enable")
    for n in (1, 200, 1000):
        vc, ref = RESULTS.get(("voicecore", n)), RESULTS.get(("pylibsrtp", n))
        if vc is not None and ref is not None:
            print(f"\n{n:5d} sessions: voicecore {vc:.2f} us/protect, pylibsrtp {ref:.2f} us ({vc / ref:.1f}x)")

"""RTCP receiver-report figures of the jitter buffer against values computed
by hand from RFC 3550 Appendix A (A.1 extended highest sequence number with
16-bit cycles, A.3 cumulative and fractional loss, A.8 interarrival jitter),
and the RTP timestamp of the frame just played."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from voicecore.jitter import JitterBuffer, PushResult
from voicecore.testing import netsim as ns

MS = 1_000_000
SSRC = 0xC0FFEE
PAY = np.random.default_rng(7).integers(0, 0x7F, (400, 160), dtype=np.uint8)


def rtp(seq: int, ts: int, k: int = 0, ssrc: int = SSRC) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + bytes(PAY[k % 400])


class Call:
    """Packet k (seq0 + k, ts0 + 160 k) is sent at k * 20 ms; pulls every 20 ms."""

    def __init__(self, seq0: int, ts0: int, **kw):
        self.jb = JitterBuffer(**kw)
        self.seq0, self.ts0 = seq0, ts0
        self.frame = 0

    def send(self, k: int, delay_ms: float = 30.0, **kw) -> PushResult:
        return self.jb.push(rtp(self.seq0 + k, self.ts0 + 160 * k, k, **kw), int((k * 20 + delay_ms) * MS))

    def pull_until(self, k: int) -> list[bytes]:
        out = []
        while self.frame <= k:
            out.append(self.jb.pull(self.frame * 20 * MS + 35 * MS)[0])
            self.frame += 1
        return out


def test_no_source_before_a_stream():
    jb = JitterBuffer()
    assert jb.rtcp() is None
    st = jb.stats()
    assert st["ssrc"] is None and st["played_ts"] is None


def test_loss_and_extended_sequence_across_a_wrap():
    """Sequence numbers 65530 .. 65535, 0 .. 19. A.1 validates the source on its
    second packet (init_seq(65531): base 65531, received 1). Lost: 65534, 1,
    2 in the first interval; 12-15 in the second; 5 arrives twice."""
    c = Call(65530, 1000)
    first = [k for k in range(16) if k not in (4, 7, 8)]            # seq 65534, 1, 2 lost
    for k in first:
        c.send(k)
        if k == 11:
            c.send(11, 35.0)                                         # seq 5 again: a duplicate
        c.pull_until(k)
    r = c.jb.rtcp(new_interval=True)
    # max_seq 9 after one wrap: cycles 65536 -> 65545; expected = 65545 - 65531 + 1 = 15
    # received = 65531, 65532, 65533, 65535, 0, 3, 4, 5, 5, 6, 7, 8, 9 = 13
    assert r["ssrc"] == SSRC
    assert r["ext_highest_seq"] == (1 << 16) | 9
    assert r["cumulative_lost"] == 15 - 13
    assert r["fraction_lost"] == (2 << 8) // 15                      # 34
    for k in range(16, 26):
        if k not in (18, 19, 20, 21):                                # seq 12-15 lost
            c.send(k)
        c.pull_until(k)
    r = c.jb.rtcp(new_interval=True)
    assert r["ext_highest_seq"] == (1 << 16) | 19
    assert r["cumulative_lost"] == 25 - 19                           # expected 25, received 19
    assert r["fraction_lost"] == (4 << 8) // 10                      # 102: 4 of 10 in the interval
    r2 = c.jb.rtcp(new_interval=False)
    assert r2["fraction_lost"] == 0 and r2["cumulative_lost"] == 6  # an empty interval
    st = c.jb.stats()
    assert (st["ssrc"], st["ext_highest_seq"], st["cumulative_lost"]) == (SSRC, (1 << 16) | 19, 6)


def test_late_packets_count_as_received():
    """A.3: packets that arrive late are not counted as lost (but are in ``late``)."""
    c = Call(100, 0)
    for k in range(30):
        if k != 10:
            c.send(k)
        c.pull_until(k)
    assert c.jb.rtcp(new_interval=False)["cumulative_lost"] == 1
    assert c.send(10, delay_ms=400) == PushResult.LATE
    r = c.jb.rtcp(new_interval=False)
    assert r["cumulative_lost"] == 0 and c.jb.stats()["late"] == 1


def test_interarrival_jitter_by_hand():
    """A.8 in timestamp units: J += (|D| - J) / 16 over consecutive media
    packets in arrival order, with the 32-bit timestamp wrapping."""
    c = Call(10, 2**32 - 480)                                        # the timestamp wraps at packet 3
    extra = [0, 0, 5, 0, 0, 0]                                       # ms: packet 2 arrives 5 ms late
    for k, e in enumerate(extra):
        c.send(k, 30 + e)
    # D (timestamp units): 0 (p1), +40 (p2), -40 (p3), 0 (p4), 0 (p5), so
    # J = 0, 2.5, 2.5 + 37.5 / 16 = 4.84375, 4.84375 * 15 / 16 = 4.541015625,
    # 4.541015625 * 15 / 16 = 4.2572021484375
    j = 4.2572021484375
    r = c.jb.rtcp(new_interval=False)
    assert r["jitter"] == int(j) == 4
    assert c.jb.stats()["jitter_ts"] == 4
    assert c.jb.stats()["jitter_ms"] == pytest.approx(j / 8, rel=1e-9)


def test_played_timestamp_is_that_of_the_frame_just_pulled():
    """played_ts names the RTP timestamp of the first sample of the last frame
    pulled: find that frame's samples in the sent audio."""
    c = Call(500, 2**32 - 1600)                                      # the timestamp wraps during the call
    ref = b"".join(ns.ulaw_decode(bytes(PAY[k])).tobytes() for k in range(60))
    seen = 0
    for k in range(60):
        c.send(k)
        frames = c.pull_until(k)
        st = c.jb.stats()
        pos = ref.find(frames[-1])
        if pos >= 0 and pos % 2 == 0 and any(frames[-1]):
            assert st["played_ts"] == (c.ts0 + pos // 2) & 0xFFFFFFFF
            seen += 1
    assert seen >= 50


def test_a_new_source_starts_fresh_figures():
    """After another SSRC takes over (the old one stopped), the figures are the
    new source's: its SSRC, its sequence numbers, no inherited loss or jitter."""
    c = Call(1000, 0)
    for k in range(50):
        c.send(k, 30 + (k % 3) * 4)
        c.pull_until(k)
    assert c.jb.rtcp(new_interval=True)["jitter"] > 0
    for k in range(50, 100):                                         # the old SSRC stopped: a new one goes on
        c.jb.push(struct.pack("!BBHII", 0x80, 0, 7000 + k, 90000 + 160 * k, 0xBEEF) + bytes(PAY[k]),
                  (k * 20 + 30) * MS)
        c.pull_until(k)
    r = c.jb.rtcp(new_interval=True)
    st = c.jb.stats()
    assert st["ssrc_switches"] == 1
    assert r["ssrc"] == 0xBEEF and r["ext_highest_seq"] == 7099
    assert r["cumulative_lost"] == 0 and r["jitter"] == 0

"""The live network model of the demo: ``netsim.Link`` loses, bursts,
jitters and reorders as configured (deterministic by seed), and
``netsim.UdpRelay`` carries real UDP between two endpoints through it."""

from __future__ import annotations

import socket
import struct
import time

import pytest

from voicecore.testing.netsim import Link, UdpRelay


def _fates(link: Link, n: int) -> list[float | None]:
    return [link.decide() for _ in range(n)]


def test_link_loss_rate_and_bursts():
    random_loss = _fates(Link(seed=3, loss=0.05), 40_000)
    bursty = _fates(Link(seed=3, loss=0.05, burst=3.0), 40_000)
    for fates in (random_loss, bursty):
        assert 0.04 < sum(f is None for f in fates) / len(fates) < 0.06

    def mean_burst(fates: list[float | None]) -> float:
        runs, run = [], 0
        for f in fates:
            if f is None:
                run += 1
            elif run:
                runs.append(run)
                run = 0
        return sum(runs) / len(runs)

    assert mean_burst(random_loss) < 1.2
    assert 2.6 < mean_burst(bursty) < 3.4


def test_link_delay_jitter_reorder_and_seed():
    fates = _fates(Link(seed=1, jitter_ms=20.0, reorder=0.1, delay_ms=40.0), 5000)
    assert all(f is not None and f >= 0.040 for f in fates)
    extra = sorted((f - 0.040) * 1000 for f in fates)
    assert 10 < extra[len(extra) // 2] < 20            # median of |N(0, 20 ms)| is 13.5 ms
    link = Link(seed=1, reorder=0.1)
    _fates(link, 5000)
    assert 400 < link.reordered < 600
    assert _fates(Link(seed=9, loss=0.1, jitter_ms=5), 100) == _fates(Link(seed=9, loss=0.1, jitter_ms=5), 100)


@pytest.mark.parametrize(("kw", "message"), [
    ({"loss": 0.6}, "netsim.Link(loss=0.6): must be between 0 and 0.5"),
    ({"burst": 0.5}, "netsim.Link(burst=0.5): must be between 1 and 100 packets"),
    ({"jitter_ms": -1}, "netsim.Link(jitter_ms=-1): must be between 0 and 1000 ms"),
])  # fmt: skip
def test_link_refuses_impossible_settings(kw, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Link(**kw)


def _sock() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.5)
    return s


def _rtp(seq: int, pt: int = 0) -> bytes:
    return struct.pack("!BBHII", 0x80, pt, seq, seq * 160, 0x1234) + bytes(160)


def _drain(s: socket.socket) -> list[bytes]:
    got = []
    while True:
        try:
            got.append(s.recvfrom(2048)[0])
        except (TimeoutError, socket.timeout):
            return got


def test_relay_carries_both_ways_and_impairs_rtp_only():
    a, b, stranger = _sock(), _sock(), _sock()
    relay = UdpRelay(Link(seed=1, loss=0.2, delay_ms=10), Link(seed=2, delay_ms=10),
                     peer_a=a.getsockname(), peer_b=b.getsockname())  # fmt: skip
    with relay:
        t0 = time.monotonic()
        for seq in range(200):
            a.sendto(_rtp(seq), relay.addr_a)
        a.sendto(b"\x80\xc8" + bytes(26), relay.addr_a)      # RTCP SR: never lost
        b.sendto(_rtp(7), relay.addr_b)
        stranger.sendto(_rtp(1), relay.addr_a)               # not the peer: dropped, counted
        to_b, to_a = _drain(b), _drain(a)
        assert time.monotonic() - t0 >= 0.010
    rtp_to_b = [d for d in to_b if d[1] < 192]
    assert 120 < len(rtp_to_b) < 185                         # about 20 % lost
    assert len(rtp_to_b) + len(relay.drops) == 200
    assert all(d == "a->b" for d, _, _ in relay.drops)
    assert any(d[1] == 0xC8 for d in to_b)                   # the RTCP packet passed
    assert to_a == [_rtp(7)]                                 # the other way, from relay.addr_b's twin
    assert relay.foreign == 1
    for s in (a, b, stranger):
        s.close()


def test_relay_needs_its_peers():
    relay = UdpRelay(Link(), Link())
    with pytest.raises(ValueError, match="UdpRelay.start: set peer_a and peer_b"):
        relay.start()
    relay.close()

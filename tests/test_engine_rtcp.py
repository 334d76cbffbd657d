"""RTCP build/parse of the audio I/O engine (RFC 3550 section 6 and A.2)."""

from __future__ import annotations

import struct
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the engine is Linux-only")

rtcp = pytest.importorskip("voicecore._native.engine.rtcp")


def _rr(ssrc: int, blocks: list[bytes], pad: bool = False) -> bytes:
    body = struct.pack("!I", ssrc) + b"".join(blocks)
    if pad:
        body += b"\x00\x00\x00\x04"
    return struct.pack("!BBH", 0x80 | (0x20 if pad else 0) | len(blocks), 201, len(body) // 4) + body


def _block(ssrc, frac, lost, ext, jit, lsr, dlsr) -> bytes:
    return struct.pack("!IIIIII", ssrc, (frac << 24) | (lost & 0xFFFFFF), ext, jit, lsr, dlsr)


def test_sender_report_roundtrip_with_block_sdes_and_bye():
    ntp = (3_900_000_000 << 32) | 0x8000_0000
    block = {"ssrc": 0xBBBB, "fraction_lost": 26, "cumulative_lost": -3, "ext_highest_seq": 0x1_0005,
             "jitter": 77, "lsr": 0x1234_5678, "dlsr": 65536}
    pkt = rtcp.build(ssrc=0xAAAA, sender=True, ntp=ntp, rtp_ts=160_000, packets=50, octets=8000,
                     block=block, cname="me@host", bye=True)
    assert len(pkt) % 4 == 0
    # first packet: SR with one block
    v_p_rc, pt, length = struct.unpack("!BBH", pkt[:4])
    assert v_p_rc == 0x81 and pt == 200 and (length + 1) * 4 == 52
    assert struct.unpack("!IIIIII", pkt[4:28]) == (0xAAAA, ntp >> 32, ntp & 0xFFFFFFFF, 160_000, 50, 8000)
    # the report block about 0xBBBB is what the far end (our_ssrc=0xBBBB) reads back
    r = rtcp.parse(pkt, our_ssrc=0xBBBB)
    assert r["status"] == "ok" and r["packets"] == 3 and r["bye"]
    assert r["sr_ssrc"] == 0xAAAA and r["sr_lsr"] == ((ntp >> 16) & 0xFFFFFFFF)
    assert r["block"] == block
    assert b"me@host" in pkt


def test_receiver_report_about_another_ssrc_has_no_block():
    pkt = rtcp.build(ssrc=1, block={"ssrc": 7, "fraction_lost": 1})
    assert pkt[1] == 201
    assert "block" not in rtcp.parse(pkt, our_ssrc=8)
    assert rtcp.parse(pkt, our_ssrc=7)["block"]["fraction_lost"] == 1


@pytest.mark.parametrize("lost", [0, 1, 0x7FFFFF, -1, -0x800000])
def test_cumulative_lost_is_24_bit_signed(lost):
    pkt = _rr(1, [_block(9, 0, lost, 0, 0, 0, 0)])
    assert rtcp.parse(pkt, our_ssrc=9)["block"]["cumulative_lost"] == lost


def test_build_clamps_cumulative_lost_to_24_bits():
    pkt = rtcp.build(ssrc=1, block={"ssrc": 9, "cumulative_lost": 10**8})
    assert rtcp.parse(pkt, our_ssrc=9)["block"]["cumulative_lost"] == 0x7FFFFF


@pytest.mark.parametrize(
    "data, status",
    [
        (b"", "short"),
        (b"\x80\xc9\x00", "short"),
        (_rr(1, [])[:-1], "short"),                                  # truncated
        (b"\x40" + _rr(1, [])[1:], "version"),                      # version 1
        (_rr(1, [], pad=True) + _rr(2, []), "padding"),              # padding not on the last packet
        (struct.pack("!BBHI", 0x81, 202, 1, 5) + _rr(1, []), "first"),  # compound must start with SR/RR
        (struct.pack("!BBHI", 0x82, 201, 1, 5), "length"),          # RC=2 but no blocks
        (_rr(1, []) + b"\x00\x00", "short"),                         # trailing bytes
    ],
)
def test_malformed_compounds_are_rejected_with_a_reason(data, status):
    assert rtcp.parse(data)["status"] == status


def test_single_non_report_packet_is_accepted_as_reduced_size():
    bye = struct.pack("!BBHI", 0x81, 203, 1, 5)
    r = rtcp.parse(bye)
    assert r["status"] == "ok" and r["bye"]


def test_valid_padding_on_last_packet():
    r = rtcp.parse(_rr(1, [_block(9, 3, 4, 5, 6, 7, 8)], pad=True), our_ssrc=9)
    assert r["status"] == "ok" and r["block"]["jitter"] == 6


def test_parse_never_reads_past_the_end_on_random_input():
    import random

    rng = random.Random(1)
    base = rtcp.build(ssrc=3, sender=True, block={"ssrc": 4}, bye=True)
    for _ in range(20000):
        n = rng.randrange(0, len(base) + 8)
        data = bytearray(base[:n]) + bytes(rng.randrange(256) for _ in range(max(0, n - len(base))))
        for _ in range(rng.randrange(4)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
        r = rtcp.parse(bytes(data), our_ssrc=4)
        assert r["status"] in ("ok", "short", "version", "padding", "first", "length")

#!/usr/bin/env python3
"""Fuzz target: RTCP parsing (voicecore._native.engine.rtcp.parse), the code
the engine runs on every datagram of an RTCP port (or a muxed RTP port).

Input: u32 ``our_ssrc``, then the datagram. Invariants: parse never raises
on any bytes and returns a known status; a report block is returned only for
``our_ssrc``. The second half of the input also drives ``build`` with fuzzed
fields and checks that ``parse`` reads back exactly what was built.

    python fuzz/fuzz_rtcp.py fuzz/corpus/rtcp -max_total_time=60
"""

from __future__ import annotations

import harness
from harness import Reader, check

from voicecore._native.engine import rtcp

STATUSES = set(rtcp.STATUS_NAMES.values())


def _as_c_int(u32: int) -> int:
    """rtcp.parse takes ``our_ssrc`` as a C int: pass the same 32 bits signed."""
    return u32 - (1 << 32) if u32 >= 1 << 31 else u32


def test_one_input(data: bytes) -> None:
    r = Reader(data)
    ours = r.u32()
    dgram = data[4:]
    res = rtcp.parse(dgram, _as_c_int(ours))
    check(res["status"] in STATUSES, f"status {res['status']}")
    if res["status"] == "ok":
        check(res["packets"] >= 1, f"ok with {res['packets']} packets")
    if "block" in res:
        check(res["block"]["ssrc"] == ours, f"block about {res['block']['ssrc']:#x}, ours {ours:#x}")
    res2 = rtcp.parse(memoryview(bytearray(dgram)), _as_c_int(ours))
    check(res2 == res, "parse differs between bytes and a memoryview")

    # build -> parse round trip on fields taken from the same bytes
    f = Reader(dgram)
    fl = f.u8()
    block = None
    if fl & 1:
        cum = f.u32() & 0xFFFFFF
        block = {"ssrc": ours, "fraction_lost": f.u8(), "cumulative_lost": cum - (1 << 24) if cum >> 23 else cum,
                 "ext_highest_seq": f.u32(), "jitter": f.u32(), "lsr": f.u32(), "dlsr": f.u32()}
    sender = bool(fl & 2)
    ssrc = f.u32()
    cname = f.take(f.u8() % 80).decode("latin-1")
    pkt = rtcp.build(ssrc=_as_c_int(ssrc), sender=sender, ntp=f.u32() << 32 | f.u32(), rtp_ts=f.u32(),
                     packets=f.u32(), octets=f.u32(), block=block, cname=cname, bye=bool(fl & 4))
    check(len(pkt) % 4 == 0 and len(pkt) > 0, f"built {len(pkt)} bytes")
    back = rtcp.parse(pkt, _as_c_int(ours))
    check(back["status"] == "ok", f"our own report parses as {back['status']}")
    check(back["bye"] == bool(fl & 4), "BYE lost in the round trip")
    if sender:
        check(back.get("sr_ssrc") == ssrc, f"SR ssrc {back.get('sr_ssrc')} != {ssrc}")
    if block is not None:
        check(back.get("block") == block, f"block {back.get('block')} != {block}")


if __name__ == "__main__":
    harness.main(test_one_input)

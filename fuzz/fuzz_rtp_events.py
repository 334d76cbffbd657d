#!/usr/bin/env python3
"""Fuzz target: RFC 4733 telephone events and RFC 3389 comfort noise in the
jitter buffer, mixed with audio.

Records either push raw datagrams or build a packet from fuzzed fields (event
code, end bit, volume, duration, redundant ends; CN level and spectral
coefficients; sequence and timestamp steps; marker), so the DTMF state machine
and the comfort-noise generator are reached quickly. Invariants: digits are
keypad digits reported with a duration that fits 32 bits, the digit count
matches ``dtmf_digits``, a DTMF payload shorter than 4 bytes is never stored,
pulls return one frame of a known kind, counters never decrease.

VOICECORE_FUZZ_CLOCK=engine: times as the engine gives them (see fuzz_rtp_jitter).

    python fuzz/fuzz_rtp_events.py fuzz/corpus/rtp_events -max_total_time=60
"""

from __future__ import annotations

import struct

import harness
from fuzz_rtp_jitter import DIGITS, ENGINE_CLOCK, KINDS, RESULTS, arrival, check_stats, wrap64
from harness import Reader, check

from voicecore._native.media import jitter as J
from voicecore.testing.netsim import rtp_packet

DTMF_PT, CN_PT = 101, 13


def test_one_input(data: bytes) -> None:
    r = Reader(data)
    flags = r.u8()
    fade = r.u8() % 60
    try:
        jb = J.JitterBuffer(
            payload_types={0: "pcmu", 8: "pcma"}, dtmf_payload_type=DTMF_PT, cn_payload_type=CN_PT,
            concealment=bool(flags & 4), comfort_noise=bool(flags & 8), min_delay_ms=20 * (flags >> 6),
            fade_start_ms=fade, silent_after_ms=fade + 1 + r.u8() % 200, blend_ms=r.u8() % 201,
            dtmf_timeout_ms=1 + r.u16() % 2000,
        )
    except ValueError:
        return
    fs = jb.frame_samples
    now = arr = 1_000_000_000 + r.u32() * 1000
    seq, ts, ssrc = 1000, 160000, 0x1234ABCD
    out = bytearray(2 * fs)
    pulls = digits = 0
    prev: dict = {}
    while r.more():
        op = r.u8()
        kind = op & 3
        if kind == 0 or kind == 3:
            arr = arrival(arr, now, r.i16() * 10_000)
            if kind == 0:                         # raw datagram
                d = r.blob(4096)
                dtmf_short = False
            else:                                 # a packet built from fields
                sub = (op >> 2) & 3
                seq = (seq + r.u8() - 8) & 0xFFFF  # mostly forward
                ts = (ts + r.i16() * 8) & 0xFFFFFFFF
                marker = bool(op & 0x10)
                if sub == 0:                      # RFC 4733 event
                    ev, evf, dur = r.u8(), r.u8(), r.u16()
                    payload = struct.pack("!BBH", ev, evf, dur)
                    if op & 0x20:
                        payload = payload[: r.u8() % 4]   # truncated
                    pt = DTMF_PT
                elif sub == 1:                    # RFC 3389 comfort noise: level + coefficients
                    payload = bytes([r.u8()]) + r.take(r.u8() % 16)
                    pt = CN_PT
                elif sub == 2:                    # audio
                    payload = bytes([r.u8()]) * (r.u8() % 200)
                    pt = 0 if op & 0x20 else 8
                else:                             # another source or payload type
                    payload = r.take(r.u8() % 8)
                    pt = r.u8() & 0x7F
                    if op & 0x20:
                        ssrc = r.u32()
                d = rtp_packet(seq, ts, ssrc, pt, payload, marker=marker)
                dtmf_short = pt == DTMF_PT and len(payload) < 4
            got = jb.push(d, arr)
            check(got in RESULTS, f"push returned {got}")
            if dtmf_short:
                check(got != J.RESULT_OK, "a DTMF payload shorter than 4 bytes was stored")
        elif kind == 1:
            frame_ns = 1_000_000 * fs // (jb.clock_rate // 1000)
            dt = r.i16() * 100 * (op >> 5)
            now = now + frame_ns + max(dt, -frame_ns) if ENGINE_CLOCK else wrap64(now + frame_ns + dt)
            k = jb.pull_into(out, now)
            check(k in KINDS, f"pull kind {k}")
            pulls += 1
        else:
            for digit, dur, _ts in jb.pop_dtmf():
                check(digit in DIGITS, f"DTMF digit {digit!r}")
                check(0 <= dur <= 0xFFFFFFFF, f"DTMF duration {dur}")
                digits += 1
            prev = check_stats(jb, prev, pulls, digits)
    check_stats(jb, prev, pulls, digits)


if __name__ == "__main__":
    harness.main(test_one_input)

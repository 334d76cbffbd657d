#!/usr/bin/env python3
"""Fuzz target: RTP header parsing and the jitter buffer's push / pull.

Any bytes as datagrams, any arrival times (forward, backward, jumps across
the int64 range), pulls interleaved at any times, any buffer configuration.
Invariants: push never raises and returns a RESULT_* code; parse_header agrees
with push on malformed input; pull returns one frame of the right size and a
FRAME_* kind; counters never decrease; frames_out counts the pulls; DTMF
digits are keypad digits.

With VOICECORE_FUZZ_CLOCK=engine the times are the ones the engine gives:
one monotonic clock, arrivals never after the next pull (the short CI runs use
this; the long runs also explore arbitrary int64 times, where the issue-13
findings in fuzz/regressions/rtp_jitter/ came from: times more than 2^63 ns
apart, which the buffer now handles without undefined behaviour).

    python fuzz/fuzz_rtp_jitter.py fuzz/corpus/rtp_jitter -max_total_time=60
"""

from __future__ import annotations

import os

import harness
from harness import Reader, check

from voicecore._native.media import jitter as J

ENGINE_CLOCK = os.environ.get("VOICECORE_FUZZ_CLOCK") == "engine"

RESULTS = {getattr(J, n) for n in dir(J) if n.startswith("RESULT_")}
KINDS = {J.FRAME_AUDIO, J.FRAME_CONCEALED, J.FRAME_SILENCE, J.FRAME_COMFORT_NOISE}
STATELESS_DROPS = {J.RESULT_MALFORMED, J.RESULT_OVERSIZE}
DIGITS = set("0123456789*#ABCD")
FRAME_MS = (5, 10, 20, 30, 40, 60)
PT_MAPS = ({0: "pcmu", 8: "pcma"}, {0: "pcmu"}, {8: "pcma"}, {0: "pcmu", 8: "pcma", 96: "pcmu", 127: "pcma"})
GAUGES = {"held"}   # STAT_NAMES that may go down (packets held now); the rest are monotonic counters


def arrival(arr: int, now: int, step: int) -> int:
    """The next arrival time: any step (wrapping in int64), or with the engine's
    clock within the 327 ms before the pull clock and never going back."""
    if ENGINE_CLOCK:
        return max(arr, now - abs(step))
    return wrap64(arr + step)


def wrap64(t: int) -> int:
    """Times stay int64 (the API refuses others with ValueError), wrapping like C."""
    return ((t + (1 << 63)) & ((1 << 64) - 1)) - (1 << 63)


def make_buffer(r: Reader) -> J.JitterBuffer:
    clock = 8000 * (1 + r.u8() % 6)
    frame_ms = FRAME_MS[r.u8() % len(FRAME_MS)]
    while (clock * frame_ms) % 1000:
        frame_ms = 20
    capacity = 16 << (r.u8() % 9)
    lo = r.u8() * 4 % 1001
    hi = min(2000, lo + r.u8() * 4)
    flags = r.u8()
    fade = r.u8() % 60
    silent = fade + 1 + r.u8() % 200
    return J.JitterBuffer(
        clock_rate=clock, frame_ms=frame_ms, capacity=capacity, min_delay_ms=lo, max_delay_ms=hi,
        initial_delay_ms=lo + (hi - lo) * (flags >> 6) // 3,
        payload_types=PT_MAPS[flags & 3], concealment=bool(flags & 4), comfort_noise=bool(flags & 8),
        dtmf_payload_type=101 if flags & 16 else None, cn_payload_type=13 if flags & 32 else None,
        fade_start_ms=fade, silent_after_ms=silent, blend_ms=r.u8() % 201,
        dtmf_timeout_ms=1 + r.u16() % 2000,
    )


def check_stats(jb: J.JitterBuffer, prev: dict, pulls: int, digits: int) -> dict:
    st = jb.stats()
    for k in J.STAT_NAMES:
        v = st[k]
        if k in prev and k not in GAUGES:
            check(v >= prev[k], f"counter {k} went down: {prev[k]} -> {v}")
    if "frames_out" in st:
        check(st["frames_out"] == pulls, f"frames_out {st['frames_out']} != pulls {pulls}")
    if "dtmf_digits" in st:
        check(st["dtmf_digits"] >= digits, f"dtmf_digits {st['dtmf_digits']} < digits popped {digits}")
    return st


def test_one_input(data: bytes) -> None:
    r = Reader(data)
    try:
        jb = make_buffer(r)
    except ValueError:
        return
    fs = jb.frame_samples
    frame_ns = fs * 1_000_000_000 // jb.clock_rate
    now = 1_000_000_000 + r.u32() * 1000          # pull clock
    arr = now                                      # arrival clock
    out = bytearray(2 * fs)
    pulls = digits = 0
    prev: dict = {}
    while r.more():
        op = r.u8()
        kind = op & 3
        if kind == 0 or kind == 3:                 # push (3: with an absolute arrival time)
            if kind == 3 and op & 4 and not ENGINE_CLOCK:
                arr = r.i64()
            else:
                arr = arrival(arr, now, r.i16() * 10_000)   # +-327 ms in 10 us steps
            d = r.blob(4096)
            res, fields = jb.parse_header(d)
            got = jb.push(d, arr)
            check(got in RESULTS, f"push returned {got}")
            if res in STATELESS_DROPS:
                check(got == res, f"parse_header said {res}, push said {got}")
            if fields is not None:
                check(0 <= fields["payload_offset"] <= len(d) and
                      fields["payload_offset"] + fields["payload_len"] <= len(d), f"payload out of bounds {fields}")
        elif kind == 1:                            # pull, at the frame period +- jitter
            dt = r.i16() * 1000 * (op >> 5)
            now = now + frame_ns + max(dt, -frame_ns) if ENGINE_CLOCK else wrap64(now + frame_ns + dt)
            if op & 8:
                pcm, k = jb.pull(now)
                check(len(pcm) == 2 * fs, f"pull returned {len(pcm)} bytes for {fs} samples")
            else:
                k = jb.pull_into(out, now)
            check(k in KINDS, f"pull kind {k}")
            pulls += 1
        else:                                      # events and counters
            for digit, dur, _ts in jb.pop_dtmf():
                check(digit in DIGITS, f"DTMF digit {digit!r}")
                check(0 <= dur <= 0xFFFFFFFF, f"DTMF duration {dur}")
                digits += 1
            prev = check_stats(jb, prev, pulls, digits)
    check_stats(jb, prev, pulls, digits)


if __name__ == "__main__":
    harness.main(test_one_input)

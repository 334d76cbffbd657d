#!/usr/bin/env python3
"""Fuzz target: the streaming resampler (voicecore._native.media.resample)
with any rates, presets and chunk sizes (0, 1, odd byte counts, large),
s16 and float32 chunks, ``out=`` buffers, flush and reset in the middle.

Invariants: every ``process`` returns exactly ``output_length(n)`` samples;
``total_in`` / ``total_out`` account for every sample; bad arguments raise
ValueError / TypeError; streaming output equals one-shot output of the same
input (s16 streams); float32 output is finite for finite input.

Rates: any pair with an interpolation factor up to 2000 and a decimation
ratio up to 64 (larger ones only make the filter slow to design, which the
unit tests cover); the common telephony / audio rates are favoured.

    python fuzz/fuzz_resample.py fuzz/corpus/resample -max_total_time=60
"""

from __future__ import annotations

import math

import harness
import numpy as np
from harness import Reader, check

from voicecore._native.media.resample import PRESETS, Resampler

COMMON = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 96000, 192000)
PRESET_NAMES = sorted(PRESETS)
API_ERRORS = (ValueError, TypeError, BufferError)


def pick_rate(v: int) -> int:
    """Top bit set: any rate 1..192000 (low bits), else one of COMMON."""
    return 1 + (v & 0x7FFFFFFF) % 192000 if v & 0x80000000 else COMMON[v % len(COMMON)]


def test_one_input(data: bytes) -> None:
    r = Reader(data)
    a, b = pick_rate(r.u32()), pick_rate(r.u32())
    g = math.gcd(a, b)
    if b // g > 2000 or a // b > 64:
        return
    preset = PRESET_NAMES[r.u8() % len(PRESET_NAMES)]
    rs = Resampler(a, b, preset)
    check(rs.ratio == (b // g, a // g), f"ratio {rs.ratio} for {a}->{b}")
    total_in = total_out = 0
    s16_in: list[bytes] = []
    s16_out: list[bytes] = []
    pure = True                    # the stream so far is s16 only, no out=
    ops = 0
    while r.more() and ops < 64:
        ops += 1
        op = r.u8() % 6
        if op in (0, 1):                                 # s16 chunk
            d = r.blob(8192)
            if len(d) % 2:
                try:
                    rs.process(d)
                except ValueError:
                    continue
                check(False, "process accepted an odd byte count")
            n = len(d) // 2
            want = rs.output_length(n)
            if op == 0:
                y = rs.process(d)
                check(len(y) == 2 * want, f"{a}->{b}: {len(y) // 2} samples, output_length said {want}")
                s16_out.append(y)
            else:
                extra = r.u8() % 3
                out = bytearray(2 * max(0, want + extra - 1))
                try:
                    k = rs.process(d, out)
                except API_ERRORS:
                    check(len(out) < 2 * want, "process(out=) refused a large enough buffer")
                    pure = False                          # nothing was consumed; keep accounting
                    continue
                check(k == want, f"process(out=) wrote {k}, output_length said {want}")
                s16_out.append(bytes(out[: 2 * k]))
            s16_in.append(d)
            total_in += n
            total_out += want
        elif op == 2:                                    # float32 chunk
            n = r.u16() % 4096
            x = np.frombuffer(r.take(4 * n).ljust(4 * n, b"\0"), np.float32)
            x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0).clip(-4.0, 4.0).astype(np.float32)
            want = rs.output_length(n)
            y = rs.process(x)
            check(isinstance(y, np.ndarray) and y.dtype == np.float32 and y.shape == (want,),
                  f"float process gave {getattr(y, 'shape', None)} for {want}")
            check(bool(np.isfinite(y).all()), "non-finite output for finite input")
            total_in += n
            total_out += want
            pure = False
        elif op == 3:                                    # flush: end of stream
            lat = rs.latency
            y = rs.flush(float32=False)
            check(len(y) == 2 * lat, f"flush gave {len(y) // 2} samples, latency {lat}")
            if pure and s16_in and total_in <= 40000:
                one = Resampler(a, b, preset)
                ref = one.process(b"".join(s16_in)) + one.flush(float32=False)
                check(b"".join(s16_out) + y == ref, f"{a}->{b} {preset}: streaming != one-shot")
            s16_in, s16_out, pure = [], [], True
            total_in = total_out = 0
        elif op == 4:
            rs.reset()
            s16_in, s16_out, pure = [], [], True
            total_in = total_out = 0
        else:                                            # bad arguments
            for bad in (-1 - r.u8(), 1 << 41):
                try:
                    rs.output_length(bad)
                except ValueError:
                    pass
                else:
                    check(False, f"output_length({bad}) did not raise")
        if op not in (3, 4, 5):
            check(rs.total_in == total_in and rs.total_out == total_out,
                  f"totals {rs.total_in}/{rs.total_out}, expected {total_in}/{total_out}")


if __name__ == "__main__":
    harness.main(test_one_input)

#!/usr/bin/env python3
"""Fuzz target: G.711 (voicecore.codec) and the PCM conversions
(voicecore.pcm) on any buffers: odd lengths, empty, unaligned and
non-contiguous views, other dtypes, ``out=`` buffers too small, read-only or
of the wrong type, float32 NaN / inf / denormals.

Invariants: results are bit-exact with the references (stdlib ``audioop`` for
G.711, a numpy model for the float conversions); the only exceptions are
ValueError / TypeError / BufferError (ERR at the API: odd-length PCM is a
ValueError), never a crash or a sanitizer report.

Input: u8 operation, u8 buffer-shape selector, then the data.

    python fuzz/fuzz_g711_pcm.py fuzz/corpus/g711_pcm -max_total_time=60
"""

from __future__ import annotations

import array
import warnings

import harness
import numpy as np
from harness import check

from voicecore._native.media import g711, pcm

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop
    except ImportError:              # Python 3.13+: the audioop-lts backport
        audioop = None

API_ERRORS = (ValueError, TypeError, BufferError)
ENCODE = {0: (g711.lin2ulaw, "lin2ulaw"), 1: (g711.lin2alaw, "lin2alaw")}
DECODE = {2: (g711.ulaw2lin, "ulaw2lin"), 3: (g711.alaw2lin, "alaw2lin")}


def shaped(data: bytes, sel: int, itemsize: int):
    """The same bytes as one of the buffer kinds callers pass."""
    k = sel % 9
    if k == 0:
        return data
    if k == 1:
        return bytearray(data)
    if k == 2:
        return memoryview(data)
    if k == 3:                                   # unaligned: starts one byte in
        return memoryview(b"\0" + data)[1:]
    if k == 4:                                   # non-contiguous
        return memoryview(data)[::2]
    if k == 5:
        n = len(data) // itemsize * itemsize
        return np.frombuffer(data[:n], {1: np.uint8, 2: np.int16}.get(itemsize, np.float32))
    if k == 6:
        n = len(data) // 8 * 8
        return np.frombuffer(data[:n], np.float64)     # wrong dtype
    if k == 7:
        n = len(data) // itemsize * itemsize
        return array.array({1: "B", 2: "h"}.get(itemsize, "f"), data[:n])
    n = len(data) // 2 * 2
    return np.frombuffer(data[:n], np.int16)[::2]        # strided array


def out_buffer(sel: int, need: int):
    k = (sel >> 4) % 5
    if k == 0:
        return None
    if k == 1:
        return bytearray(need)
    if k == 2:
        return bytearray(max(0, need - 1 - (sel >> 7)))   # too small
    if k == 3:
        return bytes(need)                                 # read-only
    return memoryview(bytearray(need + 8))[1:]             # misaligned, larger than needed


def f32_reference(x: np.ndarray) -> bytes:
    with np.errstate(all="ignore"):
        v = x.astype(np.float32) * np.float32(32768.0)
        v = np.where(np.isnan(v), np.float32(0), v)
        v = np.clip(v, -32768.0, 32767.0)
        return np.rint(v).astype("<i2").tobytes()


def run(fn, *args):
    try:
        return fn(*args)
    except API_ERRORS:
        return None


def test_one_input(data: bytes) -> None:
    if len(data) < 2:
        return
    op, sel, body = data[0] % 8, data[1], data[2:]
    if op in ENCODE:
        fn, name = ENCODE[op]
        x = shaped(body, sel, 2)
        out = out_buffer(sel, len(body) // 2)
        res = run(fn, x, out) if out is not None else run(fn, x)
        if res is not None and sel % 9 in (0, 1, 2, 3) and audioop is not None:
            check(len(body) % 2 == 0, f"{name} accepted an odd byte count {len(body)}")
            got = bytes(res[: len(body) // 2])
            check(got == getattr(audioop, name)(body, 2), f"{name} differs from audioop")
        if sel % 9 in (0, 1, 2, 3) and len(body) % 2:
            check(res is None, f"{name} accepted odd-length PCM")
    elif op in DECODE:
        fn, name = DECODE[op]
        x = shaped(body, sel, 1)
        out = out_buffer(sel, 2 * len(body))
        res = run(fn, x, out) if out is not None else run(fn, x)
        if res is not None and sel % 9 in (0, 1, 2, 3) and audioop is not None:
            check(bytes(res[: 2 * len(body)]) == getattr(audioop, name)(body, 2), f"{name} differs from audioop")
    elif op == 4:                                    # mu-law <-> A-law transcoding
        fn = g711.ulaw2alaw if sel & 1 else g711.alaw2ulaw
        res = run(fn, shaped(body, sel >> 1, 1))
        if res is not None and (sel >> 1) % 9 in (0, 1, 2, 3) and audioop is not None:
            if sel & 1:
                ref = audioop.lin2alaw(audioop.ulaw2lin(body, 2), 2)
            else:
                ref = audioop.lin2ulaw(audioop.alaw2lin(body, 2), 2)
            check(bytes(res) == ref, "G.711 transcoding differs from audioop")
    elif op == 5:                                    # s16le -> float32
        x = shaped(body, sel, 2)
        out = out_buffer(sel, 4 * (len(body) // 2))
        res = run(pcm.s16le_to_float32, x, out) if out is not None else run(pcm.s16le_to_float32, x)
        if res is not None and sel % 9 in (0, 1, 2, 3):
            check(len(body) % 2 == 0, "s16le_to_float32 accepted odd-length PCM")
            ref = (np.frombuffer(body, "<i2").astype(np.float32) / np.float32(32768)).tobytes()
            check(bytes(memoryview(res).cast("B"))[: len(ref)] == ref, "s16le_to_float32 differs")
    elif op == 6:                                    # float32 -> s16le
        n = len(body) // 4 * 4
        x = np.frombuffer(body[:n], np.float32) if sel & 1 else shaped(body, sel >> 1, 4)
        out = out_buffer(sel, 2 * (n // 4))
        res = run(pcm.float32_to_s16le, x, out) if out is not None else run(pcm.float32_to_s16le, x)
        if res is not None and (sel & 1):
            got = bytes(memoryview(res).cast("B"))[: n // 2]
            check(got == f32_reference(np.frombuffer(body[:n], np.float32)), "float32_to_s16le differs")
    else:                                            # levels
        x = shaped(body, sel, 2)
        ms = run(pcm.mean_square, x)
        db = run(pcm.rms_dbfs, x, -60.0 - (sel & 63))
        if ms is not None:
            check(0.0 <= ms <= 1.0, f"mean_square {ms}")
        if db is not None:
            check(-124.0 <= db <= 0.0 + 1e-9, f"rms_dbfs {db}")


if __name__ == "__main__":
    harness.main(test_one_input)

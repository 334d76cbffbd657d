#!/usr/bin/env python3
"""Fuzz target: the lock-free rings (voicecore._native.media.ring) with any
sizes: SampleRing (outbound audio), AECReferenceRing (what was sent, by time
and position) and FrameQueue (inbound frames to the event loop).

Each ring is checked against a Python model of what was written: a
SampleRing read returns exactly the samples written at the positions it
reports (a flush discards everything written before it), writes past the
capacity are counted, never stored; an AEC read returns, sample by sample,
either what was written at that position or silence; a FrameQueue pops
frames in order with their metadata and drops the oldest when full. Bad
sizes raise ValueError / TypeError. Single-threaded (the two-thread harness is
ring._StressRun, run by the unit tests).

Input: u8 ring kind, u8 capacity exponent, u8 parameter, then records
(u8 op, u16 size, i32 time step in 10 us, u16-prefixed samples).

    python fuzz/fuzz_rings.py fuzz/corpus/rings -max_total_time=60
"""

from __future__ import annotations

from collections import deque

import harness
from harness import Reader, check

from voicecore._native.media import ring

API_ERRORS = (ValueError, TypeError, BufferError)
M64 = (1 << 64) - 1


def sample_ring(r: Reader, cap: int, param: int) -> None:
    start = M64 - param * 97 if param & 1 else param << 20       # near the 2**64 wrap or not
    rg = ring.SampleRing(cap, start_position=start)
    model = bytearray()                 # samples written, index = position - start (mod 2**64)
    flush_at = 0
    written = overflow = 0
    while r.more():
        op, n, _dt, data = r.u8() % 6, r.u16(), r.i32(), r.blob(8192)
        if op == 0:                                       # write
            if len(data) % 2:
                try:
                    rg.write(data)
                except ValueError:
                    continue
                check(False, "SampleRing.write accepted an odd byte count")
            k = rg.write(data)
            want = len(data) // 2
            check(0 <= k <= want, f"write returned {k} for {want}")
            model += data[: 2 * k]
            written += k
            overflow += want - k
        elif op == 1 or op == 2:                          # read / read_into
            before = (rg.read_position - start) & M64
            if op == 1:
                got = rg.read(n % (cap + 8))
            else:
                out = bytearray(2 * (n % (cap + 8)))
                k = rg.read_into(out, fill=bool(n & 0x8000))
                got = bytes(out[: 2 * k])
                if n & 0x8000:
                    check(out[2 * k:] == bytes(len(out) - 2 * k), "read_into(fill=True) left data in the tail")
            after = (rg.read_position - start) & M64
            k = len(got) // 2
            check(after - k >= min(before, after), f"read of {k} samples moved {before} -> {after}")
            check(after - k >= flush_at, f"read samples from before the flush at {flush_at}")
            check(got == bytes(model[2 * (after - k): 2 * after]), f"read returned other samples at {after - k}")
        elif op == 3:
            rg.request_flush()
            flush_at = len(model) // 2
        elif op == 4:
            bad = data[:1] if data else b"\0"
            try:
                rg.write(bad)
            except ValueError:
                pass
            else:
                check(False, "SampleRing.write accepted one byte")
        else:
            check(0 <= rg.readable() <= cap and 0 <= rg.writable() <= cap, "readable/writable out of range")
        st = rg.stats()
        check(rg.written_samples == written, f"written_samples {rg.written_samples} != {written}")
        check(rg.overflow_samples == overflow, f"overflow_samples {rg.overflow_samples} != {overflow}")
        check(((rg.write_position - start) & M64) == len(model) // 2, "write_position")
        check(isinstance(st, dict), "stats")


def aec_ring(r: Reader, cap: int, param: int) -> None:
    rate = (8000, 16000, 48000, 1000, 384000, 44100)[param % 6]
    epoch = 1_000_000_000
    a = ring.AECReferenceRing(cap, rate, echo_delay_ms=float(param >> 3), tolerance_ms=float(param & 7),
                              epoch_ns=epoch, start_position=(param << 40) & M64)
    held: dict[int, int] = {}            # position -> sample (latest write)
    rtp_of: dict[int, int] = {}
    t = epoch
    ops = 0
    while r.more() and ops < 200:
        ops += 1
        op, n, dt, data = r.u8() % 5, r.u16(), r.i32(), r.blob(4096)
        t += dt * 10_000
        if op == 0:
            if len(data) % 2:
                try:
                    a.write(data, t)
                except ValueError:
                    continue
                check(False, "AECReferenceRing.write accepted an odd byte count")
            rtp = (n * 7919) & 0xFFFFFFFF
            pos = a.write(data, t, rtp)
            samples = memoryview(data).cast("h") if data else []
            for i, s in enumerate(samples):
                held[(pos + i) & M64] = s
                rtp_of[(pos + i) & M64] = (rtp + i) & 0xFFFFFFFF
            head = a.head
            for p in [p for p in held if ((head - p) & M64) > cap]:
                del held[p]
                rtp_of.pop(p, None)
        elif op in (1, 2):
            m = n % (cap + 1) if op == 1 else n % (2 * cap + 2)
            out = bytearray(2 * m)
            if op == 1:
                pos = a.read_aligned(t, out)
            else:
                pos = (a.head - (n * 13) % (2 * cap + 1)) & M64
                try:
                    a.read_at(pos, out)
                except ValueError:
                    check(m > cap, f"read_at refused {m} samples (capacity {cap})")
                    continue
                check(m <= cap, f"read_at accepted {m} samples (capacity {cap})")
            got = memoryview(out).cast("h") if out else []
            for i, s in enumerate(got):
                want = held.get((pos + i) & M64)
                check(s == 0 or s == want, f"AEC sample at {pos + i}: {s}, written {want}")
        elif op == 3:
            p = (a.head - 1 - n % (cap + 4)) & M64
            ts = a.rtp_timestamp_at(p)
            if ts is not None and p in rtp_of:
                check(ts == rtp_of[p], f"rtp_timestamp_at({p}) = {ts}, written {rtp_of[p]}")
        else:
            check(isinstance(a.stats(), dict), "stats")
            a.position_at(t)


def frame_queue(r: Reader, cap: int, param: int) -> None:
    fs = 1 + param * 3
    if cap * fs > 1 << 30:
        return
    q = ring.FrameQueue(cap, fs, wakeup=bool(param & 1))
    model: deque = deque()
    pushed = dropped = popped = 0
    while r.more():
        op, n, dt, data = r.u8() % 4, r.u16(), r.i32(), r.blob(8192)
        if op == 0:
            frame = (data * (2 * fs // max(1, len(data)) + 1))[: 2 * fs] if data else bytes(2 * fs)
            if n & 1:
                frame = frame[: len(frame) - 2 * (1 + n % 3)]     # wrong size
                try:
                    q.push(frame)
                except API_ERRORS:
                    continue
                check(False, "FrameQueue.push accepted a frame of the wrong size")
            d = q.push(frame, n, dt & M64, n ^ 0xABCD)
            pushed += 1
            if d:
                check(len(model) == cap, f"drop with {len(model)} of {cap} queued")
                model.popleft()
                dropped += 1
            model.append((bytes(frame), n, dt & M64, n ^ 0xABCD))
        elif op == 1:
            out = bytearray(2 * fs + (2 if n & 1 else 0))
            try:
                meta = q.pop_into(out)
            except API_ERRORS:
                check(n & 1, "pop_into refused a right-sized buffer")
                continue
            check(not n & 1, "pop_into accepted a wrong-sized buffer")
            if meta is None:
                check(not model, f"empty pop with {len(model)} queued")
            else:
                f, si, ts, fl = model.popleft()
                popped += 1
                check(meta == (si, ts, fl) and bytes(out) == f, "popped another frame")
        elif op == 2:
            got = q.pop()
            if got is None:
                check(not model, "empty pop")
            else:
                f, si, ts, fl = model.popleft()
                popped += 1
                check(got == (f, si, ts, fl), "popped another frame")
        else:
            check(len(q) == len(model), f"len {len(q)} != {len(model)}")
            if param & 1:
                q.clear_wakeup()
        check(q.pushed == pushed and q.dropped == dropped and q.popped == popped,
              f"counters {q.pushed}/{q.dropped}/{q.popped} != {pushed}/{dropped}/{popped}")
    q.close()


def test_one_input(data: bytes) -> None:
    r = Reader(data)
    kind, exp, param = r.u8() % 4, r.u8(), r.u8()
    cap = 1 << (exp % 17)
    if kind == 0:
        sample_ring(r, cap, param)
    elif kind == 1:
        aec_ring(r, cap, param)
    elif kind == 2:
        frame_queue(r, min(cap, 4096), param)
    else:                                               # constructors with bad sizes
        for bad in (0, cap + 1 if cap > 2 else 3, -cap, 1 << 31, True, 2.0):
            for ctor in (lambda c: ring.SampleRing(c), lambda c: ring.AECReferenceRing(c, 8000),
                         lambda c: ring.FrameQueue(c, 160)):
                try:
                    ctor(bad)
                except API_ERRORS:
                    pass
                else:
                    check(False, f"a ring accepted capacity {bad!r}")


if __name__ == "__main__":
    harness.main(test_one_input)

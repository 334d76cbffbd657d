"""Producer and consumer on two native threads (pthreads started from Cython,
neither ever takes the GIL), checking every sample of a known sequence: no
tear, no loss except counted overflow. And progress while the main thread
holds the GIL in a busy Python loop."""

from __future__ import annotations

import sys
import time

import pytest

from voicecore._native.media.ring import _StressRun


@pytest.mark.parametrize("start", [0, 2**63 - 50_000, 2**64 - 50_000])
def test_sample_ring_two_native_threads_checksummed(start):
    run = _StressRun("samples", seconds=1.0, capacity=1024, chunk=300, start_position=start, seed=start | 1)
    run.start()
    res = run.join()
    assert res["produced"] > 10_000, res  # it really ran
    assert res["bad"] == 0, res  # every sample equals the sequence at its position
    assert res["consumed"] == res["produced"], res  # nothing lost, nothing invented
    assert res["producer_sum"] == res["consumer_sum"], res
    assert res["overflow_samples"] == 0, res  # the producer waited for room
    assert res["final_write_position"] == (start + res["produced"]) % 2**64


def test_aec_ring_two_native_threads_no_tear():
    """The producer writes frames on a synthetic 20 ms clock up to capacity + 2
    frames ahead of the consumer, the consumer reads each frame at its capture
    time up to one frame ahead of the producer: reads meet overwritten slots
    (late) and unwritten ones (underrun). Every sample read is either the one
    sent at that position or a zero the ring counted."""
    run = _StressRun("aec", seconds=1.5, capacity=1024, chunk=160, start_position=2**63 - 100_000)
    run.start()
    res = run.join()
    assert res["read_frames"] > 1000, res
    assert res["bad"] == 0, res
    assert res["out_of_order"] == 0 and res["realigns"] == 0, res  # positions stay aligned
    assert res["zeros"] == res["zeros_counted"], res  # every zero is accounted for
    assert res["zeros"] == res["late_samples"] + res["silence_samples"], res
    verified = res["read_frames"] * 160 - res["zeros"]
    assert verified > 100 * 160, res  # most reads carried real reference
    assert abs(res["read_frames"] - res["written_frames"]) <= 1, res


@pytest.mark.parametrize("slots", [1, 8])
def test_frame_queue_two_native_threads_drop_oldest(slots):
    """The producer never waits; the consumer falls behind now and then, so the
    producer drops the oldest frames (advancing the consumer's index by CAS),
    sometimes while the consumer is copying that very slot. No frame comes out
    torn, reordered or with wrong metadata, and every frame is accounted for."""
    run = _StressRun("frames", seconds=0.75, capacity=slots, chunk=160, seed=99 + slots)
    run.start()
    res = run.join()
    assert res["pushed"] > 1000 and res["popped"] > 100, res
    assert res["bad"] == 0 and res["out_of_order"] == 0, res
    assert res["popped"] + res["dropped"] == res["pushed"], res
    assert res["consumed"] == res["popped"], res
    assert res["dropped"] > 0, res  # the overflow path really ran


def test_native_threads_progress_while_python_holds_the_gil():
    """With a 100 s switch interval the busy main thread would not hand over
    the GIL during this test: if the producer or the consumer needed it, they
    would stall. Both keep moving data while Python spins."""
    run = _StressRun("samples", seconds=1.0, capacity=4096, chunk=160)
    old = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    try:
        run.start()
        p0, c0 = run.progress()
        deadline = time.perf_counter() + 0.5
        spins = 0
        while time.perf_counter() < deadline:  # pure Python, holds the GIL
            spins += 1
        p1, c1 = run.progress()
    finally:
        sys.setswitchinterval(old)
        res = run.join()
    assert spins > 1000
    assert p1 - p0 > 10_000 and c1 - c0 > 10_000, (p0, p1, c0, c1)
    assert res["bad"] == 0 and res["consumed"] == res["produced"]

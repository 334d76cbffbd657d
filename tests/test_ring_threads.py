"""Producer and consumer on two native threads (pthreads started from a
test-only Cython probe, tests/native/probe_ring.pyx, compiled against the
installed ring .pxd files; neither thread ever takes the GIL), checking every
sample of a known sequence: no tear, no loss except counted overflow. Progress
while the main thread holds the GIL in a busy Python loop. And the race of
issue 9: readable()/len()/bool() asked by the producer must not move the
consumer's read position."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "native"))
from build import build_probe  # noqa: E402

from voicecore.ring import SampleRing  # noqa: E402


@pytest.fixture(scope="module")
def probe():
    return build_probe("probe_ring")


@pytest.fixture(scope="module")
def race():
    return build_probe("probe_ring_race")


@pytest.mark.parametrize("start", [0, 2**63 - 50_000, 2**64 - 50_000])
def test_sample_ring_two_native_threads_checksummed(probe, start):
    run = probe.StressRun("samples", seconds=1.0, capacity=1024, chunk=300, start_position=start, seed=start | 1)
    run.start()
    res = run.join()
    assert res["produced"] > 10_000, res  # it really ran
    assert res["bad"] == 0, res  # every sample equals the sequence at its position
    assert res["consumed"] == res["produced"], res  # nothing lost, nothing invented
    assert res["producer_sum"] == res["consumer_sum"], res
    assert res["overflow_samples"] == 0, res  # the producer waited for room
    assert res["final_write_position"] == (start + res["produced"]) % 2**64


def test_aec_ring_two_native_threads_no_tear(probe):
    """The producer writes frames on a synthetic 20 ms clock up to capacity + 2
    frames ahead of the consumer, the consumer reads each frame at its capture
    time up to one frame ahead of the producer: reads meet overwritten slots
    (late) and unwritten ones (underrun). Every sample read is either the one
    sent at that position or a zero the ring counted."""
    run = probe.StressRun("aec", seconds=1.5, capacity=1024, chunk=160, start_position=2**63 - 100_000)
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
def test_frame_queue_two_native_threads_drop_oldest(probe, slots):
    """The producer never waits; the consumer falls behind now and then, so the
    producer drops the oldest frames (advancing the consumer's index by CAS),
    sometimes while the consumer is copying that very slot. No frame comes out
    torn, reordered or with wrong metadata, and every frame is accounted for."""
    run = probe.StressRun("frames", seconds=0.75, capacity=slots, chunk=160, seed=99 + slots)
    run.start()
    res = run.join()
    assert res["pushed"] > 1000 and res["popped"] > 100, res
    assert res["bad"] == 0 and res["out_of_order"] == 0, res
    assert res["popped"] + res["dropped"] == res["pushed"], res
    assert res["consumed"] == res["popped"], res
    assert res["dropped"] > 0, res  # the overflow path really ran


def test_native_threads_progress_while_python_holds_the_gil(probe):
    """With a 100 s switch interval the busy main thread would not hand over
    the GIL during this test: if the producer or the consumer needed it, they
    would stall. Both keep moving data while Python spins."""
    run = probe.StressRun("samples", seconds=1.0, capacity=4096, chunk=160)
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


# ---------------------------------------------------------------- issue 9: readable() from the producer
def _accounting_gap(r: dict) -> int:
    return r["written_samples"] - r["read_samples"] - r["flushed_samples"] - r["left"]


def test_producer_side_readable_never_moves_the_read_position(race):
    """The producer pthread requests a flush every other write and asks
    sring_readable() after each, while the consumer pthread reads. Were a
    producer-side query to apply the flush (store read_pos, as readable() did),
    it races with the consumer's own store: read_pos steps back over samples
    already delivered (delivered twice), slots the consumer is still copying
    are handed to the producer (torn reads), and flushed samples are counted
    twice. Before the fix every run of this test showed all three."""
    for _ in range(2):
        r = race.readable_race(0.75)
        assert r["produced"] > 100_000, r  # it really ran
        assert r["flushed_samples"] > 0, r  # flushes really happened
        assert r["back_steps"] == 0, r  # nothing delivered twice
        assert r["torn"] == 0, r  # no slot overwritten while being read
        assert _accounting_gap(r) == 0, r  # written == read + flushed + left
        assert r["delivered"] == r["read_samples"], r


def test_python_producer_len_and_bool_while_the_engine_consumes(race):
    """The engine's shape: a native consumer thread has adopted the consumer
    side of a SampleRing made in Python; Python writes, requests flushes and
    asks len()/bool()/readable() on the producer side. Every sample the native
    consumer gets is the one written at its position, none comes twice, and
    the accounting closes (before the fix: samples delivered twice and torn)."""
    ring = SampleRing(1024)
    consumer = race.NativeConsumer(ring, 96)
    consumer.start()
    try:
        with pytest.raises(RuntimeError, match="consumer side of this SampleRing is owned by an Engine"):
            ring.read(10)
        pos = k = flushes = 0
        last_read = 0
        t0 = time.perf_counter()
        # At least 0.75 s, 50 flushes and 10,000 samples delivered (a loaded
        # machine may starve the consumer thread for a while: wait for it,
        # up to 30 s, rather than assert on timing).
        while time.perf_counter() - t0 < 30:
            if time.perf_counter() - t0 > 0.75 and flushes >= 50 and ring.read_samples >= 10_000:
                break
            n = 64 + (k * 37) % 160
            if ring.writable() >= n:
                assert ring.write(race.position_samples(pos, n)) == n
                pos += n
            k += 1
            if k % 4 == 0 and ring.read_samples > last_read:  # flush once the consumer moved
                ring.request_flush()
                flushes += 1
                last_read = ring.read_samples
            for _ in range(3):
                assert 0 <= len(ring) <= 1024
                bool(ring)
                ring.readable()
    finally:
        res = consumer.join()
    s = ring.stats()
    assert res["back_steps"] == 0 and res["torn"] == 0, res
    assert s["read_samples"] == res["delivered"]
    assert s["written_samples"] == s["read_samples"] + s["flushed_samples"] + len(ring), s
    assert flushes >= 50 and s["flushed_samples"] > 0 and res["delivered"] >= 10_000, (flushes, s, res)

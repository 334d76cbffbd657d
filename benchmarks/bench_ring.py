"""Ring throughput: write + read of one 20 ms frame (160 samples = 8 kHz,
320 samples = 16 kHz), voicecore's lock-free rings side by side with a
``collections.deque`` + ``threading.Lock`` queue in the same run.

The peer is given its best case: it queues whole frames (one deque entry per
frame, no per-sample work), takes the lock once per operation, and copies the
frame out into the same caller buffer. Read ``min``/median and compare rows of
one group; the ratio is what counts, not absolute times.

    python -m pytest benchmarks/bench_ring.py --benchmark-enable \
        --benchmark-group-by=group --benchmark-columns=min,median,mean,rounds

Target (same-run ratio of ``min``, asserted with --benchmark-enable): the
SampleRing write + read of a 20 ms frame >= 5x faster than the deque + Lock
peer (README: 10.8-11.2x measured).
"""

from __future__ import annotations

import collections
import threading

import numpy as np
import pytest
from benchsupport import Target, gate

from voicecore.ring import AECReferenceRing, FrameQueue, SampleRing


class DequeLockRing:
    """The pure-Python peer: a deque of frames behind a lock."""

    def __init__(self, max_frames: int) -> None:
        self._q: collections.deque[bytes] = collections.deque(maxlen=max_frames)
        self._lock = threading.Lock()

    def write(self, pcm) -> int:
        data = bytes(pcm)
        with self._lock:
            self._q.append(data)
        return len(data) // 2

    def read_into(self, out) -> int:
        with self._lock:
            if not self._q:
                return 0
            data = self._q.popleft()
        memoryview(out).cast("B")[: len(data)] = data
        return len(data) // 2


TARGETS = [Target(f"ring write+read 20 ms frame ({n} samples)", "voicecore", "deque+lock", 5.0) for n in (160, 320)]


def _frame(n: int) -> bytes:
    return ((np.arange(n) * 37) % 4000 - 2000).astype(np.int16).tobytes()


@pytest.mark.parametrize("n", [160, 320])
@pytest.mark.parametrize("impl", ["voicecore", "deque+lock"])
def test_sample_ring_write_read_frame(benchmark, impl, n):
    benchmark.group = f"ring write+read 20 ms frame ({n} samples)"
    frame = _frame(n)
    out = bytearray(2 * n)
    ring = SampleRing(4096) if impl == "voicecore" else DequeLockRing(64)
    write, read_into = ring.write, ring.read_into

    def step() -> None:
        write(frame)
        read_into(out)

    benchmark(step)
    gate(benchmark, impl, TARGETS)
    assert bytes(out) == frame


@pytest.mark.parametrize("n", [160, 320])
def test_sample_ring_numpy_out(benchmark, n):
    """Same as above but reading into an int16 numpy array (the buffer
    protocol path numpy needs costs more than a bytearray's)."""
    benchmark.group = f"ring write+read 20 ms frame ({n} samples)"
    frame = _frame(n)
    out = np.zeros(n, np.int16)
    ring = SampleRing(4096)
    write, read_into = ring.write, ring.read_into

    def step() -> None:
        write(frame)
        read_into(out)

    benchmark(step)
    assert out.tobytes() == frame


@pytest.mark.parametrize("n", [160, 320])
def test_aec_ring_write_read_frame(benchmark, n):
    benchmark.group = f"ring write+read 20 ms frame ({n} samples)"
    frame = _frame(n)
    out = bytearray(2 * n)
    rate = n * 50
    ring = AECReferenceRing(8192, rate, epoch_ns=0)
    state = [0]
    step_ns = 20_000_000

    def step() -> None:
        t = state[0]
        ring.write(frame, t, 0)
        ring.read_aligned(t, out)
        state[0] = t + step_ns

    benchmark(step)
    assert bytes(out) == frame


@pytest.mark.parametrize("n", [160, 320])
def test_frame_queue_push_pop_frame(benchmark, n):
    benchmark.group = f"ring write+read 20 ms frame ({n} samples)"
    frame = _frame(n)
    out = bytearray(2 * n)
    q = FrameQueue(64, n, wakeup=False)
    push, pop_into = q.push, q.pop_into

    def step() -> None:
        push(frame, 1, 2, 0)
        pop_into(out)

    benchmark(step)
    assert bytes(out) == frame

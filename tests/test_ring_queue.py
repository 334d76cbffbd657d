"""FrameQueue: drop-oldest, metadata, wake-ups only on empty -> non-empty
transitions (counted), the asyncio add_reader path, and the native queue
against the lock-based reference."""

from __future__ import annotations

import asyncio
import errno
import os
import random
import select
import subprocess
import sys

import numpy as np
import pytest
from vc_support import _native_or_reference

from voicecore._native.media import ring as native
from voicecore._reference import ring as reference
from voicecore.ring import FrameQueueReader

impls = pytest.mark.parametrize("R", _native_or_reference("ring"))
F = 160


def frame(k: int) -> np.ndarray:
    return ((np.arange(F) + 17 * k) % 3000 - 1500).astype(np.int16)


def readable(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


@impls
def test_fifo_with_metadata(R):
    q = R.FrameQueue(8, F, wakeup=False)
    for k in range(5):
        assert q.push(frame(k), session_index=k, timestamp=2**40 + k, flags=k * 3) is False
    assert len(q) == 5
    out = np.zeros(F, np.int16)
    for k in range(5):
        assert q.pop_into(out) == (k, 2**40 + k, k * 3)
        np.testing.assert_array_equal(out, frame(k))
    assert q.pop_into(out) is None and q.pop() is None
    q.push(frame(9).tobytes(), 2**32 - 1, 2**64 - 1, 2**32 - 1)
    data, s, t, f = q.pop()
    assert (data, s, t, f) == (frame(9).tobytes(), 2**32 - 1, 2**64 - 1, 2**32 - 1)


@impls
def test_overflow_drops_oldest_and_counts(R):
    q = R.FrameQueue(4, F, wakeup=False)
    dropped = [q.push(frame(k), timestamp=k) for k in range(10)]
    assert dropped == [False] * 4 + [True] * 6
    assert q.stats()["dropped"] == 6 and len(q) == 4
    got = []
    while (item := q.pop()) is not None:
        got.append(item[2])
        assert item[0] == frame(item[2]).tobytes()
    assert got == [6, 7, 8, 9]  # the newest survive
    s = q.stats()
    assert (s["pushed"], s["popped"], s["dropped"]) == (10, 4, 6)


@impls
def test_wakeup_once_per_empty_to_nonempty_transition(R):
    q = R.FrameQueue(64, F)
    fd = q.fileno()
    assert not readable(fd)
    for k in range(50):  # consumer behind: one signal, not fifty
        q.push(frame(k))
    assert q.wakeups == 1 and readable(fd)
    assert q.clear_wakeup() == 1
    assert not readable(fd)
    for _ in range(30):  # draining part of the queue arms nothing
        assert q.pop() is not None
    q.push(frame(0))
    assert q.wakeups == 1 and not readable(fd)
    while q.pop() is not None:  # drained: the empty pop arms the wake-up
        pass
    q.push(frame(1))
    q.push(frame(2))
    assert q.wakeups == 2 and readable(fd)
    assert q.clear_wakeup() == 1
    # overflow while the consumer sleeps: still a single signal
    while q.pop() is not None:
        pass
    for k in range(500):
        q.push(frame(k))
    assert q.wakeups == 3 and q.stats()["dropped"] == 500 - 64
    q.close()
    with pytest.raises(ValueError, match="wake-up fd"):
        q.fileno()
    q.close()  # idempotent


@impls
def test_bad_input(R):
    with pytest.raises(ValueError, match="power of two"):
        R.FrameQueue(6, F)
    with pytest.raises(ValueError, match="power of two"):
        R.FrameQueue(0, F)
    with pytest.raises(ValueError, match="frame_samples"):
        R.FrameQueue(8, 0)
    q = R.FrameQueue(8, F, wakeup=False)
    with pytest.raises(ValueError, match="exactly 160 samples"):
        q.push(np.zeros(F - 1, np.int16))
    with pytest.raises(TypeError, match="format"):
        q.push(np.zeros(F, np.float32))
    with pytest.raises(ValueError, match="even byte count"):
        q.push(b"\x00" * 3)
    with pytest.raises(ValueError, match=r"FrameQueue.push: session_index must be in 0..2\*\*32-1, got -1"):
        q.push(frame(0), session_index=-1)
    with pytest.raises(ValueError, match="timestamp must be in 0..2"):
        q.push(frame(0), timestamp=2**64)
    with pytest.raises(TypeError, match="FrameQueue.push: flags must be an int, got str"):
        q.push(frame(0), flags="1")
    with pytest.raises(ValueError, match="exactly 160 samples"):
        q.pop_into(np.zeros(F * 2, np.int16))
    with pytest.raises(TypeError, match="int16"):
        q.pop_into(np.zeros(F, np.float32))
    with pytest.raises(ValueError, match="wake-up fd"):
        q.fileno()


@impls
async def test_asyncio_reader_delivers_every_frame_with_few_wakeups(R):
    """A producer thread pushes 200 frames in bursts; the loop drains them via
    add_reader. Every frame arrives in order; a wake-up is sent only after the
    consumer found the queue empty (each drain ends that way), never per frame."""
    q = R.FrameQueue(256, F)
    got: list[int] = []
    done = asyncio.Event()

    def on_frame(data: bytes, session: int, ts: int, flags: int) -> None:
        assert data == frame(ts).tobytes() and session == 3
        got.append(ts)
        if ts == 199:
            done.set()

    reader = FrameQueueReader(q, on_frame)
    reader.start()
    loop = asyncio.get_running_loop()

    def produce() -> None:
        for burst in range(10):
            for k in range(20):
                q.push(frame(burst * 20 + k), session_index=3, timestamp=burst * 20 + k)

    await loop.run_in_executor(None, produce)
    await asyncio.wait_for(done.wait(), 5)
    reader.stop()
    assert got == list(range(200))
    assert 1 <= q.wakeups <= reader.wakeups_handled + 1
    assert q.wakeups < 200
    assert reader.frames_delivered == 200
    q.close()


@impls
async def test_reader_bounds_the_work_per_wakeup_and_loses_nothing(R):
    """1,000 frames queued at once: each loop callback delivers at most
    max_frames of them, other loop callbacks run between the batches (the
    loop is not starved), and every frame arrives once, in order (nothing
    lost), the last batch re-arming the wake-up."""
    q = R.FrameQueue(1024, F)
    got: list[int] = []
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    progress_seen_by_others: list[int] = []

    def on_frame(data: bytes, session: int, ts: int, flags: int) -> None:
        got.append(ts)
        if ts == 999:
            done.set()

    reader = FrameQueueReader(q, on_frame, max_frames=50)
    for k in range(1000):
        q.push(frame(k % 7), timestamp=k)

    def other_work() -> None:  # another loop callback, rescheduling itself
        progress_seen_by_others.append(len(got))
        if not done.is_set():
            loop.call_soon(other_work)

    reader.start()
    loop.call_soon(other_work)
    await asyncio.wait_for(done.wait(), 5)
    assert got == list(range(1000))
    assert reader.frames_delivered == 1000
    # 20 batches of 50: some started by the fd, the rest by follow-ups (never all at once)
    assert reader.continuations >= 1 and reader.wakeups_handled + reader.continuations >= 1000 // 50
    # other work ran while the backlog was being delivered, between batches
    partial = [n for n in progress_seen_by_others if 0 < n < 1000]
    assert len(partial) >= 10, progress_seen_by_others[:30]
    assert all(n % 50 == 0 for n in partial)  # batches of at most max_frames
    # the drain ended by finding the queue empty: the wake-up is armed again
    q.push(frame(0), timestamp=1000)
    await asyncio.sleep(0.05)
    assert got[-1] == 1000
    reader.stop()
    q.close()


def test_reader_max_frames_is_checked():
    q = native.FrameQueue(4, F, wakeup=False)
    with pytest.raises(ValueError, match="FrameQueueReader: max_frames must be >= 1, got 0"):
        FrameQueueReader(q, print, max_frames=0)
    with pytest.raises(TypeError, match="max_frames must be an int"):
        FrameQueueReader(q, print, max_frames=2.5)


def test_native_matches_reference_random_ops():
    rng = random.Random(5)
    a = native.FrameQueue(8, F)
    b = reference.FrameQueue(8, F)
    oa, ob = np.zeros(F, np.int16), np.zeros(F, np.int16)
    for i in range(3000):
        if rng.random() < 0.55:
            args = (frame(i), rng.randrange(2**32), rng.randrange(2**64), rng.randrange(2**32))
            assert a.push(*args) == b.push(*args)
        else:
            ra, rb = a.pop_into(oa), b.pop_into(ob)
            assert ra == rb
            if ra is not None:
                np.testing.assert_array_equal(oa, ob)
        if rng.random() < 0.1:
            assert a.clear_wakeup() == b.clear_wakeup()
        assert len(a) == len(b)
    assert a.stats() == b.stats()
    assert a.wakeups > 10
    a.close()
    b.close()


def test_wakeup_fd_is_non_blocking_and_close_on_exec():
    q = native.FrameQueue(4, F)
    fd = q.fileno()
    assert os.get_blocking(fd) is False
    assert os.get_inheritable(fd) is False
    q.close()


_PIPE_MODE = r"""
import os, stat, sys
from voicecore._native.media import ring
q = ring.FrameQueue(4, 160)
fd = q.fileno()
assert ring.WAKEUP_KIND == "pipe", ring.WAKEUP_KIND
assert stat.S_ISFIFO(os.fstat(fd).st_mode), "not a pipe"
print("pipe ok")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="non-Linux platforms use the pipe anyway")
def test_pipe_fallback_runs_the_wakeup_tests_on_linux_too():
    """VOICECORE_WAKEUP=pipe gives queues the pipe that macOS uses; the wake-up
    tests of this file then run over it, in a subprocess, on Linux."""
    env = dict(os.environ, VOICECORE_WAKEUP="pipe")
    r = subprocess.run([sys.executable, "-c", _PIPE_MODE], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "pipe ok" in r.stdout, r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         "-k", "wakeup and not pipe_fallback or asyncio_reader or random_ops", "--benchmark-disable"],
        env=env, capture_output=True, text=True, timeout=600, cwd=os.path.dirname(__file__),
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert " passed" in r.stdout and " failed" not in r.stdout, r.stdout[-2000:]


_EMFILE = r"""
import resource, sys
from voicecore._native.media import ring
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
keep = []
resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
try:
    while True:
        keep.append(open("/dev/null"))
except OSError:
    pass
try:
    ring.FrameQueue(4, 160)
except OSError as exc:
    print(type(exc).__name__, exc.errno, exc)
    sys.exit(0)
sys.exit("no error")
"""


def test_wakeup_fd_failure_raises_oserror_with_its_errno():
    """Out of file descriptors: FrameQueue raises OSError carrying EMFILE (the
    errno the wake-up fd got), not a bare OSError."""
    r = subprocess.run([sys.executable, "-c", _EMFILE], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    name, code, msg = r.stdout.split(" ", 2)
    assert name == "OSError" and int(code) == errno.EMFILE, r.stdout
    assert "FrameQueue: cannot open the wake-up fd" in msg

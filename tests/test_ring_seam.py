"""The rings' engine seam (ring.pxd), proved from a test-only Cython module
(tests/native/probe_ring_seam.pyx) compiled against the installed .pxd files: the
three classes are cimportable with their C structs, the FLAG_* enum matches
Python, the cdef constructors reject bad capacities, and the per-side
ownership rule holds."""

from __future__ import annotations

import errno
import os
import select
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "native"))
from build import build_probe  # noqa: E402

from voicecore import ring  # noqa: E402
from voicecore._native.media import ring as native  # noqa: E402


@pytest.fixture(scope="module")
def probe():
    return build_probe("probe_ring_seam")


def test_python_made_rings_driven_through_their_structs_without_the_gil(probe):
    sr, ar, fq = native.SampleRing(256), native.AECReferenceRing(1024, 8000, epoch_ns=0), native.FrameQueue(4, 160)
    k, a, b, got, c, meta = probe.engine_roundtrip(sr, ar, fq)
    src = (np.arange(160) * 7 - 500).astype(np.int16).tobytes()
    assert (k, a, b, got, c) == (160, src, src, 1, src)
    assert meta == (3, 4, ring.FLAG_END | ring.FLAG_PARTIAL)
    # what the native side did is visible from Python
    assert sr.stats()["read_samples"] == 160 and ar.stats()["written_frames"] == 1
    assert fq.stats()["popped"] == 1 and fq.wakeups == 1


def test_flag_enum_in_the_pxd_matches_python(probe):
    assert probe.flags() == {
        "FLAG_END": ring.FLAG_END,
        "FLAG_SILENCE": ring.FLAG_SILENCE,
        "FLAG_DISCONTINUITY": ring.FLAG_DISCONTINUITY,
        "FLAG_PARTIAL": ring.FLAG_PARTIAL,
    }
    assert (ring.FLAG_END, ring.FLAG_SILENCE, ring.FLAG_DISCONTINUITY, ring.FLAG_PARTIAL) == (1, 2, 4, 8)


@pytest.mark.parametrize("kind", ["sample", "aec", "frames"])
def test_cdef_constructors_reject_non_power_of_two_capacities(probe, kind):
    for bad in (0, 3, 1000, 2**31):
        assert probe.new_errno(kind, bad) == (False, errno.EINVAL), bad
    assert probe.new_errno(kind, 1024) == (True, 0)
    if kind == "frames":
        assert probe.new_errno(kind, 4, 0) == (False, errno.EINVAL)  # zero-sample frames
        assert probe.new_errno(kind, 4, 160, 7) == (False, errno.EINVAL)  # unknown wake-up kind


def test_aec_runs_constant_is_shared(probe):
    """The runs ring and the consumer's copy of it are both sized by VC_AEC_RUNS
    (the .pxd constant), not by two numbers that happen to agree."""
    assert probe.aec_runs() == 64


def _rings():
    return {
        "SampleRing": native.SampleRing(64),
        "AECReferenceRing": native.AECReferenceRing(1024, 8000, epoch_ns=0),
        "FrameQueue": native.FrameQueue(4, 160),
    }


def _producer_calls(name, obj):
    f = np.zeros(160, np.int16)
    if name == "SampleRing":
        return [lambda: obj.write(f), obj.writable, obj.request_flush]
    if name == "AECReferenceRing":
        return [lambda: obj.write(f, 0, 0)]
    return [lambda: obj.push(f), obj.close]


def _consumer_calls(name, obj):
    out = np.zeros(160, np.int16)
    if name == "SampleRing":
        return [lambda: obj.read_into(out), lambda: obj.read(4)]
    if name == "AECReferenceRing":
        return [lambda: obj.read_aligned(0, out), lambda: obj.read_at(0, out), lambda: obj.rtp_timestamp_at(0)]
    return [lambda: obj.pop_into(out), obj.pop, obj.clear_wakeup]


@pytest.mark.parametrize("name", ["SampleRing", "AECReferenceRing", "FrameQueue"])
def test_ownership_is_per_side(probe, name):
    obj = _rings()[name]
    probe.adopt(obj, "producer")
    for call in _producer_calls(name, obj):
        with pytest.raises(RuntimeError, match=f"producer side of this {name} is owned by an Engine"):
            call()
    for call in _consumer_calls(name, obj):
        call()  # the other side keeps working from Python
    assert isinstance(obj.stats(), dict) and obj.capacity if name != "FrameQueue" else obj.slots
    with pytest.raises(RuntimeError, match=f"{name}: the producer side already adopted"):
        probe.adopt(obj, "producer")
    with pytest.raises(RuntimeError, match="already adopted"):
        probe.adopt(obj, "both")
    probe.adopt(obj, "consumer")  # the engine may hold both sides
    for call in _consumer_calls(name, obj):
        with pytest.raises(RuntimeError, match=f"consumer side of this {name} is owned by an Engine"):
            call()
    probe.release(obj, "producer")
    for call in _producer_calls(name, obj)[:1]:
        call()
    probe.release(obj, "consumer")
    for call in _consumer_calls(name, obj):
        call()
    probe.adopt(obj, "both")
    with pytest.raises(RuntimeError):
        _consumer_calls(name, obj)[0]()
    probe.release(obj, "both")
    _consumer_calls(name, obj)[0]()


def test_len_and_stats_stay_readable_while_both_sides_are_adopted(probe):
    sr = native.SampleRing(64)
    sr.write(np.zeros(10, np.int16))
    probe.adopt(sr, "both")
    try:
        assert len(sr) == 10 and sr.readable() == 10 and bool(sr)
        assert sr.stats()["written_samples"] == 10 and sr.capacity == 64
        assert sr.write_position == 10 and sr.read_position == 0
    finally:
        probe.release(sr, "both")


def test_pipe_wakeup_path_on_this_platform(probe):
    """fq_new(VC_WAKEUP_PIPE): the non-blocking close-on-exec pipe every
    non-Linux platform uses, signalled once per empty -> non-empty transition
    and drained by the consumer, exercised here on Linux too."""
    q = probe.pipe_wakeup_queue_fds()
    rfd, wfd = q.fds
    assert rfd != wfd and stat.S_ISFIFO(os.fstat(rfd).st_mode)
    assert not os.get_blocking(rfd) and not os.get_blocking(wfd)
    assert not os.get_inheritable(rfd) and not os.get_inheritable(wfd)
    assert not select.select([rfd], [], [], 0)[0]
    for ts in range(3):
        q.push(ts)
    assert q.wakeups == 1 and select.select([rfd], [], [], 0)[0]
    assert os.read(rfd, 16) == b"\x01"  # one byte per signal
    assert [q.pop() for _ in range(4)] == [0, 1, 2, None]  # the empty pop re-arms
    q.push(9)
    assert q.wakeups == 2 and select.select([rfd], [], [], 0)[0]

"""SampleRing: semantics, bad input, positions near 2**63 / 2**64, and the
native ring against the lock-based reference on random operation sequences."""

from __future__ import annotations

import random

import numpy as np
import pytest
from vc_support import _native_or_reference
from hypothesis import given, settings
from hypothesis import strategies as st

from voicecore._native.media import ring as native
from voicecore._reference import ring as reference
from voicecore.ring import capacity_for, next_power_of_two

impls = pytest.mark.parametrize("R", _native_or_reference("ring"))


def ramp(start: int, n: int) -> np.ndarray:
    return (np.arange(start, start + n) % 30000 + 1).astype(np.int16)


@impls
def test_write_read_roundtrip_and_counters(R):
    r = R.SampleRing(8)
    assert (r.capacity, r.writable(), r.readable()) == (8, 8, 0)
    assert r.write(ramp(0, 5)) == 5
    assert r.write(ramp(5, 5).tobytes()) == 3  # only 3 fit: the rest is dropped, counted
    assert r.overflow_samples == 2
    assert r.readable() == 8 and len(r) == 8
    out = np.zeros(6, np.int16)
    assert r.read_into(out) == 6
    np.testing.assert_array_equal(out, ramp(0, 6))
    assert r.read(10) == ramp(6, 2).tobytes()
    assert r.read(10) == b""
    assert r.write(bytearray(ramp(100, 7).tobytes())) == 7  # wraps around the end
    out = bytearray(14)
    assert r.read_into(out) == 7
    assert bytes(out) == ramp(100, 7).tobytes()
    assert r.stats() == {
        "written_samples": 15,
        "overflow_samples": 2,
        "read_samples": 15,
        "flushed_samples": 0,
        "underrun_samples": 0,
    }
    assert (r.write_position, r.read_position) == (15, 15)


@impls
def test_read_into_fill_zeroes_and_counts_underrun(R):
    r = R.SampleRing(16)
    r.write(ramp(0, 3))
    out = np.full(8, 7, np.int16)
    assert r.read_into(out, fill=True) == 3
    np.testing.assert_array_equal(out, np.r_[ramp(0, 3), np.zeros(5, np.int16)])
    assert r.underrun_samples == 5


@impls
def test_request_flush_discards_what_was_written(R):
    # barge-in: the producer (Python) cancels; the consumer (I/O thread) skips it all
    r = R.SampleRing(64)
    r.write(ramp(0, 40))
    out = np.zeros(10, np.int16)
    r.read_into(out)
    r.request_flush()
    r.write(ramp(500, 4))  # written after the flush: kept
    before = r.read_position
    assert r.readable() == 4 and len(r) == 4 and r  # a pure query: nothing moves
    assert r.read_position == before and r.flushed_samples == 0
    assert r.read(10) == ramp(500, 4).tobytes()  # the consumer applies the flush
    assert r.flushed_samples == 30


@impls
@pytest.mark.parametrize("start", [2**63 - 5, 2**64 - 5, 2**62])
def test_positions_near_2_63_and_wrap(R, start):
    r = R.SampleRing(8, start_position=start)
    total = 0
    out = np.zeros(3, np.int16)
    for i in range(10):
        assert r.write(ramp(total, 3)) == 3
        assert r.read_into(out) == 3
        np.testing.assert_array_equal(out, ramp(total, 3))
        total += 3
    assert r.write_position == (start + 30) % 2**64
    assert r.read_position == r.write_position
    assert r.readable() == 0 and r.writable() == 8


@impls
def test_bad_input(R):
    for bad in (0, 3, 1000, -8, 2**31):
        with pytest.raises(ValueError, match="power of two"):
            R.SampleRing(bad)
    with pytest.raises(TypeError, match="capacity must be an int"):
        R.SampleRing(8.0)
    with pytest.raises(ValueError, match="position"):
        R.SampleRing(8, start_position=-1)
    r = R.SampleRing(8)
    with pytest.raises(ValueError, match="even byte count"):
        r.write(b"\x00\x01\x02")
    with pytest.raises(TypeError, match="format"):
        r.write(np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="int16"):
        r.read_into(np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="int16"):
        r.read_into(np.zeros(4, np.int32))
    with pytest.raises(ValueError, match="whole int16"):
        r.read_into(bytearray(3))
    with pytest.raises((TypeError, BufferError)):
        r.read_into(b"\x00\x00")  # read-only: never written into
    with pytest.raises(ValueError, match="n must be"):
        r.read(-1)


def test_never_hands_out_ring_memory():
    r = native.SampleRing(8)
    r.write(ramp(0, 4))
    got = r.read(4)
    assert isinstance(got, bytes)
    r.write(np.full(8, -1, np.int16))  # overwrite every slot
    assert got == ramp(0, 4).tobytes()


@impls
@pytest.mark.parametrize("n", [0, 1, 160, 256, 257, 320, 960, 2047, 2048, 2049, 3000, 20000])
def test_returned_counts_are_exact_ints(R, n):
    """write/read_into return exact int counts on both sides of the native
    module's preallocated-count table (0..2048) and of the GIL threshold."""
    r = R.SampleRing(32768)
    k = r.write(ramp(0, n).tobytes())
    assert type(k) is int and k == n
    out = bytearray(2 * n + 4)
    k = r.read_into(out)
    assert type(k) is int and k == n
    assert bytes(out[: 2 * n]) == ramp(0, n).tobytes()
    k = r.read_into(np.zeros(n + 2, np.int16), fill=True)
    assert type(k) is int and k == 0 and r.underrun_samples == n + 2


def test_hot_methods_keep_their_signatures():
    import inspect

    w = inspect.signature(native.SampleRing.write)
    assert list(w.parameters) == ["self", "pcm"]
    ri = inspect.signature(native.SampleRing.read_into)
    assert list(ri.parameters) == ["self", "out", "fill"]
    assert ri.parameters["fill"].kind is inspect.Parameter.KEYWORD_ONLY
    assert ri.parameters["fill"].default is False
    sigs = {
        native.AECReferenceRing.write: ["self", "pcm", "send_time_ns", "rtp_timestamp"],
        native.AECReferenceRing.read_aligned: ["self", "capture_time_ns", "out"],
        native.FrameQueue.push: ["self", "frame", "session_index", "timestamp", "flags"],
        native.FrameQueue.pop_into: ["self", "out"],
    }
    for meth, names in sigs.items():
        assert list(inspect.signature(meth).parameters) == names
    q = native.FrameQueue(4, 2, wakeup=False)
    assert q.push(frame=b"\x01\x00\x02\x00", session_index=3, timestamp=4, flags=5) is False
    assert q.pop_into(out=bytearray(4)) == (3, 4, 5)  # keywords still accepted there
    r = native.SampleRing(8)
    with pytest.raises(TypeError):
        r.write(pcm=b"\x00\x00")  # one positional argument only (METH_O)
    with pytest.raises(TypeError):
        r.read_into(bytearray(2), True)  # fill is keyword-only


def test_helpers_round_up_explicitly():
    assert [next_power_of_two(n) for n in (1, 2, 3, 160, 1024, 1025)] == [1, 2, 4, 256, 1024, 2048]
    assert capacity_for(20, 8000) == 256
    assert capacity_for(1000, 16000) == 16384
    with pytest.raises(ValueError):
        next_power_of_two(0)


# --------------------------------------------------------------- oracle


def _run_ops(ops, cap, start):
    """Apply the same operations to the native ring and the reference; every
    result and counter must agree."""
    a = native.SampleRing(cap, start_position=start)
    b = reference.SampleRing(cap, start_position=start)
    seq = 0
    for op, n in ops:
        if op == "w":
            x = ramp(seq, n)
            seq += n
            assert a.write(x) == b.write(x)
        elif op == "r":
            oa, ob = np.zeros(n, np.int16), np.zeros(n, np.int16)
            assert a.read_into(oa) == b.read_into(ob)
            np.testing.assert_array_equal(oa, ob)
        elif op == "f":
            oa, ob = np.ones(n, np.int16), np.ones(n, np.int16)
            assert a.read_into(oa, fill=True) == b.read_into(ob, fill=True)
            np.testing.assert_array_equal(oa, ob)
        elif op == "x":
            a.request_flush()
            b.request_flush()
        assert a.readable() == b.readable()
        assert a.writable() == b.writable()
        assert (a.write_position, a.read_position) == (b.write_position, b.read_position)
    assert a.stats() == b.stats()


op_strategy = st.lists(
    st.tuples(st.sampled_from("wwrrfx"), st.integers(0, 40)),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(ops=op_strategy, cap=st.sampled_from([1, 2, 16, 32]), start=st.sampled_from([0, 2**63 - 20, 2**64 - 20]))
def test_matches_lock_based_reference(ops, cap, start):
    _run_ops(ops, cap, start)


def test_matches_reference_long_random_sequence():
    rng = random.Random(7)
    ops = [(rng.choice("wwwrrrfx" if i % 97 else "x"), rng.randrange(0, 300)) for i in range(3000)]
    _run_ops(ops, 256, 2**63 - 1000)

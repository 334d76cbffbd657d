"""AECReferenceRing: the reference holds exactly what was sent, on the capture
timeline, through silence, pauses and barge-in truncation; overflow, underrun
and late reads are counted; positions near 2**63 and across 2**64; the native
ring against the lock-based reference on random operation sequences."""

from __future__ import annotations

import random

import numpy as np
import pytest
from vc_support import _native_or_reference
from hypothesis import given, settings
from hypothesis import strategies as st

from voicecore._native.media import ring as native
from voicecore._reference import ring as reference

impls = pytest.mark.parametrize("R", _native_or_reference("ring"))

RATE = 8000
F = 160  # 20 ms at 8 kHz
MS = 1_000_000  # ns


def frame(k: int) -> np.ndarray:
    """Frame k of a distinct, never-zero test signal."""
    return ((np.arange(F) * 7 + k * 131) % 20000 + 1).astype(np.int16)


def capture_run(ring, frames: int, t0: int = 0, jitter=None):
    """Read one reference frame per 20 ms capture frame; return them stacked."""
    out = np.zeros(F, np.int16)
    got = []
    for k in range(frames):
        t = t0 + k * 20 * MS + (jitter(k) if jitter else 0)
        ring.read_aligned(t, out)
        got.append(out.copy())
    return np.array(got)


@impls
@pytest.mark.parametrize("start", [0, 2**63 - 3 * F, 2**64 - 3 * F])
def test_continuous_playback_is_aligned_and_exact(R, start):
    a = R.AECReferenceRing(8192, RATE, echo_delay_ms=60.0, epoch_ns=0, start_position=start)
    for k in range(30):
        a.write(frame(k), k * 20 * MS, 1000 + k * F)
    # capture of frame k's echo happens 60 ms after it was sent
    got = capture_run(a, 30, t0=60 * MS)
    for k in range(30):
        np.testing.assert_array_equal(got[k], frame(k))
    s = a.stats()
    assert s["silence_samples"] == s["late_samples"] == s["realigns"] == 0
    assert s["read_frames"] == 30 == s["written_frames"]
    assert a.head == (start + 30 * F) % 2**64
    assert a.rtp_timestamp_at((start + 5 * F + 3) % 2**64) == 1000 + 5 * F + 3


@impls
def test_silence_and_pause_read_as_counted_zeros(R):
    a = R.AECReferenceRing(8192, RATE, epoch_ns=0)
    sent = {}
    for k in list(range(10)) + list(range(35, 45)):  # a 500 ms pause after frame 9
        a.write(frame(k), k * 20 * MS, k * F)  # RTP advances through the pause
        sent[k] = frame(k)
    got = capture_run(a, 50)
    for k in range(50):
        np.testing.assert_array_equal(got[k], sent.get(k, np.zeros(F, np.int16)), err_msg=f"frame {k}")
    s = a.stats()
    assert s["gaps"] == 1
    assert s["silence_samples"] == 25 * F + 5 * F  # the pause, then past the last write
    assert s["underrun_samples"] == 5 * F
    assert s["realigns"] == 0 and s["late_samples"] == 0
    assert a.rtp_timestamp_at(20 * F) is None  # inside the pause: nothing played
    assert a.rtp_timestamp_at(36 * F + 1) == 36 * F + 1


@impls
def test_barge_in_truncation_holds_only_what_was_sent(R):
    """A 20-frame utterance is cut after 7 frames (barge-in); the next response
    starts 100 ms later with RTP timestamps continuing (roomkit keeps them
    continuous across TTS chunks): the reference has exactly the 7 frames sent,
    silence, then the new response, each at its send time."""
    a = R.AECReferenceRing(8192, RATE, echo_delay_ms=40.0, epoch_ns=0)
    rtp = 0
    for k in range(7):
        a.write(frame(k), k * 20 * MS, rtp)
        rtp += F
    for k in range(12, 20):
        a.write(frame(100 + k), k * 20 * MS, rtp)
        rtp += F
    got = capture_run(a, 22, t0=40 * MS)
    for k in range(22):
        want = frame(k) if k < 7 else frame(100 + k) if 12 <= k < 20 else np.zeros(F, np.int16)
        np.testing.assert_array_equal(got[k], want, err_msg=f"frame {k}")
    s = a.stats()
    assert s["silence_samples"] == 5 * F + 2 * F
    assert s["gaps"] == 1


@impls
def test_send_and_capture_jitter_keeps_the_reference_contiguous(R):
    rng = random.Random(3)
    send_j = [rng.randint(-2 * MS, 2 * MS) for _ in range(100)]
    cap_j = [rng.randint(-3 * MS, 3 * MS) for _ in range(100)]
    send_j[0] = cap_j[0] = 0  # the first write and the first read anchor the timelines
    a = R.AECReferenceRing(16384, RATE, echo_delay_ms=100.0, epoch_ns=10**12)
    for k in range(100):
        a.write(frame(k), 10**12 + k * 20 * MS + send_j[k], k * F)
    got = capture_run(a, 100, t0=10**12 + 100 * MS, jitter=lambda k: cap_j[k])
    np.testing.assert_array_equal(got.reshape(-1), np.concatenate([frame(k) for k in range(100)]))
    s = a.stats()
    assert s["realigns"] == s["gaps"] == s["silence_samples"] == s["early_writes"] == 0


@impls
def test_overflow_overwrites_oldest_and_counts(R):
    a = R.AECReferenceRing(1024, RATE, epoch_ns=0)
    for k in range(20):  # nobody reads: 3200 samples into a 1024-sample ring
        a.write(frame(k), k * 20 * MS, k * F)
    assert a.stats()["overflow_samples"] == 20 * F - 1024
    out = np.zeros(F, np.int16)
    a.read_aligned(0, out)  # frame 0: long overwritten
    assert not out.any()
    assert a.stats()["late_samples"] == F
    a.read_aligned(19 * 20 * MS, out)  # the newest frame is still held
    np.testing.assert_array_equal(out, frame(19))
    # straddling the oldest held sample: the older part is zeros, counted late
    a.read_at(a.head - 1024 - 10, out)
    assert not out[:10].any() and out[10:].all()
    assert a.stats()["late_samples"] == F + 10


@impls
def test_underrun_when_capture_runs_ahead_of_playback(R):
    a = R.AECReferenceRing(1024, RATE, epoch_ns=0)
    a.write(frame(0)[:100], 0, 0)
    out = np.full(F, 5, np.int16)
    a.read_aligned(0, out)
    np.testing.assert_array_equal(out[:100], frame(0)[:100])
    assert not out[100:].any()
    s = a.stats()
    assert (s["underrun_reads"], s["underrun_samples"], s["silence_samples"]) == (1, 60, 60)


@impls
def test_echo_delay_is_configurable_at_run_time(R):
    a = R.AECReferenceRing(4096, RATE, echo_delay_ms=0.0, epoch_ns=0)
    for k in range(20):
        a.write(frame(k), k * 20 * MS, k * F)
    out = np.zeros(F, np.int16)
    a.read_aligned(5 * 20 * MS, out)
    np.testing.assert_array_equal(out, frame(5))
    a.echo_delay_ms = 60.0
    assert a.echo_delay_ms == 60.0
    a.read_aligned(10 * 20 * MS, out)  # 60 ms earlier: frame 7; a jump, counted
    np.testing.assert_array_equal(out, frame(7))
    assert a.stats()["realigns"] == 1


@impls
def test_early_burst_plays_back_to_back(R):
    """An unpaced sender (5 frames handed over at once) is placed back to back:
    that is how the far end plays them."""
    a = R.AECReferenceRing(4096, RATE, epoch_ns=0)
    for k in range(5):
        a.write(frame(k), 0, k * F)
    got = capture_run(a, 5)
    np.testing.assert_array_equal(got.reshape(-1), np.concatenate([frame(k) for k in range(5)]))
    assert a.stats()["early_writes"] == 4  # frames 1..4 are sent 20..80 ms early


@impls
def test_references_read_equal_frames_processed(R):
    """One reference per processed capture frame whatever the playback does:
    |references read - frames processed| <= 1 (here exactly 0)."""
    rng = random.Random(11)
    a = R.AECReferenceRing(2048, RATE, echo_delay_ms=30.0, epoch_ns=0)
    out = np.zeros(F, np.int16)
    processed = 0
    for k in range(300):
        if rng.random() < 0.6:  # playback with pauses and truncations
            n = rng.choice([F, F, F, 37])
            a.write(frame(k)[:n], k * 20 * MS, k * F)
        if rng.random() < 0.95:  # capture (a frame now and then lost upstream)
            a.read_aligned(k * 20 * MS + 30 * MS, out)
            processed += 1
    assert abs(a.stats()["read_frames"] - processed) <= 1
    assert a.stats()["read_samples"] == processed * F


@impls
def test_bad_input(R):
    with pytest.raises(ValueError, match="power of two"):
        R.AECReferenceRing(1000, RATE)
    with pytest.raises(ValueError, match="sample_rate"):
        R.AECReferenceRing(1024, 0)
    with pytest.raises(TypeError, match="sample_rate"):
        R.AECReferenceRing(1024, 8000.0)
    with pytest.raises(ValueError, match="echo_delay_ms"):
        R.AECReferenceRing(1024, RATE, echo_delay_ms=-1)
    a = R.AECReferenceRing(1024, RATE, epoch_ns=0)
    with pytest.raises(ValueError, match="even byte count"):
        a.write(b"\x00" * 3, 0, 0)
    with pytest.raises(TypeError, match="format"):
        a.write(np.zeros(4, np.float64), 0, 0)
    with pytest.raises(ValueError, match="rtp_timestamp"):
        a.write(b"\x00\x00", 0, 2**32)
    with pytest.raises(TypeError, match="int16"):
        a.read_aligned(0, np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="capacity"):
        a.read_aligned(0, np.zeros(2048, np.int16))
    with pytest.raises(ValueError, match="echo_delay_ms"):
        a.echo_delay_ms = 20_000


def test_native_position_arithmetic_does_not_overflow():
    """Time-to-position mapping is exact far from the epoch (no int64 overflow
    in ns * rate), and positions wrap modulo 2**64."""
    a = native.AECReferenceRing(1024, 48000, epoch_ns=0, start_position=2**64 - 10)
    ten_years = 10 * 365 * 86400 * 10**9
    assert a.position_at(ten_years) == (2**64 - 10 + ten_years * 48000 // 10**9) % 2**64
    assert a.position_at(-1) == 2**64 - 11  # floor, before the epoch
    r = reference.AECReferenceRing(1024, 48000, epoch_ns=0, start_position=2**64 - 10)
    for t in (0, 1, 20833, 10**9 + 7, ten_years, -(10**9) - 1):
        assert a.position_at(t) == r.position_at(t)


# --------------------------------------------------------------- oracle


def _aec_ops(seed: int, n_ops: int, cap: int, start: int):
    rng = random.Random(seed)
    kw = dict(epoch_ns=5 * 10**9, start_position=start, tolerance_ms=5.0, echo_delay_ms=rng.choice([0.0, 40.0]))
    a = native.AECReferenceRing(cap, RATE, **kw)
    b = reference.AECReferenceRing(cap, RATE, **kw)
    t_send = t_cap = 5 * 10**9
    rtp = rng.randrange(2**32)
    for _ in range(n_ops):
        op = rng.random()
        if op < 0.45:
            n = rng.randrange(16, 400)
            x = (np.arange(n) * 3 + rng.randrange(1000) + 1).astype(np.int16)
            t_send += rng.choice([n * 125_000, n * 125_000, rng.randrange(-30 * MS, 300 * MS)])
            if rng.random() < 0.1:
                rtp = rng.randrange(2**32)  # discontinuity
            assert a.write(x, t_send, rtp) == b.write(x, t_send, rtp)
            rtp = (rtp + n) % 2**32
        elif op < 0.85:
            n = rng.randrange(1, cap + 1)
            if rng.random() < 0.5:
                t_cap += 20 * MS
            else:  # somewhere around the newest playback, as the capture would be
                t_cap = t_send + int(a.echo_delay_ms * MS) + rng.randrange(-150 * MS, 20 * MS)
            oa, ob = np.ones(n, np.int16), np.ones(n, np.int16)
            assert a.read_aligned(t_cap, oa) == b.read_aligned(t_cap, ob)
            np.testing.assert_array_equal(oa, ob)
        elif op < 0.92:
            n = rng.randrange(1, cap + 1)
            p = (a.head + rng.randrange(-2 * cap, cap)) % 2**64
            oa, ob = np.ones(n, np.int16), np.ones(n, np.int16)
            a.read_at(p, oa)
            b.read_at(p, ob)
            np.testing.assert_array_equal(oa, ob)
        elif op < 0.97:
            p = (a.head + rng.randrange(-cap - 5, 5)) % 2**64
            assert a.rtp_timestamp_at(p) == b.rtp_timestamp_at(p)
        else:
            d = rng.choice([0.0, 20.0, 60.0])
            a.echo_delay_ms = d
            b.echo_delay_ms = d
        assert (a.head, a.consumed) == (b.head, b.consumed)
    assert a.stats() == b.stats()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), cap=st.sampled_from([512, 1024]), start=st.sampled_from([0, 2**63 - 700, 2**64 - 700]))
def test_matches_lock_based_reference(seed, cap, start):
    _aec_ops(seed, 60, cap, start)


def test_matches_reference_long_random_sequence():
    _aec_ops(2024, 1500, 1024, 2**63 - 5000)


@impls
def test_block_longer_than_the_ring_keeps_its_newest_samples(R):
    a = R.AECReferenceRing(1024, RATE, epoch_ns=0)
    x = (np.arange(3000) % 5000 + 1).astype(np.int16)
    assert a.write(x, 0, 7) == 0
    out = np.zeros(1024, np.int16)
    a.read_at(3000 - 1024, out)
    np.testing.assert_array_equal(out, x[-1024:])
    assert a.rtp_timestamp_at(2999) == 7 + 2999
    assert a.rtp_timestamp_at(3000 - 1025) is None  # no longer held
    out = np.zeros(F, np.int16)
    a.read_at(0, out)
    assert not out.any() and a.stats()["late_samples"] == F


@impls
def test_many_runs_in_the_window(R):
    """More runs (RTP discontinuities) inside the window than the native run
    list holds (64): every sample still reads back exactly, and played audio
    is not reported as silence."""
    a = R.AECReferenceRing(16384, RATE, epoch_ns=0)
    chunks = []
    for k in range(200):
        x = (np.arange(32) + k * 32 + 1).astype(np.int16)
        a.write(x, k * 4 * MS, (k * 1000) % 2**32)  # 32 samples = 4 ms, RTP jumps every time
        chunks.append(x)
    out = np.zeros(200 * 32, np.int16)
    a.read_at(0, out)
    np.testing.assert_array_equal(out, np.concatenate(chunks))
    s = a.stats()
    assert s["rtp_discontinuities"] == 199
    assert s["silence_samples"] == 0
    assert a.rtp_timestamp_at(199 * 32 + 5) == (199 * 1000 + 5) % 2**32

"""Streaming resampler: API, errors, streaming == one-shot, accounting,
saturation, reset, and the native module against its numpy reference."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from vc_support import _native_or_reference
from voicecore._native.media import resample as native
from voicecore._reference import resample as reference
from voicecore.media._resample_design import design

RATES = [8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000]
IMPLS = _native_or_reference("resample")


def _signal(n: int, seed: int = 0, amp: float = 0.7) -> np.ndarray:
    """Noise plus a chirp: every frequency, float32 in -1..1."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / n
    x = 0.3 * rng.standard_normal(n) + amp * 0.5 * np.sin(2 * np.pi * (50 * t + 0.45 * n * t * t / 2))
    return np.clip(x, -1, 1).astype(np.float32)


def _s16(x: np.ndarray) -> bytes:
    return np.clip(np.rint(x * 32768), -32768, 32767).astype("<i2").tobytes()


def _stream(r, x, chunk: int):
    parts = [r.process(x[i:i + chunk]) for i in range(0, len(x), chunk)]
    parts.append(r.flush())
    if isinstance(parts[0], bytes):
        return b"".join(parts)
    return np.concatenate(parts)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("mod", IMPLS)
@pytest.mark.parametrize("rates, what", [
    ((0, 8000), "in_rate"), ((-8000, 8000), "in_rate"), ((8000, 0), "out_rate"),
    ((8000, 192001), "out_rate"), ((200000, 8000), "in_rate"),
])
def test_bad_rate(mod, rates, what):
    with pytest.raises(ValueError, match=what):
        mod.Resampler(*rates)


@pytest.mark.parametrize("mod", IMPLS)
def test_bad_rate_type_and_preset(mod):
    with pytest.raises(TypeError, match="in_rate"):
        mod.Resampler(8000.0, 16000)
    with pytest.raises(ValueError, match="preset"):
        mod.Resampler(8000, 16000, "ultra")


@pytest.mark.parametrize("mod", IMPLS)
def test_bad_buffers(mod):
    r = mod.Resampler(8000, 16000)
    with pytest.raises(ValueError, match="even byte count"):
        r.process(b"\x00\x01\x02")
    with pytest.raises(TypeError, match="format 'd'"):
        r.process(np.zeros(16, np.float64))
    with pytest.raises(TypeError, match="format 'i'"):
        r.process(np.zeros(16, np.int32))
    with pytest.raises((BufferError, ValueError), match="contiguous"):
        r.process(np.zeros(32, np.float32)[::2])
    with pytest.raises(ValueError, match="needed"):
        r.process(b"\x00\x00" * 160, out=bytearray(100))
    with pytest.raises(TypeError, match="float32"):
        r.process(np.zeros(160, np.float32), out=np.zeros(400, np.int16))
    with pytest.raises(ValueError, match="n must be"):
        r.output_length(-1)
    # nothing was consumed by the failed calls
    assert r.total_in == 0 and r.total_out == 0


def test_odd_bytearray_and_memoryview():
    r = native.Resampler(16000, 8000)
    with pytest.raises(ValueError, match="even byte count, got 5"):
        r.process(bytearray(5))
    assert r.process(memoryview(bytearray(320))) == b"\x00" * 160


# ------------------------------------------------------------------ basics
@pytest.mark.parametrize("mod", IMPLS)
def test_properties_and_types(mod):
    r = mod.Resampler(8000, 16000)
    assert (r.in_rate, r.out_rate, r.ratio, r.preset) == (8000, 16000, (2, 1), "default")
    assert r.latency == 38 and r.latency_ms == pytest.approx(2.375)
    out = r.process(b"\x00\x01" * 160)
    assert isinstance(out, bytes) and len(out) == 640
    f = r.process(np.zeros(160, np.float32))
    assert isinstance(f, np.ndarray) and f.dtype == np.float32 and f.shape == (320,)
    assert isinstance(r.flush(), np.ndarray)        # format of the last process() call
    assert r.total_in == 0                          # flush resets
    assert isinstance(r.flush(float32=False), bytes)


@pytest.mark.parametrize("mod", IMPLS)
def test_same_rate_is_exact_copy(mod):
    x = _signal(1000)
    r = mod.Resampler(16000, 16000)
    assert r.latency == 0
    np.testing.assert_array_equal(r.process(x), x)
    assert len(r.flush()) == 0


def test_design_is_cached_and_shared():
    assert design(8000, 16000) is design(8000, 16000)
    a, b = native.Resampler(44100, 8000), native.Resampler(44100, 8000)
    assert a.coefficients is b.coefficients
    c = a.coefficients
    assert c.dtype == np.float32 and c.flags.c_contiguous and c.shape[1] % 8 == 0
    np.testing.assert_allclose(c.sum(axis=1, dtype=np.float64), 1.0, atol=1e-6)


@pytest.mark.parametrize("mod", IMPLS)
def test_flush_emits_latency_samples(mod):
    for fi, fo in [(8000, 16000), (48000, 8000), (8000, 44100), (11025, 8000)]:
        r = mod.Resampler(fi, fo)
        x = _signal(1234)
        head = r.process(x)
        tail = r.flush()
        assert len(head) == -(-1234 * fo // fi)
        assert len(tail) == r.latency


@pytest.mark.parametrize("mod", IMPLS)
def test_out_buffer_path(mod):
    x = _signal(2000)
    a, b = mod.Resampler(22050, 16000), mod.Resampler(22050, 16000)
    buf = np.full(4000, np.nan, np.float32)
    parts = []
    for i in range(0, len(x), 441):
        n = b.output_length(len(x[i:i + 441]))
        got = b.process(x[i:i + 441], out=buf)
        assert got == n
        parts.append(buf[:got].copy())
    got = b.flush(out=buf)
    parts.append(buf[:got].copy())
    np.testing.assert_array_equal(np.concatenate(parts), _stream(a, x, 441))
    # s16 into a bytearray and into an int16 array
    pcm = _s16(x)
    c, d = mod.Resampler(22050, 16000), mod.Resampler(22050, 16000)
    ref = c.process(pcm)
    out16 = np.zeros(3000, np.int16)
    got = d.process(pcm, out=out16)
    assert out16[:got].tobytes() == ref


# ------------------------------------------------------------------ streaming == one-shot
@pytest.mark.parametrize("fi, fo", [(8000, 16000), (44100, 8000), (8000, 11025)])
def test_streaming_equals_oneshot_every_chunk_size_float(fi, fo):
    x = _signal(6000, seed=fi)
    one = _stream(native.Resampler(fi, fo), x, len(x))
    r = native.Resampler(fi, fo)
    for c in range(1, 4097):
        y = _stream(r, x, c)
        if not np.array_equal(y, one):
            pytest.fail(f"chunk size {c}: streaming differs from one-shot")


def test_streaming_equals_oneshot_every_chunk_size_s16():
    x = _s16(_signal(5000, seed=3))
    one = _stream(native.Resampler(16000, 8000), x, len(x))
    r = native.Resampler(16000, 8000)
    for c in range(1, 4097):
        if _stream(r, x, 2 * c) != one:
            pytest.fail(f"chunk size {c} samples: streaming differs from one-shot")


@pytest.mark.parametrize("chunk", [1, 7, 160, 4096])
def test_reference_streaming_equals_oneshot(chunk):
    x = _signal(5000, seed=5)
    one = _stream(reference.Resampler(24000, 8000), x, len(x))
    np.testing.assert_array_equal(_stream(reference.Resampler(24000, 8000), x, chunk), one)


@settings(max_examples=60, deadline=None)
@given(
    fi=st.sampled_from(RATES), fo=st.sampled_from(RATES),
    preset=st.sampled_from(["fast", "default", "hq"]),
    cuts=st.lists(st.integers(0, 3000), max_size=12),
)
def test_streaming_equals_oneshot_random_chunking(fi, fo, preset, cuts):
    x = _signal(3000, seed=len(cuts))
    one = _stream(native.Resampler(fi, fo, preset), x, len(x))
    r = native.Resampler(fi, fo, preset)
    edges = sorted(set([0, len(x)] + cuts))
    parts = [r.process(x[a:b]) for a, b in zip(edges, edges[1:])]
    parts.append(r.flush())
    np.testing.assert_array_equal(np.concatenate(parts), one)


# ------------------------------------------------------------------ accounting
def test_accounting_one_hour_random_chunks():
    """One hour of 8 kHz -> 11.025 kHz (L/M = 441/320) in random chunks of 1..4096
    samples: after every call total_out == ceil(total_in * L / M) exactly, and
    every call returns what output_length() promised."""
    fi, fo = 8000, 11025
    r = native.Resampler(fi, fo)
    L, M = r.ratio
    rng = np.random.default_rng(7)
    src = (rng.standard_normal(8192) * 1000).astype(np.int16).tobytes()
    out = bytearray(2 * 8192)
    total = 0
    target = fi * 3600
    sizes = rng.integers(1, 4097, size=target // 2048 + 4000)
    i = 0
    while total < target:
        n = int(sizes[i]); i += 1
        expect = r.output_length(n)
        got = r.process(src[:2 * n], out=out)
        total += n
        assert got == expect
        assert r.total_out == -(-total * L // M), f"after {total} inputs"
    assert r.total_in == total
    assert abs(r.total_out - total * fo / fi) < 1


@pytest.mark.slow
def test_accounting_three_hours_44k1_to_8k():
    r = native.Resampler(44100, 8000)
    L, M = r.ratio
    rng = np.random.default_rng(8)
    x = rng.standard_normal(4096).astype(np.float32)
    buf = np.empty(4096, np.float32)
    total = 0
    while total < 44100 * 3 * 3600:
        n = int(rng.integers(1, 4097))
        r.process(x[:n], out=buf)
        total += n
    assert r.total_out == -(-total * L // M)


# ------------------------------------------------------------------ saturation
@pytest.mark.parametrize("fi, fo", [(8000, 16000), (16000, 8000), (48000, 16000), (8000, 44100)])
def test_square_wave_saturates(fi, fo):
    period = fi // 500                       # 500 Hz full-scale square wave
    sq = np.where((np.arange(fi // 2) % period) < period // 2, 32767, -32768).astype(np.int16)
    r16, rf = native.Resampler(fi, fo), native.Resampler(fi, fo)
    y16 = np.frombuffer(r16.process(sq.tobytes()) + r16.flush(), dtype="<i2")
    yf = np.concatenate([rf.process(sq.astype(np.float32) / 32768), rf.flush()]).astype(np.float64)
    assert yf.max() > 1.01 and yf.min() < -1.01, "Gibbs overshoot should exceed full scale"
    # exactly the float result, rounded and clamped: no wrap-around anywhere
    expect = np.clip(np.rint(yf * 32768), -32768, 32767).astype(np.int16)
    np.testing.assert_array_equal(y16, expect)
    assert y16.max() == 32767 and y16.min() == -32768
    assert np.all(y16[yf > 0.5] > 0) and np.all(y16[yf < -0.5] < 0)


@pytest.mark.parametrize("fi, fo", [(16000, 8000), (8000, 16000)])
def test_nan_inf_and_huge_floats_to_s16(fi, fo):
    """Float history with NaN / inf / huge values flushed as s16: NaN -> 0, the rest
    saturates, both in the 4-output batches and in the single-output tail
    (latency 19 or 38 = batches of 4 plus a remainder)."""
    huge = np.zeros(200, np.float32)
    huge[-30:-25] = 1e30
    huge[-12] = -1e30
    huge[-8:-3] = 3.0
    nan = huge.copy()
    nan[-20] = np.nan
    for x in (huge, nan):
        rf, rs = native.Resampler(fi, fo), native.Resampler(fi, fo)
        rf.process(x)
        rs.process(x)
        yf = rf.flush(float32=True).astype(np.float64)
        ys = np.frombuffer(rs.flush(float32=False), "<i2")
        with np.errstate(invalid="ignore"):
            expect = np.where(np.isnan(yf), 0, np.clip(np.rint(yf * 32768), -32768, 32767)).astype(np.int16)
        if x is nan:
            assert np.isnan(yf).any()
        else:
            assert (yf > 1).any() and (yf < -1).any()
        np.testing.assert_array_equal(ys, expect)


# ------------------------------------------------------------------ reset / isolation
@pytest.mark.parametrize("mod", IMPLS)
def test_reset_isolates_streams(mod):
    a_sig, b_sig = _signal(3000, seed=1), _signal(3000, seed=2)
    r = mod.Resampler(16000, 8000)
    r.process(a_sig)
    r.reset()
    assert r.total_in == 0 and r.total_out == 0
    fresh = mod.Resampler(16000, 8000)
    np.testing.assert_array_equal(_stream(r, b_sig, 320), _stream(fresh, b_sig, 320))


def test_interleaved_objects_do_not_share_state():
    a_sig, b_sig = _signal(4000, seed=1), _signal(4000, seed=2)
    ra, rb = native.Resampler(8000, 16000), native.Resampler(8000, 16000)
    pa, pb = [], []
    for i in range(0, 4000, 160):
        pa.append(ra.process(a_sig[i:i + 160]))
        pb.append(rb.process(b_sig[i:i + 160]))
    np.testing.assert_array_equal(np.concatenate(pa), native.Resampler(8000, 16000).process(a_sig))
    np.testing.assert_array_equal(np.concatenate(pb), native.Resampler(8000, 16000).process(b_sig))


# ------------------------------------------------------------------ latency
@pytest.mark.parametrize("mod", IMPLS)
@pytest.mark.parametrize("fi, fo", [(8000, 16000), (16000, 8000), (48000, 8000), (8000, 44100), (22050, 16000)])
def test_impulse_lands_at_latency(mod, fi, fo):
    """An impulse at input n0 (on the common grid) peaks at output n0*L/M + latency,
    symmetrically (linear phase), and latency <= 2.5 ms."""
    r = mod.Resampler(fi, fo)
    L, M = r.ratio
    n0 = 5 * M
    x = np.zeros(n0 + fi // 10, np.float32)
    x[n0] = 1.0
    y = np.concatenate([r.process(x), r.flush()]).astype(np.float64)
    k = n0 * L // M + r.latency
    assert int(np.argmax(np.abs(y))) == k
    # mirror-symmetric up to the per-phase DC normalisation (~1e-5)
    np.testing.assert_allclose(y[k - 20:k][::-1], y[k + 1:k + 21], atol=1e-4)
    assert r.latency / fo <= 2.5e-3


@pytest.mark.parametrize("fi, fo", [(8000, 16000), (16000, 8000), (24000, 8000), (48000, 16000)])
def test_peak_is_emitted_within_latency(fi, fo):
    """Wall-clock view: fed one sample at a time, the output sample carrying the
    impulse's peak comes out no later than `latency` after the impulse went in."""
    r = native.Resampler(fi, fo)
    L, M = r.ratio
    n0 = 7 * M
    k_peak = n0 * L // M + r.latency
    produced = 0
    for j in range(n0 + fi // 50):
        produced += len(r.process(np.array([1.0 if j == n0 else 0.0], np.float32)))
        if produced > k_peak:
            break
    delay_s = (j - n0) / fi
    assert delay_s <= r.latency / fo + 1e-12
    assert delay_s <= 2.5e-3


# ------------------------------------------------------------------ native vs reference
@pytest.mark.parametrize("preset", ["fast", "default", "hq"])
@pytest.mark.parametrize("fi, fo", [(8000, 16000), (16000, 8000), (44100, 16000), (16000, 48000),
                                    (11025, 8000), (8000, 22050), (192000, 8000)])
def test_native_matches_reference(fi, fo, preset):
    x = _signal(4000, seed=fi + fo)
    yn = _stream(native.Resampler(fi, fo, preset), x, 333)
    yr = _stream(reference.Resampler(fi, fo, preset), x, 1000)
    assert len(yn) == len(yr)
    np.testing.assert_allclose(yn, yr, rtol=0, atol=2e-6)
    pn = np.frombuffer(_stream(native.Resampler(fi, fo, preset), _s16(x), 2 * 160), "<i2")
    pr = np.frombuffer(_stream(reference.Resampler(fi, fo, preset), _s16(x), 2 * 1000), "<i2")
    assert np.abs(pn.astype(int) - pr).max() <= 1


def test_simd_reported():
    assert native.SIMD in ("avx2+fma", "baseline")


def test_baseline_simd_loop_matches_reference():
    """The SSE2/NEON/C loop (used where AVX2+FMA is missing), forced by env var in a
    subprocess, agrees with the numpy reference like the default loop does."""
    import os
    import subprocess
    import sys

    code = """
import numpy as np
from voicecore._native.media import resample as n
from voicecore._reference import resample as r
assert n.SIMD == "baseline", n.SIMD
rng = np.random.default_rng(0)
for fi, fo in [(8000, 16000), (16000, 8000), (44100, 16000), (8000, 11025), (48000, 48000)]:
    x = (0.3 * rng.standard_normal(3000)).astype(np.float32)
    a, b = n.Resampler(fi, fo), r.Resampler(fi, fo)
    ya = np.concatenate([a.process(x[:1000]), a.process(x[1000:]), a.flush()])
    yb = np.concatenate([b.process(x), b.flush()])
    assert np.abs(ya - yb).max() < 2e-6, (fi, fo)
    pa = np.frombuffer(n.Resampler(fi, fo).process((x * 20000).astype('<i2').tobytes()), '<i2')
    pb = np.frombuffer(r.Resampler(fi, fo).process((x * 20000).astype('<i2').tobytes()), '<i2')
    assert np.abs(pa.astype(int) - pb).max() <= 1
print("ok")
"""
    env = dict(os.environ, VOICECORE_RESAMPLE_BASELINE="1")
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-2000:]


def test_out_path_allocates_no_buffers():
    """With out= nothing of chunk size is allocated (tracemalloc sees Python-heap
    allocations, including bytes/ndarray results); without it, one result is."""
    import tracemalloc

    r = native.Resampler(8000, 16000)
    pcm = b"\x01\x00" * 160
    buf = bytearray(640)
    r.process(pcm, out=buf)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(1000):
            r.process(pcm, out=buf)
        peak_out = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(10):
            r.process(pcm)
        peak_alloc = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak_alloc >= 640          # the 640-byte result (the check can see it)
    assert peak_out < 200             # only the small int returned


@pytest.mark.skipif(sys.version_info < (3, 12), reason="a Python-level buffer (__buffer__, PEP 688) needs 3.12")
def test_concurrent_calls_on_one_object_raise_instead_of_corrupting():
    """One object is one stream. A second thread calling process/flush/reset
    while a call runs gets RuntimeError, and the running call finishes with
    the exact output it would have produced alone. No timing: the input is a
    buffer object whose export runs inside process(), after its claim, and
    starts (and joins) the other thread right there."""
    import threading

    from voicecore._native.media.resample import Resampler as NativeResampler

    x = (np.sin(np.arange(3200) * 0.01) * 8000).astype(np.int16).tobytes()
    alone = NativeResampler(8000, 48000).process(x)
    r = NativeResampler(8000, 48000)
    refused: list[str] = []

    def other_thread() -> None:
        for call in (lambda: r.process(x[:320]), r.flush, r.reset):
            try:
                call()
            except RuntimeError as exc:
                refused.append(str(exc))

    class HookedInput:
        def __buffer__(self, flags: int) -> memoryview:
            t = threading.Thread(target=other_thread)
            t.start()
            t.join()
            other_thread()  # the same thread re-entering is refused too
            return memoryview(x)

        def __release_buffer__(self, view: memoryview) -> None:
            view.release()

    got = r.process(HookedInput())
    assert got == alone
    assert len(refused) == 6, refused
    assert all("Resampler." in m and "in use by another thread" in m for m in refused), refused
    r.reset()  # the claim was released
    assert r.process(x) == alone


def test_output_length_is_bounded_not_overflowed():
    from voicecore._native.media.resample import Resampler as NativeResampler

    r = NativeResampler(8000, 48000)
    assert r.output_length(1 << 40) == 6 * (1 << 40)
    with pytest.raises(ValueError, match=r"Resampler.output_length: n must be 0..1099511627776 samples \(2\*\*40\)"):
        r.output_length(2**61)
    with pytest.raises(TypeError, match="Resampler.output_length: n must be an int, got float"):
        r.output_length(1.0)

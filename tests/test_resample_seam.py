"""The resampler's engine seam (resample.pxd), proved from a test-only Cython
module (tests/native/probe_resample.pyx) compiled against the installed .pxd:
run_s16/run_f32/flush_* without the GIL (and from a native pthread) give
exactly what the Python API gives, a NULL source is silence for both sample
types, the class is final, and the ownership rule holds."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "native"))
from build import build_probe  # noqa: E402

from voicecore._native.media.resample import Resampler  # noqa: E402


@pytest.fixture(scope="module")
def probe():
    return build_probe("probe_resample")


def _speech(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return np.clip(6000 * np.sin(t * 0.031) + rng.normal(0, 1500, n), -32768, 32767).astype(np.int16)


@pytest.mark.parametrize("fi, fo", [(8000, 16000), (16000, 8000), (48000, 16000), (8000, 44100)])
def test_run_s16_on_a_native_thread_equals_process(probe, fi, fo):
    x = _speech(fi // 50 * 37)
    py = Resampler(fi, fo)
    want = py.process(x.tobytes()) + py.flush()
    for chunk in (1, 160, 1000, 5000):
        assert probe.run_s16_on_a_pthread(Resampler(fi, fo), x, chunk) == want, chunk


def test_run_f32_without_the_gil_equals_process(probe):
    x = (_speech(4000) / 32768).astype(np.float32)
    py = Resampler(16000, 48000)
    want = np.concatenate([py.process(x), py.flush()])
    got = np.frombuffer(probe.run_f32_nogil(Resampler(16000, 48000), x), np.float32)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("as_float", [False, True])
def test_null_source_is_silence_for_both_sample_types(probe, as_float):
    """run_s16(NULL, n, dst) is as safe as run_f32(NULL, n, dst): n samples of
    silence (it dereferenced NULL before)."""
    r = Resampler(8000, 16000)
    x = _speech(800)
    r.process(x.tobytes())  # some history, so silence afterwards is not all zeros
    ref = Resampler(8000, 16000)
    ref.process(x.tobytes())
    zeros = np.zeros(1200, np.float32) if as_float else np.zeros(1200, np.int16).tobytes()
    want = ref.process(zeros)
    got_n, got = probe.run_silence(r, 1200, as_float)
    want_b = want.tobytes() if as_float else want
    assert got_n == 2400 and got == want_b
    assert np.any(np.frombuffer(got, np.float32 if as_float else np.int16) != 0)  # the tail of the history
    assert probe.run_silence(r, 0, as_float) == (0, b"")


def test_clear_and_readonly_rates_through_the_pxd(probe):
    r = Resampler(8000, 16000)
    r.process(_speech(333).tobytes())
    assert probe.clear_and_count(r, 160) == (r.output_length(160), 8000, 16000, r.latency)
    assert r.total_in == 0


def test_resampler_is_final():
    with pytest.raises(TypeError, match="not an acceptable base type"):
        type("Sub", (Resampler,), {})


def test_ownership_rule(probe):
    r = Resampler(8000, 16000)
    x = _speech(160).tobytes()
    probe.adopt(r)
    for call in (lambda: r.process(x), r.flush, r.reset, lambda: r.output_length(160),
                 lambda: r.total_in, lambda: r.total_out):
        with pytest.raises(RuntimeError, match=r"Resampler\.\w+: this Resampler is owned by an Engine's I/O thread"):
            call()
    # immutable properties keep working
    assert (r.in_rate, r.out_rate, r.latency, r.preset, r.ratio) == (8000, 16000, 38, "default", (2, 1))
    assert r.taps > 0 and r.latency_ms == pytest.approx(2.375) and r.coefficients.shape[0] == 2
    with pytest.raises(RuntimeError, match="already adopted by an Engine"):
        probe.adopt(r)
    probe.release(r)
    assert len(r.process(x)) == 640

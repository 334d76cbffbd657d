"""PCM conversions and levels, native vs numpy reference vs first principles."""

from __future__ import annotations

import array
import math

import numpy as np
import pytest

from vc_support import _native_or_reference

ALL = np.arange(-32768, 32768, dtype=np.int16)
impls = pytest.mark.parametrize("p", _native_or_reference("pcm"))


@impls
def test_s16le_to_float32_exact_over_all_inputs(p):
    out = p.s16le_to_float32(ALL.tobytes())
    assert out.dtype == np.float32 and out.flags.c_contiguous and out.shape == (65536,)
    assert np.array_equal(out, ALL.astype(np.float64) / 32768.0)


@impls
def test_float32_to_s16le_roundtrips_every_sample(p):
    assert p.float32_to_s16le(p.s16le_to_float32(ALL.tobytes())) == ALL.tobytes()


@impls
def test_float32_to_s16le_rounding_saturation_nan(p):
    x = np.array(
        [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49, 32766.5, 32767.4, 40000, -32768.6, -50000],
        np.float64,
    ) / 32768.0
    x = np.concatenate([x.astype(np.float32), np.array([np.nan, np.inf, -np.inf, 1.0, -1.0], np.float32)])
    got = np.frombuffer(p.float32_to_s16le(x), np.int16).tolist()
    # ties to even, saturate, NaN -> 0, +-inf saturate, +1.0 -> 32767 (clipped)
    assert got == [0, 2, 2, 0, -2, -2, 0, 32766, 32767, 32767, -32768, -32768, 0, 32767, -32768, 32767, -32768]


@impls
def test_float32_to_s16le_random_against_numpy_rint(p):
    x = np.random.default_rng(1).normal(0, 0.6, 50_000).astype(np.float32)
    want = np.clip(np.rint(x.astype(np.float64) * 32768), -32768, 32767).astype(np.int16)
    assert np.frombuffer(p.float32_to_s16le(x), np.int16).tolist() == want.tolist()


@impls
def test_out_buffers(p):
    f = np.empty(160, np.float32)
    assert p.s16le_to_float32(ALL[:160].tobytes(), out=f) is f
    assert np.array_equal(f, ALL[:160] / 32768.0)
    b = bytearray(320)
    assert p.float32_to_s16le(f, out=b) is b
    assert bytes(b) == ALL[:160].tobytes()
    with pytest.raises(ValueError, match="out= holds"):
        p.s16le_to_float32(bytes(320), out=np.empty(10, np.float32))
    with pytest.raises(TypeError, match="float32"):
        p.s16le_to_float32(bytes(320), out=np.empty(320, np.int16))


@impls
def test_input_kinds_and_errors(p):
    raw = ALL[:320].tobytes()
    for obj in (raw, bytearray(raw), memoryview(raw), ALL[:320], array.array("h", raw)):
        assert np.array_equal(p.s16le_to_float32(obj), ALL[:320] / 32768.0)
    with pytest.raises(ValueError, match="even byte count, got 3 bytes"):
        p.s16le_to_float32(b"abc")
    with pytest.raises(TypeError, match="float32"):
        p.float32_to_s16le(b"\x00" * 8)
    with pytest.raises(TypeError, match="format 'd'"):
        p.float32_to_s16le(np.zeros(4, np.float64))
    with pytest.raises((BufferError, ValueError)):
        p.float32_to_s16le(np.zeros(8, np.float32)[::2])
    assert p.s16le_to_float32(b"").shape == (0,)
    assert p.float32_to_s16le(np.zeros(0, np.float32)) == b""


@impls
def test_rms_dbfs(p):
    square = np.tile(np.array([32767, -32768], np.int16), 400).tobytes()
    assert p.rms_dbfs(square) == pytest.approx(0.0, abs=1e-3)
    t = np.arange(8000) / 8000
    sine = np.round(np.sin(2 * np.pi * 1000 * t) * 32767 * 0.5).astype(np.int16).tobytes()
    assert p.rms_dbfs(sine) == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=0.01)
    assert p.rms_dbfs(bytes(320)) == -60.0
    assert p.rms_dbfs(b"") == -60.0
    assert p.rms_dbfs(bytes(320), floor=-90.0) == -90.0
    quiet = np.full(160, 3, np.int16).tobytes()
    assert p.rms_dbfs(quiet, floor=-120) == pytest.approx(20 * math.log10(3 / 32768))


def test_rms_dbfs_matches_roomkit_rms_db():
    utils = pytest.importorskip("roomkit.voice.utils")
    from voicecore.pcm import rms_dbfs

    rng = np.random.default_rng(3)
    for scale in (0, 1, 30, 300, 3000, 30000):
        frame = (rng.normal(0, scale, 320)).clip(-32768, 32767).astype(np.int16).tobytes()
        assert rms_dbfs(frame) == pytest.approx(utils.rms_db(frame), abs=1e-9)


def test_native_and_reference_agree_on_random_frames():
    from voicecore._native.media import pcm as n
    from voicecore._reference import pcm as r

    rng = np.random.default_rng(7)
    for _ in range(50):
        size = int(rng.integers(0, 3000))
        s = rng.integers(-32768, 32768, size, dtype=np.int16).tobytes()
        f = (rng.normal(0, 1.5, size)).astype(np.float32)
        assert np.array_equal(n.s16le_to_float32(s), r.s16le_to_float32(s))
        assert n.float32_to_s16le(f) == r.float32_to_s16le(f)
        assert n.rms_dbfs(s) == pytest.approx(r.rms_dbfs(s), abs=1e-9)


@impls
def test_out_buffer_element_type_is_checked(p):
    with pytest.raises(TypeError, match="float32"):
        p.s16le_to_float32(bytes(640), out=np.empty(320, np.int32))
    with pytest.raises(TypeError, match="int16"):
        p.float32_to_s16le(np.zeros(160, np.float32), out=np.empty(160, np.float32))
    # raw byte buffers stay accepted
    b = bytearray(320)
    assert p.float32_to_s16le(np.zeros(160, np.float32), out=b) is b


def test_messages_name_the_public_function_and_argument():
    """Issue 15: rms_dbfs(b'\\x00') said 'mean_square: ...'."""
    from voicecore._native.media import pcm as native

    with pytest.raises(ValueError, match=r"^rms_dbfs: data must be s16le PCM with an even byte count, got 1 bytes$"):
        native.rms_dbfs(b"\x00")
    with pytest.raises(ValueError, match=r"^mean_square: data must be s16le"):
        native.mean_square(b"\x00")
    with pytest.raises(TypeError, match=r"^rms_dbfs: data must be a C-contiguous buffer \(bytes-like or int16\), got str$"):
        native.rms_dbfs("loud")
    with pytest.raises(TypeError, match=r"^float32_to_s16le: samples must be a float32 array, got bytes$"):
        native.float32_to_s16le(b"\x00\x00\x00\x00")
    with pytest.raises(TypeError, match=r"^s16le_to_float32: out= must be a bytes-like or float32 buffer, got format 'h'"):
        native.s16le_to_float32(b"\x00\x00", np.zeros(1, np.int16))
    with pytest.raises(TypeError, match=r"^float32_to_s16le: out= must be a writable C-contiguous buffer"):
        native.float32_to_s16le(np.zeros(1, np.float32), b"\x00\x00")

"""G.711: bit-exact with stdlib audioop over every input, for native and reference."""

from __future__ import annotations

import array
import importlib
import sys

import numpy as np
import pytest

from vc_support import _native_or_reference

if sys.version_info >= (3, 13):
    audioop = pytest.importorskip("audioop", reason="audioop-lts provides audioop on 3.13+")
else:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = importlib.import_module("audioop")

ALL_PCM = np.arange(-32768, 32768, dtype=np.int16).tobytes()
ALL_CODES = bytes(range(256))

impls = pytest.mark.parametrize("g", _native_or_reference("g711"))


@impls
@pytest.mark.parametrize("name", ["lin2ulaw", "lin2alaw"])
def test_encode_bit_exact_all_65536_inputs(g, name):
    assert getattr(g, name)(ALL_PCM) == getattr(audioop, name)(ALL_PCM, 2)


@impls
@pytest.mark.parametrize("name", ["ulaw2lin", "alaw2lin"])
def test_decode_bit_exact_all_256_codes(g, name):
    assert getattr(g, name)(ALL_CODES) == getattr(audioop, name)(ALL_CODES, 2)


@impls
def test_transcode_equals_decode_then_encode(g):
    assert g.ulaw2alaw(ALL_CODES) == audioop.lin2alaw(audioop.ulaw2lin(ALL_CODES, 2), 2)
    assert g.alaw2ulaw(ALL_CODES) == audioop.lin2ulaw(audioop.alaw2lin(ALL_CODES, 2), 2)


@impls
def test_roundtrip_is_idempotent_on_codes(g):
    # decode -> encode gives back every code except the two zeros that alias
    # (mu-law 0x7F/0xFF both decode to 0 and re-encode to 0xFF).
    assert g.lin2alaw(g.alaw2lin(ALL_CODES)) == ALL_CODES
    back = g.lin2ulaw(g.ulaw2lin(ALL_CODES))
    diff = [i for i in range(256) if back[i] != i]
    assert diff == [0x7F]


@impls
@pytest.mark.parametrize(
    "make",
    [bytes, bytearray, lambda b: memoryview(b), lambda b: np.frombuffer(b, np.int16), lambda b: array.array("h", b)],
    ids=["bytes", "bytearray", "memoryview", "numpy-int16", "array-h"],
)
def test_accepts_every_buffer_kind(g, make):
    pcm = ALL_PCM[1000:1320]
    assert g.lin2ulaw(make(pcm)) == audioop.lin2ulaw(pcm, 2)
    codes = audioop.lin2ulaw(pcm, 2)
    if not isinstance(make(pcm), (np.ndarray, array.array)):
        assert g.ulaw2lin(make(codes)) == audioop.ulaw2lin(codes, 2)
    assert g.ulaw2lin(np.frombuffer(codes, np.uint8)) == audioop.ulaw2lin(codes, 2)


@impls
def test_out_buffer_is_filled_and_returned(g):
    pcm = ALL_PCM[:640]
    out = bytearray(320)
    assert g.lin2ulaw(pcm, out=out) is out
    assert bytes(out) == audioop.lin2ulaw(pcm, 2)
    dec = np.zeros(320, np.int16)
    assert g.ulaw2lin(bytes(out), out=dec) is dec
    assert dec.tobytes() == audioop.ulaw2lin(bytes(out), 2)
    # A larger out= is fine: only the first n bytes are written.
    big = bytearray(b"\xaa" * 400)
    g.lin2alaw(pcm, out=big)
    assert bytes(big[:320]) == audioop.lin2alaw(pcm, 2) and big[320:] == b"\xaa" * 80


@impls
def test_out_too_small_names_sizes(g):
    with pytest.raises(ValueError, match=r"out= holds 10 bytes, 160 needed"):
        g.lin2ulaw(bytes(320), out=bytearray(10))
    with pytest.raises(ValueError, match=r"out= holds 100 bytes, 320 needed"):
        g.ulaw2lin(bytes(160), out=bytearray(100))


@impls
def test_readonly_out_rejected(g):
    with pytest.raises((BufferError, TypeError)):
        g.lin2ulaw(bytes(320), out=bytes(160))


@impls
@pytest.mark.parametrize("name", ["lin2ulaw", "lin2alaw"])
def test_odd_length_pcm_raises_naming_length(g, name):
    with pytest.raises(ValueError, match=r"even byte count, got 321 bytes"):
        getattr(g, name)(bytes(321))


@impls
@pytest.mark.parametrize("name", ["lin2ulaw", "lin2alaw", "ulaw2lin", "alaw2lin", "ulaw2alaw", "alaw2ulaw"])
def test_empty_in_empty_out(g, name):
    assert getattr(g, name)(b"") == b""


@impls
def test_wrong_dtype_and_non_contiguous(g):
    with pytest.raises(TypeError, match="format 'f'"):
        g.lin2ulaw(np.zeros(160, np.float32))
    with pytest.raises(TypeError, match="format"):
        g.ulaw2lin(np.zeros(160, np.int16))
    with pytest.raises((BufferError, ValueError)):
        g.lin2ulaw(np.zeros(320, np.int16)[::2])


def test_itu_g191_delta_is_documented():
    """The ITU-T G.191 mu-law encoder rounds 508 negative boundary inputs differently.

    G.191's ``ulaw_compress`` works on the magnitude of the 14-bit value taken
    as ``~x`` for negatives (one's complement), audioop/Sun g711.c negate it.
    Recompute G.191's rule here and check the delta is exactly those inputs.
    """
    x = np.arange(-32768, 32768, dtype=np.int32)
    ours = np.frombuffer(importlib.import_module("voicecore._native.media.g711").lin2ulaw(ALL_PCM), np.uint8)
    # G.191 ulaw_compress: absno = x < 0 ? ((~x) >> 2) + 33 : (x >> 2) + 33, clipped to 0x1FFF.
    absno = np.where(x < 0, ((~x) >> 2) + 33, (x >> 2) + 33)
    absno = np.minimum(absno, 0x1FFF)
    i = absno >> 6
    segno = np.ones_like(i)
    while np.any(i):
        segno += i != 0
        i >>= 1
    high = 8 - segno
    low = 0x0F - ((absno >> segno) & 0x0F)
    g191 = ((high << 4) | low) & 0xFF
    g191 = np.where(x >= 0, g191 | 0x80, g191).astype(np.uint8)
    delta = np.nonzero(g191 != ours)[0]
    assert len(delta) == 508
    assert np.all(x[delta] < 0)


def test_module_docstring_mentions_g191_delta():
    g = importlib.import_module("voicecore._native.media.g711")
    assert "508" in (g.__doc__ or "")


def test_branch_free_decoders_match_tables_on_every_code():
    """The AVX2 kernels' scalar form, checked independently of which kernel this CPU uses."""
    g = importlib.import_module("voicecore._native.media.g711")
    assert g.DECODE_KERNEL in ("avx2", "table")
    # Decoding through the dispatching function must be exact whatever the kernel.
    codes = bytes(range(256)) * 37  # long enough to exercise vector bodies and tails
    assert g.ulaw2lin(codes) == audioop.ulaw2lin(codes, 2)
    assert g.alaw2lin(codes) == audioop.alaw2lin(codes, 2)
    for n in range(0, 70):
        assert g.ulaw2lin(codes[:n]) == audioop.ulaw2lin(codes[:n], 2)
        assert g.alaw2lin(codes[3 : 3 + n]) == audioop.alaw2lin(codes[3 : 3 + n], 2)


def test_table_kernel_is_exact_too():
    """The portable kernel (used without AVX2 and on non-x86 CPUs), forced in a subprocess."""
    import os
    import subprocess

    code = (
        "import audioop, voicecore._native.media.g711 as g; c = bytes(range(256)) * 3; "
        "print(g.DECODE_KERNEL, g.ulaw2lin(c) == audioop.ulaw2lin(c, 2), g.alaw2lin(c) == audioop.alaw2lin(c, 2))"
    )
    if sys.version_info >= (3, 13):
        pytest.importorskip("audioop")
    env = dict(os.environ, VOICECORE_G711_KERNEL="table", PYTHONWARNINGS="ignore")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["table", "True", "True"]


@impls
def test_out_buffer_element_type_is_checked(g):
    with pytest.raises(TypeError, match="int16"):
        g.ulaw2lin(bytes(160), out=np.empty(160, np.float64))
    with pytest.raises(TypeError, match="bytes"):
        g.lin2ulaw(bytes(320), out=np.empty(160, np.int16))


def test_messages_name_the_public_function_and_argument():
    from voicecore._native.media import g711 as native

    with pytest.raises(ValueError, match=r"^lin2alaw: pcm must be s16le PCM with an even byte count, got 3 bytes$"):
        native.lin2alaw(b"abc")
    with pytest.raises(TypeError, match=r"^ulaw2lin: data must be a C-contiguous buffer \(bytes-like\), got int$"):
        native.ulaw2lin(7)
    with pytest.raises(TypeError, match=r"^alaw2lin: out= must be a bytes-like or int16 buffer, got format 'f'"):
        native.alaw2lin(b"\xd5\xd5", np.zeros(2, np.float32))
    with pytest.raises(ValueError, match=r"^ulaw2alaw: out= holds 1 bytes, 2 needed$"):
        native.ulaw2alaw(b"\xff\xff", bytearray(1))

"""G.711 and PCM: voicecore vs stdlib audioop, roomkit's numpy table codec,
aiortp's codec, on one 20 ms frame (160 samples) and one second (8000).

Targets (same-run ratios of ``min``, asserted with --benchmark-enable, see
``TARGETS``): encode >= 2x faster than audioop per 20 ms frame and on 1 s
buffers, decode at least as fast as audioop (per frame and on 1 s; measured
1.2-1.9x on the shared development machine, 1.8-2.7x in the README's run);
s16le -> float32 >= 40x roomkit's STT path; float32 -> s16le >= 5x numpy;
RMS level >= 2x audioop (README: 90x / 15x / 4.7x measured).

    python -m pytest benchmarks/bench_g711.py --benchmark-enable --benchmark-min-rounds=200
"""

from __future__ import annotations

import numpy as np
import pytest
from benchsupport import Target, audioop_module, gate, need, optional

from voicecore._native.media import g711, pcm

audioop = audioop_module()
rk_g711 = optional("roomkit.voice._g711")
rk_stt = optional("roomkit.voice.stt.sherpa_onnx")
aiortp_g711 = optional("aiortp.codecs.g711")

rng = np.random.default_rng(0)


def speechlike(n: int) -> bytes:
    t = np.arange(n) / 8000
    x = 8000 * np.sin(2 * np.pi * 220 * t) + rng.normal(0, 2000, n)
    return np.clip(x, -32768, 32767).astype(np.int16).tobytes()


SIZES = {"20ms": 160, "1s": 8000}


def _encoders(law: str):
    a = "ulaw" if law == "mulaw" else "alaw"
    peers = {
        "voicecore": getattr(g711, f"lin2{a}"),
        "audioop": (lambda b, f=getattr(audioop, f"lin2{a}"): f(b, 2)) if audioop else None,
        "roomkit": (rk_g711._get_codec(law).encode if rk_g711 else None),
        "aiortp": ((aiortp_g711.PcmuCodec() if law == "mulaw" else aiortp_g711.PcmaCodec()).encode if aiortp_g711 else None),
    }
    return peers


def _decoders(law: str):
    a = "ulaw" if law == "mulaw" else "alaw"
    return {
        "voicecore": getattr(g711, f"{a}2lin"),
        "audioop": (lambda b, f=getattr(audioop, f"{a}2lin"): f(b, 2)) if audioop else None,
        "roomkit": (rk_g711._get_codec(law).decode if rk_g711 else None),
        "aiortp": ((aiortp_g711.PcmuCodec() if law == "mulaw" else aiortp_g711.PcmaCodec()).decode if aiortp_g711 else None),
    }


PEERS = ["voicecore", "audioop", "roomkit", "aiortp"]

TARGETS = [
    *(Target(f"g711 encode {law} 20ms", "voicecore", "audioop", 2.0) for law in ("mulaw", "alaw")),
    *(Target(f"g711 encode {law} 1s", "voicecore", "audioop", 2.0) for law in ("mulaw", "alaw")),
    *(Target(f"g711 decode {law} {size}", "voicecore", "audioop", 1.0)
      for law in ("mulaw", "alaw") for size in ("20ms", "1s")),
    Target("pcm s16le->float32 320 samples", "voicecore", "roomkit", 40.0),
    Target("pcm float32->s16le 320 samples", "voicecore", "numpy", 5.0),
    Target("pcm rms level 320 samples", "voicecore", "audioop", 2.0),
]


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("law", ["mulaw", "alaw"])
def test_encode(benchmark, law, size, peer):
    fn = _encoders(law)[peer]
    if fn is None:
        pytest.skip(f"{peer} not installed")
    benchmark.group = f"g711 encode {law} {size}"
    pcm_bytes = speechlike(SIZES[size])
    out = benchmark(fn, pcm_bytes)
    gate(benchmark, peer, TARGETS)
    if peer != "aiortp" or law == "mulaw":
        # aiortp's A-law is polarity-inverted; everything else must agree with voicecore.
        ref = g711.lin2ulaw(pcm_bytes) if law == "mulaw" else g711.lin2alaw(pcm_bytes)
        if peer == "aiortp":
            assert len(out) == len(ref)
        else:
            assert out == ref


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("law", ["mulaw", "alaw"])
def test_decode(benchmark, law, size, peer):
    fn = _decoders(law)[peer]
    if fn is None:
        pytest.skip(f"{peer} not installed")
    benchmark.group = f"g711 decode {law} {size}"
    codes = g711.lin2ulaw(speechlike(SIZES[size])) if law == "mulaw" else g711.lin2alaw(speechlike(SIZES[size]))
    out = benchmark(fn, codes)
    gate(benchmark, peer, TARGETS)
    assert len(out) == 2 * len(codes)


def test_encode_into_out_buffer(benchmark):
    """The zero-allocation path the audio I/O engine uses."""
    benchmark.group = "g711 encode mulaw 20ms"
    pcm_bytes = speechlike(160)
    out = bytearray(160)
    benchmark(g711.lin2ulaw, pcm_bytes, out)
    assert bytes(out) == g711.lin2ulaw(pcm_bytes)


def _roomkit_list_path(data: bytes):
    return rk_stt._pcm_s16le_to_float32(data)


@pytest.mark.parametrize("peer", ["voicecore", "numpy", "roomkit"])
def test_s16le_to_float32_320(benchmark, peer):
    """20 ms of 16 kHz audio (320 samples) into float32 for speech recognition."""
    benchmark.group = "pcm s16le->float32 320 samples"
    data = speechlike(320)
    if peer == "voicecore":
        fn = pcm.s16le_to_float32
    elif peer == "numpy":
        def fn(d):
            return np.frombuffer(d, np.int16).astype(np.float32) / np.float32(32768)
    else:
        need(rk_stt, "roomkit")
        fn = _roomkit_list_path
    out = benchmark(fn, data)
    gate(benchmark, peer, TARGETS)
    assert np.allclose(np.asarray(out, np.float32), pcm.s16le_to_float32(data))


@pytest.mark.parametrize("peer", ["voicecore", "numpy"])
def test_float32_to_s16le_320(benchmark, peer):
    benchmark.group = "pcm float32->s16le 320 samples"
    x = rng.normal(0, 0.3, 320).astype(np.float32)
    if peer == "voicecore":
        fn = pcm.float32_to_s16le
    else:
        def fn(a):
            return np.clip(np.rint(a * 32768), -32768, 32767).astype(np.int16).tobytes()
    out = benchmark(fn, x)
    gate(benchmark, peer, TARGETS)
    assert out == pcm.float32_to_s16le(x)


@pytest.mark.parametrize("peer", ["voicecore", "audioop", "roomkit"])
def test_rms_320(benchmark, peer):
    benchmark.group = "pcm rms level 320 samples"
    data = speechlike(320)
    if peer == "voicecore":
        fn = pcm.rms_dbfs
    elif peer == "audioop":
        a = need(audioop, "audioop")
        import math

        def fn(d):
            r = a.rms(d, 2) / 32768
            return max(-60.0, 20 * math.log10(r)) if r > 1e-10 else -60.0
    else:
        u = need(optional("roomkit.voice.utils"), "roomkit")
        fn = u.rms_db
    out = benchmark(fn, data)
    gate(benchmark, peer, TARGETS)
    assert out == pytest.approx(pcm.rms_dbfs(data), abs=0.01)

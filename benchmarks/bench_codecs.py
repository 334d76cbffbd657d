"""G.722, Opus and SRTP: cost per 20 ms packet, voicecore vs a peer in the
same run, through the Python methods (voicecore vs libg722 / opuslib /
pylibsrtp) and through the nogil API the engine uses (a test-only Cython
loop, tests/native/probe_codecs.pyx: 100 packets per round, so divide its
times by 100).

    python -m pytest benchmarks/bench_codecs.py --benchmark-enable --benchmark-min-rounds=200
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from benchsupport import need, optional

from voicecore.media import g722, opus, srtp

G722 = optional("G722")
opuslib = optional("opuslib")
pylibsrtp = optional("pylibsrtp")
LOOP = 100


@pytest.fixture(scope="module")
def probe():
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "native"))
    from build import build_probe

    return build_probe("probe_codecs")


def _speech16(n: int) -> np.ndarray:
    from engine_support import speech, tone

    x = speech(16000, 2.0)
    if x is None:
        x = tone(300, 2.0, 16000, 8000)
    return np.ascontiguousarray(x[8000 : 8000 + n])


PCM16 = None


def pcm16() -> np.ndarray:
    global PCM16
    if PCM16 is None:
        PCM16 = _speech16(320)
    return PCM16


# ------------------------------------------------------------------ G.722
@pytest.mark.parametrize("peer", ["voicecore", "libg722", "voicecore-nogil-x100"])
def test_g722_encode_20ms(benchmark, peer, probe):
    benchmark.group = "g722 encode 20 ms (320 samples)"
    x = pcm16()
    if peer == "voicecore":
        enc = g722.G722Encoder()
        out = benchmark(enc.encode, x)
        assert len(out) == 160
    elif peer == "libg722":
        enc = need(G722, "G722").G722(16000, 64000)
        assert len(benchmark(enc.encode, x)) == 160
    else:
        benchmark(probe.loop_g722_encode, g722.G722Encoder(), x, LOOP)


@pytest.mark.parametrize("peer", ["voicecore", "libg722", "voicecore-nogil-x100"])
def test_g722_decode_20ms(benchmark, peer, probe):
    benchmark.group = "g722 decode 20 ms (160 octets)"
    data = g722.G722Encoder().encode(pcm16())
    if peer == "voicecore":
        assert len(benchmark(g722.G722Decoder().decode, data)) == 640
    elif peer == "libg722":
        dec = need(G722, "G722").G722(16000, 64000)
        assert len(benchmark(dec.decode, data)) == 320
    else:
        benchmark(probe.loop_g722_decode, g722.G722Decoder(), np.frombuffer(data, np.uint8), LOOP)


# ------------------------------------------------------------------ Opus
opus_only = pytest.mark.skipif(not opus.AVAILABLE, reason=str(opus.UNAVAILABLE_REASON))


@opus_only
@pytest.mark.parametrize("peer", ["voicecore", "opuslib", "voicecore-nogil-x100"])
def test_opus_encode_20ms_24k(benchmark, peer, probe):
    benchmark.group = "opus encode 20 ms 16 kHz 24 kbit/s"
    x = pcm16()
    if peer == "voicecore":
        enc = opus.OpusEncoder(16000, 24000)
        assert len(benchmark(enc.encode, x)) > 10
    elif peer == "opuslib":
        lib = need(opuslib, "opuslib")
        enc = lib.Encoder(16000, 1, "voip")
        enc.bitrate = 24000
        enc.complexity = 9
        enc.signal = lib.SIGNAL_VOICE
        b = x.tobytes()
        assert len(benchmark(enc.encode, b, 320)) > 10
    else:
        benchmark(probe.loop_opus_encode, opus.OpusEncoder(16000, 24000), x, LOOP)


@opus_only
@pytest.mark.parametrize("peer", ["voicecore", "opuslib", "voicecore-nogil-x100"])
def test_opus_decode_20ms_24k(benchmark, peer, probe):
    benchmark.group = "opus decode 20 ms 16 kHz 24 kbit/s"
    enc = opus.OpusEncoder(16000, 24000)
    for _ in range(5):
        pkt = enc.encode(pcm16())
    if peer == "voicecore":
        assert len(benchmark(opus.OpusDecoder(16000).decode, pkt)) == 640
    elif peer == "opuslib":
        dec = need(opuslib, "opuslib").Decoder(16000, 1)
        assert len(benchmark(dec.decode, pkt, 320)) == 640
    else:
        benchmark(probe.loop_opus_decode, opus.OpusDecoder(16000), np.frombuffer(pkt, np.uint8), LOOP)


# ------------------------------------------------------------------ SRTP
srtp_only = pytest.mark.skipif(not srtp.AVAILABLE, reason=str(srtp.UNAVAILABLE_REASON))
SUITES = {"AES_CM_128_HMAC_SHA1_80": "SRTP_PROFILE_AES128_CM_SHA1_80", "AEAD_AES_128_GCM": "SRTP_PROFILE_AEAD_AES_128_GCM"}


def _rtp(seq: int) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, 160 * seq, 1234) + bytes(160)   # PCMU 20 ms


class _Seq:
    """Fresh sequence numbers per round (libsrtp refuses to protect a
    sequence number twice)."""

    def __init__(self) -> None:
        self.n = 0

    def next(self) -> bytes:
        self.n += 1
        return _rtp(self.n)


@srtp_only
@pytest.mark.parametrize("suite", sorted(SUITES))
@pytest.mark.parametrize("peer", ["voicecore", "pylibsrtp", "voicecore-nogil-x100"])
def test_srtp_protect_20ms_pcmu(benchmark, peer, suite, probe):
    benchmark.group = f"srtp protect 172-byte RTP {suite}"
    k = os.urandom(srtp.SUITES[suite])
    seq = _Seq()
    if peer == "voicecore":
        s = srtp.SRTPSession(suite, k, k)
        benchmark.pedantic(s.protect, setup=lambda: ((seq.next(),), {}), rounds=2000, warmup_rounds=10)
    elif peer == "pylibsrtp":
        lib = need(pylibsrtp, "pylibsrtp")
        s = lib.Session(lib.Policy(key=k, ssrc_type=lib.Policy.SSRC_ANY_OUTBOUND,
                                   srtp_profile=getattr(lib.Policy, SUITES[suite])))
        benchmark.pedantic(s.protect, setup=lambda: ((seq.next(),), {}), rounds=2000, warmup_rounds=10)
    else:
        s = srtp.SRTPSession(suite, k, k)
        state = {"seq": 1}

        def run():
            state["seq"], fails = probe.loop_srtp(s, s, np.frombuffer(_rtp(0), np.uint8), LOOP, state["seq"], False)
            assert fails == 0

        benchmark(run)


@srtp_only
@pytest.mark.parametrize("suite", sorted(SUITES))
@pytest.mark.parametrize("peer", ["voicecore", "pylibsrtp", "voicecore-nogil-x100"])
def test_srtp_unprotect_20ms_pcmu(benchmark, peer, suite, probe):
    """Unprotect of a fresh packet (the protect is in the setup for the
    Python peers; the nogil loop does both, see the protect group)."""
    benchmark.group = f"srtp unprotect 182-byte SRTP {suite}"
    k = os.urandom(srtp.SUITES[suite])
    tx = srtp.SRTPSession(suite, k, k)
    seq = _Seq()
    if peer == "voicecore":
        rx = srtp.SRTPSession(suite, k, k)
        out = benchmark.pedantic(rx.unprotect, setup=lambda: ((tx.protect(seq.next()),), {}), rounds=2000, warmup_rounds=10)
        assert out is not None
    elif peer == "pylibsrtp":
        lib = need(pylibsrtp, "pylibsrtp")
        rx = lib.Session(lib.Policy(key=k, ssrc_type=lib.Policy.SSRC_ANY_INBOUND,
                                    srtp_profile=getattr(lib.Policy, SUITES[suite])))
        benchmark.pedantic(rx.unprotect, setup=lambda: ((tx.protect(seq.next()),), {}), rounds=2000, warmup_rounds=10)
    else:
        rx = srtp.SRTPSession(suite, k, k)
        state = {"seq": 1}

        def run():
            state["seq"], fails = probe.loop_srtp(tx, rx, np.frombuffer(_rtp(0), np.uint8), LOOP, state["seq"], True)
            assert fails == 0

        benchmark(run)

"""The G.722, Opus and SRTP cdef APIs in the installed .pxd files are what the
engine needs: a test-only Cython module (tests/native/probe_codecs.pyx)
cimports them and drives them without the GIL, with the ownership rule."""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "native"))
from build import build_probe  # noqa: E402

from engine_support import speech, tone  # noqa: E402
from voicecore.media import g722, opus, srtp  # noqa: E402


@pytest.fixture(scope="module")
def probe():
    return build_probe("probe_codecs")


def test_stub_headers_compile_and_refuse(probe):
    """Built without the libraries, the shims say so and every call fails
    with the "unimplemented" code instead of touching memory."""
    assert probe.stub_headers() == (0, 0, -5, -102)


@pytest.mark.parametrize("chunk", [320, 160, 960])
def test_g722_nogil_equals_python_and_adoption_blocks_python(probe, chunk):
    x = tone(1000, 0.5, 16000, 9000)
    enc, dec = g722.G722Encoder(), g722.G722Decoder()
    codes, pcm, refused, rate = probe.g722_roundtrip(enc, dec, x, chunk)
    assert refused == [True] * 5 and rate == 64000
    assert codes == g722.G722Encoder().encode(x)
    assert pcm == g722.G722Decoder().decode(codes)
    # released: the Python methods work again and continue the same stream
    assert len(enc.encode(x[:320])) == 160 and len(dec.decode(codes[:160])) == 640


@pytest.mark.skipif(not opus.AVAILABLE, reason=str(opus.UNAVAILABLE_REASON))
def test_opus_nogil_decode_plc_and_fec(probe):
    x = speech(16000, 4.0)
    if x is None:
        x = tone(300, 4.0, 16000, 8000)
    enc = opus.OpusEncoder(16000, 24000, fec=True, packet_loss_percent=20)
    dec = opus.OpusDecoder(16000)
    pcm, nfec, st, worst = probe.opus_cycle(enc, dec, x, 320, 5)
    assert worst == 0                                  # every call returned one full frame
    assert len(pcm) == 2 * 320 * (len(x) // 320 - 1)
    assert nfec > 0 and st["fec_calls"] == nfec and st["plc_calls"] > 0
    assert st["fec_calls"] + st["plc_calls"] + st["packets"] == len(x) // 320 - 1
    # the same steps through the Python methods give the same samples
    enc2 = opus.OpusEncoder(16000, 24000, fec=True, packet_loss_percent=20)
    dec2 = opus.OpusDecoder(16000)
    pk = [enc2.encode(x[i : i + 320]) for i in range(0, len(x) - 319, 320)]
    out = []
    for k in range(len(pk) - 1):
        if k % 5 == 4:
            out.append(dec2.decode_fec(pk[k + 1], 320) if opus.packet_has_fec(pk[k + 1]) else dec2.conceal(320))
        else:
            out.append(dec2.decode(pk[k]))
    assert b"".join(out) == pcm
    # decoding at 48 kHz from a 16 kHz encoder: 960 samples per 20 ms packet
    pcm48, _, st48, worst48 = probe.opus_cycle(opus.OpusEncoder(16000), opus.OpusDecoder(48000), x[:16000], 320, 0)
    assert worst48 == 0 and len(pcm48) == 2 * 960 * 49 and st48["packets"] == 49


@pytest.mark.skipif(not srtp.AVAILABLE, reason=str(srtp.UNAVAILABLE_REASON))
def test_srtp_nogil_in_place_with_result_codes(probe):
    k = srtp.SUITES["AES_CM_128_HMAC_SHA1_80"]
    a, b = os.urandom(k), os.urandom(k)
    tx = srtp.SRTPSession("AES_CM_128_HMAC_SHA1_80", a, b)
    rx = srtp.SRTPSession("AES_CM_128_HMAC_SHA1_80", b, a)
    pk = [struct.pack("!BBHII", 0x80, 0, 7 + i, 160 * i, 99) + bytes(range(i, i + 160)) for i in range(10)]
    codes, outs, st, (e_auth, e_replay, e_short, e_room) = probe.srtp_cycle(tx, rx, pk, True)
    assert (e_auth, e_replay, e_short, e_room) == (-7, -9, -100, -101)
    assert codes[0] == "python refused"
    assert codes[1:10] == [0] * 9 and outs[:9] == pk[:9]
    assert codes[10] == e_auth and outs[9] is None            # tampered
    assert codes[11:] == [e_replay, e_short, e_room]           # replay, too short, no room
    assert st["rtp_unprotected"] == 9 and st["auth_fail"] == 1 and st["replay"] == 1 and st["malformed"] == 1
    assert rx.stats() == st                                    # released: Python reads again

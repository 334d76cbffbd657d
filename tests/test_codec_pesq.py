"""Wideband speech quality (PESQ WB, ITU-T P.862.2) of real speech through
G.722 at 64 kbit/s (>= 3.9) and Opus at 24 kbit/s (>= 4.0), each against the
reference implementation in the same run (libg722, opuslib over libopus):
the scores must match theirs. Skipped without the speech clips or ``pesq``."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from codec_refs import libg722_or_skip, opuslib_or_skip
from engine_support import speech
from voicecore.media import g722, opus

pytestmark = [
    pytest.mark.models,
    pytest.mark.skipif(importlib.util.find_spec("pesq") is None, reason="pesq not installed"),
]
CLIPS = ["beckett", "clone-test"]


def _clip(name: str, rate: int = 16000) -> np.ndarray:
    x = speech(rate, seconds=10.0, clip=name)
    if x is None:
        pytest.skip(f"speech clip {name} not fetched (python -m voicecore.models fetch)")
    n = rate // 50
    return x[: len(x) // n * n]


def _pesq(ref: np.ndarray, deg: np.ndarray) -> float:
    from pesq import pesq

    n = min(len(ref), len(deg))
    return float(pesq(16000, ref[:n], deg[:n], "wb"))


@pytest.mark.parametrize("clip", CLIPS)
def test_g722_64k_pesq_wb(clip):
    x = _clip(clip)
    ours = np.frombuffer(g722.G722Decoder().decode(g722.G722Encoder().encode(x)), np.int16)
    ref = libg722_or_skip()
    theirs = ref.decode(ref.encode(x))
    s_ours, s_ref = _pesq(x, ours), _pesq(x, theirs)
    print(f"PESQ WB G.722 64k {clip}: voicecore {s_ours:.3f}, libg722 {s_ref:.3f}")
    assert s_ours >= 3.9
    assert abs(s_ours - s_ref) < 0.01


@pytest.mark.skipif(not opus.AVAILABLE, reason=str(opus.UNAVAILABLE_REASON))
@pytest.mark.parametrize("clip", CLIPS)
def test_opus_24k_pesq_wb(clip):
    x = _clip(clip)
    enc, dec = opus.OpusEncoder(16000, 24000), opus.OpusDecoder(16000)
    ours = np.frombuffer(b"".join(dec.decode(enc.encode(x[i : i + 320])) for i in range(0, len(x), 320)), np.int16)
    opuslib = opuslib_or_skip()
    renc, rdec = opuslib.Encoder(16000, 1, "voip"), opuslib.Decoder(16000, 1)
    renc.bitrate = 24000
    renc.complexity = 9
    renc.signal = opuslib.SIGNAL_VOICE
    theirs = np.frombuffer(b"".join(rdec.decode(renc.encode(x[i : i + 320].tobytes(), 320), 320)
                                    for i in range(0, len(x), 320)), np.int16)
    la = enc.lookahead                      # the encoder's delay, samples at 16 kHz
    s_ours, s_ref = _pesq(x, ours[la:]), _pesq(x, theirs[la:])
    print(f"PESQ WB Opus 24k {clip}: voicecore {s_ours:.3f}, opuslib {s_ref:.3f}")
    assert s_ours >= 4.0
    assert abs(s_ours - s_ref) < 0.01

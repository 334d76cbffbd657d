"""Loss on real speech through the jitter buffer, PESQ WB against the clean
decode of the same packets (tests/codec_jitter_eval.py), random loss 5 % and
10 %, 2 seeds per cell, compared in one run on the same loss patterns:

* G.722 64 kbit/s: our concealment (with the decoder's state following it)
  against silence substitution (``concealment=False``);
* Opus 24 kbit/s at 48 kHz: libopus's PLC against silence on a stream
  without FEC; on a stream encoded with in-band FEC for 10 % loss
  (``OpusEncoder(fec=True, packet_loss_percent=10)``), FEC + PLC against
  PLC alone.

The full table (4 clips, Gilbert-Elliott bursts too, 4 seeds) is
benchmarks/bench_jitter.py::test_codec_pesq_table. Skipped without the
speech clips or the ``pesq`` / ``scipy`` packages."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import codec_jitter_eval as ev
from engine_support import speech
from voicecore.media import opus

pytestmark = [
    pytest.mark.models,
    pytest.mark.skipif(importlib.util.find_spec("pesq") is None, reason="pesq not installed (PESQ WB scoring)"),
    pytest.mark.skipif(importlib.util.find_spec("scipy") is None, reason="scipy not installed (48 -> 16 kHz)"),
]
CLIPS = ["beckett", "clone-test"]
MODELS = ["random5", "random10"]


@pytest.fixture(scope="module", params=CLIPS)
def clip(request):
    return request.param


def _table(codec: str, clip: str) -> dict:
    rate = 16000 if codec == "g722" else 48000
    x = speech(rate, 10.0, clip=clip)
    if x is None:
        pytest.skip(f"speech clip {clip} not fetched (python -m voicecore models fetch)")
    t = ev.loss_table(codec, x, MODELS, range(2), rate)
    m = {k: float(np.mean(v)) for k, v in t.items()}
    print(f"\nPESQ WB {codec} {clip}: " + ", ".join(f"{a}/{b} {v:.3f}" for (a, b), v in m.items()))
    return m


_CACHE: dict = {}


def _cached(codec: str, clip: str) -> dict:
    if (codec, clip) not in _CACHE:
        _CACHE[codec, clip] = _table(codec, clip)
    return _CACHE[codec, clip]


@pytest.mark.parametrize("model", MODELS)
def test_g722_concealment_beats_silence(clip, model):
    m = _cached("g722", clip)
    assert m[model, "ours"] >= m[model, "silence"] + 0.5, m
    assert m[model, "ours"] >= 2.2, m


@pytest.mark.skipif(not opus.AVAILABLE, reason=str(opus.UNAVAILABLE_REASON))
@pytest.mark.parametrize("model", MODELS)
def test_opus_plc_beats_silence_and_fec_beats_plc(clip, model):
    m = _cached("opus", clip)
    assert m[model, "plc"] >= m[model, "silence"] + 0.5, m
    assert m[model, "fec"] >= m[model, "plc_fecstream"] + 0.3, m
    assert m[model, "fec"] >= 3.0, m

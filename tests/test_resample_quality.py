"""The issue's quality figures at the default preset, for every pair involving
8 or 16 kHz among the telephony/TTS/media rates, measured with numpy FFTs
(definitions in ``resample_quality (tests/resample_quality.py)``)."""

from __future__ import annotations

import numpy as np
import pytest

from voicecore._native.media import resample as native
from voicecore._reference import resample as reference
from resample_quality import (
    alias_rejection, image_rejection, latency_ms, passband_error, thd_n, voicecore_factory,
)

RATES = [8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000]
PAIRS = [(a, b) for a in RATES for b in RATES if a != b and (8000 in (a, b) or 16000 in (a, b))]
VC = voicecore_factory("default", native.Resampler)


class _S16:
    """The s16le path: float in -> s16 bytes -> resampler -> s16 bytes -> float."""

    def __init__(self, fi: int, fo: int) -> None:
        self.r = native.Resampler(fi, fo)

    @staticmethod
    def _f(b: bytes) -> np.ndarray:
        return np.frombuffer(b, "<i2").astype(np.float32) / 32768

    def feed(self, x):
        return self._f(self.r.process(np.clip(np.rint(x * 32768), -32768, 32767).astype("<i2").tobytes()))

    def end(self):
        return self._f(self.r.flush(float32=False))


def test_pair_list_covers_the_issue():
    assert len(PAIRS) == 26 and (16000, 8000) in PAIRS and (8000, 44100) in PAIRS


@pytest.mark.parametrize("fi, fo", PAIRS)
def test_rejection_at_least_80_db(fi, fo):
    if fi > fo:
        level = alias_rejection(VC, fi, fo)
    else:
        level = image_rejection(VC, fi, fo)
    assert level <= -80.0, f"{fi}->{fo}: worst alias/image {level:.1f} dB"


@pytest.mark.parametrize("fi, fo", PAIRS)
def test_passband_flat_within_0_1_db(fi, fo):
    err = passband_error(VC, fi, fo)
    assert err <= 0.1, f"{fi}->{fo}: passband error {err:.3f} dB"


@pytest.mark.parametrize("fi, fo", PAIRS)
@pytest.mark.parametrize("f", [1000, 3000])
def test_thd_n_s16_path_at_least_85_db(fi, fo, f):
    # -1 dBFS through the s16le path: includes both quantisations
    v = thd_n(_S16, fi, fo, f, amp=10 ** (-1 / 20))
    assert v >= 85.0, f"{fi}->{fo} {f} Hz: THD+N {v:.1f} dB"


@pytest.mark.parametrize("fi, fo", PAIRS)
def test_impulse_latency_at_most_2_5_ms(fi, fo):
    centroid, peak, held = latency_ms(VC, fi, fo)
    lat = native.Resampler(fi, fo).latency / fo * 1e3
    # nothing held back beyond the rounding of one output sample
    assert held <= 1e3 / fo
    assert centroid + max(held, 0) <= 2.5 and peak <= 2.5
    # linear phase: the energy centroid is the advertised group delay
    assert abs(centroid - lat) < 0.5e3 / fo
    assert abs(peak - lat) < 1e3 / fo


def test_alias_tones_are_really_aliased():
    """Guard against a vacuous rejection test: the tones tested for 16k -> 8k span
    4.6 kHz .. 8 kHz, and a filterless decimator lets them through at 0 dB."""

    class Decimate:
        def __init__(self, fi, fo):
            pass

        def feed(self, x):
            return x[::2].copy()

        def end(self):
            return np.zeros(0, np.float32)

    from resample_quality import alias_tones

    tones = alias_tones(16000, 8000)
    assert min(tones) == 4600 and max(tones) >= 7900
    assert alias_rejection(Decimate, 16000, 8000) > -1.0


def test_presets_trade_latency_for_rejection():
    fast = voicecore_factory("fast", native.Resampler)
    hq = voicecore_factory("hq", native.Resampler)
    assert native.Resampler(16000, 8000, "fast").latency < native.Resampler(16000, 8000).latency \
        < native.Resampler(16000, 8000, "hq").latency
    assert -70 < alias_rejection(fast, 16000, 8000) < -50
    assert alias_rejection(hq, 16000, 8000) < -110


@pytest.mark.parametrize("fi, fo", [(16000, 8000), (8000, 16000)])
def test_reference_meets_the_same_figures(fi, fo):
    ref = voicecore_factory("default", reference.Resampler)
    level = alias_rejection(ref, fi, fo, n=6) if fi > fo else image_rejection(ref, fi, fo, n=6)
    assert level <= -80
    assert passband_error(ref, fi, fo, n=6) <= 0.1

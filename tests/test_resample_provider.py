"""voicecore's roomkit-compatible ResamplerProvider, with roomkit's AudioFrame
and inside roomkit's own AudioPipeline."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from vc_support import requires_roomkit
from voicecore._native.media.resample import Resampler
from voicecore.resample import PolyphaseResamplerProvider, ResamplerProvider, resample


@dataclasses.dataclass
class DuckFrame:
    """Stand-in with AudioFrame's fields (voicecore's own AudioFrame has the same)."""

    data: bytes
    sample_rate: int = 16000
    channels: int = 1
    sample_width: int = 2
    timestamp_ms: float | None = None
    metadata: dict = dataclasses.field(default_factory=dict)


def _frames_for(frame_cls):
    rng = np.random.default_rng(0)
    pcm = (rng.standard_normal(8000) * 3000).astype("<i2")
    return pcm, [frame_cls(data=pcm[i:i + 160].tobytes(), sample_rate=8000, timestamp_ms=i / 8)
                 for i in range(0, 8000, 160)]


def _frame_classes():
    classes = [pytest.param(DuckFrame, id="duck")]
    try:
        from roomkit.voice.audio_frame import AudioFrame
    except ImportError:
        classes.append(pytest.param(None, id="roomkit", marks=pytest.mark.skip("roomkit not installed")))
    else:
        classes.append(pytest.param(AudioFrame, id="roomkit"))
    return classes


@pytest.mark.parametrize("frame_cls", _frame_classes())
def test_stream_matches_resampler_and_keeps_frame_type(frame_cls):
    pcm, frames = _frames_for(frame_cls)
    p = PolyphaseResamplerProvider()
    outs = [p.resample(f, 16000, 1, 2, "call-1") for f in frames]
    assert all(type(o) is frame_cls for o in outs)
    assert all(o.sample_rate == 16000 and o.channels == 1 and o.sample_width == 2 for o in outs)
    assert all(len(o.data) == 640 for o in outs)
    assert outs[3].timestamp_ms == frames[3].timestamp_ms
    tail = p.flush(16000, 1, 2, "call-1")
    assert type(tail) is frame_cls
    r = Resampler(8000, 16000)
    assert b"".join(o.data for o in outs) + tail.data == r.process(pcm.tobytes()) + r.flush()
    assert p.flush(16000, 1, 2, "call-1") is None        # state is gone after flush


def test_passthrough_returns_same_frame():
    f = DuckFrame(b"\x01\x00" * 160, 16000)
    assert PolyphaseResamplerProvider().resample(f, 16000, 1, 2, "s") is f


def test_streams_are_isolated():
    _, fa = _frames_for(DuckFrame)
    rng = np.random.default_rng(1)
    fb = [DuckFrame((rng.standard_normal(160) * 2000).astype("<i2").tobytes(), 8000) for _ in fa]
    shared = PolyphaseResamplerProvider()
    mixed_a, mixed_b = [], []
    for a, b in zip(fa, fb):
        mixed_a.append(shared.resample(a, 16000, 1, 2, "alice").data)
        mixed_b.append(shared.resample(b, 16000, 1, 2, "bob").data)
    solo = PolyphaseResamplerProvider()
    assert b"".join(mixed_a) == b"".join(solo.resample(a, 16000, 1, 2, "x").data for a in fa)
    solo.reset()
    assert b"".join(mixed_b) == b"".join(solo.resample(b, 16000, 1, 2, "x").data for b in fb)
    # resetting one stream leaves the other alone
    shared.reset("alice")
    assert shared.flush(16000, 1, 2, "alice") is None
    assert shared.flush(16000, 1, 2, "bob") is not None


def test_channel_and_width_conversion():
    rng = np.random.default_rng(2)
    left = (rng.standard_normal(480) * 3000).astype(np.int16)
    right = (rng.standard_normal(480) * 3000).astype(np.int16)
    stereo = np.stack([left, right], axis=1).reshape(-1).astype("<i2").tobytes()
    p = PolyphaseResamplerProvider()
    # stereo 48k -> mono 16k: average, then the same filter as mono
    out = p.resample(DuckFrame(stereo, 48000, channels=2), 16000, 1, 2, "s")
    mono = ((left.astype(np.float32) + right.astype(np.float32)) / 2 / 32768).astype(np.float32)
    expect = np.clip(np.rint(Resampler(48000, 16000).process(mono) * 32768), -32768, 32767)
    np.testing.assert_array_equal(np.frombuffer(out.data, "<i2"), expect)
    # mono 8k -> stereo 16k: both channels identical
    out = p.resample(DuckFrame(left.tobytes(), 8000), 16000, 2, 2, "t")
    lr = np.frombuffer(out.data, "<i2").reshape(-1, 2)
    assert out.channels == 2 and lr.shape == (960, 2) and np.array_equal(lr[:, 0], lr[:, 1])
    # stereo -> stereo keeps the channels apart
    out = p.resample(DuckFrame(stereo, 48000, channels=2), 16000, 2, 2, "u")
    lr = np.frombuffer(out.data, "<i2").reshape(-1, 2)
    np.testing.assert_array_equal(lr[:, 0], np.frombuffer(Resampler(48000, 16000).process(left.tobytes()), "<i2"))
    # 16-bit -> 8-bit (signed, as roomkit) and 32-bit at the same rate
    out = p.resample(DuckFrame(left.tobytes(), 8000), 8000, 1, 1, "w")
    np.testing.assert_array_equal(np.frombuffer(out.data, np.int8),
                                  np.clip(np.rint(left / 256), -128, 127).astype(np.int8))
    out = p.resample(DuckFrame(left.tobytes(), 8000), 8000, 1, 4, "w")
    np.testing.assert_array_equal(np.frombuffer(out.data, "<i4"), left.astype(np.int64) << 16)


def test_bad_formats_are_refused():
    p = PolyphaseResamplerProvider()
    f = DuckFrame(b"\x00\x00" * 160, 8000)
    with pytest.raises(ValueError, match="sample width"):
        p.resample(f, 16000, 1, 3, "s")
    with pytest.raises(ValueError, match="channels"):
        p.resample(f, 16000, 6, 2, "s")
    with pytest.raises(ValueError, match="sample rate"):
        p.resample(f, 0, 1, 2, "s")
    with pytest.raises(ValueError, match="even byte count"):
        p.resample(DuckFrame(b"\x00" * 3, 8000), 16000, 1, 2, "s")
    with pytest.raises(ValueError, match="preset"):
        PolyphaseResamplerProvider("nope")


def test_is_a_resampler_provider():
    p = PolyphaseResamplerProvider()
    assert isinstance(p, ResamplerProvider) and p.name == "voicecore-polyphase"
    p.close()


def test_one_shot_resample_is_time_aligned():
    x = (0.5 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)).astype(np.float32)
    y = resample(x, 8000, 16000)
    assert len(y) == 16000
    ideal = 0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    assert np.abs(y[200:-200] - ideal[200:-200]).max() < 1e-3
    b = resample(np.clip(np.rint(x * 32768), -32768, 32767).astype("<i2").tobytes(), 8000, 16000)
    assert isinstance(b, bytes) and len(b) == 32000


@requires_roomkit
def test_inside_roomkit_audio_pipeline():
    """roomkit's own AudioPipeline uses the provider unchanged (inbound 8k -> 16k)."""
    from roomkit.voice.audio_frame import AudioFrame
    from roomkit.voice.pipeline.config import AudioFormat, AudioPipelineConfig, AudioPipelineContract
    from roomkit.voice.pipeline.engine import AudioPipeline

    contract = AudioPipelineContract(
        transport_inbound_format=AudioFormat(sample_rate=8000),
        transport_outbound_format=AudioFormat(sample_rate=8000),
        internal_format=AudioFormat(sample_rate=16000),
    )
    pipe = AudioPipeline(AudioPipelineConfig(resampler=PolyphaseResamplerProvider(), contract=contract))
    pcm, frames = _frames_for(AudioFrame)
    got = [pipe.process_inbound_stream("lane-1", f).frame for f in frames]
    assert all(isinstance(g, AudioFrame) and g.sample_rate == 16000 for g in got)
    r = Resampler(8000, 16000)
    assert b"".join(g.data for g in got) == r.process(pcm.tobytes())

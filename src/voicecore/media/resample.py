"""Streaming sample-rate conversion (native polyphase resampler) and a
roomkit-compatible ``ResamplerProvider``.

``Resampler(in_rate, out_rate, preset="default")`` converts one mono stream:
s16le bytes in and out, or float32 arrays in and out, in chunks of any size.
At the default preset, for every conversion involving 8 or 16 kHz: alias and
image rejection >= 80 dB, passband flat within 0.07 dB up to 0.85 x the lower
Nyquist frequency, group delay ``19 / min(in_rate, out_rate)`` seconds (2.375 ms
when 8 kHz is involved, 1.1875 ms for 16 kHz), exact sample accounting
(``ceil(N * out / in)`` samples after ``N`` inputs). See
``voicecore._native.media.resample`` and ``voicecore.media._resample_design``.

``PolyphaseResamplerProvider`` plugs the same resampler into roomkit's
``AudioPipeline`` (``AudioPipelineConfig(resampler=...)``): it keeps one
filter state per (stream, source rate, target rate, channel), converts
mono/stereo and 8/16/32-bit sample widths, and works with roomkit's
``AudioFrame`` or voicecore's (the output frame has the input frame's type).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from voicecore._impl import load
from voicecore.media._resample_design import MAX_RATE, PRESETS, check_rate

_impl = load("resample")

#: The streaming resampler class (native, or the numpy reference with
#: ``VOICECORE_NO_EXTENSIONS=1``). ``Resampler(in_rate: int, out_rate: int,
#: preset: str = "default")``; methods ``process(data, out=None)``,
#: ``flush(out=None, *, float32=None)``, ``reset()``, ``output_length(n)``;
#: attributes ``in_rate``, ``out_rate`` (Hz), ``latency`` (output samples),
#: ``latency_ms``, ``taps``, ``ratio``, ``total_in``, ``total_out``.
Resampler = _impl.Resampler

__all__ = [
    "MAX_RATE",
    "PRESETS",
    "PolyphaseResamplerProvider",
    "Resampler",
    "ResamplerProvider",
    "resample",
]


def resample(data: Any, in_rate: int, out_rate: int, preset: str = "default") -> Any:
    """One-shot conversion of a whole signal, time-aligned with the input.

    ``data``: s16le mono bytes-like (returns ``bytes``) or a float32 array
    (returns a float32 array). The filter delay is removed: the result has
    exactly ``ceil(N * out_rate / in_rate)`` samples for ``N`` input samples
    and output sample ``k`` is the input at time ``k / out_rate`` s.
    """
    r = Resampler(in_rate, out_rate, preset)
    head = r.process(data)
    tail = r.flush()
    d = r.latency
    if isinstance(head, bytes):
        return (head + tail)[2 * d:]
    return np.concatenate([head, tail])[d:]


class ResamplerProvider(ABC):
    """Audio resampling provider: the interface of roomkit's
    ``roomkit.voice.pipeline.resampler.base.ResamplerProvider``.

    ``resample()`` takes the target format per call (the pipeline converts in
    both directions with one instance); any state is kept per ``stream``.
    """

    @property
    @abstractmethod
    def name(self) -> str:
        """Provider name."""

    @abstractmethod
    def resample(self, frame: Any, target_rate: int, target_channels: int, target_width: int,
                 stream: str) -> Any:
        """Convert ``frame`` to ``target_rate`` Hz, ``target_channels`` and
        ``target_width`` bytes per sample; return the frame itself when it
        already matches."""

    def flush(self, target_rate: int, target_channels: int, target_width: int,
              stream: str) -> Any | None:
        """Emit what one stream still holds at its end of stream, or ``None``."""
        return None

    def reset(self, stream: str | None = None) -> None:  # noqa: B027
        """Drop buffered state: one stream's, or every stream's (``None``)."""

    def close(self) -> None:  # noqa: B027
        """Release resources."""


_INT_DTYPES = {1: np.dtype("i1"), 2: np.dtype("<i2"), 4: np.dtype("<i4")}
_SCALE = {1: 128.0, 2: 32768.0, 4: 2147483648.0}


def _check_format(rate: Any, channels: Any, width: Any, what: str) -> None:
    check_rate(rate, f"{what} sample rate")
    if channels not in (1, 2):
        raise ValueError(f"{what} channels must be 1 or 2, got {channels!r}")
    if width not in (1, 2, 4):
        raise ValueError(f"{what} sample width must be 1, 2 or 4 bytes, got {width!r}")


def _to_float(data: bytes, width: int, channels: int) -> np.ndarray:
    if len(data) % (width * channels):
        raise ValueError(
            f"frame data length {len(data)} is not a multiple of sample_width * channels "
            f"({width * channels})")
    x = np.frombuffer(data, dtype=_INT_DTYPES[width]).astype(np.float32)
    x *= np.float32(1.0 / _SCALE[width])
    return x.reshape(-1, channels)


def _from_float(y: np.ndarray, width: int) -> bytes:
    v = np.nan_to_num(y.astype(np.float64) * _SCALE[width])
    lo, hi = -_SCALE[width], _SCALE[width] - 1
    return np.clip(np.rint(v), lo, hi).astype(_INT_DTYPES[width]).tobytes()


class _State:
    __slots__ = ("frame_type", "resamplers")

    def __init__(self, resamplers: list[Any], frame_type: type) -> None:
        self.resamplers = resamplers
        self.frame_type = frame_type


class PolyphaseResamplerProvider(ResamplerProvider):
    """roomkit-compatible resampler provider on voicecore's native resampler.

    Streaming and stateful: each (stream, source rate, target rate, channel)
    has its own filter history, so consecutive 20 ms frames join without
    clicks and two streams never mix. The delay is the resampler's group
    delay (2.375 ms when 8 kHz is involved); ``flush()`` emits the last
    ``latency`` samples of a stream and forgets it.

    Channels: 2 -> 1 averages left and right, 1 -> 2 duplicates. Widths 1
    (signed 8-bit, as roomkit), 2 (s16le) and 4 (s32le); anything else is a
    ``ValueError``. Mono s16 -> mono s16 (the telephony case) runs without
    leaving native code.
    """

    def __init__(self, preset: str = "default") -> None:
        if preset not in PRESETS:
            raise ValueError(f"unknown resampler preset {preset!r}; choose one of {sorted(PRESETS)}")
        self._preset = preset
        self._state: dict[tuple[str, int, int, int], _State] = {}

    @property
    def name(self) -> str:
        return "voicecore-polyphase"

    def _get(self, stream: str, src_rate: int, dst_rate: int, nch: int, frame_type: type) -> _State:
        key = (stream, src_rate, dst_rate, nch)
        st = self._state.get(key)
        if st is None:
            st = _State([Resampler(src_rate, dst_rate, self._preset) for _ in range(nch)], frame_type)
            self._state[key] = st
        st.frame_type = frame_type
        return st

    def resample(self, frame: Any, target_rate: int, target_channels: int, target_width: int,
                 stream: str) -> Any:
        src_rate, src_ch, src_w = frame.sample_rate, frame.channels, frame.sample_width
        if src_rate == target_rate and src_ch == target_channels and src_w == target_width:
            return frame
        _check_format(src_rate, src_ch, src_w, "input frame")
        _check_format(target_rate, target_channels, target_width, "target")
        data = frame.data
        if src_ch == 1 and target_channels == 1 and src_w == 2 and target_width == 2:
            if len(data) & 1:
                raise ValueError(f"s16le frame data must have an even byte count, got {len(data)}")
            st = self._get(stream, src_rate, target_rate, 1, type(frame))
            out = st.resamplers[0].process(data)
        else:
            x = _to_float(data, src_w, src_ch)
            if src_ch == 2 and target_channels == 1:
                x = x.mean(axis=1, dtype=np.float32).reshape(-1, 1)
            nch = x.shape[1]
            if src_rate != target_rate:
                st = self._get(stream, src_rate, target_rate, nch, type(frame))
                cols = [st.resamplers[c].process(np.ascontiguousarray(x[:, c])) for c in range(nch)]
                x = np.stack(cols, axis=1) if cols else x
            if nch == 1 and target_channels == 2:
                x = np.repeat(x, 2, axis=1)
            out = _from_float(x.reshape(-1), target_width)
        return type(frame)(
            data=out,
            sample_rate=target_rate,
            channels=target_channels,
            sample_width=target_width,
            timestamp_ms=frame.timestamp_ms,
            metadata=dict(frame.metadata),
        )

    def flush(self, target_rate: int, target_channels: int, target_width: int,
              stream: str) -> Any | None:
        """Emit one stream's last ``latency`` samples (silence as look-ahead) and
        forget its state; ``None`` when that stream holds nothing."""
        key = next((k for k in self._state if k[0] == stream and k[2] == target_rate), None)
        if key is None:
            return None
        st = self._state.pop(key)
        _check_format(target_rate, target_channels, target_width, "target")
        if st.resamplers[0].total_in == 0:
            return None
        cols = [r.flush(float32=True) for r in st.resamplers]
        x = np.stack(cols, axis=1)
        if x.shape[1] == 2 and target_channels == 1:
            x = x.mean(axis=1, dtype=np.float32).reshape(-1, 1)
        elif x.shape[1] == 1 and target_channels == 2:
            x = np.repeat(x, 2, axis=1)
        return st.frame_type(
            data=_from_float(x.reshape(-1), target_width),
            sample_rate=target_rate,
            channels=target_channels,
            sample_width=target_width,
        )

    def reset(self, stream: str | None = None) -> None:
        """Drop filter state: one stream's, or every stream's."""
        if stream is None:
            self._state.clear()
            return
        for k in [k for k in self._state if k[0] == stream]:
            del self._state[k]

    def close(self) -> None:
        """Release every stream's state."""
        self._state.clear()

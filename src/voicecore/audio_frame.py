"""AudioFrame: one frame of inbound audio for pipeline processing.

Drop-in compatible with ``roomkit.voice.audio_frame`` (same fields, defaults,
validation and error messages).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["AudioFrame"]

_MAX_SAMPLE_RATE = 192_000


@dataclass
class AudioFrame:
    """A single frame of inbound audio (caller -> agent).

    Flows through the pipeline stages (denoiser -> VAD -> diarization); each
    stage may annotate ``metadata``. Outbound audio uses
    :class:`~voicecore.base.AudioChunk` instead.

    Attributes:
        data: Interleaved PCM bytes, ``sample_width`` bytes per sample
            (2 = s16le), length a multiple of ``sample_width * channels``.
        sample_rate: Hz, 1 to 192000.
        channels: 1 (mono) or 2 (stereo).
        sample_width: Bytes per sample: 1, 2 or 4.
        timestamp_ms: Position relative to the session start, in ms.
        metadata: Free-form annotations of the pipeline stages.

    Raises:
        ValueError: ``data`` is not ``bytes``, or a field is out of range, or
            ``data`` does not hold a whole number of frames.
    """

    data: bytes
    sample_rate: int = 16000
    channels: int = 1
    sample_width: int = 2
    timestamp_ms: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        data = self.data
        if not isinstance(data, bytes):
            raise ValueError("AudioFrame.data must be bytes")
        rate = self.sample_rate
        if rate <= 0 or rate > _MAX_SAMPLE_RATE:
            raise ValueError(f"sample_rate must be between 1 and 192000, got {rate}")
        channels = self.channels
        if channels not in (1, 2):
            raise ValueError(f"channels must be 1 or 2, got {channels}")
        width = self.sample_width
        if width not in (1, 2, 4):
            raise ValueError(f"sample_width must be 1, 2, or 4, got {width}")
        block = width * channels
        if len(data) % block:
            raise ValueError(
                f"data length ({len(data)}) must be divisible by "
                f"sample_width * channels ({block})"
            )

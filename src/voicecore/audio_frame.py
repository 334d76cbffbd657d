"""AudioFrame: one frame of inbound audio for pipeline processing.

Drop-in compatible with ``roomkit.voice.audio_frame``: same fields, defaults,
validation and value-error messages; a wrong type raises ``TypeError`` (see
:class:`AudioFrame`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Real
from typing import Any

from voicecore._checks import RoomkitTypeError, type_name

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
        TypeError: ``data`` is not ``bytes``, or ``channels`` or
            ``sample_width`` is not a number. These are also ``ValueError``
            (roomkit raises ``ValueError`` for them), so ``except ValueError``
            written for roomkit still catches them. A ``sample_rate`` that is
            not a number raises a plain ``TypeError``, as in roomkit.
        ValueError: A field is out of range, or ``data`` does not hold a
            whole number of frames (roomkit's messages, word for word).
    """

    data: bytes
    sample_rate: int = 16000
    channels: int = 1
    sample_width: int = 2
    timestamp_ms: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Checks run in roomkit's order (the first failing one is reported);
        # the type checks sit in the failure branches so a valid frame costs
        # no more than roomkit's checks.
        data = self.data
        if not isinstance(data, bytes):
            raise RoomkitTypeError(
                f"AudioFrame.data must be bytes, got {type(data).__name__}"
                + (" (convert it with bytes(...))" if isinstance(data, (bytearray, memoryview)) else "")
            )
        rate = self.sample_rate
        try:
            rate_ok = 0 < rate <= _MAX_SAMPLE_RATE
        except TypeError:
            raise TypeError(
                f"AudioFrame.sample_rate must be a number of Hz between 1 and 192000, "
                f"got {type_name(rate)}"
            ) from None
        if not rate_ok:
            raise ValueError(f"sample_rate must be between 1 and 192000, got {rate}")
        channels = self.channels
        if channels not in (1, 2):
            if not isinstance(channels, Real):
                raise RoomkitTypeError(f"AudioFrame.channels must be 1 or 2, got {type_name(channels)}")
            raise ValueError(f"channels must be 1 or 2, got {channels}")
        width = self.sample_width
        if width not in (1, 2, 4):
            if not isinstance(width, Real):
                raise RoomkitTypeError(
                    f"AudioFrame.sample_width must be 1, 2, or 4 (bytes), got {type_name(width)}"
                )
            raise ValueError(f"sample_width must be 1, 2, or 4, got {width}")
        block = width * channels
        if len(data) % block:
            raise ValueError(
                f"data length ({len(data)}) must be divisible by "
                f"sample_width * channels ({block})"
            )

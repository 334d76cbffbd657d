"""Core voice data model: sessions, capabilities, audio chunks, transcriptions.

Drop-in compatible with ``roomkit.voice.base`` (roomkit 0.109): the same
names, constructor parameters, defaults and behaviour, without depending on
roomkit. :class:`AudioContent` mirrors ``roomkit.models.event.AudioContent``
(a pydantic model there, a validated dataclass here, so that numpy stays the
only runtime dependency).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Flag, StrEnum, auto, unique
from numbers import Real
from typing import Any, Literal

from voicecore._checks import RoomkitTypeError, type_name
from voicecore._errors import VoiceSessionEndedError

__all__ = [
    "PCM16_FORMATS",
    "AudioChunk",
    "AudioContent",
    "BargeInCallback",
    "PartialTranscriptionCallback",
    "SpeakerSegment",
    "SpeechEndCallback",
    "SpeechStartCallback",
    "TranscriptionResult",
    "VADAudioLevelCallback",
    "VADSilenceCallback",
    "VoiceCapability",
    "VoiceSession",
    "VoiceSessionEndedError",
    "VoiceSessionState",
    "require_pcm16",
    "speaker_label",
]

logger = logging.getLogger("voicecore.voice")


@unique
class VoiceSessionState(StrEnum):
    """State of a voice session (values are the lower-case names)."""

    CONNECTING = "connecting"
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"


def _foreign_capability(other: object) -> int | None:
    """The value of another package's ``VoiceCapability`` flag (roomkit's), else None."""
    if isinstance(other, Flag) and type(other).__name__ == "VoiceCapability":
        value = other.value
        if isinstance(value, int):
            return value
    return None


class VoiceCapability(Flag):
    """Optional features a :class:`~voicecore.backends.base.VoiceBackend` supports.

    Combine with ``|``; a backend reports them through its ``capabilities``
    property. Member values match roomkit's (``NONE`` is 0, then powers of two
    in declaration order).

    Interoperates with roomkit's own ``VoiceCapability`` by value: roomkit
    code asks ``VoiceCapability.BARGE_IN in backend.capabilities`` with *its*
    member, so ``in``, ``|``, ``&``, ``^`` and ``==`` accept a flag of any
    class named ``VoiceCapability`` (results are voicecore members).
    """

    NONE = 0
    """No optional capabilities (default)."""

    INTERRUPTION = auto()
    """Backend can cancel ongoing audio playback (``cancel_audio``)."""

    BARGE_IN = auto()
    """Backend detects and handles barge-in (user interrupts TTS)."""

    NATIVE_AEC = auto()
    """Backend provides its own acoustic echo cancellation."""

    NATIVE_AGC = auto()
    """Backend provides its own automatic gain control."""

    DTMF_INBAND = auto()
    """Backend can detect DTMF tones in the audio stream."""

    DTMF_SIGNALING = auto()
    """Backend receives DTMF out of band (RFC 4733 events, SIP INFO)."""

    NATIVE_BRIDGE = auto()
    """Backend can bridge audio at the transport level (RTP relay)."""

    def _coerce(self, other: object) -> Any:
        value = _foreign_capability(other)
        return other if value is None or isinstance(other, VoiceCapability) else type(self)(value)

    def __contains__(self, other: object) -> bool:
        return Flag.__contains__(self, self._coerce(other))

    def __or__(self, other: Any) -> Any:
        return Flag.__or__(self, self._coerce(other))

    def __and__(self, other: Any) -> Any:
        return Flag.__and__(self, self._coerce(other))

    def __xor__(self, other: Any) -> Any:
        return Flag.__xor__(self, self._coerce(other))

    __ror__ = __or__
    __rand__ = __and__
    __rxor__ = __xor__

    def __eq__(self, other: object) -> bool:
        value = _foreign_capability(other)
        if value is not None and not isinstance(other, VoiceCapability):
            return self._value_ == value
        return self is other

    __hash__ = Flag.__hash__


@dataclass
class AudioChunk:
    """A chunk of audio for streaming (outbound TTS, STT input).

    Attributes:
        data: The audio bytes, laid out as ``format`` says (by default s16le).
        sample_rate: Samples per second per channel, in Hz.
        channels: Interleaved channel count.
        format: ``"pcm_s16le"`` (or ``"pcm"``) for 16-bit signed little-endian
            PCM; anything else is encoded audio.
        timestamp_ms: Position of the chunk in the stream, in ms, if known.
        is_final: True on the last chunk of a stream.
    """

    data: bytes
    sample_rate: int = 16000
    channels: int = 1
    format: str = "pcm_s16le"
    timestamp_ms: int | None = None
    is_final: bool = False


PCM16_FORMATS = frozenset({"pcm", "pcm_s16le"})
"""The ``AudioChunk.format`` values that carry 16-bit signed PCM."""


def require_pcm16(chunk: AudioChunk, consumer: str) -> None:
    """Raise ``ValueError`` unless *chunk* is 16-bit signed PCM.

    Encoded audio is refused because encoding belongs to the backend; PCM of
    another width is refused because reading it as s16le would play noise.

    Args:
        chunk: The chunk to check (its ``format``).
        consumer: Who needs PCM16, named in the error message.

    Raises:
        ValueError: *chunk* is not 16-bit signed PCM.
    """
    fmt = chunk.format
    if not fmt.startswith("pcm"):
        raise ValueError(
            f"{consumer} expects decoded PCM, got format {fmt!r}. Encoding "
            "belongs to the backend: configure the audio source for PCM output."
        )
    if fmt not in PCM16_FORMATS:
        raise ValueError(
            f"{consumer} plays 16-bit signed PCM, and this chunk is {fmt!r}. "
            f"Reinterpreting it would play noise rather than fail. Accepted: "
            f"{sorted(PCM16_FORMATS)}."
        )


def _utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


# The documented state machine. ENDED has no way out: it is terminal.
_ALLOWED_TRANSITIONS: dict[VoiceSessionState, frozenset[VoiceSessionState]] = {
    VoiceSessionState.CONNECTING: frozenset({VoiceSessionState.ACTIVE, VoiceSessionState.ENDED}),
    VoiceSessionState.ACTIVE: frozenset({VoiceSessionState.PAUSED, VoiceSessionState.ENDED}),
    VoiceSessionState.PAUSED: frozenset({VoiceSessionState.ACTIVE, VoiceSessionState.ENDED}),
    VoiceSessionState.ENDED: frozenset(),
}


@dataclass
class VoiceSession:
    """A participant's live voice connection.

    ``state`` is guarded: moving out of ``ENDED`` raises
    :class:`VoiceSessionEndedError` (a participant who reconnects gets a new
    session); any other move outside the documented table
    (CONNECTING -> ACTIVE|ENDED, ACTIVE -> PAUSED|ENDED, PAUSED -> ACTIVE|ENDED)
    is logged as a warning and allowed. :meth:`renegotiate` is the one
    sanctioned way back to CONNECTING from any state.
    """

    id: str
    room_id: str
    participant_id: str
    channel_id: str
    state: VoiceSessionState = VoiceSessionState.CONNECTING
    provider_session_id: str | None = None
    created_at: datetime = field(default_factory=_utcnow)
    metadata: dict[str, Any] = field(default_factory=dict)
    _last_usage: dict[str, Any] = field(default_factory=dict)

    @property
    def last_usage(self) -> dict[str, Any]:
        """A copy of the provider's last usage report (empty until the first)."""
        return dict(self._last_usage)

    def renegotiate(self) -> None:
        """Put the session back to CONNECTING for a provider renegotiation.

        The framework calls this when it tears the upstream connection down to
        rebuild it (voice or tool swap) while the participant stays. It is the
        only way out of ENDED and bypasses the guard on purpose.
        """
        object.__setattr__(self, "state", VoiceSessionState.CONNECTING)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "state":
            _check_transition(self, self.__dict__.get("state"), value)
        object.__setattr__(self, name, value)


def _check_transition(session: VoiceSession, current: Any, new: Any) -> None:
    """Refuse leaving ENDED, log an undocumented move; no-op on first set."""
    if current is None or current == new:
        return
    # ``==``, not ``is``: an ENDED given as roomkit's member or as the plain
    # string "ended" is just as terminal.
    if current == VoiceSessionState.ENDED:
        raise VoiceSessionEndedError(
            f"Voice session {session.id} has ended; it cannot move to "
            f"{new}. Create a new session for a reconnecting "
            f"participant (RFC §12.1)."
        )
    if new not in _ALLOWED_TRANSITIONS.get(current, frozenset()):
        logger.warning(
            "Voice session %s made an undocumented transition %s -> %s",
            session.__dict__.get("id", "?"),
            current,
            new,
        )


# Spellings of "no speaker attributed" across vendors, compared lower-cased.
_NO_SPEAKER = frozenset({"", "unknown", "uu", "pending"})
_SPEAKER_WORD = re.compile(r"^speaker[\s_:#-]*", re.IGNORECASE)


def speaker_label(value: Any) -> str | None:
    """Normalise a vendor's speaker label.

    Returns the label as a string without a leading "speaker" word
    (``"Speaker 1"`` and ``"speaker_1"`` both give ``"1"``, ``0`` gives
    ``"0"``), or ``None`` for a speaker the vendor could not attribute
    (``None``, ``""``, ``"unknown"``, ``"UU"``, ``"PENDING"``).
    """
    if value is None:
        return None
    text = str(value).strip()
    if text.lower() in _NO_SPEAKER:
        return None
    stripped = _SPEAKER_WORD.sub("", text)
    return stripped if stripped else text


@dataclass(frozen=True)
class SpeakerSegment:
    """One speaker's part of a transcription.

    Attributes:
        speaker: The provider's label (stable within one STT stream), or
            ``None`` when unattributed.
        text: The words that speaker said.
        start_ms: Segment start from the start of the stream, in ms, if known.
        end_ms: Segment end, in ms, if known.
    """

    speaker: str | None
    text: str
    start_ms: int | None = None
    end_ms: int | None = None


@dataclass
class TranscriptionResult:
    """Result of speech-to-text.

    Attributes:
        text: The transcribed text.
        is_final: False for an interim (partial) result.
        confidence: 0.0 to 1.0, when the provider reports one.
        language: The language the provider reports (never an echo of the request).
        words: Per-word details as the provider reports them.
        is_speech_start: Set by providers with server-side VAD on speech onset.
        segments: Who said which part of ``text``, in order (diarization).
    """

    text: str
    is_final: bool = True
    confidence: float | None = None
    language: str | None = None
    words: list[dict[str, Any]] = field(default_factory=list)
    is_speech_start: bool = False
    segments: list[SpeakerSegment] = field(default_factory=list)

    @property
    def speaker(self) -> str | None:
        """The one label all segments share, else ``None``."""
        labels = {segment.speaker for segment in self.segments}
        if len(labels) != 1:
            return None
        return next(iter(labels))


_AUDIO_URL_PREFIXES = ("http://", "https://", "data:")


@dataclass(kw_only=True)
class AudioContent:
    """Audio message content (mirrors ``roomkit.models.event.AudioContent``).

    Keyword-only, like the pydantic model it mirrors.

    Attributes:
        type: Always ``"audio"``.
        url: Where the audio is: ``http://``, ``https://`` or a ``data:`` URL.
        mime_type: MIME type of the audio (default ``"audio/ogg"``).
        duration_seconds: Length in seconds (>= 0), if known.
        transcript: The spoken text, if known.

    Raises:
        ValueError: ``url`` has another scheme, or ``duration_seconds`` < 0
            (roomkit's messages).
        TypeError: ``url``, ``mime_type`` or ``transcript`` is not a str, or
            ``duration_seconds`` is not a number (numbers and numeric strings
            become a float, as pydantic does in roomkit). Also a
            ``ValueError``, as pydantic's ValidationError is in roomkit.
    """

    type: Literal["audio"] = "audio"
    url: str
    mime_type: str = "audio/ogg"
    duration_seconds: float | None = None
    transcript: str | None = None

    def __post_init__(self) -> None:
        if self.type != "audio":
            raise ValueError(f"AudioContent.type must be 'audio', got {self.type!r}")
        if not isinstance(self.url, str):
            raise RoomkitTypeError(
                f"AudioContent.url must be a str starting with http://, https:// or data:, "
                f"got {type_name(self.url)}"
            )
        if not self.url.startswith(_AUDIO_URL_PREFIXES):
            raise ValueError("URL must start with http://, https://, or data:")
        for name in ("mime_type", "transcript"):
            value = getattr(self, name)
            if not isinstance(value, str) and not (value is None and name == "transcript"):
                raise RoomkitTypeError(f"AudioContent.{name} must be a str, got {type_name(value)}")
        duration = self.duration_seconds
        if duration is not None:
            # pydantic's lax float, as in roomkit: numbers, bools and numeric
            # strings become a float; anything else is a type error.
            try:
                if not isinstance(duration, (Real, str)):
                    raise TypeError
                duration = self.duration_seconds = float(duration)
            except (TypeError, ValueError):
                raise RoomkitTypeError(
                    f"AudioContent.duration_seconds must be a number of seconds >= 0 or None, "
                    f"got {type_name(duration)}"
                ) from None
        if duration is not None and not duration >= 0.0:
            raise ValueError(
                f"duration_seconds must be greater than or equal to 0, "
                f"got {self.duration_seconds}"
            )

    def model_dump(self) -> dict[str, Any]:
        """The fields as a dict, like pydantic's ``model_dump()``."""
        return {
            "type": self.type,
            "url": self.url,
            "mime_type": self.mime_type,
            "duration_seconds": self.duration_seconds,
            "transcript": self.transcript,
        }


# Callback type aliases. BargeInCallback is roomkit 0.109's; the other five are
# the ones earlier roomkit releases defined here (kept for code written against them).
SpeechStartCallback = Callable[[VoiceSession], Any]
"""Speech started: ``(session)``."""

SpeechEndCallback = Callable[[VoiceSession, bytes], Any]
"""Speech ended: ``(session, audio)``, audio as s16le bytes."""

PartialTranscriptionCallback = Callable[[VoiceSession, str, float, bool], Any]
"""Partial transcription: ``(session, text, confidence, is_stable)``."""

VADSilenceCallback = Callable[[VoiceSession, int], Any]
"""Silence detected: ``(session, silence_duration_ms)``."""

VADAudioLevelCallback = Callable[[VoiceSession, float, bool], Any]
"""Audio level: ``(session, level_db, is_speech)``, level in dBFS."""

BargeInCallback = Callable[[VoiceSession], Any]
"""Barge-in detected: ``(session)``."""

"""Voice event types (drop-in for ``roomkit.voice.events``).

Every event is a frozen dataclass with the same fields, order and defaults as
roomkit's; ``timestamp`` defaults to the creation time in UTC. ``DTMFEvent``
(a detected tone, ``roomkit.voice.pipeline.dtmf.base.DTMFEvent`` in roomkit)
lives here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from voicecore.audio_frame import AudioFrame
    from voicecore.base import VoiceSession

__all__ = [
    "AudioLevelEvent",
    "BackchannelEvent",
    "BargeInEvent",
    "BridgeAudioEvent",
    "DTMFDetectedEvent",
    "DTMFEvent",
    "PartialTranscriptionEvent",
    "RecordingStartedEvent",
    "RecordingStoppedEvent",
    "SpeakerChangeEvent",
    "TTSCancelledEvent",
    "TranscriptionEvent",
    "TurnCompleteEvent",
    "TurnIncompleteEvent",
    "VADAudioLevelEvent",
    "VADSilenceEvent",
]


def _utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class BargeInEvent:
    """The user started speaking while TTS was playing.

    Attributes:
        session: Where it happened.
        interrupted_text: The text being spoken when interrupted.
        audio_position_ms: How much of the TTS audio the user heard, in ms.
        timestamp: When it was detected (UTC).
    """

    session: VoiceSession
    interrupted_text: str
    audio_position_ms: int
    timestamp: datetime = field(default_factory=_utcnow)


@dataclass(frozen=True)
class TTSCancelledEvent:
    """TTS playback stopped before completion.

    Attributes:
        session: Where it happened.
        reason: ``"barge_in"``, ``"explicit"``, ``"disconnect"`` or ``"error"``.
        text: The text being synthesized.
        audio_position_ms: How much of the audio the user heard, in ms (0 if none).
        timestamp: When it was cancelled (UTC).
    """

    session: VoiceSession
    reason: Literal["barge_in", "explicit", "disconnect", "error"]
    text: str
    audio_position_ms: int
    timestamp: datetime = field(default_factory=_utcnow)


@dataclass(frozen=True)
class TranscriptionEvent:
    """A final transcription with the session that produced it.

    Attributes:
        session: The session that produced it.
        text: The transcribed text.
        language: The language the STT reports, if any.
        timestamp: When it was produced (UTC).
        speaker: The STT's speaker label, if it diarizes.
        speaker_epoch: Which of the session's STT streams the label is from.
        sender_name: The name the room message will carry.
        participant_id: The participant a hook matched the speaker to.
    """

    session: VoiceSession
    text: str
    language: str | None = None
    timestamp: datetime = field(default_factory=_utcnow)
    speaker: str | None = None
    speaker_epoch: int | None = None
    sender_name: str | None = None
    participant_id: str | None = None


@dataclass(frozen=True)
class PartialTranscriptionEvent:
    """An interim transcription during speech.

    Attributes:
        session: The session being transcribed.
        text: The current text (may still change).
        confidence: 0.0 to 1.0.
        is_stable: True if this part is unlikely to change.
        role: ``"user"`` (input) or ``"assistant"`` (AI output).
        language: The language the STT reports, if any.
        timestamp: When it was received (UTC).
    """

    session: VoiceSession
    text: str
    confidence: float
    is_stable: bool
    role: str = "user"
    language: str | None = None
    timestamp: datetime = field(default_factory=_utcnow)


@dataclass(frozen=True)
class VADSilenceEvent:
    """Silence detected after speech.

    Attributes:
        session: Where it happened.
        silence_duration_ms: Length of the silence so far, in ms.
        timestamp: When it was detected (UTC).
    """

    session: VoiceSession
    silence_duration_ms: int
    timestamp: datetime = field(default_factory=_utcnow)


@dataclass(frozen=True)
class VADAudioLevelEvent:
    """Periodic input level for UI feedback.

    Attributes:
        session: The session.
        level_db: Level in dBFS (about -60 to 0; 0 is full scale).
        is_speech: The VAD's speech decision for this audio.
        timestamp: When it was measured (UTC).
    """

    session: VoiceSession
    level_db: float
    is_speech: bool
    timestamp: datetime = field(default_factory=_utcnow)


@dataclass(frozen=True)
class AudioLevelEvent:
    """Per-frame input or output level (VU meters), in dBFS."""

    session: VoiceSession
    level_db: float
    timestamp: datetime = field(default_factory=_utcnow)


@dataclass(frozen=True)
class SpeakerChangeEvent:
    """A different speaker detected (``source`` ``"pipeline"`` or ``"stt"``).

    ``confidence`` is 0.0 to 1.0 or ``None``; ``speaker_epoch`` is the STT
    stream of an STT label, ``None`` for the pipeline.
    """

    session: VoiceSession
    speaker_id: str
    confidence: float | None
    is_new_speaker: bool
    timestamp: datetime = field(default_factory=_utcnow)
    source: str = "pipeline"
    speaker_epoch: int | None = None


@dataclass(frozen=True)
class DTMFDetectedEvent:
    """A DTMF tone detected in a session.

    Attributes:
        session: Where it was detected.
        digit: ``'0'``-``'9'``, ``'*'``, ``'#'``, ``'A'``-``'D'`` (raw).
        duration_ms: Tone duration in ms.
        confidence: 0.0 to 1.0.
        redacted_digit: The digit as masked for logs; equals ``digit`` when
            left empty.
        timestamp: When it was detected (UTC).
    """

    session: VoiceSession
    digit: str
    duration_ms: float
    confidence: float = 1.0
    redacted_digit: str = ""
    timestamp: datetime = field(default_factory=_utcnow)

    def __post_init__(self) -> None:
        if not self.redacted_digit:
            object.__setattr__(self, "redacted_digit", self.digit)


@dataclass
class DTMFEvent:
    """A detected DTMF tone (no session attached).

    Attributes:
        digit: ``'0'``-``'9'``, ``'*'``, ``'#'``, ``'A'``-``'D'``.
        duration_ms: Tone duration in ms.
        confidence: 0.0 to 1.0.
    """

    digit: str
    duration_ms: float
    confidence: float = 1.0


@dataclass(frozen=True)
class TurnCompleteEvent:
    """The user's turn is considered complete (``text`` is the whole turn)."""

    session: VoiceSession
    text: str
    confidence: float = 1.0
    timestamp: datetime = field(default_factory=_utcnow)


@dataclass(frozen=True)
class TurnIncompleteEvent:
    """The user's turn is not complete yet (``text`` accumulated so far)."""

    session: VoiceSession
    text: str
    confidence: float = 1.0
    timestamp: datetime = field(default_factory=_utcnow)


@dataclass(frozen=True)
class BackchannelEvent:
    """A backchannel utterance ("uh-huh", "yeah") detected."""

    session: VoiceSession
    text: str
    confidence: float = 1.0
    timestamp: datetime = field(default_factory=_utcnow)


@dataclass(frozen=True)
class RecordingStartedEvent:
    """Recording started (before any audio is captured). ``session`` is ``None`` for a room recorder."""

    session: VoiceSession | None = None
    id: str = ""
    room_id: str = ""
    timestamp: datetime = field(default_factory=_utcnow)


@dataclass(frozen=True)
class RecordingStoppedEvent:
    """Recording stopped; ``urls`` hold the files, ``duration_seconds`` their length in s."""

    session: VoiceSession | None = None
    id: str = ""
    urls: tuple[str, ...] = ()
    duration_seconds: float = 0.0
    timestamp: datetime = field(default_factory=_utcnow)
    room_id: str = ""


@dataclass
class BridgeAudioEvent:
    """An audio frame about to be forwarded through a bridge."""

    session: VoiceSession
    frame: AudioFrame
    room_id: str = ""
    timestamp: datetime = field(default_factory=_utcnow)

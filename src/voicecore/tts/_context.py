"""TTS conversation-context types (mirror ``roomkit.voice.tts.context``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from voicecore.audio_frame import AudioFrame

__all__ = ["ConversationTurn", "TTSContext", "TTSContextLevel"]


class TTSContextLevel(StrEnum):
    """What conversation context a TTS provider consumes (each includes the previous)."""

    NONE = "none"
    """Nothing: every call is a sentence in isolation (default)."""
    SELF = "self"
    """Which of its own previous turns were played, and how far."""
    TEXT = "text"
    """The text of every turn, both roles."""
    AUDIO = "audio"
    """The text and the audio of every turn."""


@dataclass(frozen=True)
class ConversationTurn:
    """One turn of the dialogue heard on a voice session.

    ``played_ms`` (ms of audio actually played) and ``interrupted`` apply to
    assistant turns.
    """

    turn_id: str
    role: Literal["user", "assistant"]
    participant_id: str
    text: str
    audio: AudioFrame | None = None
    played_ms: int | None = None
    interrupted: bool = False


@dataclass(frozen=True)
class TTSContext:
    """Snapshot of a session's dialogue passed to one synthesis call (oldest first)."""

    context_id: str
    turns: tuple[ConversationTurn, ...]
    next_turn_id: str

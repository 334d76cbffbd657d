"""Exceptions of the voice API (names follow ``roomkit.core.exceptions``)."""

from __future__ import annotations

__all__ = ["VoiceCoreError", "VoiceSessionEndedError"]


class VoiceCoreError(Exception):
    """Base class of voicecore's own errors (roomkit's ``RoomKitError``)."""


class VoiceSessionEndedError(VoiceCoreError):
    """A voice session was moved out of ENDED.

    ENDED is terminal: a participant who reconnects gets a new session, the
    old one's audio paths have already been released.
    """

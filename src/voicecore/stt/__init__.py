"""Speech-to-text providers (``voicecore.stt``)."""

from voicecore.stt.base import STTProvider
from voicecore.stt.mock import MockSTTProvider

__all__ = ["MockSTTProvider", "STTProvider"]

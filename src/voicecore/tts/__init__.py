"""Text-to-speech providers (``voicecore.tts``)."""

from voicecore.tts.base import TTSProvider
from voicecore.tts.mock import MockTTSProvider

__all__ = ["MockTTSProvider", "TTSProvider"]

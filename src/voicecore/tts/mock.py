"""Mock text-to-speech provider for tests (drop-in for ``roomkit.voice.tts.mock``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

from voicecore.base import AudioChunk, AudioContent
from voicecore.tts._context import TTSContext, TTSContextLevel
from voicecore.tts.base import TTSProvider

__all__ = ["MockTTSProvider"]

# Duration the mock reports per character of text, in seconds.
_SECONDS_PER_CHAR = 0.05


class MockTTSProvider(TTSProvider):
    """Text-to-speech double.

    ``synthesize`` returns an :class:`AudioContent` with a fake
    ``https://mock.test/audio/<hex>.mp3`` URL, ``audio/mpeg``, the text as
    transcript and 50 ms per character as duration. ``synthesize_stream``
    yields one 16000 Hz chunk per word whose bytes are ``mock-audio-<word>``
    padded to an even length, the last marked ``is_final``.

    Args:
        voice: The default voice id.
        context_level: The conversation context level it declares.

    Attributes:
        calls: ``{"text", "voice"}`` per synthesis call.
        contexts: The ``context`` given to each streaming call.
        released: Context ids passed to ``release_context``.
    """

    def __init__(
        self,
        voice: str = "mock-voice",
        *,
        context_level: TTSContextLevel = TTSContextLevel.NONE,
    ) -> None:
        self._default_voice = voice
        self._context_level = context_level
        self.calls: list[dict[str, str | None]] = []
        self.contexts: list[TTSContext | None] = []
        self.released: list[str] = []

    @property
    def context_level(self) -> TTSContextLevel:
        return self._context_level

    def release_context(self, context_id: str) -> None:
        self.released.append(context_id)

    @property
    def default_voice(self) -> str:
        return self._default_voice

    async def synthesize(self, text: str, *, voice: str | None = None) -> AudioContent:
        self.calls.append({"text": text, "voice": voice or self._default_voice})
        return AudioContent(
            url=f"https://mock.test/audio/{uuid4().hex}.mp3",
            mime_type="audio/mpeg",
            transcript=text,
            duration_seconds=len(text) * _SECONDS_PER_CHAR,
        )

    async def synthesize_stream(
        self, text: str, *, voice: str | None = None, context: TTSContext | None = None
    ) -> AsyncIterator[AudioChunk]:
        self.calls.append({"text": text, "voice": voice or self._default_voice})
        self.contexts.append(context)
        words = text.split()
        last = len(words) - 1
        for i, word in enumerate(words):
            payload = f"mock-audio-{word}".encode()
            if len(payload) & 1:
                payload += b"\x00"  # whole s16le samples
            yield AudioChunk(data=payload, sample_rate=16000, is_final=i == last)

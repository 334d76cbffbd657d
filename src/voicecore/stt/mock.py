"""Mock speech-to-text provider for tests (drop-in for ``roomkit.voice.stt.mock``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from voicecore.base import AudioChunk, TranscriptionResult
from voicecore.stt.base import STTProvider

if TYPE_CHECKING:
    from voicecore.audio_frame import AudioFrame
    from voicecore.base import AudioContent

__all__ = ["MockSTTProvider"]


class MockSTTProvider(STTProvider):
    """Speech-to-text double that returns canned transcripts.

    Args:
        transcripts: Texts returned in turn, cycling (default
            ``["Hello", "How can I help you?"]``; an empty list also means default).
        streaming: Value reported by ``supports_streaming``.
        languages: Language reported with each result, in step with
            ``transcripts`` and cycling; ``None`` entries report nothing.

    Attributes:
        calls: Every audio object received, in order (a stream adds its chunks).
        languages_requested: The ``language`` passed to each call, in order.
    """

    def __init__(
        self,
        transcripts: list[str] | None = None,
        *,
        streaming: bool = False,
        languages: list[str | None] | None = None,
    ) -> None:
        self.transcripts = transcripts or ["Hello", "How can I help you?"]
        self.calls: list[AudioContent | AudioChunk | AudioFrame] = []
        self.languages_requested: list[str | None] = []
        self._index = 0
        self._streaming = streaming
        self._languages = languages

    @property
    def supports_streaming(self) -> bool:
        return self._streaming

    @property
    def supports_language_override(self) -> bool:
        return True

    def _take(self) -> tuple[str, str | None]:
        """The next (text, reported language) pair, advancing the cycle."""
        n = self._index
        self._index = n + 1
        text = self.transcripts[n % len(self.transcripts)]
        langs = self._languages
        return text, (langs[n % len(langs)] if langs else None)

    async def transcribe(
        self,
        audio: AudioContent | AudioChunk | AudioFrame,
        *,
        language: str | None = None,
    ) -> TranscriptionResult:
        self.calls.append(audio)
        self.languages_requested.append(language)
        text, reported = self._take()
        return TranscriptionResult(text=text, language=reported)

    async def transcribe_stream(
        self,
        audio_stream: AsyncIterator[AudioChunk],
        *,
        language: str | None = None,
    ) -> AsyncIterator[TranscriptionResult]:
        self.languages_requested.append(language)
        received = [chunk async for chunk in audio_stream]
        text, reported = self._take()
        self.calls.extend(received)
        yield TranscriptionResult(text=text, is_final=True, language=reported)

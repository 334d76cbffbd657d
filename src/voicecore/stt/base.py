"""Speech-to-text provider ABC (drop-in for ``roomkit.voice.stt.base``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from voicecore.base import AudioChunk, TranscriptionResult

if TYPE_CHECKING:
    from voicecore.audio_frame import AudioFrame
    from voicecore.base import AudioContent

__all__ = ["STTProvider", "diarizes", "keeps_stream"]


def diarizes(stt: object) -> bool:
    """True only when *stt* explicitly reports ``supports_diarization is True``."""
    return getattr(stt, "supports_diarization", False) is True


def keeps_stream(stt: object) -> bool:
    """True when a continuous-mode channel should keep *stt*'s stream across turns.

    That is when it diarizes, or explicitly reports
    ``keeps_stream_across_turns is True``.
    """
    if diarizes(stt):
        return True
    return getattr(stt, "keeps_stream_across_turns", False) is True


class STTProvider(ABC):
    """Speech-to-text provider.

    Subclasses implement :meth:`transcribe`; streaming providers also override
    :meth:`transcribe_stream` and ``supports_streaming``. Audio arrives as
    :class:`~voicecore.base.AudioChunk` / :class:`~voicecore.audio_frame.AudioFrame`
    (s16le mono at their ``sample_rate`` in Hz) or as an
    :class:`~voicecore.base.AudioContent` URL.
    """

    @property
    def name(self) -> str:
        """Provider name; the class name unless overridden."""
        return type(self).__name__

    @property
    def supports_streaming(self) -> bool:
        """Whether :meth:`transcribe_stream` really streams (default False)."""
        return False

    @property
    def supports_language_override(self) -> bool:
        """Whether ``language=`` is honoured per call; callers pass it only if True."""
        return False

    @property
    def supports_diarization(self) -> bool:
        """Whether final results carry speaker ``segments`` (default False)."""
        return False

    @property
    def keeps_stream_across_turns(self) -> bool:
        """Whether one stream carries many turns, each with its final (default False)."""
        return False

    @abstractmethod
    async def transcribe(
        self,
        audio: AudioContent | AudioChunk | AudioFrame,
        *,
        language: str | None = None,
    ) -> TranscriptionResult:
        """Transcribe a complete utterance.

        Args:
            audio: The audio (s16le PCM chunk or frame, or a URL content).
            language: Language for this call only (only passed to a provider
                whose ``supports_language_override`` is True).

        Returns:
            The result; its ``language`` is what the provider reports.
        """
        ...

    async def transcribe_stream(
        self,
        audio_stream: AsyncIterator[AudioChunk],
        *,
        language: str | None = None,
    ) -> AsyncIterator[TranscriptionResult]:
        """Transcribe a stream of chunks, yielding results.

        Default: collects every chunk, joins their bytes into one chunk (at
        the first chunk's sample rate, 16000 Hz if the stream is empty), calls
        :meth:`transcribe` once and yields a single final result.
        ``language`` is forwarded only when given, so subclasses written
        against the older ``transcribe(audio)`` signature keep working.
        """
        parts: list[bytes] = []
        rate: int | None = None
        async for chunk in audio_stream:
            if rate is None:
                rate = chunk.sample_rate
            parts.append(chunk.data)
        combined = AudioChunk(data=b"".join(parts), sample_rate=16000 if rate is None else rate)
        if language is None:
            result = await self.transcribe(combined)
        else:
            result = await self.transcribe(combined, language=language)
        yield TranscriptionResult(
            text=result.text,
            is_final=True,
            confidence=result.confidence,
            language=result.language,
        )

    async def warmup(self) -> None:  # noqa: B027 - optional hook
        """Load models ahead of the first call. Default: nothing."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources. Default: nothing."""

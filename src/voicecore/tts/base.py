"""Text-to-speech provider ABC (drop-in for ``roomkit.voice.tts.base``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING

from voicecore.tts._voices import DialogueTurn, VoiceInfo, check_dialogue, filter_voices
from voicecore.tts._context import ConversationTurn, TTSContext, TTSContextLevel

if TYPE_CHECKING:
    from voicecore.base import AudioChunk, AudioContent

__all__ = [
    "ConversationTurn",
    "DialogueTurn",
    "TTSContext",
    "TTSContextLevel",
    "TTSProvider",
    "VoiceInfo",
]


class TTSProvider(ABC):
    """Text-to-speech provider.

    Subclasses implement :meth:`synthesize`; streaming providers override
    :meth:`synthesize_stream` and yield :class:`~voicecore.base.AudioChunk`
    (s16le PCM, ``sample_rate`` in Hz).
    """

    @property
    def name(self) -> str:
        """Provider name; the class name unless overridden."""
        return type(self).__name__

    @property
    def default_voice(self) -> str | None:
        """Voice used when ``voice=None`` (default ``None``)."""
        return None

    @property
    def max_dialogue_speakers(self) -> int:
        """Distinct speakers one :meth:`synthesize_dialogue` call can voice; 0 = none."""
        return 0

    @classmethod
    def available_voices(cls) -> list[VoiceInfo]:
        """Offline catalog of this provider's voices (default empty)."""
        return []

    async def list_voices(
        self,
        *,
        language: str | None = None,
        gender: str | None = None,
        query: str | None = None,
    ) -> list[VoiceInfo]:
        """The voices on offer, filtered like ``filter_voices`` (default: the catalog)."""
        return filter_voices(
            self.available_voices(), language=language, gender=gender, query=query
        )

    async def synthesize_dialogue(
        self, turns: Sequence[DialogueTurn], voices: Mapping[str, str]
    ) -> AudioContent:
        """Voice a scripted exchange in one clip.

        The default validates the request and raises ``NotImplementedError``.

        Raises:
            NotImplementedError: No dialogue support, or not implemented.
            ValueError: Unmapped speaker or too many speakers.
        """
        check_dialogue(turns, voices, max_speakers=self.max_dialogue_speakers, provider=self.name)
        raise NotImplementedError(
            f"{self.name} announces dialogue but does not implement synthesize_dialogue"
        )

    @abstractmethod
    async def synthesize(self, text: str, *, voice: str | None = None) -> AudioContent:
        """Synthesize *text* in one go.

        Args:
            text: Text to speak.
            voice: Voice id; ``default_voice`` when ``None``.

        Returns:
            The generated audio as :class:`~voicecore.base.AudioContent`.
        """
        ...

    @property
    def supports_streaming_input(self) -> bool:
        """Whether :meth:`synthesize_stream_input` is implemented (default False)."""
        return False

    @property
    def context_level(self) -> TTSContextLevel:
        """What conversation context this provider consumes (default NONE)."""
        return TTSContextLevel.NONE

    def release_context(self, context_id: str) -> None:  # noqa: B027 - optional hook
        """Drop any state kept for *context_id* (its session ended). Default: nothing."""

    async def synthesize_stream_input(
        self,
        text_stream: AsyncIterator[str],
        *,
        voice: str | None = None,
        context: TTSContext | None = None,
    ) -> AsyncIterator[AudioChunk]:
        """Stream audio from a stream of text pieces. Default: NotImplementedError."""
        raise NotImplementedError(f"{self.name} does not support streaming text input.")
        yield  # pragma: no cover - makes this an async generator

    async def synthesize_stream(
        self, text: str, *, voice: str | None = None, context: TTSContext | None = None
    ) -> AsyncIterator[AudioChunk]:
        """Stream audio chunks as they are generated. Default: NotImplementedError."""
        raise NotImplementedError(
            f"{self.name} does not support streaming synthesis. Use synthesize() instead."
        )
        yield  # pragma: no cover - makes this an async generator

    async def warmup(self) -> None:  # noqa: B027 - optional hook
        """Load models ahead of the first call. Default: nothing."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources. Default: nothing."""

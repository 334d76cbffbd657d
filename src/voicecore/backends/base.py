"""VoiceBackend ABC (drop-in for ``roomkit.voice.backends.base``)."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from voicecore._tasks import log_task_exception
from voicecore.base import AudioChunk, BargeInCallback, VoiceCapability, VoiceSession
from voicecore.events import DTMFEvent

if TYPE_CHECKING:
    from types import TracebackType

__all__ = [
    "AECTapCallback",
    "AudioPlayedCallback",
    "AudioReceivedCallback",
    "DTMFReceivedCallback",
    "PlaybackErrors",
    "SessionReadyCallback",
    "SpeakerChangeCallback",
    "TransportDisconnectCallback",
    "VoiceBackend",
]

AudioReceivedCallback = Callable[["VoiceSession", Any], Any]
"""Inbound audio: ``(session, frame)``; an AudioFrame (or bytes for realtime transports)."""

AudioPlayedCallback = Callable[["VoiceSession", Any], Any]
"""Audio as it is played out: ``(session, frame)``, time-aligned for AEC reference."""

AECTapCallback = Callable[["VoiceSession", str, Any], Any]
"""Transport AEC debug tap: ``(session, stage, frame)``."""

SessionReadyCallback = Callable[["VoiceSession"], Any]
"""A session's audio path became live: ``(session)``."""

TransportDisconnectCallback = Callable[["VoiceSession"], Any]
"""The client disconnected: ``(session)``."""

SpeakerChangeCallback = Callable[["VoiceSession", Any], Any]
"""Speaker change (diarization): ``(session, result)``."""

DTMFReceivedCallback = Callable[["VoiceSession", DTMFEvent], Any]
"""DTMF received from the transport (RFC 4733): ``(session, event)``."""

logger = logging.getLogger("voicecore.voice.backend")


class _ChunkSource(AsyncIterator[AudioChunk]):
    """Iterates a chunk stream and remembers the exception the stream raised."""

    def __init__(self, chunks: AsyncIterator[AudioChunk]) -> None:
        self._chunks = chunks
        self.failure: Exception | None = None

    def __aiter__(self) -> _ChunkSource:
        return self

    async def __anext__(self) -> AudioChunk:
        try:
            return await anext(self._chunks)
        except StopAsyncIteration:
            raise
        except Exception as exc:
            self.failure = exc
            raise


class PlaybackErrors:
    """Context manager for a backend playing a chunk stream.

    The backend's own (transport) errors are logged with *message* and
    absorbed; an exception raised by the stream being played (the TTS) is
    re-raised to the caller; cancellation passes through untouched::

        with PlaybackErrors(logger, "Error sending audio to %s", session.id) as playback:
            async for chunk in playback.watch(audio):
                ...
    """

    def __init__(self, log: logging.Logger, message: str, *args: object) -> None:
        self._log = log
        self._message = message
        self._args = args
        self._source: _ChunkSource | None = None

    def watch(self, chunks: AsyncIterator[AudioChunk]) -> _ChunkSource:
        """Wrap *chunks* so that a failure of the stream is told apart from the backend's."""
        self._source = _ChunkSource(chunks)
        return self._source

    def __enter__(self) -> PlaybackErrors:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc is not None and not isinstance(exc, Exception):
            return False  # cancellation / KeyboardInterrupt: never absorbed
        failure = None if self._source is None else self._source.failure
        if failure is not None and failure is not exc:
            raise failure
        if failure is not None or exc is None:
            return False
        self._log.error(self._message, *self._args, exc_info=exc)
        return True


class VoiceBackend(ABC):
    """Transport for real-time audio: sessions, outbound audio, inbound frames.

    A pure transport: VAD, denoising and diarization belong to the pipeline.
    Inbound audio is delivered as :class:`~voicecore.audio_frame.AudioFrame`
    (s16le) through :meth:`on_audio_received`; outbound audio is s16le PCM
    bytes or a stream of :class:`~voicecore.base.AudioChunk` given to
    :meth:`send_audio`. Optional features are declared in :attr:`capabilities`.
    """

    @property
    @abstractmethod
    def name(self) -> str:
        """Backend name (e.g. ``"rtp"``)."""
        ...

    @property
    def auto_connect(self) -> bool:
        """Whether attaching a channel should create a session itself (default False)."""
        return False

    async def connect(
        self,
        room_id: str,
        participant_id: str,
        channel_id: str,
        *,
        metadata: dict[str, Any] | None = None,
    ) -> VoiceSession:
        """Create a session for a participant (backends that initiate connections).

        Raises:
            NotImplementedError: by default; accepting backends override :meth:`accept`.
        """
        raise NotImplementedError(f"{self.name} does not implement connect()")

    @abstractmethod
    async def disconnect(self, session: VoiceSession) -> None:
        """End *session*."""
        ...

    @abstractmethod
    async def send_audio(
        self,
        session: VoiceSession,
        audio: bytes | AsyncIterator[AudioChunk],
    ) -> None:
        """Play audio to *session*: s16le PCM bytes or a stream of AudioChunks.

        An exception raised by the chunk stream reaches the caller once the
        backend has stopped playing; transport errors may be logged and
        absorbed (see :class:`PlaybackErrors`).
        """
        ...

    def send_audio_sync(self, session: VoiceSession, chunk: AudioChunk) -> None:
        """Send one chunk from a thread without ``await`` (audio bridge).

        Default: schedules :meth:`send_audio` with ``chunk.data`` on the
        running loop; logs a warning when there is none.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            logger.warning("send_audio_sync: no event loop for session %s", session.id)
            return
        task = loop.create_task(self.send_audio(session, chunk.data))
        task.add_done_callback(log_task_exception)

    def get_session(self, session_id: str) -> VoiceSession | None:
        """The session with *session_id*, if tracked (default ``None``)."""
        return None

    def list_sessions(self, room_id: str) -> list[VoiceSession]:
        """Active sessions of *room_id* (default empty)."""
        return []

    async def close(self) -> None:
        """Release backend resources (default: nothing)."""

    @property
    def capabilities(self) -> VoiceCapability:
        """Optional features supported (default ``VoiceCapability.NONE``)."""
        return VoiceCapability.NONE

    @property
    def feeds_aec_reference(self) -> bool:
        """True when the transport feeds the AEC reference itself (default False)."""
        return False

    @property
    def audio_received_callback(self) -> AudioReceivedCallback | None:
        """The registered audio-received callback (``_audio_received_callback``), if any."""
        return getattr(self, "_audio_received_callback", None)

    def on_audio_received(self, callback: AudioReceivedCallback) -> Callable[[], None] | None:
        """Register ``callback(session, frame)`` for inbound audio.

        May return an idempotent unsubscribe function; the default does nothing.
        """

    def on_session_ready(self, callback: SessionReadyCallback) -> None:
        """Register ``callback(session)`` for when a session's audio path is live."""

    def on_barge_in(self, callback: BargeInCallback) -> None:
        """Register ``callback(session)`` for barge-in (backends with BARGE_IN)."""

    def send_dtmf(self, session: VoiceSession, digit: str, duration_ms: int = 160) -> None:
        """Send a DTMF digit (RFC 4733), *duration_ms* in ms.

        Raises:
            NotImplementedError: by default (backends with DTMF_SIGNALING override).
        """
        raise NotImplementedError(f"{self.name} does not support send_dtmf()")

    async def cancel_audio(self, session: VoiceSession) -> bool:
        """Stop playback: calls :meth:`interrupt` and returns True by default."""
        self.interrupt(session)
        return True

    async def accept(self, session: VoiceSession, connection: Any) -> None:
        """Bind an external connection to *session* (accepting backends).

        Raises:
            NotImplementedError: by default.
        """
        raise NotImplementedError(f"{self.name} does not implement accept()")

    def interrupt(self, session: VoiceSession) -> None:
        """Flush the outbound queue and stop playback (default: nothing)."""

    def set_input_muted(self, session: VoiceSession, muted: bool) -> None:
        """Mute (True) or unmute the input of *session* (default: nothing)."""

    def set_input_gated(self, session: VoiceSession, gated: bool) -> None:
        """Gate (True) input forwarding to callbacks (default: nothing)."""

    def on_client_disconnected(
        self, callback: TransportDisconnectCallback
    ) -> Callable[[], None] | None:
        """Register ``callback(session)`` for client disconnection."""

    def on_speaker_change(self, callback: SpeakerChangeCallback) -> None:
        """Register ``callback(session, result)`` for speaker changes."""

    def end_of_response(self, session: VoiceSession) -> None:
        """Mark the end of an AI response for outbound pacing (default: nothing)."""

    async def wait_playback(self, session: VoiceSession) -> bool:
        """Wait until queued audio has played (polls :meth:`is_playing` every 20 ms).

        Returns False if the audio was discarded; the default returns True.
        """
        while self.is_playing(session):
            await asyncio.sleep(0.02)
        return True

    def is_playing(self, session: VoiceSession) -> bool:
        """Whether audio is being sent to *session* now (default False)."""
        return False

    @property
    def supports_playback_callback(self) -> bool:
        """Whether :meth:`on_audio_played` callbacks fire (default False)."""
        return False

    def on_audio_played(self, callback: AudioPlayedCallback) -> Callable[[], None] | None:
        """Register ``callback(session, frame)`` fired as audio is played out.

        May be called from the audio I/O thread: the callback must be thread-safe.
        """

    def on_aec_tap(self, callback: AECTapCallback) -> Callable[[], None] | None:
        """Register ``callback(session, stage, frame)`` for transport AEC debug taps."""

    def set_trace_emitter(
        self,
        emitter: Callable[..., Any] | None,
    ) -> None:
        """Set (or clear with ``None``) the protocol-trace emitter (default: ignored)."""

    async def send_transcription(
        self, session: VoiceSession, text: str, role: str = "user"
    ) -> None:
        """Send text for UI display; *role* ``"user"`` or ``"assistant"`` (default: nothing)."""

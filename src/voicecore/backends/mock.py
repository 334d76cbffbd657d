"""Mock voice backend for tests (drop-in for ``roomkit.voice.backends.mock``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from voicecore._tasks import log_task_exception
from voicecore.backends.base import (
    AudioReceivedCallback,
    SessionReadyCallback,
    TransportDisconnectCallback,
    VoiceBackend,
)
from voicecore.base import (
    AudioChunk,
    BargeInCallback,
    VoiceCapability,
    VoiceSession,
    VoiceSessionState,
)

if TYPE_CHECKING:
    from voicecore.audio_frame import AudioFrame

__all__ = ["MockVoiceBackend", "MockVoiceCall"]


@dataclass
class MockVoiceCall:
    """One recorded call on :class:`MockVoiceBackend`: method name and its arguments."""

    method: str
    args: dict[str, Any] = field(default_factory=dict)


async def _fire(callbacks: list[Any], *args: Any) -> None:
    """Call each callback in order, awaiting the ones that return an awaitable."""
    for callback in callbacks:
        result = callback(*args)
        if hasattr(result, "__await__"):
            await result


class MockVoiceBackend(VoiceBackend):
    """In-memory voice backend that records every call.

    Attributes:
        calls: :class:`MockVoiceCall` per tracked method call, in order.
        sent_audio: ``(session_id, audio_bytes)`` per send (a stream is joined).
        sent_dtmf: ``(session_id, digit, duration_ms)`` per :meth:`send_dtmf`.
        sent_transcriptions: ``(session_id, text, role)`` per :meth:`send_transcription`.

    The ``simulate_*`` helpers fire the registered callbacks as a real
    transport would; :meth:`start_playing` / :meth:`stop_playing` drive
    :meth:`is_playing` and :meth:`cancel_audio`.

    Args:
        capabilities: What :attr:`capabilities` reports.
    """

    def __init__(
        self,
        *,
        capabilities: VoiceCapability = VoiceCapability.NONE,
    ) -> None:
        self._sessions: dict[str, VoiceSession] = {}
        self._audio_received_callbacks: list[AudioReceivedCallback] = []
        self._barge_in_callbacks: list[BargeInCallback] = []
        self._session_ready_callbacks: list[SessionReadyCallback] = []
        self._disconnect_callbacks: list[TransportDisconnectCallback] = []
        self.calls: list[MockVoiceCall] = []
        self.sent_audio: list[tuple[str, bytes]] = []
        self.sent_dtmf: list[tuple[str, str, int]] = []
        self.sent_transcriptions: list[tuple[str, str, str]] = []
        self._playing_sessions: set[str] = set()
        self._capabilities = capabilities

    def _track(self, method: str, **args: Any) -> None:
        self.calls.append(MockVoiceCall(method=method, args=args))

    @property
    def name(self) -> str:
        return "MockVoiceBackend"

    @property
    def capabilities(self) -> VoiceCapability:
        return self._capabilities

    async def connect(
        self,
        room_id: str,
        participant_id: str,
        channel_id: str,
        *,
        metadata: dict[str, Any] | None = None,
    ) -> VoiceSession:
        """Create an ACTIVE session and fire the session-ready callbacks.

        Async callbacks are scheduled as tasks (not awaited), as in roomkit.
        """
        session = VoiceSession(
            id=uuid4().hex,
            room_id=room_id,
            participant_id=participant_id,
            channel_id=channel_id,
            state=VoiceSessionState.ACTIVE,
            metadata=metadata or {},
        )
        self._sessions[session.id] = session
        self._track(
            "connect",
            room_id=room_id,
            participant_id=participant_id,
            channel_id=channel_id,
            metadata=metadata,
        )
        for callback in self._session_ready_callbacks:
            result = callback(session)
            if hasattr(result, "__await__"):
                task = asyncio.get_running_loop().create_task(result)
                task.add_done_callback(log_task_exception)
        return session

    async def disconnect(self, session: VoiceSession) -> None:
        """Replace the tracked session by an ENDED copy (the caller's object is untouched)."""
        if session.id in self._sessions:
            self._sessions[session.id] = VoiceSession(
                id=session.id,
                room_id=session.room_id,
                participant_id=session.participant_id,
                channel_id=session.channel_id,
                state=VoiceSessionState.ENDED,
                created_at=session.created_at,
                metadata=session.metadata,
            )
        self._track("disconnect", session_id=session.id)

    async def send_audio(
        self,
        session: VoiceSession,
        audio: bytes | AsyncIterator[AudioChunk],
    ) -> None:
        if isinstance(audio, bytes):
            payload = audio
        else:
            payload = b"".join([chunk.data async for chunk in audio])
        self.sent_audio.append((session.id, payload))
        self._track("send_audio", session_id=session.id)

    def get_session(self, session_id: str) -> VoiceSession | None:
        return self._sessions.get(session_id)

    def list_sessions(self, room_id: str) -> list[VoiceSession]:
        return [s for s in self._sessions.values() if s.room_id == room_id]

    async def close(self) -> None:
        self._sessions.clear()
        self._playing_sessions.clear()
        self._track("close")

    async def send_transcription(
        self, session: VoiceSession, text: str, role: str = "user"
    ) -> None:
        self.sent_transcriptions.append((session.id, text, role))
        self._track("send_transcription", session_id=session.id, text=text, role=role)

    def on_audio_received(self, callback: AudioReceivedCallback) -> None:
        self._audio_received_callbacks.append(callback)
        self._track("on_audio_received")

    def on_session_ready(self, callback: SessionReadyCallback) -> None:
        self._session_ready_callbacks.append(callback)
        self._track("on_session_ready")

    def on_barge_in(self, callback: BargeInCallback) -> None:
        self._barge_in_callbacks.append(callback)
        self._track("on_barge_in")

    def on_client_disconnected(self, callback: TransportDisconnectCallback) -> None:
        self._disconnect_callbacks.append(callback)
        self._track("on_client_disconnected")

    async def cancel_audio(self, session: VoiceSession) -> bool:
        """Stop playing *session*; True only if it was playing."""
        was_playing = session.id in self._playing_sessions
        self._playing_sessions.discard(session.id)
        self._track("cancel_audio", session_id=session.id, was_playing=was_playing)
        return was_playing

    def send_dtmf(self, session: VoiceSession, digit: str, duration_ms: int = 160) -> None:
        self.sent_dtmf.append((session.id, digit, duration_ms))
        self._track("send_dtmf", session_id=session.id, digit=digit, duration_ms=duration_ms)

    def send_audio_sync(self, session: VoiceSession, chunk: AudioChunk) -> None:
        self.sent_audio.append((session.id, chunk.data))
        self._track("send_audio_sync", session_id=session.id, size=len(chunk.data))

    def is_playing(self, session: VoiceSession) -> bool:
        return session.id in self._playing_sessions

    # Test helpers -----------------------------------------------------------

    async def simulate_audio_received(self, session: VoiceSession, frame: AudioFrame) -> None:
        """Fire every ``on_audio_received`` callback with ``(session, frame)``."""
        await _fire(self._audio_received_callbacks, session, frame)

    async def simulate_barge_in(self, session: VoiceSession) -> None:
        """Fire every ``on_barge_in`` callback with ``(session)``."""
        await _fire(self._barge_in_callbacks, session)

    def start_playing(self, session: VoiceSession) -> None:
        """Mark *session* as playing (for barge-in tests)."""
        self._playing_sessions.add(session.id)

    def stop_playing(self, session: VoiceSession) -> None:
        """Mark *session* as no longer playing."""
        self._playing_sessions.discard(session.id)

    async def simulate_session_ready(self, session: VoiceSession) -> None:
        """Fire every ``on_session_ready`` callback with ``(session)``, awaiting async ones."""
        await _fire(self._session_ready_callbacks, session)

    async def simulate_client_disconnected(self, session: VoiceSession) -> None:
        """Fire every ``on_client_disconnected`` callback with ``(session)``."""
        await _fire(self._disconnect_callbacks, session)

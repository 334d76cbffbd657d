"""roomkit on voicecore's engine: what :func:`voicecore.install` switches in roomkit.

- ``roomkit.voice.backends.rtp.RTPVoiceBackend`` (and so the lazy
  ``roomkit.voice.backends.RTPVoiceBackend`` and ``roomkit.voice.get_rtp_backend()``)
  becomes :class:`voicecore.backends.rtp.RTPVoiceBackend`.
- A ``SIPVoiceBackend`` created afterwards gets a :class:`SIPBridge` as its
  ``_rtp_bridge``: its calls run on :class:`voicecore.compat.aiosipua.CallSession`.
  For those calls the backend's audio methods (``send_audio``,
  ``send_audio_sync``, ``end_of_response``, ``cancel_audio``,
  ``wait_playback``, ``is_playing``) drive the engine directly, with no
  asyncio pacer: the engine paces, ``on_audio_played`` fires with the frames
  really sent, and the dead-call watchdogs (``rtp_inactivity_timeout``,
  ``rtp_establishment_timeout``) run in the engine. Inbound frames are built
  in the engine's drain (roomkit's own ``AudioFrame``). Calls on any other
  bridge go through roomkit's code unchanged.

The functions here are installed as methods of ``SIPVoiceBackend`` (so a
subclass's overrides calling ``super()`` still reach them) and each falls
back to roomkit's original for a call that is not on the engine.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import weakref
from collections.abc import AsyncIterator
from typing import Any

from voicecore._tasks import log_task_exception
from voicecore.compat.aiosipua import CallSession, NativeFrameTarget

__all__ = ["SIPBridge", "patches"]

logger = logging.getLogger("voicecore.compat.roomkit")

#: roomkit's originals of the methods replaced on SIPVoiceBackend (filled by patches()).
_orig: dict[str, Any] = {}
_tasks: set[asyncio.Task[Any]] = set()


def _spawn(result: Any) -> None:
    """Run an awaitable a callback returned as a task (kept referenced, errors logged)."""
    if result is not None and inspect.isawaitable(result):
        task = asyncio.ensure_future(result)
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
        task.add_done_callback(log_task_exception)


class SIPBridge:
    """``SIPVoiceBackend._rtp_bridge`` under ``voicecore.install()``: the
    ``aiosipua.rtp_bridge`` interface (``CallSession(...)``), making
    :class:`voicecore.compat.aiosipua.CallSession` objects that carry their
    backend's dead-call timeouts (``rtp_inactivity_timeout``,
    ``rtp_establishment_timeout``) into the engine."""

    def __init__(self, backend: Any) -> None:
        self._backend = weakref.ref(backend)

    def CallSession(self, *args: Any, **kwargs: Any) -> CallSession:  # noqa: N802 (aiosipua's name)
        backend = self._backend()
        if backend is not None:
            kwargs.setdefault("inactivity_timeout", float(getattr(backend, "_rtp_inactivity_timeout", 0) or 0))
            kwargs.setdefault("establishment_timeout",
                              float(getattr(backend, "_rtp_establishment_timeout", 0) or 0))
            kwargs.setdefault("engine", getattr(backend, "voicecore_engine", None))
        return CallSession(*args, **kwargs)


class _Inbound:
    """FrameSink owner for one backend: hands each frame to roomkit's primary
    audio callback and its subscribers, each guarded as roomkit guards them."""

    __slots__ = ("_backend",)

    def __init__(self, backend: Any) -> None:
        self._backend = backend

    @property
    def _audio_received_callback(self) -> Any:
        b = self._backend
        if b._audio_received_callback is None and not b._audio_subscribers:
            return None
        return self._deliver

    def _deliver(self, session: Any, frame: Any) -> None:
        b = self._backend
        primary = b._audio_received_callback
        if primary is not None:
            try:
                _spawn(primary(session, frame))
            except Exception:
                logger.exception("SIP inbound audio callback failed for %s", session.id)
        for cb in tuple(b._audio_subscribers):
            try:
                _spawn(cb(session, frame))
            except Exception:
                logger.exception("SIP inbound audio callback failed for %s", session.id)


def _native(backend: Any, session: Any) -> tuple[Any, CallSession | None]:
    state = backend._session_states.get(session.id)
    if state is None:
        return None, None
    cs = state.call_session
    return state, (cs if isinstance(cs, CallSession) else None)


def _played_frame(state: Any, pcm: bytes, *, ended: bool, buffer_ms: float) -> Any:
    from roomkit.voice.audio_frame import AudioFrame

    return AudioFrame(data=pcm, sample_rate=state.codec_rate, metadata={
        "played_bytes": len(pcm), "playback_buffer_ms": buffer_ms, "playback_ended": ended})


def _notify_played(backend: Any, session: Any, frame: Any) -> None:
    for cb in tuple(backend._audio_played_callbacks):
        try:
            _spawn(cb(session, frame))
        except Exception:
            logger.exception("SIP playback callback failed for session %s", session.id)


def _sync_stats(state: Any, d: dict[str, Any]) -> None:
    """roomkit's per-session counters from the engine's (its logs stay meaningful)."""
    st = state.audio_stats
    st.inbound_packets = d.get("received", 0)
    st.inbound_bytes = d.get("frames_delivered", 0) * state.codec_rate // 50 * 2
    st.outbound_frames = d.get("frames_sent", 0)
    st.outbound_bytes = d.get("frames_sent", 0) * state.codec_rate // 50 * 2
    st.concealed_frames = d.get("concealed_frames", 0)


def _attach(backend: Any, session: Any, state: Any, cs: CallSession) -> None:
    """Wire a native call to its backend: watchdog, played frames, stats."""
    sid = session.id

    def media_timeout(reason: str, idle_s: float) -> None:
        if backend._session_states.get(sid) is not state:
            return
        logger.warning("RTP %s (engine watchdog): session=%s idle=%.1fs — forcing disconnect",
                       reason, sid[:8], idle_s)
        _sync_stats(state, cs.stats)
        _spawn(backend._expire_session(sid, state))

    es = cs.rtp_session.engine_session if cs.rtp_session is not None else None

    def played(pcm: bytes, send_ns: int, last: bool) -> None:
        # as roomkit's pacer reports: every frame sent (playback_ended False),
        # then one empty frame with playback_ended True per finished response
        if not backend._audio_played_callbacks or es is None:
            return
        pending = es._native.out_pending(es.index) if not es.removed.done() else 0
        frame = _played_frame(state, pcm, ended=False, buffer_ms=pending * 1000.0 / max(1, es._out_rate))
        frame.metadata["send_time_ns"] = send_ns
        _notify_played(backend, session, frame)

    def response_done(token: int, samples: int, interrupted: bool) -> None:
        if interrupted:
            return            # cancel_audio reported the end itself, as roomkit does
        # after this drain's played frames (events are drained before them)
        asyncio.get_running_loop().call_soon(
            _notify_played, backend, session, _played_frame(state, b"", ended=True, buffer_ms=0.0))

    cs.on_media_timeout = media_timeout
    cs.on_played = played
    if es is not None:
        es.on_response_done = response_done
    cs.stats_listener = lambda d: _sync_stats(state, d)


# ---------------------------------------------------------------------- methods
def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807
    _orig["__init__"](self, *args, **kwargs)
    self._rtp_bridge = SIPBridge(self)


def _make_audio_handler(self: Any, session: Any) -> Any:
    state, cs = _native(self, session)
    if cs is None:
        return _orig["_make_audio_handler"](self, session)
    from roomkit.voice.audio_frame import AudioFrame

    _attach(self, session, state, cs)
    return NativeFrameTarget(_Inbound(self), session, AudioFrame, _spawn)


def _expiry_reason(self: Any, sid: str, st: Any, now: float) -> str | None:
    cs = st.call_session
    if isinstance(cs, CallSession):
        _sync_stats(st, cs.stats)
        return None          # the engine's watchdog (CallSession.on_media_timeout)
    return _orig["_expiry_reason"](self, sid, st, now)


def _send_pcm_bytes(self: Any, session: Any, call_session: Any, pcm_data: bytes) -> bytes:
    if not isinstance(call_session, CallSession):
        return _orig["_send_pcm_bytes"](self, session, call_session, pcm_data)
    state = self._session_states.get(session.id)
    if state is None:
        return b""
    call_session.write_now(pcm_data, state.codec_rate)
    return bytes(pcm_data)


async def send_audio(self: Any, session: Any, audio: bytes | AsyncIterator[Any]) -> None:
    state, cs = _native(self, session)
    if cs is None:
        return await _orig["send_audio"](self, session, audio)
    state.is_playing = True
    try:
        if isinstance(audio, (bytes, bytearray, memoryview)):
            await cs.write(audio, state.codec_rate)
            return
        async for chunk in audio:
            if chunk.data and not await cs.write(chunk.data, chunk.sample_rate or state.codec_rate):
                return
            if cs.closed:
                return
        token = await cs.end_response()
        await cs.wait_response(token)
    finally:
        state.is_playing = cs.is_playing


def send_audio_sync(self: Any, session: Any, chunk: Any) -> None:
    state, cs = _native(self, session)
    if cs is None:
        return _orig["send_audio_sync"](self, session, chunk)
    state.is_playing = True
    cs.write_now(chunk.data, chunk.sample_rate or state.codec_rate)
    return None


def end_of_response(self: Any, session: Any) -> None:
    state, cs = _native(self, session)
    if cs is None:
        return _orig["end_of_response"](self, session)
    cs.mark_end()
    return None


async def cancel_audio(self: Any, session: Any) -> bool:
    state, cs = _native(self, session)
    if cs is None:
        return await _orig["cancel_audio"](self, session)
    was_playing = cs.is_playing or state.is_playing
    state.playback_generation += 1
    cs.interrupt()
    state.is_playing = False
    _notify_played(self, session, _played_frame(state, b"", ended=True, buffer_ms=0.0))
    if was_playing:
        logger.info("Audio cancelled for session %s", session.id)
    return was_playing


async def wait_playback(self: Any, session: Any) -> bool:
    state, cs = _native(self, session)
    if cs is None:
        return await _orig["wait_playback"](self, session)
    ok = await cs.wait_response()
    for _ in range(int(3600 / 0.02)):            # bounded: an hour of queued audio
        if not cs.is_playing or cs.closed:
            break
        await asyncio.sleep(0.02)
    return ok


def is_playing(self: Any, session: Any) -> bool:
    state, cs = _native(self, session)
    if cs is None:
        return bool(_orig["is_playing"](self, session))
    return cs.is_playing


_SIP_METHODS = {
    "__init__": __init__,
    "_make_audio_handler": _make_audio_handler,
    "_expiry_reason": _expiry_reason,
    "_send_pcm_bytes": _send_pcm_bytes,
    "send_audio": send_audio,
    "send_audio_sync": send_audio_sync,
    "end_of_response": end_of_response,
    "cancel_audio": cancel_audio,
    "wait_playback": wait_playback,
    "is_playing": is_playing,
}


def patches(*, sip: bool) -> list[tuple[Any, str, Any]]:
    """``(target, attribute, replacement)`` for roomkit: the RTP backend, and
    with ``sip`` (aiosipua installed) the SIP backend's methods.

    Raises:
        AttributeError: a seam voicecore replaces is missing (the caller turns
            it into an error naming the roomkit version).
    """
    import roomkit.voice.backends as backends
    import roomkit.voice.backends.rtp as rk_rtp
    from voicecore.backends.rtp import RTPVoiceBackend

    out: list[tuple[Any, str, Any]] = []
    getattr(rk_rtp, "RTPVoiceBackend")
    out.append((rk_rtp, "RTPVoiceBackend", RTPVoiceBackend))
    if "RTPVoiceBackend" in vars(backends):          # someone bound the lazy export
        out.append((backends, "RTPVoiceBackend", RTPVoiceBackend))
    if sip:
        from roomkit.voice.backends.sip import SIPVoiceBackend

        for name, fn in _SIP_METHODS.items():
            original = getattr(SIPVoiceBackend, name)          # AttributeError: missing seam
            if original is not fn:
                _orig[name] = original
            fn.__qualname__ = f"SIPVoiceBackend.{name}"
            fn.__doc__ = original.__doc__
            fn.__wrapped__ = original                           # inspect.signature shows roomkit's
            out.append((SIPVoiceBackend, name, fn))
    return out

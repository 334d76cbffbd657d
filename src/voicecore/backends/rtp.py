"""RTP voice backend on voicecore's native audio I/O engine.

A drop-in for ``roomkit.voice.backends.rtp.RTPVoiceBackend``: the same
constructor, ``name``, capabilities, session metadata, callbacks and DTMF
API. Every packet is handled in the engine's native thread: inbound RTP is
checked against the negotiated source, reordered, de-duplicated and
concealed by a jitter buffer and played out one frame per 20 ms on the
engine's clock; outbound audio is resampled from each chunk's own rate,
encoded and sent paced by that clock, even while the event loop is busy.

Usage::

    from voicecore.backends.rtp import RTPVoiceBackend

    backend = RTPVoiceBackend(local_addr=("0.0.0.0", 10000), remote_addr=("192.0.2.7", 20000))
    session = await backend.connect("room-1", "user-1", "voice-1")
    ...
    await backend.disconnect(session)

Where roomkit's backend is wrong, this one does what roomkit's docs promise;
the README lists each difference.

Linux only (the engine uses epoll, timerfd and eventfd).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from voicecore._tasks import log_task_exception
from voicecore.audio_frame import AudioFrame
from voicecore.backends.base import (
    AudioPlayedCallback,
    AudioReceivedCallback,
    DTMFReceivedCallback,
    PlaybackErrors,
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
from voicecore.backends._rtp_calls import (
    FIXED_CLOCK,
    STATIC_PAYLOADS,
    UNSUPPORTED,
    AudioBatch,
    _Call,
    _check_chunk,
    payload_codec,
)
from voicecore.events import DTMFEvent

__all__ = ["STATIC_PAYLOADS", "UNSUPPORTED", "AudioBatch", "RTPVoiceBackend", "payload_codec"]

logger = logging.getLogger("voicecore.voice.rtp")

class RTPVoiceBackend(VoiceBackend):
    """VoiceBackend sending and receiving audio over RTP, natively.

    Args:
        local_addr: ``(host, port)`` to bind RTP; port ``0`` for an
            OS-assigned port (RTCP on another OS-assigned port), a fixed port
            puts RTCP on port + 1.
        remote_addr: ``(host, port)`` of the peer's RTP; may be given per
            session as ``metadata["remote_addr"]`` in :meth:`connect`.
        payload_type: RTP payload type: 0 (PCMU, default), 8 (PCMA), 11
            (L16), or a dynamic one with ``codec``.
        clock_rate: RTP clock and inbound frame rate (Hz), 8000 for G.711.
        dtmf_payload_type: RFC 4733 payload type (default 101).
        rtcp_interval: seconds between RTCP reports (randomised 0.5-1.5x).
        port_allocator: aiortp-style allocator (``await allocate() -> (rtp,
            rtcp)``, ``await release(rtp)``) for the local ports.

    voicecore's own keyword arguments (all optional):
        engine: the :class:`~voicecore.engine.AudioEngine` to run on (default:
            the event loop's default engine).
        output_sample_rate: deliver inbound frames at this rate, resampled in
            the engine thread (for example 16000 for speech recognition).
        codec: format of a dynamic payload type ('pcmu', 'pcma', 'l16').
        latching: accept the peer's address from its media (NAT) instead of
            strict source checking (>= 4 sequential packets in 5 s to move).
        inactivity_timeout: seconds without RTP before the client counts as
            disconnected (``on_client_disconnected``; 0 = never).
        min_delay_ms, max_delay_ms: range of the adaptive playout delay.
        port_range: ``(first, last)``: even RTP ports from this range.
        rtcp_mux: send and expect RTCP on the RTP port (RFC 5761).
        keepalive: what to send while nothing is queued: 'none' (as
            roomkit), 'silence' (a continuous stream of encoded silence) or
            'cn' (RFC 3389 comfort noise every 500 ms), for peers whose RTP
            timeout would otherwise end a quiet call.
    """

    def __init__(
        self,
        *,
        local_addr: tuple[str, int] = ("0.0.0.0", 0),  # nosec B104
        remote_addr: tuple[str, int] | None = None,
        payload_type: int = 0,
        clock_rate: int = 8000,
        dtmf_payload_type: int = 101,
        rtcp_interval: float = 5.0,
        port_allocator: Any | None = None,
        engine: Any | None = None,
        output_sample_rate: int | None = None,
        codec: str | None = None,
        latching: bool = False,
        inactivity_timeout: float = 30.0,
        min_delay_ms: int = 60,
        max_delay_ms: int = 200,
        port_range: tuple[int, int] | None = None,
        rtcp_mux: bool = False,
        keepalive: str = "none",
    ) -> None:
        self._codec = payload_codec(payload_type, codec)
        if self._codec == "opus" and clock_rate == 8000:
            clock_rate = 48000              # roomkit's default clock; Opus RTP is always 48 kHz (RFC 7587)
        fixed = FIXED_CLOCK.get(self._codec)
        if fixed is not None and clock_rate != fixed:
            raise ValueError(f"RTPVoiceBackend: {self._codec} runs on a {fixed} Hz RTP clock, got clock_rate={clock_rate}")
        if clock_rate not in (8000, 16000, 24000, 32000, 48000):
            raise ValueError(f"RTPVoiceBackend: clock_rate must be 8000-48000 in steps of 8000, got {clock_rate}")
        if rtcp_interval < 0:
            raise ValueError(f"RTPVoiceBackend: rtcp_interval must be >= 0 s, got {rtcp_interval}")
        if inactivity_timeout < 0:
            raise ValueError(f"RTPVoiceBackend: inactivity_timeout must be >= 0 s, got {inactivity_timeout}")
        if output_sample_rate is not None and not 8000 <= output_sample_rate <= 48000:
            raise ValueError(
                f"RTPVoiceBackend: output_sample_rate must be 8000-48000 Hz, got {output_sample_rate}"
            )
        self._local_addr = local_addr
        self._remote_addr = remote_addr
        self._payload_type = payload_type
        self._clock_rate = clock_rate
        self._dtmf_payload_type = dtmf_payload_type
        self._rtcp_interval = rtcp_interval
        self._port_allocator = port_allocator
        self._engine = engine
        # audio rate of the frames: G.722 is 16 kHz audio on its 8 kHz RTP clock
        self._audio_rate = 16000 if self._codec == "g722" else clock_rate
        self._output_rate = output_sample_rate or self._audio_rate
        self._latching = latching
        self._inactivity = inactivity_timeout
        self._min_delay = min_delay_ms
        self._max_delay = max_delay_ms
        self._port_range = port_range
        self._rtcp_mux = rtcp_mux
        if keepalive not in ("none", "silence", "cn"):
            raise ValueError(f"RTPVoiceBackend: keepalive must be 'none', 'silence' or 'cn', got {keepalive!r}")
        self._keepalive = keepalive

        self._audio_received_callback: AudioReceivedCallback | None = None
        self._audio_received_async = False
        self._batch_callback: Callable[[AudioBatch], Any] | None = None
        self._barge_in_callbacks: list[BargeInCallback] = []
        self._dtmf_callbacks: list[DTMFReceivedCallback] = []
        self._session_ready_callbacks: list[SessionReadyCallback] = []
        self._disconnect_callbacks: list[TransportDisconnectCallback] = []
        self._played_callbacks: list[AudioPlayedCallback] = []

        self._sessions: dict[str, VoiceSession] = {}
        self._calls: dict[str, _Call] = {}
        self._by_index: dict[int, _Call] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ identity
    @property
    def name(self) -> str:
        return "RTP"

    @property
    def capabilities(self) -> VoiceCapability:
        return VoiceCapability.DTMF_SIGNALING | VoiceCapability.INTERRUPTION

    @property
    def feeds_aec_reference(self) -> bool:
        """True: the engine records exactly what it sent, with send times."""
        return True

    @property
    def supports_playback_callback(self) -> bool:
        """True: :meth:`on_audio_played` fires with the frames really sent."""
        return True

    @property
    def engine(self) -> Any:
        """The audio engine this backend's sessions run on (None before the first connect)."""
        return self._engine

    # ------------------------------------------------------------------ helpers
    def _spawn(self, result: Any) -> None:
        """Run a coroutine returned by a user callback as a task (not dropped)."""
        if result is not None and inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(log_task_exception)

    def _get_engine(self) -> Any:
        if self._engine is None or self._engine.closed:
            from voicecore.engine import get_engine

            self._engine = get_engine()
            if self._batch_callback is not None:
                self._engine.add_batch_listener(self._on_batch)
        return self._engine

    # ------------------------------------------------------------------ lifecycle
    async def connect(
        self,
        room_id: str,
        participant_id: str,
        channel_id: str,
        *,
        metadata: dict[str, Any] | None = None,
    ) -> VoiceSession:
        """Open an RTP session to the peer and return its VoiceSession.

        ``metadata["remote_addr"]`` overrides the constructor's remote address.
        ``metadata["srtp"]``: SDES-SRTP for this call, an
        :class:`~voicecore.media.srtp.SRTPSession` or the pair
        ``(our a=crypto line, the peer's a=crypto line)`` (RFC 4568).
        The session's metadata carries ``payload_type``, ``clock_rate``,
        ``remote_addr``, ``backend`` ("rtp") and ``local_addr`` (the bound
        address).

        Raises:
            ValueError: no remote address.
            OSError: the local address cannot be bound.
        """
        from voicecore.engine.session import open_udp_pair

        metadata = metadata or {}
        remote_addr = metadata.pop("remote_addr", None) or self._remote_addr
        srtp = _srtp_session(metadata.pop("srtp", None))
        if remote_addr is None:
            raise ValueError(
                "remote_addr must be provided either in RTPVoiceBackend() "
                "constructor or via metadata['remote_addr'] in connect()"
            )
        remote_addr = (str(remote_addr[0]), int(remote_addr[1]))
        engine = self._get_engine()
        rtcp_mode = "off" if self._rtcp_interval == 0 else ("mux" if self._rtcp_mux else "separate")
        rtp_sock, rtcp_sock, port = await open_udp_pair(
            self._local_addr,
            rtcp=rtcp_mode,
            port_allocator=self._port_allocator,
            port_range=self._port_range,
        )
        try:
            es = await engine.open_session(
                rtp_socket=rtp_sock,
                rtcp_socket=rtcp_sock,
                remote_addr=remote_addr,
                clock_rate=self._clock_rate,
                payload_type=self._payload_type,
                codec=self._codec,
                dtmf_payload_type=self._dtmf_payload_type,
                output_rate=self._output_rate,
                rtcp_interval=self._rtcp_interval,
                rtcp_mux=self._rtcp_mux,
                inactivity_timeout=self._inactivity,
                latching=self._latching,
                min_delay_ms=self._min_delay,
                max_delay_ms=self._max_delay,
                allocated_port=port,
                port_allocator=self._port_allocator,
                keepalive=self._keepalive,
                srtp=srtp,
            )
        except BaseException:
            rtp_sock.close()
            if rtcp_sock is not None:
                rtcp_sock.close()
            if port is not None and self._port_allocator is not None:
                await self._port_allocator.release(port)
            raise

        session_id = str(uuid.uuid4())
        session = VoiceSession(
            id=session_id,
            room_id=room_id,
            participant_id=participant_id,
            channel_id=channel_id,
            state=VoiceSessionState.ACTIVE,
            metadata={
                "payload_type": self._payload_type,
                "clock_rate": self._clock_rate,
                "remote_addr": remote_addr,
                "backend": "rtp",
                "local_addr": es.local_addr,
                **metadata,
            },
        )
        call = _Call(session, es, self._output_rate, engine.period_ms)
        self._sessions[session_id] = session
        self._calls[session_id] = call
        self._by_index[es.index] = call
        self._wire(call)
        logger.info(
            "RTP session created: session=%s, room=%s, participant=%s, local=%s, remote=%s, pt=%d",
            session_id, room_id, participant_id, es.local_addr, remote_addr, self._payload_type,
        )
        for cb in list(self._session_ready_callbacks):
            self._spawn(cb(session))
        return session

    def _wire(self, call: _Call) -> None:
        es = call.es
        session = call.session
        es.set_frame_sink(self._make_sink(call))
        es.on_dtmf = lambda digit, ms: self._on_dtmf(session, digit, ms)
        es.on_inactive = lambda idle_s: self._client_gone(call, "inactivity")
        es.on_bye = lambda: self._client_gone(call, "rtcp-bye")
        if self._played_callbacks:
            es.on_played = self._make_played(call)
            es.set_flags(played=True)

    def _make_sink(self, call: _Call) -> Any:
        from voicecore._native.engine.sink import BATCH, FrameSink

        if self._batch_callback is not None:
            return BATCH
        return FrameSink(self, call.session, AudioFrame, call.rate, float(call.frame_ms), self._spawn)

    def _make_played(self, call: _Call) -> Callable[[bytes, int, bool], None]:
        session = call.session
        es = call.es
        rate = self._audio_rate
        backend = self

        def played(pcm: bytes, send_ns: int, last: bool) -> None:
            pending = es._native.out_pending(es.index)
            frame = AudioFrame(
                data=pcm,
                sample_rate=rate,
                timestamp_ms=send_ns / 1e6,
                metadata={
                    "played_bytes": len(pcm),
                    "playback_buffer_ms": pending * 1000.0 / max(1, es._out_rate),
                    "playback_ended": last,
                    "send_time_ns": send_ns,
                },
            )
            for cb in list(backend._played_callbacks):
                try:
                    backend._spawn(cb(session, frame))
                except Exception:
                    logger.exception("RTP playback callback failed for session %s", session.id)

        return played

    def _on_dtmf(self, session: VoiceSession, digit: str, duration_ms: float) -> None:
        event = DTMFEvent(digit=digit, duration_ms=duration_ms)
        for cb in list(self._dtmf_callbacks):
            self._spawn(cb(session, event))

    def _client_gone(self, call: _Call, why: str) -> None:
        if call.disconnected:
            return
        call.disconnected = True
        logger.info("RTP client disconnected (%s): session=%s", why, call.session.id)
        for cb in list(self._disconnect_callbacks):
            self._spawn(cb(call.session))

    async def disconnect(self, session: VoiceSession) -> None:
        """End *session*: stop playback, send RTCP BYE, release its sockets."""
        call = self._calls.pop(session.id, None)
        if call is not None:
            call.es.interrupt()
            self._by_index.pop(call.es.index, None)
            await call.es.close(bye=True)
        session.state = VoiceSessionState.ENDED
        self._sessions.pop(session.id, None)
        logger.info("RTP session ended: session=%s", session.id)

    def get_session(self, session_id: str) -> VoiceSession | None:
        return self._sessions.get(session_id)

    def list_sessions(self, room_id: str) -> list[VoiceSession]:
        return [s for s in self._sessions.values() if s.room_id == room_id]

    async def close(self) -> None:
        for session in list(self._sessions.values()):
            await self.disconnect(session)

    def session_stats(self, session: VoiceSession) -> dict[str, Any]:
        """The session's counters (received, lost, concealed_samples, late,
        jitter_ms, foreign_source, packets_sent, pacer_underruns, rtt_ms, ...)."""
        call = self._calls.get(session.id)
        if call is None:
            raise KeyError(f"RTPVoiceBackend.session_stats: unknown session {session.id!r}")
        return call.es.stats()

    # ------------------------------------------------------------------ outbound
    def send_dtmf(self, session: VoiceSession, digit: str, duration_ms: int = 160) -> None:
        """Send an RFC 4733 digit; audio pauses while it plays."""
        call = self._calls.get(session.id)
        if call is None:
            logger.warning("send_dtmf: no RTP session for %s", session.id)
            return
        call.es.send_dtmf(digit, duration_ms)
        logger.info("DTMF sent: digit=%s, duration=%dms, session=%s", digit, duration_ms, session.id)

    def send_audio_sync(self, session: VoiceSession, chunk: AudioChunk) -> None:
        """Queue one chunk without awaiting (audio bridge; any thread). Samples
        that do not fit in the session's ring are dropped and counted
        (``out_overflow_samples``)."""
        call = self._calls.get(session.id)
        if call is None:
            return
        _check_chunk(chunk)
        es = call.es
        with call.lock:
            native = es._native
            if chunk.sample_rate != es._out_rate:
                rs = None if chunk.sample_rate == es.clock_rate else es._resampler(chunk.sample_rate)
                if not native.mark_rate(es.index, chunk.sample_rate, rs):
                    logger.warning("send_audio_sync: rate change queue full for %s; chunk dropped", session.id)
                    return
                es._out_rate = chunk.sample_rate
            n = len(chunk.data) // 2
            k = native.write(es.index, chunk.data)
            if k < n:
                logger.warning("send_audio_sync: %d samples did not fit for %s (counted)", n - k, session.id)

    async def send_audio(
        self,
        session: VoiceSession,
        audio: bytes | AsyncIterator[AudioChunk],
    ) -> None:
        """Play audio to *session*: s16le bytes at the audio rate (the clock rate; 16 kHz for G.722), or a stream
        of AudioChunks, each at its own sample rate (resampled in the engine).
        Returns once the audio has been handed to the engine; it leaves paced
        by the engine's clock (:meth:`wait_playback` waits for that)."""
        call = self._calls.get(session.id)
        if call is None:
            logger.warning("send_audio: no RTP session for %s", session.id)
            return
        es = call.es
        call.discarded = False
        call.last_token = 0
        with PlaybackErrors(logger, "Error sending audio for session %s", session.id) as play:
            if isinstance(audio, (bytes, bytearray, memoryview)):
                if not await es.write(audio, self._audio_rate):
                    return
            else:
                async for chunk in play.watch(audio):
                    _check_chunk(chunk)
                    if chunk.data and not await es.write(chunk.data, chunk.sample_rate):
                        return
            if not call.discarded:
                call.last_token = await es.end_response()

    def end_of_response(self, session: VoiceSession) -> None:
        """Close the response fed through :meth:`send_audio_sync`."""
        call = self._calls.get(session.id)
        if call is None:
            return
        token = call.es._native.mark_end(call.es.index)
        if token:
            call.es._waiters[token] = asyncio.get_running_loop().create_future()
            call.last_token = token

    async def wait_playback(self, session: VoiceSession) -> bool:
        """Wait until every queued response has left the socket. Returns False
        if the latest one was interrupted."""
        call = self._calls.get(session.id)
        if call is None:
            return True
        ok = await call.es.wait_response(call.last_token) if call.last_token else True
        while call.es.is_playing and not call.es.closing:
            await asyncio.sleep(call.frame_ms / 1000)
        return ok and not call.discarded

    def is_playing(self, session: VoiceSession) -> bool:
        """True until the last queued frame has really been sent."""
        call = self._calls.get(session.id)
        return call.es.is_playing if call is not None else False

    def interrupt(self, session: VoiceSession) -> None:
        """Drop queued outbound audio; takes effect within one tick."""
        call = self._calls.get(session.id)
        if call is not None:
            if call.es.is_playing:
                call.discarded = True
            call.es.interrupt()

    async def cancel_audio(self, session: VoiceSession) -> bool:
        was_playing = self.is_playing(session)
        if was_playing:
            self.interrupt(session)
            logger.info("Audio cancelled for session %s", session.id)
        return was_playing

    def set_input_muted(self, session: VoiceSession, muted: bool) -> None:
        """Muted input is still paced and delivered, as silence."""
        call = self._calls.get(session.id)
        if call is not None:
            call.es.set_flags(muted=muted)

    def set_input_gated(self, session: VoiceSession, gated: bool) -> None:
        """Gated input is not delivered to the callbacks at all."""
        call = self._calls.get(session.id)
        if call is not None:
            call.es.set_flags(deliver=not gated)

    async def send_transcription(
        self, session: VoiceSession, text: str, role: str = "user"
    ) -> None:
        """Log transcription text (no UI channel in RTP mode)."""
        label = "User" if role == "user" else "Assistant"
        logger.info("[%s] %s", label, text)

    def aec_reference(self, session: VoiceSession, n: int, capture_ns: int | None = None) -> bytes:
        """``n`` samples (s16le at the clock rate) of what was sent, aligned to
        the capture time ``capture_ns`` (monotonic ns, default now) minus the
        echo delay: the echo canceller's reference. Zeros where nothing was sent."""
        call = self._calls.get(session.id)
        if call is None:
            raise KeyError(f"RTPVoiceBackend.aec_reference: unknown session {session.id!r}")
        return call.es.aec_reference(n, time.monotonic_ns() if capture_ns is None else capture_ns)

    # ------------------------------------------------------------------ callbacks
    def on_audio_received(self, callback: AudioReceivedCallback) -> None:
        """``callback(session, frame)`` once per 20 ms per session: an
        AudioFrame at the output rate with ``timestamp_ms`` and
        ``metadata["frame_kind"]`` ('audio', 'concealed', 'silence',
        'comfort_noise'). A coroutine result is run as a task."""
        self._audio_received_callback = callback

    def on_audio_batch(self, callback: Callable[[AudioBatch], Any] | None) -> None:
        """Instead of one callback per frame: ``callback(batch)`` once per
        engine wake-up with every session's frames as one numpy array
        (:class:`AudioBatch`). ``None`` returns to per-frame delivery."""
        self._batch_callback = callback
        engine = self._engine
        if engine is not None:
            if callback is not None:
                engine.add_batch_listener(self._on_batch)
            else:
                engine.remove_batch_listener(self._on_batch)
        for call in self._calls.values():
            call.es.set_frame_sink(self._make_sink(call))

    def _on_batch(self, frame_samples: int, idx: Any, frames: Any, kinds: Any, frame_nos: Any, lengths: Any) -> None:
        cb = self._batch_callback
        if cb is None:
            return
        by = self._by_index
        sessions = [by[i].session for i in idx.tolist() if i in by]
        if len(sessions) != len(idx):
            keep = [i in by for i in idx.tolist()]
            frames, kinds, lengths = frames[keep], kinds[keep], lengths[keep]
        self._spawn(cb(AudioBatch(sessions, frames, lengths, kinds, self._output_rate)))

    def on_session_ready(self, callback: SessionReadyCallback) -> None:
        self._session_ready_callbacks.append(callback)

    def on_barge_in(self, callback: BargeInCallback) -> None:
        self._barge_in_callbacks.append(callback)

    def on_dtmf_received(self, callback: DTMFReceivedCallback) -> DTMFReceivedCallback:
        """Register ``callback(session, DTMFEvent)`` for inbound RFC 4733 digits
        (each digit once, with its duration in ms)."""
        self._dtmf_callbacks.append(callback)
        return callback

    def on_client_disconnected(
        self, callback: TransportDisconnectCallback
    ) -> Callable[[], None]:
        """``callback(session)`` when the peer sends RTCP BYE or no RTP for
        ``inactivity_timeout`` seconds. Returns an unsubscribe function."""
        self._disconnect_callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self._disconnect_callbacks:
                self._disconnect_callbacks.remove(callback)

        return unsubscribe

    def on_audio_played(self, callback: AudioPlayedCallback) -> Callable[[], None]:
        """``callback(session, frame)`` for every frame really sent, at its
        send time, in batches on the loop: an AudioFrame at the clock rate with
        ``metadata`` ``played_bytes``, ``playback_buffer_ms``,
        ``playback_ended`` and ``send_time_ns``. Returns an unsubscribe function."""
        first = not self._played_callbacks
        self._played_callbacks.append(callback)
        if first:
            for call in self._calls.values():
                call.es.on_played = self._make_played(call)
                call.es.set_flags(played=True)

        def unsubscribe() -> None:
            if callback in self._played_callbacks:
                self._played_callbacks.remove(callback)
            if not self._played_callbacks:
                for call in self._calls.values():
                    call.es.set_flags(played=False)

        return unsubscribe


def _srtp_session(spec: Any) -> Any:
    """metadata["srtp"] -> SRTPSession (or None)."""
    if spec is None:
        return None
    from voicecore.media import srtp

    if isinstance(spec, srtp.SRTPSession):
        return spec
    if isinstance(spec, (tuple, list)) and len(spec) == 2:
        local, remote = (srtp.parse_crypto(x) if isinstance(x, str) else x for x in spec)
        return srtp.session_from_sdes(local, remote)
    raise TypeError(
        "RTPVoiceBackend.connect: metadata['srtp'] must be an SRTPSession or "
        f"(local a=crypto line, remote a=crypto line), got {type(spec).__name__}"
    )

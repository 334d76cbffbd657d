"""aiosipua 0.7's ``rtp_bridge.CallSession`` on voicecore's native audio I/O engine.

:class:`CallSession` takes aiosipua's arguments, negotiates the SDP answer
with aiosipua's ``negotiate_sdp`` and runs the call's RTP on
:class:`voicecore.compat.aiortp.RTPSession`: ``sdp_answer``,
``chosen_payload_type``, ``remote_addr``, ``start``, ``on_audio`` /
``on_dtmf``, ``send_audio`` / ``send_audio_pcm`` / ``send_dtmf``,
``update_remote``, ``stats``, ``codec_sample_rate``, ``clock_rate``,
``rtp_session`` and ``close`` behave as aiosipua's. This module can stand in
for ``aiosipua.rtp_bridge`` (``SIPVoiceBackend._rtp_bridge``); under
``voicecore.install()`` roomkit's SIP backend gets a per-backend
:class:`voicecore.compat.roomkit.SIPBridge` that also moves its pacing,
playback callbacks and dead-call watchdogs into the engine.

What differs from aiosipua's (the README lists every difference):

- Only payload types the engine carries both ways are negotiated: PCMU and
  PCMA, and G.722 and Opus (PT 111) once this build's jitter buffer decodes
  them (:func:`voicecore.compat.aiortp.decodable`); an offer with none of
  them is refused with ``SdpNegotiationError``, which roomkit answers with 488.
- The answer's ``ptime`` is the engine's period (20 ms): voicecore sends
  20 ms packets and receives any ptime.
- Frames come once per 20 ms on the engine's playout clock, continuously
  (concealment, then silence while the caller is silent), not one per
  packet: a dead call is detected by the engine's watchdog
  (``inactivity_timeout``, ``establishment_timeout``, ``on_media_timeout``).
- voicecore's extras for native callers: :meth:`write` (any rate, with
  backpressure), :meth:`write_now`, :meth:`mark_end`, :meth:`end_response`,
  :meth:`wait_response`, :meth:`interrupt`, :attr:`is_playing`,
  ``on_played``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from voicecore.compat.aiortp import RTPSession

__all__ = ["CallSession", "NativeFrameTarget"]

logger = logging.getLogger("voicecore.compat.aiosipua")

#: Payload types negotiated for SIP calls: G.711, G.722 and Opus (the
#: number most offers give it) when this build has libopus.
SIP_PAYLOAD_TYPES = (0, 8, 9, 111)


def _carried() -> tuple[int, ...]:
    """The payload types this build sends and receives (libopus built in,
    formats the jitter buffer decodes)."""
    from voicecore.compat.aiortp import decodable
    from voicecore.media import opus

    fmts = {0: "pcmu", 8: "pcma", 9: "g722", 111: "opus"}
    return tuple(p for p in SIP_PAYLOAD_TYPES
                 if decodable(fmts[p]) and (p != 111 or opus.AVAILABLE))


class NativeFrameTarget:
    """Assign one to :attr:`CallSession.on_audio` to have the engine build
    each inbound frame itself: ``frame_cls`` objects (``data``,
    ``sample_rate``, ``channels``, ``sample_width``, ``timestamp_ms``,
    ``metadata["frame_kind"]``) handed to ``owner._audio_received_callback(session, frame)``
    in the engine's drain, with no Python call in between; an awaitable result
    goes to ``spawn``."""

    __slots__ = ("owner", "session", "frame_cls", "spawn")

    def __init__(self, owner: Any, session: Any, frame_cls: type, spawn: Callable[[Any], Any]) -> None:
        self.owner = owner
        self.session = session
        self.frame_cls = frame_cls
        self.spawn = spawn


class CallSession:
    """One call's RTP on the engine, with aiosipua's ``CallSession`` API.

    Args: aiosipua's (``local_ip``, ``rtp_port``, ``offer`` and the keyword
    arguments of ``aiosipua.rtp_bridge.CallSession``), then voicecore's:
        engine: the :class:`~voicecore.engine.AudioEngine` (default: the
            running loop's).
        inactivity_timeout: seconds without RTP, after media flowed, before
            ``on_media_timeout("media_lost", idle_s)`` (0: never).
        establishment_timeout: seconds from :meth:`start` without any RTP
            before ``on_media_timeout("media_not_established", idle_s)`` (0: never).
        min_delay_ms: the jitter buffer's smallest playout delay (ms).

    Raises:
        SdpNegotiationError: no offered codec the engine carries.
        ValueError: the offer has no RTP address.
    """

    def __init__(
        self,
        local_ip: str,
        rtp_port: int,
        offer: Any,
        *,
        advertised_ip: str | None = None,
        supported_codecs: list[int] | None = None,
        dtmf_payload_type: int = 101,
        ptime: int = 20,
        session_id: str | None = None,
        session_name: str = "-",
        jitter_capacity: int = 16,
        jitter_prefetch: int = 4,
        skip_audio_gaps: bool = False,
        plc: bool = True,
        cn: bool = False,
        cn_payload_type: int = 13,
        playout: bool = False,
        playout_max_delay_ms: int = 200,
        duplicate_tx: bool = False,
        symmetric_rtp: bool = False,
        engine: Any | None = None,
        inactivity_timeout: float = 0.0,
        establishment_timeout: float = 0.0,
        min_delay_ms: int = 60,
    ) -> None:
        from aiosipua.sdp import negotiate_sdp

        if inactivity_timeout < 0 or establishment_timeout < 0:
            raise ValueError("CallSession: inactivity_timeout and establishment_timeout must be >= 0 s")
        wanted = list(supported_codecs) if supported_codecs is not None else [0, 8]
        carried = _carried()
        codecs = [pt for pt in wanted if pt in carried]
        if not codecs:
            from aiosipua.sdp_negotiate import SdpNegotiationError

            raise SdpNegotiationError(
                f"CallSession: none of supported_codecs {wanted} can be carried by voicecore's "
                f"engine; it negotiates {', '.join(map(str, carried))} (PCMU, PCMA, G.722, Opus)"
            )
        sdp_ip = advertised_ip or local_ip
        answer, chosen = negotiate_sdp(
            offer=offer, local_ip=sdp_ip, rtp_port=rtp_port, supported_codecs=codecs,
            dtmf_payload_type=dtmf_payload_type, ptime=ptime, session_id=session_id,
            session_name=session_name,
        )
        if answer.audio is not None:
            answer.audio.attributes["ptime"] = ["20"]
        rtp_addr = offer.rtp_address
        if rtp_addr is None:
            raise ValueError("SDP offer has no RTP address (missing c= or m= audio)")
        self._local_ip = sdp_ip
        self._bind_ip = local_ip if advertised_ip else sdp_ip
        self._rtp_port = rtp_port
        self._remote_addr: tuple[str, int] = rtp_addr
        self._sdp_answer = answer
        self._chosen_pt = chosen
        self._clock_rate = 8000
        self._dtmf_payload_type = dtmf_payload_type
        self._rtp_kwargs = {
            "jitter_capacity": jitter_capacity, "jitter_prefetch": jitter_prefetch,
            "skip_audio_gaps": skip_audio_gaps, "plc": plc, "cn": cn,
            "cn_payload_type": cn_payload_type, "playout": playout,
            "playout_max_delay_ms": playout_max_delay_ms, "duplicate_tx": duplicate_tx,
            "symmetric_rtp": symmetric_rtp,
        }
        self._engine = engine
        self._inactivity_s = float(inactivity_timeout)
        self._establishment_s = float(establishment_timeout)
        self._min_delay_ms = min_delay_ms
        self._session: RTPSession | None = None
        self._closed = False
        self._on_audio: Any = None
        self._recheck: asyncio.TimerHandle | None = None
        self._started_at = 0.0
        #: the latest response token (:meth:`mark_end` / :meth:`end_response`)
        self.last_token = 0
        self.on_dtmf: Callable[[str, int], None] | None = None
        #: ``on_media_timeout(reason, idle_s)``: the engine's dead-call
        #: watchdog fired ("media_lost" or "media_not_established").
        self.on_media_timeout: Callable[[str, float], Any] | None = None
        #: ``on_played(pcm, send_ns, last)``: each frame really sent (s16le at
        #: the clock rate, monotonic send time in ns, last of its response).
        self.on_played: Callable[[bytes, int, bool], Any] | None = None
        #: ``stats_listener(stats)``: called with every :attr:`stats` read.
        self.stats_listener: Callable[[dict[str, Any]], Any] | None = None

    # ------------------------------------------------------------------ aiosipua's API
    @property
    def sdp_answer(self) -> Any:
        """The negotiated SDP answer (aiosipua ``SdpMessage``)."""
        return self._sdp_answer

    @property
    def chosen_payload_type(self) -> int:
        return self._chosen_pt

    @property
    def remote_addr(self) -> tuple[str, int]:
        """The peer's RTP address (from the offer, or :meth:`update_remote`)."""
        return self._remote_addr

    @property
    def rtp_session(self) -> RTPSession | None:
        """The underlying :class:`voicecore.compat.aiortp.RTPSession` (None before start)."""
        return self._session

    @property
    def codec_sample_rate(self) -> int:
        """Sample rate of the negotiated codec (Hz): 8000 for G.711, 16000
        for G.722, 48000 for Opus."""
        if self._session is not None:
            return int(self._session.codec.sample_rate)
        return 8000

    @property
    def clock_rate(self) -> int:
        """RTP clock rate from the SDP answer (Hz)."""
        return self._clock_rate

    @property
    def on_audio(self) -> Any:
        """``on_audio(pcm, timestamp)`` per 20 ms frame, or a :class:`NativeFrameTarget`."""
        return self._on_audio

    @on_audio.setter
    def on_audio(self, cb: Any) -> None:
        self._on_audio = cb
        self._apply_sink()

    @property
    def stats(self) -> dict[str, Any]:
        """The RTP session's statistics (aiortp's keys and voicecore's), {} before start."""
        if self._session is None:
            return {}
        d = self._session.stats
        listener = self.stats_listener
        if listener is not None:
            listener(d)
        return d

    async def start(self) -> None:
        """Bind the RTP socket pair on ``(local_ip, rtp_port)`` (RTCP on the
        next port) and start the session on the engine."""
        clock_rate = 8000
        audio = self._sdp_answer.audio
        if audio is not None:
            for codec in audio.codecs:
                if codec.payload_type == self._chosen_pt and codec.clock_rate > 0:
                    clock_rate = codec.clock_rate
                    break
        self._clock_rate = clock_rate
        watch = [t for t in (self._inactivity_s, self._establishment_s) if t > 0]
        self._session = await RTPSession.create(
            local_addr=(self._bind_ip, self._rtp_port),
            remote_addr=self._remote_addr,
            payload_type=self._chosen_pt,
            clock_rate=clock_rate,
            dtmf_payload_type=self._dtmf_payload_type,
            engine=self._engine,
            deliver_idle_s=0.0,
            inactivity_timeout=min(watch) if watch else 0.0,
            min_delay_ms=self._min_delay_ms,
            **self._rtp_kwargs,  # type: ignore[arg-type]
        )
        self._started_at = time.monotonic()
        self._session.on_dtmf = self._handle_dtmf
        self._session.on_inactive = self._on_idle
        es = self._session.engine_session
        es.on_played = self._handle_played
        es.set_flags(played=True)
        self._apply_sink()

    def _apply_sink(self) -> None:
        s = self._session
        if s is None:
            return
        cb = self._on_audio
        es = s.engine_session
        if isinstance(cb, NativeFrameTarget):
            from voicecore._native.engine.sink import FrameSink

            es.set_frame_sink(FrameSink(cb.owner, cb.session, cb.frame_cls, int(s.codec.sample_rate),
                                        float(es.engine.period_ms), cb.spawn))
        else:
            s.on_audio = self._handle_audio
            es.set_frame_sink(s._deliver)

    def _handle_audio(self, pcm: bytes, timestamp: int) -> None:
        cb = self._on_audio
        if cb is not None:
            try:
                cb(pcm, timestamp)
            except Exception:
                logger.exception("CallSession: on_audio callback failed")

    def _handle_dtmf(self, digit: str, duration: int) -> None:
        cb = self.on_dtmf
        if cb is not None:
            try:
                cb(digit, duration)
            except Exception:
                logger.exception("CallSession: on_dtmf callback failed")

    def _handle_played(self, pcm: bytes, send_ns: int, last: bool) -> None:
        cb = self.on_played
        if cb is not None:
            try:
                cb(pcm, send_ns, last)
            except Exception:
                logger.exception("CallSession: on_played callback failed")

    # ------------------------------------------------------------------ watchdogs
    def _on_idle(self, idle_s: float) -> None:
        """The engine saw no RTP for the shorter of the two timeouts: decide
        which applies, fire now or re-check once when the longer one is due."""
        self._recheck = None
        s = self._session
        if s is None or self._closed or s._idle_since is None:
            return
        idle = time.monotonic() - s._idle_since
        never = s.engine_session.stats().get("received", 0) == 0
        limit, reason = ((self._establishment_s, "media_not_established") if never
                         else (self._inactivity_s, "media_lost"))
        if limit <= 0:
            return
        if idle + 1e-3 >= limit:
            cb = self.on_media_timeout
            if cb is not None:
                cb(reason, idle)
        else:
            self._recheck = asyncio.get_running_loop().call_later(limit - idle, self._on_idle, idle)

    # ------------------------------------------------------------------ outbound
    def send_audio(self, payload: bytes, timestamp: int) -> None:
        """Send codec-encoded audio (paced by the engine; ``timestamp`` ignored)."""
        if self._session is not None and not self._closed:
            self._session.send_audio(payload, timestamp)

    def send_audio_pcm(self, pcm: bytes, timestamp: int) -> None:
        """Send s16le PCM at the codec rate (paced by the engine; ``timestamp`` ignored)."""
        if self._session is not None and not self._closed:
            self._session.send_audio_pcm(pcm, timestamp)

    def send_dtmf(self, digit: str, duration_ms: int = 160) -> None:
        """Send an RFC 4733 digit."""
        if self._session is not None and not self._closed:
            self._session.send_dtmf(digit, duration_ms)

    def write_now(self, pcm: bytes | bytearray | memoryview, sample_rate: int | None = None) -> None:
        """voicecore's: queue s16le PCM at ``sample_rate`` Hz without waiting
        (what does not fit in the ring is dropped and counted)."""
        if self._session is not None and not self._closed:
            self._session._write_now(pcm, sample_rate or self.codec_sample_rate)

    async def write(self, pcm: bytes | bytearray | memoryview, sample_rate: int | None = None) -> bool:
        """voicecore's: queue s16le PCM at any rate, waiting while the ring is
        full (backpressure). False if :meth:`interrupt` cut it short."""
        if self._session is None or self._closed:
            return False
        return await self._session.write(pcm, sample_rate or self.codec_sample_rate)

    def mark_end(self) -> int:
        """voicecore's: the response written so far ends here; returns its
        token (0 if the mark queue was full) for :meth:`wait_response`."""
        s = self._session
        if s is None or self._closed:
            return 0
        es = s.engine_session
        token = es._native.mark_end(es.index)
        if token:
            es._waiters[token] = asyncio.get_running_loop().create_future()
            self.last_token = int(token)
        return int(token)

    async def end_response(self) -> int:
        """voicecore's: like :meth:`mark_end`, waiting for room in the mark queue."""
        s = self._session
        if s is None or self._closed:
            return 0
        self.last_token = await s.engine_session.end_response()
        return self.last_token

    async def wait_response(self, token: int | None = None) -> bool:
        """voicecore's: wait until response ``token`` (default: the latest)
        has left (True) or was interrupted (False)."""
        s = self._session
        token = self.last_token if token is None else token
        if s is None or not token:
            return True
        return await s.engine_session.wait_response(token)

    def interrupt(self) -> None:
        """voicecore's: drop queued outbound audio within one tick."""
        if self._session is not None and not self._closed:
            self._session.interrupt()

    @property
    def is_playing(self) -> bool:
        """voicecore's: outbound audio is queued or still leaving."""
        s = self._session
        return bool(s is not None and not self._closed and s.engine_session.is_playing)

    @property
    def closed(self) -> bool:
        return self._closed

    def update_remote(self, addr: tuple[str, int]) -> None:
        """Send to (and accept from) a new RTP address (re-INVITE)."""
        self._remote_addr = addr
        if self._session is not None:
            self._session.update_remote(addr)

    async def close(self) -> None:
        """Close the RTP session (RTCP BYE) and release its sockets."""
        if self._closed:
            return
        self._closed = True
        if self._recheck is not None:
            self._recheck.cancel()
            self._recheck = None
        if self._session is not None:
            await self._session.close()

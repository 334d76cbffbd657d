"""aiortp 0.8's ``RTPSession`` on voicecore's native audio I/O engine.

:class:`RTPSession` has aiortp's constructor, ``create(...)`` signature,
callbacks (``on_audio``, ``on_dtmf``), sending methods, ``codec``, ``stats``,
``update_remote``, ``drain`` and ``close``, so aiosipua's ``CallSession``, roomkit and
other aiortp users run on it unchanged (``voicecore.install()`` makes it
``aiortp.RTPSession``). Every packet is handled in the engine's thread: the
session is paced by the engine's clock, inbound audio is played out by a
jitter buffer with concealment, and only the negotiated peer is heard.

Where aiortp's behaviour is right it is kept; where it is not, voicecore's
is used (the README's section "aiortp / aiosipua / roomkit SIP on the engine"
lists each difference):

- ``on_audio(pcm, timestamp)`` is called once per 20 ms on the engine's
  playout clock (audio, concealment or silence), from the first packet on,
  instead of once per arriving packet; ``timestamp`` counts the playout
  timeline in clock units. After ``deliver_idle_s`` without a packet the
  frames pause until packets resume (aiortp delivers nothing between
  packets; a dead-call watchdog that counts ``on_audio`` calls keeps working).
- Outbound audio is always paced (``paced`` is accepted and implied): the
  ``timestamp`` given to ``send_audio`` / ``send_audio_pcm`` is ignored, the
  engine stamps packets from its clock (continuous, jumping over pauses,
  marker bit on each talkspurt).
- Strict source unless ``symmetric_rtp=True`` (then latching after >= 4
  sequential packets in 5 s, not on the first packet).

Linux only (the engine uses epoll, timerfd and eventfd).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

__all__ = ["NativeCodec", "RTPSession", "decodable"]

logger = logging.getLogger("voicecore.compat.aiortp")

#: aiortp's codec names -> the engine's formats.
_BY_NAME = {"PCMU": "pcmu", "PCMA": "pcma", "L16": "l16", "G722": "g722", "OPUS": "opus"}
#: Audio rate (Hz) of a format whose rate is not its RTP clock.
_AUDIO_RATE = {"g722": 16000, "opus": 48000}


class NativeCodec:
    """aiortp's ``Codec`` interface (``name``, ``sample_rate``,
    ``samples_per_frame``, ``encode``, ``decode``, ``conceal``) for the
    formats the engine carries: PCMU and PCMA (G.711, bit-exact with the
    stdlib ``audioop``), L16 (s16 big-endian), G.722 (16 kHz audio on the
    8 kHz RTP clock) and Opus (48 kHz). PCM is s16le mono at ``sample_rate``
    Hz; one frame is 20 ms. G.722 and Opus keep their state per object (one
    stream per direction, as aiortp's)."""

    __slots__ = ("name", "payload_type", "sample_rate", "samples_per_frame", "_fmt", "_enc", "_dec")

    def __init__(self, fmt: str, payload_type: int, sample_rate: int = 8000) -> None:
        if fmt not in _BY_NAME.values():
            raise ValueError(f"NativeCodec: fmt must be one of {sorted(_BY_NAME.values())}, got {fmt!r}")
        self._fmt = fmt
        self.name = {"g722": "G722", "opus": "opus"}.get(fmt, fmt.upper())   # aiortp's names
        self.payload_type = payload_type
        self.sample_rate = _AUDIO_RATE.get(fmt, sample_rate)
        self.samples_per_frame = self.sample_rate // 50
        self._enc: Any = None
        self._dec: Any = None

    def _coders(self) -> tuple[Any, Any]:
        if self._enc is None:
            if self._fmt == "g722":
                from voicecore.media.g722 import G722Decoder, G722Encoder

                self._enc, self._dec = G722Encoder(), G722Decoder()
            elif self._fmt == "opus":
                from voicecore.media.opus import OpusDecoder, OpusEncoder

                self._enc, self._dec = OpusEncoder(48000), OpusDecoder(48000)
        return self._enc, self._dec

    def encode(self, pcm: bytes) -> bytes:
        """s16le PCM -> payload bytes."""
        if self._fmt == "l16":
            return _swap16(pcm)
        if self._fmt in ("g722", "opus"):
            return bytes(self._coders()[0].encode(pcm))
        from voicecore.media import codec

        return codec.lin2ulaw(pcm) if self._fmt == "pcmu" else codec.lin2alaw(pcm)

    def decode(self, payload: bytes) -> bytes:
        """Payload bytes -> s16le PCM."""
        if self._fmt == "l16":
            return _swap16(payload)
        if self._fmt in ("g722", "opus"):
            return bytes(self._coders()[1].decode(payload))
        from voicecore.media import codec

        return codec.ulaw2lin(payload) if self._fmt == "pcmu" else codec.alaw2lin(payload)

    def conceal(self, num_samples: int) -> bytes | None:
        """None: concealment happens in the engine's jitter buffer."""
        return None

    def __repr__(self) -> str:
        return f"NativeCodec({self._fmt!r}, payload_type={self.payload_type}, sample_rate={self.sample_rate})"


def _swap16(data: bytes) -> bytes:
    import numpy as np

    if len(data) % 2:
        raise ValueError(f"NativeCodec: 16-bit data needs an even byte count, got {len(data)}")
    return np.frombuffer(data, np.int16).byteswap().tobytes()


@functools.lru_cache(maxsize=None)
def decodable(fmt: str) -> bool:
    """Whether this build's jitter buffer decodes ``fmt`` (the engine may
    send a format before it can receive it: G.722 and Opus, issue 14)."""
    from voicecore.media.jitter import JitterBuffer

    try:
        JitterBuffer(clock_rate=_AUDIO_RATE.get(fmt, 8000), frame_ms=20, payload_types={96: fmt})
    except (ValueError, TypeError):
        return False
    return True


def _format_of(payload_type: int, codec: Any) -> tuple[str, Any]:
    """(engine format, codec object to expose) for ``payload_type`` / ``codec``."""
    from voicecore.backends._rtp_calls import STATIC_PAYLOADS, UNSUPPORTED

    if codec is not None:
        fmt = _BY_NAME.get(str(getattr(codec, "name", "")).upper())
        if fmt is None:
            raise ValueError(
                f"RTPSession.create: codec {getattr(codec, 'name', codec)!r} cannot be carried by "
                "voicecore's engine; supported: PCMU, PCMA, L16, G722, opus"
            )
    else:
        fmt = STATIC_PAYLOADS.get(payload_type)
        if fmt is None:
            known = UNSUPPORTED.get(payload_type, "no codec known for it")
            raise ValueError(
                f"RTPSession.create: payload type {payload_type} ({known}) cannot be decoded by "
                "voicecore's engine; supported: 0 (PCMU), 8 (PCMA), 9 (G.722), 11 (L16), 111 (Opus), "
                "or pass codec= for a dynamic payload type"
            )
    if fmt == "opus":
        from voicecore.media.opus import require

        require("RTPSession.create: Opus")          # this build may have no libopus
    if not decodable(fmt):
        raise ValueError(
            f"RTPSession.create: {fmt.upper()} (payload type {payload_type}) is sent but not yet decoded "
            "by voicecore's engine; use 0 (PCMU), 8 (PCMA) or 11 (L16)"
        )
    return fmt, codec


class RTPSession:
    """An aiortp-compatible RTP session on an :class:`~voicecore.engine.AudioEngine`.

    The constructor takes aiortp 0.8's arguments (the session is not bound
    until :meth:`create`, as in aiortp); use :meth:`create`.

    Callbacks (assign any time):
        on_audio(pcm: bytes, timestamp: int): s16le mono at the codec rate,
            20 ms per call, on the event loop.
        on_dtmf(digit: str, duration: int): each RFC 4733 digit once, duration
            in RTP clock units.
        on_cn, on_receiver_report: accepted for aiortp compatibility; never
            called (comfort noise is played out as audio frames, peer reports
            are in :attr:`stats`).
        on_inactive(idle_s: float), on_active(): voicecore's; the peer has
            sent nothing for ``inactivity_timeout`` s / has resumed.
    """

    def __init__(
        self,
        payload_type: int,
        codec: Any | None = None,
        ssrc: int | None = None,
        clock_rate: int = 8000,
        dtmf_payload_type: int = 101,
        cname: str = "aiortp",
        rtcp_interval: float = 5.0,
        jitter_capacity: int = 16,
        jitter_prefetch: int = 4,
        skip_audio_gaps: bool = False,
        plc: bool = True,
        playout: bool = False,
        playout_max_delay_ms: int = 200,
        paced: bool = False,
        cn: bool = False,
        cn_payload_type: int = 13,
        nack_retransmit: bool = False,
        duplicate_tx: bool = False,
        symmetric_rtp: bool = False,
        port_allocator: Any | None = None,
    ) -> None:
        if not 0 <= payload_type <= 127:
            raise ValueError(f"RTPSession: payload_type must be 0-127, got {payload_type}")
        if clock_rate not in (8000, 16000, 24000, 32000, 48000):
            raise ValueError(f"RTPSession: clock_rate must be 8000-48000 Hz in steps of 8000, got {clock_rate}")
        if rtcp_interval < 0:
            raise ValueError(f"RTPSession: rtcp_interval must be >= 0 s, got {rtcp_interval}")
        if not 20 <= playout_max_delay_ms <= 2000:
            raise ValueError(f"RTPSession: playout_max_delay_ms must be 20-2000, got {playout_max_delay_ms}")
        if ssrc is not None and not 0 <= ssrc <= 0xFFFFFFFF:
            raise ValueError(f"RTPSession: ssrc must be a 32-bit unsigned int, got {ssrc}")
        self._fmt, user_codec = _format_of(payload_type, codec)
        self._codec = user_codec if user_codec is not None else NativeCodec(self._fmt, payload_type, clock_rate)
        self._payload_type = payload_type
        self._ssrc = ssrc
        self._clock_rate = clock_rate
        self._dtmf_payload_type = dtmf_payload_type
        self._cname = cname
        self._rtcp_interval = rtcp_interval
        self._max_delay_ms = playout_max_delay_ms
        self._cn_payload_type = cn_payload_type
        self._symmetric_rtp = symmetric_rtp
        self._port_allocator = port_allocator
        # accepted for aiortp compatibility; the engine always plays out on its
        # clock with concealment and always paces (see the module docstring)
        self._ignored = {"jitter_capacity": jitter_capacity, "jitter_prefetch": jitter_prefetch,
                         "skip_audio_gaps": skip_audio_gaps, "plc": plc, "playout": playout,
                         "paced": paced, "cn": cn, "nack_retransmit": nack_retransmit,
                         "duplicate_tx": duplicate_tx}
        self._spf = clock_rate // 50
        self._es: Any = None
        self._closed = False
        self._remote_addr: tuple[str, int] | None = None
        self._deliver_idle_s = 0.0
        self._inactivity_s = 0.0
        self._idle_since: float | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._gated = False
        self._inactive_reported = False
        self.on_audio: Callable[[bytes, int], None] | None = None
        self.on_dtmf: Callable[[str, int], None] | None = None
        self.on_cn: Callable[[int], None] | None = None
        self.on_receiver_report: Callable[[Any], None] | None = None
        self.on_inactive: Callable[[float], Any] | None = None
        self.on_active: Callable[[], Any] | None = None

    # ------------------------------------------------------------------ create
    @classmethod
    async def create(
        cls,
        local_addr: tuple[str, int],
        remote_addr: tuple[str, int],
        payload_type: int,
        codec: Any | None = None,
        ssrc: int | None = None,
        clock_rate: int = 8000,
        dtmf_payload_type: int = 101,
        cname: str = "aiortp",
        rtcp_interval: float = 5.0,
        jitter_capacity: int = 16,
        jitter_prefetch: int = 4,
        skip_audio_gaps: bool = False,
        plc: bool = True,
        playout: bool = False,
        playout_max_delay_ms: int = 200,
        paced: bool = False,
        cn: bool = False,
        cn_payload_type: int = 13,
        nack_retransmit: bool = False,
        duplicate_tx: bool = False,
        symmetric_rtp: bool = False,
        port_allocator: Any | None = None,
        *,
        engine: Any | None = None,
        deliver_idle_s: float = 2.0,
        inactivity_timeout: float = 0.0,
        min_delay_ms: int = 60,
        out_buffer: int = 32768,
    ) -> RTPSession:
        """Bind the session's sockets on ``local_addr`` and start it on the engine.

        aiortp 0.8's arguments, then voicecore's (keyword only):

        Args:
            local_addr: (host, port) to bind RTP; port 0 = OS-assigned (RTCP on
                another OS-assigned port), a fixed port puts RTCP on port + 1.
            remote_addr: (host, port) of the peer's RTP (RTCP: port + 1).
            payload_type: 0 (PCMU), 8 (PCMA), 11 (L16) or a dynamic one with ``codec``.
            engine: the :class:`~voicecore.engine.AudioEngine` (default: the
                running loop's default engine).
            deliver_idle_s: seconds of frames still delivered after the peer's
                last packet before ``on_audio`` pauses (0: never pause).
            inactivity_timeout: seconds without a packet before ``on_inactive``
                (0: never). Counted from the start when no packet ever came.
            min_delay_ms: the jitter buffer's smallest playout delay (ms); its
                largest is ``playout_max_delay_ms``.
            out_buffer: outbound ring, samples (power of two): audio written
                with the synchronous methods beyond it is dropped and counted
                (``out_overflow_samples``).

        Raises:
            ValueError: a payload type or codec the engine cannot carry, or a
                bad argument.
            OSError: the local address cannot be bound.
        """
        if deliver_idle_s < 0 or inactivity_timeout < 0:
            raise ValueError("RTPSession.create: deliver_idle_s and inactivity_timeout must be >= 0 s")
        self = cls(
            payload_type=payload_type, codec=codec, ssrc=ssrc, clock_rate=clock_rate,
            dtmf_payload_type=dtmf_payload_type, cname=cname, rtcp_interval=rtcp_interval,
            jitter_capacity=jitter_capacity, jitter_prefetch=jitter_prefetch,
            skip_audio_gaps=skip_audio_gaps, plc=plc, playout=playout,
            playout_max_delay_ms=playout_max_delay_ms, paced=paced, cn=cn,
            cn_payload_type=cn_payload_type, nack_retransmit=nack_retransmit,
            duplicate_tx=duplicate_tx, symmetric_rtp=symmetric_rtp, port_allocator=port_allocator,
        )
        await self._bind(local_addr, remote_addr, engine, deliver_idle_s, inactivity_timeout,
                         min_delay_ms, out_buffer)
        return self

    async def _bind(self, local_addr: tuple[str, int], remote_addr: tuple[str, int], engine: Any,
                    deliver_idle_s: float, inactivity_timeout: float, min_delay_ms: int,
                    out_buffer: int) -> None:
        from voicecore.engine import get_engine
        from voicecore.engine.session import open_udp_pair

        engine = engine if engine is not None else get_engine()
        remote = (str(remote_addr[0]), int(remote_addr[1]))
        self._remote_addr = remote
        self._deliver_idle_s = float(deliver_idle_s)
        self._inactivity_s = float(inactivity_timeout)
        watch = [t for t in (self._deliver_idle_s, self._inactivity_s) if t > 0]
        rtcp_mode = "separate" if self._rtcp_interval > 0 else "off"
        rtp_sock, rtcp_sock, port = await open_udp_pair(
            (local_addr[0], int(local_addr[1])), rtcp=rtcp_mode, port_allocator=self._port_allocator)
        try:
            es = await engine.open_session(
                rtp_socket=rtp_sock,
                rtcp_socket=rtcp_sock,
                remote_addr=remote,
                clock_rate=self._clock_rate,
                payload_type=self._payload_type,
                codec=self._fmt,
                dtmf_payload_type=self._dtmf_payload_type if self._dtmf_payload_type > 0 else None,
                cn_payload_type=self._cn_payload_type,
                rtcp_interval=self._rtcp_interval,
                inactivity_timeout=min(watch) if watch else 0.0,
                latching=self._symmetric_rtp,
                min_delay_ms=min_delay_ms,
                max_delay_ms=max(min_delay_ms, self._max_delay_ms),
                out_buffer=out_buffer,
                cname=self._cname,
                allocated_port=port,
                port_allocator=self._port_allocator,
                ssrc=self._ssrc,
            )
        except BaseException:
            rtp_sock.close()
            if rtcp_sock is not None:
                rtcp_sock.close()
            if port is not None and self._port_allocator is not None:
                await self._port_allocator.release(port)
            raise
        self._es = es
        self._loop = asyncio.get_running_loop()
        es.set_frame_sink(self._deliver)
        es.on_dtmf = self._dtmf
        es.on_inactive = self._engine_inactive
        es.on_active = self._engine_active

    # ------------------------------------------------------------------ inbound
    def _deliver(self, pcm: bytes, kind: int, frame_no: int) -> None:
        cb = self.on_audio
        if cb is not None:
            try:
                cb(pcm, (frame_no * self._spf) & 0xFFFFFFFF)
            except Exception:           # a callback never stalls the engine's drain
                logger.exception("RTPSession: on_audio callback failed")

    def _dtmf(self, digit: str, ms: float) -> None:
        cb = self.on_dtmf
        if cb is not None:
            try:
                cb(digit, round(ms * self._clock_rate / 1000))
            except Exception:
                logger.exception("RTPSession: on_dtmf callback failed")

    def _engine_inactive(self, idle_s: float) -> None:
        self._idle_since = time.monotonic() - idle_s
        self._check_idle()

    def _check_idle(self) -> None:
        """Pause delivery after ``deliver_idle_s`` and report inactivity after
        ``inactivity_timeout`` (the engine reports the first of the two; a
        one-shot timer covers the other, only while the peer is silent)."""
        self._idle_timer = None
        if self._idle_since is None or self._closed:
            return
        idle = time.monotonic() - self._idle_since
        wait: float | None = None
        if self._deliver_idle_s and not self._gated:
            if idle + 1e-3 >= self._deliver_idle_s:
                self._gated = True
                self._es.set_flags(deliver=False)
            else:
                wait = self._deliver_idle_s - idle
        if self._inactivity_s and not self._inactive_reported:
            if idle + 1e-3 >= self._inactivity_s:
                self._inactive_reported = True
                cb = self.on_inactive
                if cb is not None:
                    cb(idle)
            else:
                left = self._inactivity_s - idle
                wait = left if wait is None else min(wait, left)
        if wait is not None:
            self._idle_timer = self._loop.call_later(wait, self._check_idle)

    def _engine_active(self) -> None:
        self._idle_since = None
        self._inactive_reported = False
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self._gated:
            self._gated = False
            self._es.set_flags(deliver=True)
        cb = self.on_active
        if cb is not None:
            cb()

    # ------------------------------------------------------------------ outbound
    def _write_now(self, pcm: bytes | bytearray | memoryview, rate: int) -> None:
        """Queue PCM without waiting; what does not fit is dropped and counted."""
        es = self._es
        if es is None or self._closed:
            return
        native, idx = es._native, es.index
        if rate != es._out_rate:
            rs = None if rate == es.clock_rate else es._resampler(rate)
            if not native.mark_rate(idx, rate, rs):
                logger.warning("RTPSession: rate change queue full; %d bytes dropped", len(pcm))
                return
            es._out_rate = rate
        native.write(idx, pcm)

    def send_audio(self, payload: bytes, timestamp: int) -> None:
        """Send codec-encoded audio (decoded and re-encoded by the engine,
        paced by its clock; ``timestamp`` is ignored: the engine stamps)."""
        if self._es is None or self._closed:
            return
        self._write_now(self._codec.decode(payload), self._clock_rate)

    def send_audio_auto(self, payload: bytes) -> int:
        """Send codec-encoded audio; returns 0 (the engine assigns the
        timestamp when the packet leaves, as aiortp's paced mode)."""
        self.send_audio(payload, 0)
        return 0

    def send_audio_pcm(self, pcm: bytes, timestamp: int) -> None:
        """Send s16le PCM at the codec rate, paced by the engine's clock
        (``timestamp`` is ignored: the engine stamps)."""
        if len(pcm) % 2:
            raise ValueError(f"RTPSession.send_audio_pcm: s16le needs an even byte count, got {len(pcm)}")
        self._write_now(pcm, self._codec.sample_rate)

    def send_audio_pcm_auto(self, pcm: bytes) -> int:
        """Send s16le PCM; returns 0 (timestamps assigned at transmission)."""
        self.send_audio_pcm(pcm, 0)
        return 0

    async def write(self, pcm: bytes | bytearray | memoryview, sample_rate: int | None = None) -> bool:
        """voicecore's: queue s16le PCM at any rate (resampled in the engine),
        waiting while the session's ring is full. False if interrupted."""
        if self._es is None or self._closed:
            return False
        return bool(await self._es.write(pcm, sample_rate or self._codec.sample_rate))

    def interrupt(self) -> None:
        """voicecore's: drop queued outbound audio within one tick."""
        if self._es is not None and not self._closed:
            self._es.interrupt()

    async def drain(self) -> None:
        """Wait until every queued sample has been sent."""
        es = self._es
        if es is None or self._closed:
            return
        token = await es.end_response()
        await es.wait_response(token)

    def send_dtmf(self, digit: str, duration_ms: int = 160, timestamp: int = 0) -> None:
        """Send an RFC 4733 digit ('0'-'9', '*', '#', 'A'-'D'); audio pauses
        while it plays (``timestamp`` is ignored)."""
        if self._es is None or self._closed or self._dtmf_payload_type <= 0:
            return
        self._es.send_dtmf(digit, max(10, min(10000, int(duration_ms))))

    # ------------------------------------------------------------------ state
    @property
    def codec(self) -> Any:
        """The session's codec (``NativeCodec`` unless one was passed)."""
        return self._codec

    @property
    def engine_session(self) -> Any:
        """voicecore's :class:`~voicecore.engine.EngineSession` (None before create)."""
        return self._es

    @property
    def local_addr(self) -> tuple[str, int] | None:
        """voicecore's: the bound RTP address."""
        return self._es.local_addr if self._es is not None else None

    @property
    def remote_addr(self) -> tuple[str, int] | None:
        """voicecore's: where RTP is sent."""
        return self._remote_addr

    def update_remote(self, addr: tuple[str, int]) -> None:
        """Send to (and accept from) a new peer address (re-INVITE); RTCP on port + 1."""
        self._remote_addr = (str(addr[0]), int(addr[1]))
        if self._es is not None and not self._closed:
            self._es.set_remote(self._remote_addr)

    @property
    def stats(self) -> dict[str, Any]:
        """aiortp's keys (``ssrc``, ``packets_sent``, ``octets_sent``,
        ``packets_received``, ``packets_lost``, ``jitter`` in clock units,
        ``concealed_frames``, and once a peer report arrived
        ``remote_fraction_lost`` (0-255), ``remote_packets_lost``,
        ``remote_jitter`` (clock units)), plus every engine and jitter-buffer
        counter under voicecore's names (RELIABILITY.md)."""
        es = self._es
        if es is None:
            return {"ssrc": self._ssrc or 0, "packets_sent": 0, "octets_sent": 0}
        d = dict(es.stats())
        k = self._clock_rate / 1000.0
        d["packets_received"] = d.get("received", 0)
        d["packets_lost"] = d.get("lost", 0)
        d["jitter"] = int(round(d.get("jitter_ms", 0.0) * k))
        if d.get("rtcp_received", 0):
            d["remote_fraction_lost"] = int(round(d.get("peer_fraction_lost", 0.0) * 256)) & 0xFF
            d["remote_packets_lost"] = d.get("peer_cumulative_lost", 0)
            d["remote_jitter"] = int(round(d.get("peer_jitter_ms", 0.0) * k))
        return d

    async def close(self) -> None:
        """Send RTCP BYE, stop the session in the engine and release its sockets."""
        if self._closed:
            return
        self._closed = True
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        es = self._es
        if es is not None:
            await es.close(bye=True)

    def __repr__(self) -> str:
        return (f"<voicecore RTPSession pt={self._payload_type} local={self.local_addr} "
                f"remote={self._remote_addr} closed={self._closed}>")

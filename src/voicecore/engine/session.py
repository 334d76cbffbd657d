"""One RTP session on the audio I/O engine, seen from the event loop."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from voicecore.engine import AudioEngine

__all__ = ["EngineSession", "open_udp_pair"]

logger = logging.getLogger("voicecore.engine")

_DIGITS = "0123456789*#ABCD"
DIGIT_CODES = {d: i for i, d in enumerate(_DIGITS)}

# event types (voicecore/_native/engine/core.pxd)
EV_READY, EV_REMOVED, EV_DTMF, EV_INACTIVE, EV_ACTIVE, EV_BYE, EV_PLAYED, EV_ERROR = range(1, 9)
EV_DTMF_SENT, EV_LATCHED, EV_RTCP = 9, 10, 11
FLAG_DELIVER, FLAG_PLAYED, FLAG_LATCH, FLAG_DELIVER_EARLY, FLAG_MUTED = 1, 2, 4, 8, 16
FLAG_IDLE_SILENCE, FLAG_IDLE_CN = 32, 64
#: What a session sends while it has nothing to play.
KEEPALIVE = {"none": 0, "silence": FLAG_IDLE_SILENCE, "cn": FLAG_IDLE_CN}

#: Inbound frame kinds (the jitter buffer's FrameKind).
FRAME_KINDS = ("audio", "concealed", "silence", "comfort_noise")


def _audio_rate(codec: str, rtp_clock: int) -> int:
    """Audio rate (Hz) of a session's frames for its codec and RTP clock."""
    if codec == "g722":
        if rtp_clock != 8000:
            raise ValueError(f"G.722 runs on an 8000 Hz RTP clock (RFC 3551), got clock_rate={rtp_clock}")
        return 16000
    if codec == "opus" and rtp_clock != 48000:
        raise ValueError(f"Opus runs on a 48000 Hz RTP clock (RFC 7587), got clock_rate={rtp_clock}")
    return rtp_clock


def _family(host: str) -> int:
    try:
        socket.inet_pton(socket.AF_INET6, host.split("%")[0])
        return socket.AF_INET6
    except OSError:
        return socket.AF_INET


#: Receive buffer per session socket (bytes): the engine reads each socket once
#: per 5 ms sub-slot, so the kernel must hold a burst (or a flood it will count
#: and drop) of that long. The kernel caps it at net.core.rmem_max.
RCVBUF = 1 << 20


def _udp(host: str, port: int, family: int) -> socket.socket:
    s = socket.socket(family, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind((host, port))
        s.setblocking(False)
    except BaseException:
        s.close()
        raise
    return s


async def open_udp_pair(
    local_addr: tuple[str, int],
    *,
    rtcp: str = "separate",
    port_allocator: Any | None = None,
    port_range: tuple[int, int] | None = None,
) -> tuple[socket.socket, socket.socket | None, int | None]:
    """Bind the RTP socket (and the RTCP one) of a session.

    ``local_addr`` port 0: an OS-assigned port, RTCP on another OS-assigned
    port (as aiortp does). A fixed port: RTCP on port + 1. ``port_allocator``
    (aiortp's ``PortAllocator`` interface: ``await allocate() -> (rtp, rtcp)``,
    ``await release(rtp)``) or ``port_range`` (first, last): an even RTP port
    from that range, RTCP on the next odd one. ``rtcp``: 'separate' (its own
    socket), 'mux' (RFC 5761, on the RTP socket) or 'off'.

    Returns ``(rtp_socket, rtcp_socket or None, allocated_port or None)``.
    """
    host, port = local_addr[0], int(local_addr[1])
    family = _family(host)
    want_rtcp = rtcp == "separate"
    if port_allocator is not None:
        rtp_port, rtcp_port = await port_allocator.allocate()
        try:
            a = _udp(host, rtp_port, family)
            b = _udp(host, rtcp_port, family) if want_rtcp else None
        except BaseException:
            await port_allocator.release(rtp_port)
            raise
        return a, b, rtp_port
    if port_range is not None:
        first, last = port_range
        for p in range(first + (first & 1), last, 2):
            try:
                a = _udp(host, p, family)
            except OSError:
                continue
            try:
                b = _udp(host, p + 1, family) if want_rtcp else None
            except OSError:
                a.close()
                continue
            return a, b, None
        raise OSError(f"no free even RTP port (with RTCP on the next port) in {first}-{last}")
    a = _udp(host, port, family)
    try:
        b = _udp(host, port + 1 if port else 0, family) if want_rtcp else None
    except BaseException:
        a.close()
        raise
    return a, b, None


class EngineSession:
    """One call's RTP on an :class:`~voicecore.engine.AudioEngine`.

    Created through :meth:`AudioEngine.open_session`. The sockets are bound by
    the caller (:func:`open_udp_pair`); everything else is configuration.

    Args:
        rtp_socket, rtcp_socket: bound UDP sockets (RTCP None: muxed or off).
        remote_addr: (host, port) of the peer's RTP; ``remote_rtcp_addr``
            defaults to port + 1 (the RTP port itself when RTCP is muxed).
        clock_rate: RTP clock (Hz): 8000 for G.711 and G.722, 48000 for Opus.
            The audio rate (:attr:`audio_rate`) is the same except for G.722
            (16 kHz audio on its historical 8 kHz RTP clock, RFC 3551).
        payload_type: outbound payload type; ``codec`` its format ('pcmu',
            'pcma', 'l16', 'g722', 'opus'); ``payload_types``: inbound audio
            payload types ``{pt: codec}`` the jitter buffer decodes (default:
            the outbound one).
        opus_bitrate: Opus encoder bit rate (bit/s, default 24000);
            ``opus_fec``: in-band FEC for the far end's loss concealment.
        srtp: an SDES-SRTP session (:class:`voicecore.media.srtp.SRTPSession`)
            protecting RTP and RTCP both ways, or None.
        dtmf_payload_type: RFC 4733 payload type (None: no DTMF).
        cn_payload_type: RFC 3389 comfort noise payload type (None: off).
        output_rate: deliver inbound frames at this rate (Hz), resampled in the
            engine thread (None: the clock rate).
        rtcp_interval: seconds between RTCP reports (randomised 0.5-1.5x; 0: off).
        inactivity_timeout: seconds without a packet before ``on_inactive``
            (0: never).
        latching: learn the peer's address from its RTP (NAT) instead of
            strict source filtering (>= 4 sequential packets in 5 s).
        min_delay_ms, max_delay_ms: the jitter buffer's playout delay range.
        out_buffer: outbound ring capacity in samples (power of two).
        aec: keep an AEC reference ring of what was sent (1 s at the clock rate).
        deliver_early: deliver silence frames from the start, before the
            first packet (default: from the first packet on).
        keepalive: what to send while nothing is queued: 'none' (nothing,
            as roomkit), 'silence' (encoded silence every period: a
            continuous stream) or 'cn' (an RFC 3389 comfort-noise packet every
            500 ms), so that the peer's RTP timeout does not end the call.
        allocated_port: the port a port allocator gave (released on close).
        port_allocator: the allocator to give it back to.
        ssrc, seq, timestamp: initial outbound SSRC, sequence number and RTP
            timestamp (random by default).
    """

    def __init__(
        self,
        engine: AudioEngine,
        *,
        rtp_socket: socket.socket,
        rtcp_socket: socket.socket | None = None,
        remote_addr: tuple[str, int],
        remote_rtcp_addr: tuple[str, int] | None = None,
        clock_rate: int = 8000,
        payload_type: int = 0,
        codec: str = "pcmu",
        opus_bitrate: int = 24000,
        opus_fec: bool = True,
        srtp: Any | None = None,
        payload_types: dict[int, str] | None = None,
        dtmf_payload_type: int | None = 101,
        cn_payload_type: int | None = 13,
        output_rate: int | None = None,
        rtcp_interval: float = 5.0,
        rtcp_mux: bool = False,
        inactivity_timeout: float = 0.0,
        latching: bool = False,
        min_delay_ms: int = 60,
        max_delay_ms: int = 200,
        out_buffer: int = 32768,
        aec: bool = True,
        deliver_early: bool = False,
        keepalive: str = "none",
        cname: str | None = None,
        allocated_port: int | None = None,
        port_allocator: Any | None = None,
        ssrc: int | None = None,
        seq: int | None = None,
        timestamp: int | None = None,
    ) -> None:
        from voicecore.media.jitter import JitterBuffer
        from voicecore.media.resample import Resampler

        self.engine = engine
        self._native = engine.native
        self.rtp_socket = rtp_socket
        self.rtcp_socket = rtcp_socket
        self.local_addr: tuple[str, int] = rtp_socket.getsockname()[:2]
        self.remote_addr = tuple(remote_addr)
        audio_rate = _audio_rate(codec, clock_rate)
        self.rtp_clock = clock_rate
        self.clock_rate = clock_rate = audio_rate      # frames, resampling and AEC run at the audio rate
        self.audio_rate = audio_rate
        self.payload_type = payload_type
        self.codec = codec
        self.dtmf_payload_type = dtmf_payload_type
        self.frame_samples = clock_rate * engine.period_ms // 1000
        self._Resampler = Resampler
        self._allocated_port = allocated_port
        self._port_allocator = port_allocator
        if payload_types is None:
            payload_types = {payload_type: codec}
        self.jitter = JitterBuffer(
            clock_rate=clock_rate,
            frame_ms=engine.period_ms,
            payload_types=payload_types,
            dtmf_payload_type=dtmf_payload_type,
            cn_payload_type=cn_payload_type,
            min_delay_ms=min_delay_ms,
            max_delay_ms=max_delay_ms,
        )
        self.output_rate = output_rate or clock_rate
        in_rs = Resampler(clock_rate, self.output_rate) if self.output_rate != clock_rate else None
        encoder = None
        if codec == "g722":
            from voicecore.media.g722 import G722Encoder

            encoder = G722Encoder(64000)
        elif codec == "opus":
            from voicecore.media.opus import OpusEncoder, require

            require()
            encoder = OpusEncoder(audio_rate, opus_bitrate, "voip", fec=opus_fec,
                                  packet_loss_percent=10 if opus_fec else 0)
        family = rtp_socket.family
        if remote_rtcp_addr is None:
            if rtcp_mux:
                remote_rtcp_addr = self.remote_addr
            else:
                remote_rtcp_addr = (self.remote_addr[0], self.remote_addr[1] + 1)
        if keepalive not in KEEPALIVE:
            raise ValueError(f"EngineSession: keepalive must be one of {sorted(KEEPALIVE)}, got {keepalive!r}")
        flags = (FLAG_DELIVER | (FLAG_LATCH if latching else 0) | (FLAG_DELIVER_EARLY if deliver_early else 0)
                 | KEEPALIVE[keepalive])
        self._flags = flags
        self._out_rate = clock_rate
        self._resamplers: dict[int, Any] = {}
        self._out_gen = 0
        self._writers = 0
        self._waiters: dict[int, asyncio.Future[bool]] = {}
        self._loop = engine.loop or asyncio.get_running_loop()
        self.ready: asyncio.Future[None] = self._loop.create_future()
        self.removed: asyncio.Future[None] = self._loop.create_future()
        self.active = False
        self.inactive = False
        self.closing = False
        # callbacks (set by the owner)
        self.on_dtmf: Callable[[str, float], Any] | None = None
        self.on_inactive: Callable[[float], Any] | None = None
        self.on_active: Callable[[], Any] | None = None
        self.on_bye: Callable[[], Any] | None = None
        self.on_played: Callable[[bytes, int, bool], Any] | None = None
        self.on_response_done: Callable[[int, int, bool], Any] | None = None
        self.on_error: Callable[[int, int], Any] | None = None
        self.on_latched: Callable[[int], Any] | None = None
        self.index, self.generation = self._native.add_session(
            fd=rtp_socket.fileno(),
            rtcp_fd=rtcp_socket.fileno() if rtcp_socket is not None else -1,
            remote=self.remote_addr,
            remote_rtcp=tuple(remote_rtcp_addr),
            family=family,
            jitter=self.jitter,
            rtp_clock=self.rtp_clock,
            encoder=encoder,
            srtp=srtp,
            in_resampler=in_rs,
            out_rate=self.output_rate,
            codec=codec,
            payload_type=payload_type,
            dtmf_payload_type=-1 if dtmf_payload_type is None else dtmf_payload_type,
            cn_payload_type=13 if cn_payload_type is None else cn_payload_type,
            out_capacity=out_buffer,
            aec_capacity=(1 << (clock_rate - 1).bit_length()) if aec else 0,
            rtcp_interval=rtcp_interval,
            rtcp=rtcp_interval > 0 and (rtcp_socket is not None or rtcp_mux),
            cname=cname or f"voicecore@{self.local_addr[0]}",
            inactivity_ms=int(inactivity_timeout * 1000),
            flags=flags,
            ssrc=ssrc,
            seq=seq,
            timestamp=timestamp,
        )

    # ------------------------------------------------------------------ inbound
    def set_frame_sink(self, sink: Callable[[bytes, int, int], Any] | None) -> None:
        """``sink(pcm, kind, frame_no)`` for every inbound frame (s16le mono at
        :attr:`output_rate`; kind indexes :data:`FRAME_KINDS`; frame_no counts
        periods from the first delivered frame). Called on the event loop."""
        self._native.set_sink(self.index, sink)

    def set_flags(self, *, deliver: bool | None = None, played: bool | None = None,
                  muted: bool | None = None) -> None:
        """Turn inbound delivery, played-frame reports or input muting on/off."""
        flags = self._flags
        for on, bit in ((deliver, FLAG_DELIVER), (played, FLAG_PLAYED), (muted, FLAG_MUTED)):
            if on is None:
                continue
            if bit == FLAG_PLAYED and bool(on) != bool(flags & FLAG_PLAYED):
                self.engine._listen_played(1 if on else -1)
            flags = (flags | bit) if on else (flags & ~bit)
        if flags != self._flags:
            self._flags = flags
            self._native.set_flags(self.index, flags)

    # ------------------------------------------------------------------ outbound
    def _resampler(self, rate: int) -> Any:
        rs = self._resamplers.get(rate)
        if rs is None:
            rs = self._Resampler(rate, self.clock_rate)
            self._resamplers[rate] = rs
        return rs

    async def _mark_rate(self, rate: int) -> None:
        rs = None if rate == self.clock_rate else self._resampler(rate)
        while not self._native.mark_rate(self.index, rate, rs):
            await asyncio.sleep(0.02)
        self._out_rate = rate

    async def write(self, pcm: bytes | bytearray | memoryview, sample_rate: int | None = None) -> bool:
        """Queue s16le mono PCM at ``sample_rate`` Hz (default: the clock
        rate) for paced sending, waiting while the session's ring is full.
        Returns False if :meth:`interrupt` cut it short."""
        rate = sample_rate or self.clock_rate
        if rate <= 0:
            raise ValueError(f"EngineSession.write: sample_rate must be positive, got {rate}")
        mv = memoryview(pcm).cast("B")
        if len(mv) % 2:
            raise ValueError(f"EngineSession.write: s16le needs an even byte count, got {len(mv)}")
        gen = self._out_gen
        self._writers += 1
        try:
            if rate != self._out_rate:
                await self._mark_rate(rate)
            native, idx = self._native, self.index
            while mv:
                if gen != self._out_gen or self.closing:
                    return False
                k = native.write(idx, mv)
                mv = mv[2 * k:]
                if mv:
                    # wait until about half the queued audio has been sent
                    pending = native.out_pending(idx)
                    await asyncio.sleep(min(0.25, max(0.02, pending / rate / 2)))
            return gen == self._out_gen
        finally:
            self._writers -= 1

    async def end_response(self) -> int:
        """Close the response written so far; returns a token for
        :meth:`wait_response`."""
        while True:
            token = self._native.mark_end(self.index)
            if token:
                self._waiters[token] = self._loop.create_future()
                return int(token)
            await asyncio.sleep(0.02)

    async def wait_response(self, token: int) -> bool:
        """Wait until response ``token`` has left (True) or was interrupted (False)."""
        fut = self._waiters.get(token)
        if fut is None:
            return True
        try:
            return await asyncio.shield(fut)
        finally:
            if fut.done():
                self._waiters.pop(token, None)

    async def play(self, pcm: bytes | bytearray | memoryview, sample_rate: int | None = None) -> bool:
        """Write one whole response and wait until it has left (True) or was
        interrupted (False)."""
        ok = await self.write(pcm, sample_rate)
        token = await self.end_response()
        return await self.wait_response(token) and ok

    def interrupt(self) -> None:
        """Stop sending now: queued audio is dropped within one tick and
        writers in progress stop."""
        self._out_gen += 1
        self._native.interrupt(self.index)

    @property
    def is_playing(self) -> bool:
        """Audio is queued, being written, or a response has not finished leaving."""
        return bool(
            self._writers
            or self._native.responses_pending(self.index)
            or self._native.out_pending(self.index)
        )

    def send_dtmf(self, digit: str, duration_ms: int = 160) -> None:
        """Send an RFC 4733 digit ('0'-'9', '*', '#', 'A'-'D')."""
        code = DIGIT_CODES.get(str(digit).upper())
        if code is None:
            raise ValueError(f"send_dtmf: digit must be one of {_DIGITS!r}, got {digit!r}")
        self._native.send_dtmf(self.index, code, duration_ms)

    def set_remote(self, remote_addr: tuple[str, int], remote_rtcp_addr: tuple[str, int] | None = None) -> None:
        """Send to a new peer address (re-INVITE) from the next packet on."""
        self.remote_addr = tuple(remote_addr)
        self._native.set_remote(self.index, self.remote_addr, remote_rtcp_addr, self.rtp_socket.family)

    def aec_reference(self, n: int, capture_ns: int) -> bytes:
        """``n`` samples of what was sent, aligned to capture time ``capture_ns``."""
        return self._native.aec_read(self.index, n, capture_ns)

    def stats(self) -> dict[str, Any]:
        """Counters of this session (jitter buffer and engine; see RELIABILITY names)."""
        if self.removed.done():
            return dict(getattr(self, "_final_stats", {}))
        return self._native.session_stats(self.index)

    # ------------------------------------------------------------------ events
    def _event(self, typ: int, a: int, b: int, c: int) -> None:
        if typ == EV_READY:
            self.active = True
            if not self.ready.done():
                self.ready.set_result(None)
        elif typ == EV_DTMF:
            if self.on_dtmf is not None and 0 <= a < 16:
                self.on_dtmf(_DIGITS[a], b * 1000.0 / self.clock_rate)
        elif typ == EV_PLAYED:
            fut = self._waiters.pop(a, None)
            if fut is not None and not fut.done():
                fut.set_result(not c)
            if self.on_response_done is not None:
                self.on_response_done(a, b, bool(c))
        elif typ == EV_INACTIVE:
            self.inactive = True
            if self.on_inactive is not None:
                self.on_inactive(a / 1000.0)
        elif typ == EV_ACTIVE:
            self.inactive = False
            if self.on_active is not None:
                self.on_active()
        elif typ == EV_BYE:
            if self.on_bye is not None:
                self.on_bye()
        elif typ == EV_REMOVED:
            self._released()
        elif typ == EV_ERROR:
            if self.on_error is not None:
                self.on_error(a, b)
            else:
                logger.warning("voicecore session %s: %s (where %s)", self.index, os.strerror(a), b)
        elif typ == EV_LATCHED:
            if self.on_latched is not None:
                self.on_latched(a)

    def _played_frame(self, pcm: bytes, send_ns: int, last: bool) -> None:
        if self.on_played is not None:
            self.on_played(pcm, send_ns, last)

    def _released(self) -> None:
        self.active = False
        for fut in self._waiters.values():
            if not fut.done():
                fut.set_result(False)
        self._waiters.clear()
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("session closed before it became ready"))
            self.ready.exception()  # retrieved: no "never retrieved" warning
        if not self.removed.done():
            self.removed.set_result(None)
        if self._flags & FLAG_PLAYED:
            self.engine._listen_played(-1)
            self._flags &= ~FLAG_PLAYED
        self.engine._forget(self)
        self._close_sockets()
        # the owner's callbacks usually close over the owner, which holds this
        # session: drop them so an ended call is freed by reference counting
        # (its native buffers would otherwise wait for the cyclic GC)
        self.on_dtmf = self.on_inactive = self.on_active = self.on_bye = None
        self.on_played = self.on_response_done = self.on_error = self.on_latched = None

    def _close_sockets(self) -> None:
        for s in (self.rtp_socket, self.rtcp_socket):
            if s is not None:
                s.close()
        if self._allocated_port is not None and self._port_allocator is not None:
            port, self._allocated_port = self._allocated_port, None
            task = self._loop.create_task(self._port_allocator.release(port))
            task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    async def close(self, bye: bool = True, timeout: float = 2.0) -> None:
        """End the session (RTCP BYE when ``bye``) and release its sockets."""
        if self.removed.done():
            return
        self.closing = True
        self._out_gen += 1
        try:
            self._final_stats = self._native.session_stats(self.index)
        except KeyError:
            pass
        if self.engine.closed:
            self._released()
            return
        self._native.remove_session(self.index, bye)
        try:
            await asyncio.wait_for(asyncio.shield(self.removed), timeout)
        except asyncio.TimeoutError:
            try:
                st = self._native.stats()
                why = ", ".join(f"{k}={st.get(k)}" for k in
                                ("sessions", "commands", "epoll_wakeups", "wakeups", "event_overflow", "ticks"))
                why += ", " + ", ".join(f"{k}={v}" for k, v in self._native._queue_state().items())
            except Exception as e:  # pragma: no cover - diagnostics only
                why = repr(e)
            logger.error("voicecore session %s: the engine did not release it in %.1f s (engine: %s; "
                         "loop reader on fd %s)", self.index, timeout, why, self._native.fileno())
            raise

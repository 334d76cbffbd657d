# cython: freethreading_compatible=True
# This file is long because the Python face of the engine is one cdef class
# (sessions, outbound audio, the loop-side drain, statistics) over the shared
# Core; its helpers already live in addr.pyx, sink.pyx and stats.pyx.
"""The audio I/O engine: one native thread that carries every call's RTP.

An :class:`Engine` owns one thread that never takes the GIL (io.pyx): it
reads every session's UDP socket from one epoll, feeds each datagram to that
session's jitter buffer on arrival, and on its own clock (20 ms periods split
into sub-slots, absolute deadlines on CLOCK_MONOTONIC) plays out one frame
per session, sends one paced frame per session, runs RTCP and the inactivity
watchdog. Python talks to it through a command queue; everything the thread
produces (inbound frames, played frames, DTMF, session events) comes back
through bounded single-producer/single-consumer queues and one eventfd,
written at most once per tick and only when the loop side asked for it, so
a busy event loop costs one wake-up per tick, not one per frame.

This class is the Python face the backends use (``voicecore.engine`` wraps it
for asyncio). Its methods are called from the event-loop thread:

- sessions: :meth:`add_session` (sockets opened by the caller, a
  :class:`~voicecore.jitter.JitterBuffer` and optional resamplers created in
  Python; the engine adopts the jitter buffer, whose Python methods then
  raise), :meth:`remove_session` (the session's memory is freed when the
  thread acknowledges, inside :meth:`drain`);
- outbound audio: :meth:`write` (s16le at the current response rate into the
  session's ring; returns how many samples fitted: backpressure, never an
  unbounded queue), :meth:`mark_rate`, :meth:`mark_end`, :meth:`interrupt`,
  :meth:`send_dtmf`;
- the loop side: :meth:`fileno` for ``loop.add_reader`` and :meth:`drain`
  (frames to per-session sinks, events, played frames), or
  :meth:`drain_batch` (all sessions' frames of a tick as one array);
- :meth:`stats` and :meth:`session_stats`.

Linux only (epoll, timerfd, eventfd, recvmmsg).
"""
cimport cython
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from voicecore._native.hugemem cimport vc_hm_calloc, vc_hm_free, vc_prefault
from libc.string cimport memset, memcpy
from libc.errno cimport errno
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from cpython.ref cimport PyObject

from voicecore._native._buffers cimport Buf, get_input, release, KIND_BYTES, KIND_S16
from voicecore._native.atomic cimport (
    vc_init, vc_load_relaxed, vc_load_acquire, vc_store_release, vc_store_seq_cst,
    vc_load_seq_cst, vc_exchange_seq_cst, vc_fence_seq_cst,
)
from voicecore._native.media.ring cimport (
    vc_sring, sring_new, sring_free, sring_write,
    sring_request_flush, vc_aec, aec_new, aec_free, aec_read_aligned, vc_fqueue, vc_frame_meta,
    fq_new, fq_free, fq_pop, fq_len,
)
from voicecore._native.media.jitter cimport JitterBuffer, JStats, JRtcp
from voicecore._native.media.resample cimport Resampler
from voicecore._native.media.g722 cimport G722Encoder
from voicecore._native.media.opus cimport OpusEncoder
from voicecore._native.media.srtp cimport SRTPSession
from voicecore._native.engine.core cimport (
    Core, Sess, Cmd, Ev, Seg, Hist, SessStats, CoreStats, sockaddr_storage, socklen_t,
    MAX_QUEUES, N_SEG, HIST_BUCKETS, RECV_BATCH, RECV_BUF, MAX_FRAME,
    S_FREE, S_ADDING, S_ACTIVE, S_RELEASED, OC_PCMU, OC_PCMA, OC_L16, OC_G722, OC_OPUS,
    C_ADD, C_REMOVE, C_FLUSH_OUT, C_DTMF, C_SET_REMOTE, C_FLAGS, C_STOP,
    EV_REMOVED, F_DELIVER, F_PLAYED, F_LATCH, F_DELIVER_EARLY, F_MUTED, F_IDLE_SILENCE, F_IDLE_CN,
)
from voicecore._native.engine.queues cimport ev_pop, hist_value, frame_owner
from voicecore._native.engine.io cimport core_start, core_join, cmd_push
from voicecore._native.engine.addr cimport set_addr
from voicecore._native.engine.sink cimport FrameSink
from voicecore._native.engine.stats cimport hist_dict, session_stats, core_stats
from voicecore._native.engine.sink import BATCH

import os
import socket as _socket

import numpy as np

cdef extern from "vc_io.h" nogil:
    int64_t vc_now_ns()
    int vc_efd_signal(int fd)
    uint64_t vc_efd_drain(int fd)
    int vc_enable_timestamps(int fd)
    int vc_timer_arm(int fd, int64_t first_ns, int64_t interval_ns)

cdef extern from "<sys/epoll.h>" nogil:
    int epoll_create1(int flags)
    enum: EPOLL_CLOEXEC

cdef extern from "<sys/eventfd.h>" nogil:
    int eventfd(unsigned int initval, int flags)
    enum: EFD_NONBLOCK, EFD_CLOEXEC

cdef extern from "<sys/timerfd.h>" nogil:
    cdef struct timespec_:
        pass
    int timerfd_create(int clockid, int flags)
    enum: TFD_NONBLOCK, TFD_CLOEXEC, TFD_TIMER_ABSTIME


cdef extern from "<pthread.h>" nogil:
    int pthread_mutex_init(void* m, const void* attr)
    int pthread_mutex_destroy(void* m)

cdef extern from "<unistd.h>" nogil:
    int close(int fd)

cdef extern from "<time.h>" nogil:
    enum: CLOCK_MONOTONIC

__all__ = ["BATCH", "Engine", "CODECS", "EVENT_NAMES", "FLAG_DELIVER", "FLAG_PLAYED", "FLAG_LATCH",
           "FLAG_DELIVER_EARLY", "FLAG_MUTED", "FLAG_IDLE_SILENCE", "FLAG_IDLE_CN"]

#: Outbound payload formats by name.
CODECS = {"pcmu": OC_PCMU, "pcma": OC_PCMA, "l16": OC_L16, "g722": OC_G722, "opus": OC_OPUS}
EVENT_NAMES = {1: "ready", 2: "removed", 3: "dtmf", 4: "inactive", 5: "active", 6: "bye",
               7: "played", 8: "error", 9: "dtmf_sent", 10: "latched", 11: "rtcp"}
FLAG_DELIVER = F_DELIVER
FLAG_PLAYED = F_PLAYED
FLAG_LATCH = F_LATCH
FLAG_DELIVER_EARLY = F_DELIVER_EARLY
FLAG_MUTED = F_MUTED
FLAG_IDLE_SILENCE = F_IDLE_SILENCE
FLAG_IDLE_CN = F_IDLE_CN

cdef uint64_t _pow2(uint64_t n):
    cdef uint64_t p = 1
    while p < n:
        p <<= 1
    return p


@cython.final
cdef class Engine:
    """One audio I/O thread and the sessions it carries.

    Args:
        period_ms: frame period in ms (10, 20, 30, 40 or 60): one inbound
            frame and one outbound packet per session per period.
        subslots: the period is split into this many sub-slots (each session
            belongs to one), so the packets of many sessions are spread over
            the period instead of leaving in one burst.
        max_sessions: capacity of the session table.
        frame_queue: inbound frames that may wait for the event loop (all
            sessions together; the oldest are dropped and counted beyond it).
        played_queue: sent frames that may wait for ``on_audio_played``.
        event_queue: events (DTMF, ready, played, ...) that may wait.
        max_catchup: sub-slots run late when the thread was descheduled
            (beyond that they are skipped and counted).
        read_on_tick: read each session's RTP socket right before its own
            sub-slot tick (no polling, one wake-up per tick however many
            packets arrive; each datagram keeps its kernel receive time; the
            RTCP sockets are polled once per tick) instead of waking on
            every arrival.
        realtime_priority: 1-99 runs the I/O thread with SCHED_FIFO at that
            priority (needs CAP_SYS_NICE or an rtprio limit; ``stats()``
            reports ``realtime`` and the error when it did not take); 0 (the
            default) keeps normal scheduling.
    """
    cdef Core* c
    cdef list _objs            # per session: python objects the thread points to
    cdef list _sinks           # per session: frame sink callable or None
    cdef list _free_idx
    cdef uint64_t _stale_frames
    cdef readonly int period_ms
    cdef readonly int subslots
    cdef readonly int max_sessions
    cdef bint _started
    cdef bint _stopped
    cdef int64_t _token
    cdef int16_t* _buf          # drain scratch (MAX_FRAME samples)
    cdef uint64_t _fq_slots

    def __cinit__(self, *, int period_ms=20, int subslots=4, int max_sessions=4096,
                  int frame_queue=8192, int played_queue=2048, int event_queue=8192,
                  int max_catchup=50, bint read_on_tick=True, int realtime_priority=0):
        if period_ms not in (10, 20, 30, 40, 60):
            raise ValueError(f"Engine: period_ms must be 10, 20, 30, 40 or 60, got {period_ms}")
        if not 1 <= subslots <= 20 or (period_ms * 1000) % subslots:
            raise ValueError(f"Engine: subslots must be 1-20 and divide the period evenly, got {subslots}")
        if not 1 <= max_sessions <= 65536:
            raise ValueError(f"Engine: max_sessions must be 1-65536, got {max_sessions}")
        for name, v in (("frame_queue", frame_queue), ("played_queue", played_queue),
                        ("event_queue", event_queue)):
            if not 16 <= v <= (1 << 20):
                raise ValueError(f"Engine: {name} must be 16-1048576, got {v}")
        if not 0 <= max_catchup <= 1000:
            raise ValueError(f"Engine: max_catchup must be 0-1000, got {max_catchup}")
        if not 0 <= realtime_priority <= 99:
            raise ValueError(f"Engine: realtime_priority must be 0 (off) or 1-99, got {realtime_priority}")
        self.period_ms = period_ms
        self.subslots = subslots
        self.max_sessions = max_sessions
        self._objs = [None] * max_sessions
        self._sinks = [None] * max_sessions
        self._free_idx = list(range(max_sessions - 1, -1, -1))
        self._token = 0
        c = <Core*>calloc(1, sizeof(Core))
        if c == NULL:
            raise MemoryError("Engine: cannot allocate")
        self.c = c
        c.epfd = -1
        c.sock_ep = -1
        c.read_on_tick = read_on_tick
        c.timer_fd = -1
        c.cmd_fd = -1
        c.loop_fd = -1
        c.period_ns = <int64_t>period_ms * 1000000
        c.nslots = subslots
        c.slot_ns = c.period_ns // subslots
        c.max_sessions = max_sessions
        c.max_catchup = max_catchup
        c.rt_priority = realtime_priority
        pthread_mutex_init(&c.cmd_lock, NULL)
        c.table = <Sess**>calloc(max_sessions, sizeof(Sess*))
        c.members = <int32_t*>calloc(<size_t>subslots * max_sessions, sizeof(int32_t))
        c.nmembers = <int32_t*>calloc(subslots, sizeof(int32_t))
        c.cmd_mask = _pow2(4096) - 1
        c.cmds = <Cmd*>calloc(c.cmd_mask + 1, sizeof(Cmd))
        c.ev_mask = _pow2(event_queue) - 1
        c.evs = <Ev*>calloc(c.ev_mask + 1, sizeof(Ev))
        c.rbuf = <uint8_t*>calloc(RECV_BATCH, RECV_BUF)
        c.pbuf = <uint8_t*>calloc(1, 1600)
        c.played = fq_new(_pow2(played_queue), 48 * period_ms, False)
        self._buf = <int16_t*>calloc(MAX_FRAME, sizeof(int16_t))
        self._fq_slots = _pow2(frame_queue)
        vc_init(&c.armed, 1)
        if (c.table == NULL or c.members == NULL or c.nmembers == NULL or c.cmds == NULL
                or c.evs == NULL or c.rbuf == NULL or c.pbuf == NULL or c.played == NULL
                or self._buf == NULL):
            raise MemoryError("Engine: cannot allocate its queues")
        # the I/O thread's own arrays, mapped here rather than at its first
        # touch of each page (sessions' buffers: vc_hm_calloc does the same)
        vc_prefault(c.table, max_sessions * sizeof(Sess*))
        vc_prefault(c.members, <size_t>subslots * max_sessions * sizeof(int32_t))
        vc_prefault(c.cmds, (c.cmd_mask + 1) * sizeof(Cmd))
        vc_prefault(c.evs, (c.ev_mask + 1) * sizeof(Ev))
        vc_prefault(c.rbuf, <size_t>RECV_BATCH * RECV_BUF)
        c.epfd = epoll_create1(EPOLL_CLOEXEC)
        c.sock_ep = epoll_create1(EPOLL_CLOEXEC)
        c.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
        c.cmd_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)
        c.loop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)
        if c.epfd < 0 or c.sock_ep < 0 or c.timer_fd < 0 or c.cmd_fd < 0 or c.loop_fd < 0:
            e = errno
            raise OSError(e, f"Engine: cannot create its epoll/timer/eventfd descriptors: {os.strerror(e)}")

    def __dealloc__(self):
        cdef Core* c = self.c
        cdef int i
        if c == NULL:
            return
        if c.thread_started:
            self._stop_thread()
        if c.table != NULL:
            for i in range(c.max_sessions):
                if c.table[i] != NULL:
                    _free_c(c.table[i])
                    c.table[i] = NULL
        for i in range(c.nfq):
            fq_free(c.fq[i])
        fq_free(c.played)
        for fd in (c.epfd, c.sock_ep, c.timer_fd, c.cmd_fd, c.loop_fd):
            if fd >= 0:
                close(fd)
        pthread_mutex_destroy(&c.cmd_lock)
        free(c.table)
        free(c.members)
        free(c.nmembers)
        free(c.cmds)
        free(c.evs)
        free(c.rbuf)
        free(c.pbuf)
        free(self._buf)
        free(c)
        self.c = NULL

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the I/O thread. The clock's grid starts one sub-slot from now;
        it ticks while at least one session is open."""
        cdef Core* c = self.c
        cdef int r
        if self._stopped:
            raise RuntimeError("Engine.start: the engine was stopped; create a new one")
        if self._started:
            return
        now = vc_now_ns()
        c.t0_ns = now + c.slot_ns
        c.tick_no = 0
        # the tick timer is armed by the first session (an engine without
        # sessions sleeps: no tick, no wake-up)
        with nogil:
            r = core_start(c)
        if r != 0:
            raise OSError(r, f"Engine.start: cannot start the I/O thread: {os.strerror(r)}")
        self._started = True

    cdef void _stop_thread(self) noexcept:
        cdef Cmd cmd
        cdef Core* c = self.c
        memset(&cmd, 0, sizeof(Cmd))
        cmd.op = C_STOP
        with nogil:
            while cmd_push(c, &cmd) != 0:
                vc_efd_signal(c.cmd_fd)
            core_join(c)

    def stop(self) -> None:
        """Stop and join the I/O thread, then release the sessions still
        present (their jitter buffers return to Python; their sockets belong
        to the caller)."""
        cdef int i
        if self._started and not self._stopped:
            self._stop_thread()
        self._stopped = True
        for i in range(self.max_sessions):
            if self.c.table[i] != NULL:
                self._free_sess(i)

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._started and not self._stopped

    def fileno(self) -> int:
        """The eventfd the event loop waits on (``loop.add_reader``)."""
        return self.c.loop_fd

    # ------------------------------------------------------------ sessions
    cdef int _queue_for(self, int frame) except -1:
        cdef Core* c = self.c
        cdef int i
        for i in range(c.nfq):
            if c.fq_frame[i] == frame:
                return i
        if c.nfq >= MAX_QUEUES:
            raise ValueError(f"Engine: at most {MAX_QUEUES} distinct inbound frame sizes per engine")
        c.fq[c.nfq] = fq_new(self._fq_slots, frame, False)
        if c.fq[c.nfq] == NULL:
            raise MemoryError("Engine: cannot allocate a frame queue")
        c.fq_frame[c.nfq] = frame
        c.nfq += 1
        return c.nfq - 1

    def add_session(self, *, int fd, int rtcp_fd=-1, remote, remote_rtcp=None, int family=2,
                    JitterBuffer jitter=None, Resampler in_resampler=None, int out_rate=0,
                    str codec="pcmu", int payload_type=0, int dtmf_payload_type=101, int cn_payload_type=13,
                    int out_capacity=32768, int aec_capacity=0, double rtcp_interval=5.0,
                    str cname="voicecore", int inactivity_ms=0, int flags=F_DELIVER,
                    ssrc=None, seq=None, timestamp=None, bint rtcp=True, int rtp_clock=0,
                    encoder=None, SRTPSession srtp=None) -> tuple:
        """Prepare a session and hand it to the thread; returns ``(index, generation)``.

        ``fd`` / ``rtcp_fd``: bound non-blocking UDP sockets (the caller owns
        and closes them after the session is released); ``remote`` /
        ``remote_rtcp``: (host, port) of the peer's RTP and RTCP ports
        (default RTCP: RTP port + 1); ``family``: AF_INET or AF_INET6.
        ``jitter``: the inbound jitter buffer (adopted: its Python methods
        raise until the session is released); its clock rate is the session's
        audio rate. ``rtp_clock``: the RTP timestamp rate when it differs from
        the audio rate (G.722: 8000 for 16 kHz audio). ``in_resampler``:
        clock rate -> ``out_rate`` for delivered frames (None: frames at the
        clock rate). ``codec``: outbound payload ('pcmu', 'pcma', 'l16',
        'g722', 'opus') with ``payload_type``; 'g722' and 'opus' take their
        ``encoder`` (G722Encoder / OpusEncoder at the audio rate, adopted).
        ``srtp``: an SRTPSession (adopted) protecting RTP and RTCP both ways:
        inbound packets that fail authentication or replay checks are counted
        (srtp_auth_fail, srtp_replay, ...) and dropped before anything else
        sees them. ``dtmf_payload_type``
        (-1: none), ``cn_payload_type`` (RFC 3389, for FLAG_IDLE_CN).
        ``out_capacity``: outbound ring, samples (power of two).
        ``aec_capacity``: AEC reference ring, samples at the clock rate
        (0: none). ``rtcp_interval``: seconds (0 or ``rtcp=False``: no RTCP).
        ``inactivity_ms``: report the session inactive after this long
        without a packet (0: never). ``flags``: FLAG_* bits.
        ``ssrc``/``seq``/``timestamp``: initial values (random by default).
        """
        cdef Core* c = self.c
        cdef Sess* s
        cdef int idx, clock, frame_in, frame_out, q
        if not self._started or self._stopped:
            raise RuntimeError("Engine.add_session: the engine is not running (call start())")
        if jitter is None:
            raise TypeError("Engine.add_session: jitter must be a JitterBuffer")
        if codec not in CODECS:
            raise ValueError(f"Engine.add_session: codec must be one of {sorted(CODECS)}, got {codec!r}")
        if not 0 <= payload_type <= 127:
            raise ValueError(f"Engine.add_session: payload_type must be 0-127, got {payload_type}")
        if not -1 <= dtmf_payload_type <= 127:
            raise ValueError(f"Engine.add_session: dtmf_payload_type must be -1 or 0-127, got {dtmf_payload_type}")
        if out_capacity < 1024 or out_capacity & (out_capacity - 1) or out_capacity > (1 << 24):
            raise ValueError(f"Engine.add_session: out_capacity must be a power of two 1024..2**24, got {out_capacity}")
        if aec_capacity < 0 or (aec_capacity and aec_capacity & (aec_capacity - 1)):
            raise ValueError(f"Engine.add_session: aec_capacity must be 0 or a power of two, got {aec_capacity}")
        if rtcp_interval < 0:
            raise ValueError(f"Engine.add_session: rtcp_interval must be >= 0 s, got {rtcp_interval}")
        for f in (fd, rtcp_fd):
            if f >= 0 and vc_enable_timestamps(f) != 0:
                raise OSError(f"Engine.add_session: descriptor {f} is not a UDP socket")
        if not self._free_idx:
            raise RuntimeError(f"Engine.add_session: all {self.max_sessions} sessions in use")
        clock = jitter.clock_rate
        frame_in = clock * self.period_ms // 1000
        if rtp_clock == 0:
            rtp_clock = clock
        if rtp_clock <= 0 or (frame_in * rtp_clock) % clock:
            raise ValueError(f"Engine.add_session: rtp_clock {rtp_clock} Hz must give whole timestamp steps "
                             f"per {self.period_ms} ms frame at {clock} Hz")
        if codec in ("g722", "opus"):
            from voicecore._native.media import g722 as _g722, opus as _opus
            want = _g722.G722Encoder if codec == "g722" else _opus.OpusEncoder
            if not isinstance(encoder, want):
                raise TypeError(f"Engine.add_session: codec {codec!r} needs encoder= a {want.__name__}")
            if codec == "opus" and encoder.sample_rate != clock:
                raise ValueError(f"Engine.add_session: the OpusEncoder runs at {encoder.sample_rate} Hz, "
                                 f"the session's audio at {clock} Hz")
        elif encoder is not None:
            raise ValueError(f"Engine.add_session: codec {codec!r} takes no encoder")
        if jitter.frame_samples != frame_in:
            raise ValueError(f"Engine.add_session: the jitter buffer's frame ({jitter.frame_samples} samples) "
                             f"must be one engine period ({self.period_ms} ms = {frame_in} samples)")
        if in_resampler is not None:
            if in_resampler.in_rate != clock or (out_rate and in_resampler.out_rate != out_rate):
                raise ValueError("Engine.add_session: in_resampler must convert the clock rate to out_rate")
            out_rate = in_resampler.out_rate
        elif out_rate and out_rate != clock:
            raise ValueError("Engine.add_session: out_rate differs from the clock rate: pass in_resampler")
        else:
            out_rate = clock
        frame_out = (out_rate * self.period_ms + 999) // 1000      # a fractional count rounds up
        if frame_out > MAX_FRAME:
            raise ValueError(f"Engine.add_session: output frames of {frame_out} samples exceed {MAX_FRAME}")
        q = self._queue_for(frame_out)
        idx = self._free_idx.pop()
        s = <Sess*>vc_hm_calloc(1, sizeof(Sess))
        if s == NULL:
            self._free_idx.append(idx)
            raise MemoryError("Engine.add_session: cannot allocate")
        c.table[idx] = s        # so _free_sess finds it on any error below
        try:
            s.idx = idx
            s.gen = _next_gen()
            s.state = S_FREE
            s.fd = fd
            s.rtcp_fd = rtcp_fd
            s.rtcp_on = rtcp and rtcp_interval > 0
            s.rtcp_interval_s = rtcp_interval
            set_addr(&s.remote, &s.remote_len, remote, family)
            if remote_rtcp is None:
                remote_rtcp = (remote[0], remote[1] + 1 if remote[1] else 0)
            set_addr(&s.remote_rtcp, &s.remote_rtcp_len, remote_rtcp, family)
            s.jb = <PyObject*>jitter
            s.jbs = <void*>(<JitterBuffer>jitter)._s
            s.in_rs = <PyObject*>in_resampler if in_resampler is not None else NULL
            s.clock_rate = clock
            s.frame_in = frame_in
            s.out_rate = out_rate
            s.frame_out = frame_out
            s.queue = q
            s.in_buf = <int16_t*>vc_hm_calloc(frame_in + 16, sizeof(int16_t))
            s.in_rs_buf = <int16_t*>vc_hm_calloc(frame_out + 64, sizeof(int16_t))
            s.out_ring = sring_new(<uint64_t>out_capacity, 0)
            s.stage = <int16_t*>vc_hm_calloc(4 * frame_in + 4096, sizeof(int16_t))
            s.tmp_cap = 4096
            s.tmp = <int16_t*>vc_hm_calloc(s.tmp_cap, sizeof(int16_t))
            # header + the largest payload (L16: 2 bytes/sample, Opus <= 1500) + SRTP's tag
            s.pkt_cap = 12 + max(2 * frame_in, 1500) + 160
            s.pkt = <uint8_t*>vc_hm_calloc(s.pkt_cap, 1)
            if (s.in_buf == NULL or s.in_rs_buf == NULL or s.out_ring == NULL or s.stage == NULL
                    or s.tmp == NULL or s.pkt == NULL):
                raise MemoryError("Engine.add_session: cannot allocate the session's buffers")
            if aec_capacity:
                s.aec = aec_new(<uint64_t>aec_capacity, <uint32_t>clock, vc_now_ns(), 0, frame_in // 2, 0)
                if s.aec == NULL:
                    raise MemoryError("Engine.add_session: cannot allocate the AEC reference ring")
            vc_init(&s.seg_w, 0)
            vc_init(&s.seg_r, 0)
            vc_init(&s.end_w, 0)
            vc_init(&s.end_done, 0)
            s.cur_rate = clock
            s.end_pos = -1
            s.codec = CODECS[codec]
            s.rtp_clock = rtp_clock
            s.ts_step = frame_in * rtp_clock // clock
            s.enc = <PyObject*>encoder if encoder is not None else NULL
            s.srtp = <PyObject*>srtp if srtp is not None else NULL
            s.pt = payload_type
            s.dtmf_pt = dtmf_payload_type
            s.cn_pt = cn_payload_type
            rnd = os.urandom(12)
            s.ssrc = <uint32_t>(int.from_bytes(rnd[0:4], "big") if ssrc is None else ssrc)
            s.seq = <uint16_t>(int.from_bytes(rnd[4:6], "big") if seq is None else seq)
            s.ts_base = <uint32_t>(int.from_bytes(rnd[6:10], "big") if timestamp is None else timestamp)
            s.rng = <uint32_t>(int.from_bytes(rnd[8:12], "big") | 1)
            cn = cname.encode()[:63]
            memcpy(s.cname, <char*>cn, len(cn))
            s.cname[len(cn)] = 0
            s.inactivity_ns = <int64_t>inactivity_ms * 1000000
            s.flags = <uint32_t>flags
            s.tflags = <uint32_t>flags
            s.slot = -1
        except BaseException:
            self._free_sess(idx)
            raise
        adopted = []
        try:
            for obj in (jitter, encoder, srtp):
                if obj is not None:
                    _adopt(obj)
                    adopted.append(obj)
        except BaseException:
            for obj in adopted:
                _release(obj)
            self._free_sess(idx)
            raise
        self._objs[idx] = [jitter, in_resampler, {}, encoder, srtp]
        s.state = S_ADDING
        self._cmd(C_ADD, idx, 0, 0)
        return idx, s.gen

    cdef Sess* _get(self, int idx, uint32_t gen, str what) except NULL:
        cdef Sess* s
        if idx < 0 or idx >= self.max_sessions or self.c.table[idx] == NULL:
            raise KeyError(f"Engine.{what}: no session {idx}")
        s = self.c.table[idx]
        if gen and s.gen != gen:
            raise KeyError(f"Engine.{what}: session {idx} was released")
        return s

    cdef int _cmd(self, uint32_t op, int64_t a, int64_t b, int64_t cc) except -1:
        cdef Cmd cmd
        cdef Core* c = self.c
        cdef int r
        cmd.op = op
        cmd.gen = c.table[a].gen if (op != C_STOP and c.table[a] != NULL) else 0
        cmd.a = a
        cmd.b = b
        cmd.c = cc
        with nogil:
            r = cmd_push(c, &cmd)
        if r != 0:
            raise RuntimeError("Engine: command queue full (the I/O thread is not keeping up)")
        return 0

    def remove_session(self, int idx, bint bye=True) -> None:
        """Ask the thread to drop session ``idx`` (sending RTCP BYE when
        ``bye``). Its memory is freed, and its objects released, when
        :meth:`drain` sees the thread's acknowledgement (event 'removed');
        close its sockets after that."""
        cdef Sess* s = self._get(idx, 0, "remove_session")
        if s.state == S_ADDING or s.state == S_ACTIVE:
            self._cmd(C_REMOVE, idx, 1 if bye else 0, 0)

    cdef void _free_sess(self, int idx) noexcept:
        cdef Sess* s = self.c.table[idx]
        if s == NULL:
            return
        self.c.table[idx] = NULL
        _free_c(s)
        objs = self._objs[idx]
        if objs is not None:
            for obj in (objs[0], objs[3], objs[4]):
                if obj is not None:
                    _release(obj)
        self._objs[idx] = None
        self._sinks[idx] = None
        self._free_idx.append(idx)

    def set_sink(self, int idx, sink) -> None:
        """Where :meth:`drain` sends this session's inbound frames:
        ``sink(pcm: bytes, kind: int, frame_no: int)`` (s16le at the output
        rate; kind 0 audio, 1 concealed, 2 silence, 3 comfort noise; frame_no
        counts periods from the first delivered frame)."""
        self._get(idx, 0, "set_sink")
        self._sinks[idx] = sink

    def set_flags(self, int idx, int flags) -> None:
        """Change the session's FLAG_* bits (applied within one tick)."""
        cdef Sess* s = self._get(idx, 0, "set_flags")
        s.flags = <uint32_t>flags
        self._cmd(C_FLAGS, idx, flags, 0)

    def set_remote(self, int idx, remote, remote_rtcp=None, int family=2) -> None:
        """Send to a new peer address from the next packet on (re-INVITE)."""
        cdef Sess* s = self._get(idx, 0, "set_remote")
        set_addr(&s.pending_remote, &s.pending_remote_len, remote, family)
        if remote_rtcp is None:
            remote_rtcp = (remote[0], remote[1] + 1)
        set_addr(&s.pending_remote_rtcp, &s.pending_remote_rtcp_len, remote_rtcp, family)
        self._cmd(C_SET_REMOTE, idx, 0, 0)

    # ------------------------------------------------------------ outbound
    def write(self, int idx, data) -> int:
        """Queue s16le mono PCM (at the rate of the latest :meth:`mark_rate`,
        the clock rate by default) for sending; returns how many samples
        fitted in the session's ring. The rest is the caller's to retry
        (see :meth:`out_free`)."""
        cdef Sess* s = self._get(idx, 0, "write")
        cdef Buf b
        cdef uint64_t k
        get_input(data, &b, KIND_BYTES | KIND_S16, b"Engine.write")
        try:
            if b.len & 1:
                raise ValueError(f"Engine.write: s16le data must have an even byte count, got {b.len}")
            k = sring_write(s.out_ring, <const int16_t*>b.buf, <uint64_t>(b.len // 2))
        finally:
            release(&b)
        return k

    def out_free(self, int idx) -> int:
        """Samples that :meth:`write` can take now."""
        cdef Sess* s = self._get(idx, 0, "out_free")
        cdef vc_sring* r = s.out_ring
        return r.capacity - (vc_load_relaxed(&r.write_pos) - vc_load_acquire(&r.read_pos))

    def out_pending(self, int idx) -> int:
        """Samples written but not yet taken by the thread."""
        cdef Sess* s = self._get(idx, 0, "out_pending")
        cdef vc_sring* r = s.out_ring
        return vc_load_relaxed(&r.write_pos) - vc_load_acquire(&r.read_pos)

    def mark_rate(self, int idx, int rate, Resampler resampler=None) -> bool:
        """From the current write position on, samples are at ``rate`` Hz
        (``resampler`` converts ``rate`` to the clock rate; None when equal).
        Returns False when the session's mark queue is full (retry later)."""
        cdef Sess* s = self._get(idx, 0, "mark_rate")
        if rate <= 0:
            raise ValueError(f"Engine.mark_rate: rate must be positive, got {rate}")
        if resampler is None and rate != s.clock_rate:
            raise ValueError("Engine.mark_rate: a resampler is needed for a rate other than the clock rate")
        if resampler is not None and (resampler.in_rate != rate or resampler.out_rate != s.clock_rate):
            raise ValueError("Engine.mark_rate: the resampler must convert rate to the clock rate")
        if not self._mark(s, rate, resampler):
            return False
        self._objs[idx][2][rate] = resampler      # keep it alive while the session lives
        return True

    cdef bint _mark(self, Sess* s, int32_t rate, object rs):
        cdef uint64_t w = vc_load_relaxed(&s.seg_w), r = vc_load_acquire(&s.seg_r)
        cdef Seg* m
        if w - r >= N_SEG:
            return False
        m = &s.seg[w & (N_SEG - 1)]
        m.pos = vc_load_relaxed(&s.out_ring.write_pos)
        m.rate = rate
        m.rs = <PyObject*>rs if rs is not None else NULL
        vc_store_release(&s.seg_w, w + 1)
        return True

    def mark_end(self, int idx) -> int:
        """The response written so far ends here: once its last sample has
        been sent, :meth:`drain` reports event 'played' with the returned
        token. Returns 0 when the mark queue is full (retry later)."""
        cdef Sess* s = self._get(idx, 0, "mark_end")
        self._token += 1
        if not self._mark(s, <int32_t>(-self._token), None):
            self._token -= 1
            return 0
        vc_store_release(&s.end_w, vc_load_relaxed(&s.end_w) + 1)
        return self._token

    def responses_pending(self, int idx) -> int:
        """Responses marked with :meth:`mark_end` that have not finished."""
        cdef Sess* s = self._get(idx, 0, "responses_pending")
        return vc_load_relaxed(&s.end_w) - vc_load_acquire(&s.end_done)

    def interrupt(self, int idx) -> None:
        """Drop every queued outbound sample (barge-in): takes effect within
        one tick; unfinished responses are reported as interrupted."""
        cdef Sess* s = self._get(idx, 0, "interrupt")
        sring_request_flush(s.out_ring)
        self._cmd(C_FLUSH_OUT, idx, 0, 0)

    def send_dtmf(self, int idx, int code, int duration_ms=160, int volume=10) -> None:
        """Queue an RFC 4733 event (``code`` 0-15 for 0-9 * # A-D) lasting
        ``duration_ms``; audio pauses while it plays."""
        cdef Sess* s = self._get(idx, 0, "send_dtmf")
        if s.dtmf_pt < 0:
            raise ValueError("Engine.send_dtmf: the session has no DTMF payload type")
        if not 0 <= code <= 255:
            raise ValueError(f"Engine.send_dtmf: event code must be 0-255, got {code}")
        if not 10 <= duration_ms <= 10000:
            raise ValueError(f"Engine.send_dtmf: duration_ms must be 10-10000, got {duration_ms}")
        if not 0 <= volume <= 63:
            raise ValueError(f"Engine.send_dtmf: volume must be 0-63 (-dBm0), got {volume}")
        self._cmd(C_DTMF, idx, code, duration_ms | (<int64_t>volume << 32))

    def aec_read(self, int idx, int n, int64_t capture_ns):
        """The AEC reference for ``n`` samples captured at ``capture_ns``
        (monotonic ns), s16le bytes at the clock rate; zeros where nothing was
        sent (single consumer: one reader per session)."""
        cdef Sess* s = self._get(idx, 0, "aec_read")
        if s.aec == NULL:
            raise ValueError("Engine.aec_read: the session has no AEC reference ring")
        res = PyBytes_FromStringAndSize(NULL, 2 * n)
        cdef int16_t* dst = <int16_t*>PyBytes_AS_STRING(res)
        with nogil:
            aec_read_aligned(s.aec, dst, <uint64_t>n, capture_ns)
        return res

    # ------------------------------------------------------------ loop side
    def drain(self, event_sink, played_sink=None, int max_frames=4096, batch_sink=None) -> int:
        """Deliver what the thread queued: events first (``event_sink(type,
        index, a, b, c)``; a 'removed' session is freed before its event is
        delivered), then inbound frames to each session's sink, then played
        frames (``played_sink(index, pcm, send_ns, last)``). Sessions whose
        sink is :data:`BATCH` are collected instead and handed to
        ``batch_sink(sample_rate_frames, sessions, frames, kinds, frame_nos,
        lengths)`` once per frame size: numpy arrays (uint32 session indices,
        int16 frames of shape (n, frame_samples), uint8 kinds, uint64 frame
        numbers, int32 valid samples per frame), fresh on every call. At most
        ``max_frames`` frames per call: the rest wakes the loop again. Returns
        the number of frames delivered."""
        cdef Core* c = self.c
        cdef Ev ev
        cdef vc_frame_meta meta
        cdef int i, n, nb, fs, done = 0
        cdef uint32_t sidx
        cdef bint more = False
        cdef object sink
        cdef int16_t[:, ::1] bf
        cdef uint32_t[::1] bs
        cdef uint8_t[::1] bk
        cdef uint64_t[::1] bn
        cdef int32_t[::1] bl
        vc_efd_drain(c.loop_fd)
        while True:
            while ev_pop(c, &ev):
                if ev.type == EV_REMOVED and ev.session < <uint32_t>self.max_sessions:
                    if c.table[ev.session] != NULL and c.table[ev.session].gen == ev.gen:
                        self._free_sess(ev.session)
                event_sink(ev.type, ev.session, ev.a, ev.b, ev.c)
            for i in range(c.nfq):
                nb = 0
                fs = c.fq_frame[i]
                arrays = None
                while done < max_frames and fq_pop(c.fq[i], self._buf, &meta):
                    n = <int>(meta.flags >> 16)
                    if frame_owner(c, meta.session) == NULL:
                        self._stale_frames += 1     # its call ended: not the next call's audio
                        continue
                    sidx = meta.session & 0xFFFFu
                    sink = self._sinks[sidx]
                    if sink is BATCH:
                        if arrays is None:
                            m = min(max_frames - done, <int>fq_len(c.fq[i]) + 1)
                            arrays = (np.empty(m, np.uint32), np.empty((m, fs), np.int16),
                                      np.empty(m, np.uint8), np.empty(m, np.uint64), np.empty(m, np.int32))
                            bs = arrays[0]
                            bf = arrays[1]
                            bk = arrays[2]
                            bn = arrays[3]
                            bl = arrays[4]
                        if nb >= bs.shape[0]:
                            self._flush_batch(batch_sink, fs, nb, arrays)
                            arrays = None
                            nb = 0
                            m = min(max_frames - done, <int>fq_len(c.fq[i]) + 1)
                            arrays = (np.empty(m, np.uint32), np.empty((m, fs), np.int16),
                                      np.empty(m, np.uint8), np.empty(m, np.uint64), np.empty(m, np.int32))
                            bs = arrays[0]
                            bf = arrays[1]
                            bk = arrays[2]
                            bn = arrays[3]
                            bl = arrays[4]
                        bs[nb] = sidx
                        memcpy(&bf[nb, 0], self._buf, 2 * n)
                        if n < fs:
                            memset(&bf[nb, n], 0, 2 * (fs - n))
                        bk[nb] = <uint8_t>(meta.flags & 0xFF)
                        bn[nb] = meta.timestamp
                        bl[nb] = n
                        nb += 1
                    elif type(sink) is FrameSink:
                        (<FrameSink>sink).deliver(<char*>self._buf, 2 * n, meta.flags & 0xFF, meta.timestamp)
                    elif sink is not None:
                        sink(PyBytes_FromStringAndSize(<char*>self._buf, 2 * n), meta.flags & 0xFF,
                             meta.timestamp)
                    done += 1
                if nb:
                    self._flush_batch(batch_sink, fs, nb, arrays)
            if played_sink is not None:
                while done < max_frames and fq_pop(c.played, self._buf, &meta):
                    n = <int>(meta.flags >> 16)
                    if frame_owner(c, meta.session) == NULL:
                        self._stale_frames += 1
                        continue
                    played_sink(meta.session & 0xFFFFu, PyBytes_FromStringAndSize(<char*>self._buf, 2 * n),
                                meta.timestamp, bool(meta.flags & (1 << 15)))
                    done += 1
            else:
                while fq_pop(c.played, self._buf, &meta):
                    pass
            if done >= max_frames:
                more = True
                break
            # arm the wake-up, then look again (the thread may have queued
            # something between our last pop and the arming)
            vc_store_seq_cst(&c.armed, 1)
            vc_fence_seq_cst()            # pairs with the thread's fence in _signal_loop
            if not self._pending():
                break
            vc_exchange_seq_cst(&c.armed, 0)
        if more:
            vc_efd_signal(c.loop_fd)      # come back after the loop's other work
        return done

    cdef void _flush_batch(self, object batch_sink, int fs, int nb, tuple arrays) except *:
        if batch_sink is None:
            return
        batch_sink(fs, arrays[0][:nb], arrays[1][:nb], arrays[2][:nb], arrays[3][:nb], arrays[4][:nb])

    cdef bint _pending(self) noexcept:
        cdef Core* c = self.c
        cdef int i
        if vc_load_acquire(&c.ev_w) != vc_load_relaxed(&c.ev_r):
            return True
        for i in range(c.nfq):
            if fq_len(c.fq[i]):
                return True
        return fq_len(c.played) > 0

    # ------------------------------------------------------------ statistics
    def session_stats(self, int idx) -> dict:
        """The session's counters: the jitter buffer's (received, lost,
        concealed_samples, jitter_ms, ...) and the engine's (foreign_source,
        packets_sent, pacer_underruns, rtcp figures, ...). Each value is
        exact; the set is read while the thread runs, so it is not one
        snapshot."""
        return session_stats(self._get(idx, 0, "session_stats"))

    def _queue_state(self) -> dict:
        """Diagnostics: the positions of the event / command queues and the
        loop wake-up flag (read racily while the thread runs)."""
        cdef Core* c = self.c
        return {"ev_w": vc_load_acquire(&c.ev_w), "ev_r": vc_load_acquire(&c.ev_r),
                "cmd_w": vc_load_acquire(&c.cmd_w), "cmd_r": vc_load_acquire(&c.cmd_r),
                "armed": vc_load_acquire(&c.armed), "removing": c.removing}

    def stats(self, bint reset=False) -> dict:
        """Engine counters and the tick lateness / work time and outbound
        send-lateness distributions (ms: count, p50, p99, max, mean).
        ``reset``: start the distributions afresh after reading them (the
        counters keep counting)."""
        cdef Core* c = self.c
        cdef dict d = core_stats(c)
        d["period_ms"] = self.period_ms
        d["stale_frames"] = self._stale_frames
        d["subslots"] = self.subslots
        d["realtime"] = c.rt_priority > 0 and c.rt_error == 0 and self._started
        if c.rt_priority > 0 and c.rt_error:
            d["realtime_error"] = os.strerror(c.rt_error)
        if reset:
            memset(&c.lateness, 0, sizeof(Hist))
            memset(&c.work, 0, sizeof(Hist))
            memset(&c.send_late, 0, sizeof(Hist))
        return d


cdef int _adopt(object obj) except -1:
    """Take a component for the I/O thread (its Python methods raise meanwhile)."""
    if type(obj) is JitterBuffer:
        return (<JitterBuffer>obj).engine_adopt()
    if type(obj) is SRTPSession:
        return (<SRTPSession>obj).engine_adopt()
    if type(obj) is G722Encoder:
        return (<G722Encoder>obj).engine_adopt()
    if type(obj) is OpusEncoder:
        return (<OpusEncoder>obj).engine_adopt()
    raise TypeError(f"Engine: cannot adopt a {type(obj).__name__}")


cdef void _release(object obj) noexcept:
    """Hand an adopted component back to Python."""
    if type(obj) is JitterBuffer:
        (<JitterBuffer>obj).engine_release()
    elif type(obj) is SRTPSession:
        (<SRTPSession>obj).engine_release()
    elif type(obj) is G722Encoder:
        (<G722Encoder>obj).engine_release()
    elif type(obj) is OpusEncoder:
        (<OpusEncoder>obj).engine_release()


cdef void _free_c(Sess* s) noexcept nogil:
    """Free a session's C memory (its Python objects are the caller's)."""
    sring_free(s.out_ring)
    aec_free(s.aec)
    vc_hm_free(s.in_buf)
    vc_hm_free(s.in_rs_buf)
    vc_hm_free(s.stage)
    vc_hm_free(s.tmp)
    vc_hm_free(s.pkt)
    vc_hm_free(s)


cdef uint32_t _gen_counter = 1

cdef uint32_t _next_gen():
    global _gen_counter
    _gen_counter += 1
    if _gen_counter == 0:
        _gen_counter = 1
    return _gen_counter

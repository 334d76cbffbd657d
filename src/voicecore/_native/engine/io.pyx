# cython: freethreading_compatible=True
"""The audio I/O thread of the engine: epoll over every session's sockets, the
engine's clock, the command queue. It never takes the GIL and never raises.

Long because the thread's loop is one unit (sockets, clock, commands and the
tick's prefetch pipeline): moved to other modules, its small per-packet
helpers would become calls across module boundaries, which Cython does not
inline.

One wake-up: read what the readable sockets hold (at most RECV_BATCH datagrams
per recvmmsg; each datagram keeps the kernel's receive time). In tick mode
(the default) a session's RTP socket is not polled at all: it is read
directly right before the session's own sub-slot tick, once per period (one
recvmsg while the stream is in step, a recvmmsg drain otherwise: _readable),
and only the RTCP sockets are polled; otherwise every socket is in the epoll
set.
Check each datagram's source and hand it to the session's jitter buffer
(RTCP, also when multiplexed on the RTP port, goes to the RTCP parser); then
apply python's commands; then run every sub-slot tick that is due (absolute
deadlines on CLOCK_MONOTONIC through a timerfd: the period is split into
``nslots`` sub-slots and each session belongs to one, so the sends of many
calls are spread over the period; a sub-slot takes SLOT_FILL sessions before
the next is used and the timer is armed, one-shot, for the next sub-slot that
has sessions, so a lightly loaded engine wakes once per period); finally write the loop's eventfd once if
anything was queued for python and python asked to be woken.

A failed syscall is counted and reported as an event, then the loop goes on.
Missed sub-slots (the thread was descheduled) are run late, up to
``max_catchup`` of them, so every call still gets one frame per period;
beyond that they are skipped and counted.
"""
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memset
from libc.errno cimport errno, EINTR

from voicecore._native.atomic cimport (
    vc_load_relaxed, vc_load_acquire, vc_store_release, vc_load_seq_cst,
    vc_exchange_seq_cst, vc_store_seq_cst, vc_fence_seq_cst,
)
from voicecore._native.media.jitter cimport JitterBuffer, jb_prefetch, vc_touch, R_OK
from voicecore._native.media._jitter.state cimport JBState
from voicecore._native.engine.core cimport (
    Core, Sess, Cmd, sockaddr_storage, socklen_t, pthread_t,
    S_ADDING, S_ACTIVE, S_REMOVING, S_RELEASED, F_LATCH, F_DELIVER, DtmfOut,
    C_ADD, C_REMOVE, C_FLUSH_OUT, C_DTMF, C_SET_REMOTE, C_FLAGS, C_STOP,
    EV_READY, EV_REMOVED, EV_ACTIVE, EV_ERROR, EV_LATCHED,
    E_RECV, E_EPOLL, E_TIMER, N_DTMF_OUT, RECV_BATCH, RECV_MAX, SLOT_FILL,
)
from voicecore._native.engine.queues cimport ev_post, cmd_pop, hist_add
from voicecore._native.media.ring cimport vc_fqueue
from voicecore._native.engine.tick cimport session_tick, send_rtcp, on_rtcp, flush_out, srtp_failed
from voicecore._native.media.srtp cimport SRTPSession

cdef extern from "vc_io.h" nogil:
    ctypedef struct vc_rbatch:
        pass
    int64_t vc_now_ns()
    int64_t vc_realtime_ns()
    int64_t vc_rbatch_kts(const vc_rbatch* b, int i)
    void vc_rbatch_init(vc_rbatch* b, uint8_t* bufs)
    int vc_rbatch_recv(vc_rbatch* b, int fd, int vlen)
    int vc_rbatch_recv1(vc_rbatch* b, int fd)
    int vc_rbatch_len(const vc_rbatch* b, int i)
    const uint8_t* vc_rbatch_data(const vc_rbatch* b, int i)
    const sockaddr_storage* vc_rbatch_addr(const vc_rbatch* b, int i)
    int vc_addr_equal(const sockaddr_storage* a, const sockaddr_storage* b)
    int vc_host_equal(const sockaddr_storage* a, const sockaddr_storage* b)
    int vc_addr_port(const sockaddr_storage* a)
    void vc_addr_set_port(sockaddr_storage* a, int port)
    socklen_t vc_rbatch_addrlen(const vc_rbatch* b, int i)
    int vc_efd_signal(int fd)
    uint64_t vc_efd_drain(int fd)
    int vc_timer_arm(int fd, int64_t first_ns, int64_t interval_ns)

cdef extern from *:
    void _prefetch "__builtin_prefetch" (const void* p) nogil
    void _prefetchw "__builtin_prefetch" (const void* p, int rw) nogil

cdef extern from "<sys/epoll.h>" nogil:
    ctypedef union epoll_data_t:
        void* ptr
        int fd
        uint32_t u32
        uint64_t u64
    cdef struct epoll_event:
        uint32_t events
        epoll_data_t data
    int epoll_wait(int epfd, epoll_event* events, int maxevents, int timeout)
    int epoll_ctl(int epfd, int op, int fd, epoll_event* event)
    enum: EPOLLIN, EPOLLET, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD

cdef extern from "<sys/resource.h>" nogil:
    """
    /* page faults of the calling thread (minor + major), -1 if unknown */
    static inline long long vc_thread_faults(void) {
    #if defined(RUSAGE_THREAD)
        struct rusage ru;
        if (getrusage(RUSAGE_THREAD, &ru) != 0) return -1;
        return (long long)ru.ru_minflt + (long long)ru.ru_majflt;
    #else
        return -1;
    #endif
    }
    """
    long long vc_thread_faults()


cdef extern from "<sched.h>" nogil:
    cdef struct sched_param:
        int sched_priority
    enum: SCHED_FIFO

cdef extern from "<pthread.h>" nogil:
    int pthread_setschedparam(pthread_t thread, int policy, const sched_param* param)
    ctypedef void* (*start_fn)(void*) noexcept nogil
    int pthread_create(pthread_t* thread, const void* attr, start_fn start, void* arg)
    int pthread_join(pthread_t thread, void** retval)
    int pthread_mutex_lock(void* m)
    int pthread_mutex_unlock(void* m)

cdef extern from "<stdlib.h>" nogil:
    void* calloc(size_t n, size_t size)
    void free(void* p)

cdef extern from "<unistd.h>" nogil:
    int usleep(unsigned int usec)

cdef enum:
    TAG_TIMER = 0xFFFFFFFFFFFFFFF0
    TAG_CMD = 0xFFFFFFFFFFFFFFF1
    MAX_EVENTS = 256

cdef uint64_t _TAG_TIMER = 0xFFFFFFFFFFFFFFF0ULL
cdef uint64_t _TAG_CMD = 0xFFFFFFFFFFFFFFF1ULL
cdef int64_t _LOW32 = 0xFFFFFFFFLL
cdef int64_t _LATCH_WINDOW_NS = 5000000000LL


# ====================================================================== commands
cdef int cmd_push(Core* c, const Cmd* cmd) noexcept nogil:
    """Python side (any thread): queue one command and wake the thread."""
    cdef uint64_t w, r
    pthread_mutex_lock(&c.cmd_lock)
    w = vc_load_relaxed(&c.cmd_w)
    r = vc_load_acquire(&c.cmd_r)
    if w - r > c.cmd_mask:
        pthread_mutex_unlock(&c.cmd_lock)
        return -1
    c.cmds[w & c.cmd_mask] = cmd[0]
    vc_store_release(&c.cmd_w, w + 1)
    pthread_mutex_unlock(&c.cmd_lock)
    vc_efd_signal(c.cmd_fd)
    return 0


cdef void _clock_resume(Core* c, int64_t now) noexcept nogil:
    """Re-arm the tick timer on the engine's grid (t0 + k x slot) after an
    idle stretch; the ticks of the idle stretch are not owed to anyone."""
    cdef uint64_t due = 0
    if now >= c.t0_ns:
        due = <uint64_t>((now - c.t0_ns) // c.slot_ns) + 1
    if due > c.tick_no:
        c.tick_no = due
    _arm_next(c)


cdef void _arm_next(Core* c) noexcept nogil:
    """Arm the timer (one-shot, absolute) for the next tick whose sub-slot
    has sessions: an empty sub-slot costs no wake-up."""
    cdef uint64_t t = c.tick_no
    cdef int32_t i
    for i in range(c.nslots):
        if c.nmembers[(t + <uint64_t>i) % <uint64_t>c.nslots] > 0:
            break
    vc_timer_arm(c.timer_fd, c.t0_ns + <int64_t>(t + <uint64_t>i) * c.slot_ns, 0)


cdef void _slot_add(Core* c, Sess* s) noexcept nogil:
    """Put the session in the first sub-slot holding fewer than SLOT_FILL
    sessions, or once all hold that many, in the least loaded one. Every
    sub-slot that has sessions wakes the loop once per period, and a loop
    wake-up costs far more than a session's tick (measured at 100 calls:
    7.6 CPU-us per packet spread over 4 sub-slots, 4.7 in one), so a lightly
    loaded engine uses one sub-slot; a loaded one spreads its ticks' work
    evenly over the period."""
    cdef int32_t k, best = -1
    for k in range(c.nslots):
        if c.nmembers[k] < SLOT_FILL:
            best = k
            break
    if best < 0:
        best = 0
        for k in range(1, c.nslots):
            if c.nmembers[k] < c.nmembers[best]:
                best = k
    s.slot = best
    s.slot_pos = c.nmembers[best]
    c.members[best * c.max_sessions + s.slot_pos] = <int32_t>s.idx
    c.nmembers[best] += 1


cdef void _slot_remove(Core* c, Sess* s) noexcept nogil:
    cdef int32_t k = s.slot, last
    cdef int32_t* m = c.members + k * c.max_sessions
    cdef Sess* o
    c.nmembers[k] -= 1
    last = c.nmembers[k]
    if s.slot_pos != last:
        m[s.slot_pos] = m[last]
        o = c.table[m[last]]
        o.slot_pos = s.slot_pos
    s.slot = -1


cdef void _add(Core* c, Sess* s, int64_t now) noexcept nogil:
    cdef epoll_event ev
    cdef int ep = c.sock_ep if c.read_on_tick else c.epfd
    # edge-triggered: a socket is reported once per arrival burst and we read
    # it until it is empty (or re-arm it when the per-wake-up bound stops us)
    ev.events = EPOLLIN | EPOLLET
    ev.data.u64 = <uint64_t>s.idx << 1
    # tick mode: the RTP socket is read directly right before the session's
    # tick (once per period, its datagrams keep their kernel receive times);
    # only the RTCP socket, rarely readable, stays in the polled set
    if not c.read_on_tick and epoll_ctl(ep, EPOLL_CTL_ADD, s.fd, &ev) != 0:
        ev_post(c, s, EV_ERROR, errno, E_EPOLL, 0)
    if s.rtcp_fd >= 0:
        ev.data.u64 = (<uint64_t>s.idx << 1) | 1
        if epoll_ctl(ep, EPOLL_CTL_ADD, s.rtcp_fd, &ev) != 0:
            ev_post(c, s, EV_ERROR, errno, E_EPOLL, 1)
    s.start_ns = now
    s.last_rx_ns = now
    s.next_rtcp_ns = now + <int64_t>(s.rtcp_interval_s * 0.5e9)
    _slot_add(c, s)
    s.state = S_ACTIVE
    if c.st.sessions == 0:
        _clock_resume(c, now)
    elif c.nmembers[s.slot] == 1:
        _arm_next(c)              # its sub-slot was empty: may come before the armed tick
    c.st.sessions += 1
    ev_post(c, s, EV_READY, now, 0, 0)


cdef void _remove(Core* c, Sess* s, bint bye, int64_t now) noexcept nogil:
    cdef epoll_event ev
    if s.state != S_ACTIVE:
        return
    cdef int ep = c.sock_ep if c.read_on_tick else c.epfd
    if bye and s.rtcp_on:
        send_rtcp(c, s, now, True)
    if not c.read_on_tick:
        epoll_ctl(ep, EPOLL_CTL_DEL, s.fd, &ev)
    if s.rtcp_fd >= 0:
        epoll_ctl(ep, EPOLL_CTL_DEL, s.rtcp_fd, &ev)
    _slot_remove(c, s)
    c.st.sessions -= 1
    if c.st.sessions == 0:
        vc_timer_arm(c.timer_fd, 0, 0)        # no session: no tick, no wake-up (an idle engine costs nothing)
    s.state = S_REMOVING
    if ev_post(c, s, EV_REMOVED, 0, 0, 0):
        s.state = S_RELEASED      # python owns it again
    else:
        c.removing += 1


cdef void _commands(Core* c, int64_t now) noexcept nogil:
    cdef Cmd cmd
    cdef Sess* s
    cdef DtmfOut* d
    while cmd_pop(c, &cmd):
        c.st.commands += 1
        if cmd.op == C_STOP:
            vc_store_release(&c.running, 0)
            continue
        if cmd.a < 0 or cmd.a >= c.max_sessions:
            continue
        s = c.table[cmd.a]
        if s == NULL or s.gen != cmd.gen:
            continue
        if cmd.op == C_ADD:
            if s.state == S_ADDING:
                _add(c, s, now)
        elif s.state != S_ACTIVE:
            continue
        elif cmd.op == C_REMOVE:
            _remove(c, s, cmd.b != 0, now)
        elif cmd.op == C_FLUSH_OUT:
            flush_out(c, s)
        elif cmd.op == C_DTMF:
            if s.dq_len < N_DTMF_OUT:
                d = &s.dq[(s.dq_head + s.dq_len) % N_DTMF_OUT]
                d.code = <int32_t>cmd.b
                d.duration_ms = <int32_t>(cmd.c & _LOW32)
                d.volume = <int32_t>(cmd.c >> 32)
                s.dq_len += 1
            else:
                s.st.dtmf_dropped += 1
        elif cmd.op == C_SET_REMOTE:
            s.remote = s.pending_remote
            s.remote_len = s.pending_remote_len
            s.remote_rtcp = s.pending_remote_rtcp
            s.remote_rtcp_len = s.pending_remote_rtcp_len
            s.cand_count = 0
        elif cmd.op == C_FLAGS:
            s.tflags = <uint32_t>cmd.b


# ====================================================================== receive
cdef inline bint _latch(Core* c, Sess* s, const uint8_t* d, int n, const sockaddr_storage* src,
                        socklen_t srclen, int64_t now) noexcept nogil:
    """NAT latching: a new source becomes the remote after >= 4 sequential RTP
    packets from it within 5 s (one stray packet never redirects media)."""
    cdef uint16_t seq
    if n < 12 or (d[0] >> 6) != 2:
        return False
    seq = (<uint16_t>d[2] << 8) | d[3]
    if s.cand_count > 0 and vc_addr_equal(&s.cand, src) and seq == <uint16_t>(s.cand_seq + 1) \
            and now - s.cand_first_ns <= _LATCH_WINDOW_NS:
        s.cand_count += 1
    else:
        s.cand = src[0]
        s.cand_len = srclen
        s.cand_count = 1
        s.cand_first_ns = now
    s.cand_seq = seq
    if s.cand_count < 4:
        return False
    s.remote = s.cand
    s.remote_len = s.cand_len
    s.remote_rtcp = s.cand
    s.remote_rtcp_len = s.cand_len
    vc_addr_set_port(&s.remote_rtcp, vc_addr_port(&s.cand) + 1)
    s.cand_count = 0
    s.st.latches += 1
    ev_post(c, s, EV_LATCHED, vc_addr_port(&s.remote), 0, 0)
    return True


cdef void _readable(Core* c, Sess* s, int which, vc_rbatch* rb, int64_t now,
                    int64_t rt_off) noexcept nogil:
    """Read what the socket holds. Each datagram's arrival time is the
    kernel's receive stamp (realtime, mapped to monotonic with ``rt_off``),
    so reading once per tick keeps the exact timing; ``now`` without one.

    Tick mode reads the RTP socket with one recvmsg first and stops there when
    the datagram is the stream's next one, not late, arrived after the
    previous read and carries at least a tick of audio (see _in_step): the
    datagram after it, if already waiting, cannot be due before the next
    tick, which reads it first. Anything else (a loss, reordering, a
    duplicate, DTMF, a foreign or bad datagram, shorter packets, a backlog)
    drains the socket with recvmmsg as before."""
    cdef int fd = s.rtcp_fd if which else s.fd
    cdef int k, total = 0, want = 4          # one or two datagrams is the common case
    cdef epoll_event ev
    cdef bint direct = c.read_on_tick and not which      # read at its tick, not polled
    cdef int bound = RECV_MAX * c.nslots if direct else RECV_MAX
    cdef int64_t prev
    if direct:
        prev = s.rx_read_ns
        s.rx_read_ns = now
        k = vc_rbatch_recv1(rb, fd)
        if k <= 0:
            if k < 0:
                _recv_error(c, s, -k, which)
            return
        c.st.datagrams += 1
        if _handle(c, s, which, rb, 1, now, rt_off, prev):
            return
        total = 1
    while total < bound:
        k = vc_rbatch_recv(rb, fd, want)
        if k < 0:
            _recv_error(c, s, -k, which)
            return
        c.st.datagrams += <uint64_t>k
        _handle(c, s, which, rb, k, now, rt_off, -1)
        total += k
        if k < want:
            return                               # drained
        want = RECV_BATCH
    # bound reached with data left: re-arm so the next wake-up sees it again
    if direct:
        return                                   # read again at its next tick
    ev.events = EPOLLIN | EPOLLET
    ev.data.u64 = (<uint64_t>s.idx << 1) | <uint64_t>which
    epoll_ctl(c.sock_ep if c.read_on_tick else c.epfd, EPOLL_CTL_MOD, fd, &ev)


cdef void _recv_error(Core* c, Sess* s, int err, int which) noexcept nogil:
    s.st.recv_errors += 1
    if s.st.recv_errors == 1 or (s.st.recv_errors & 1023) == 0:
        ev_post(c, s, EV_ERROR, err, E_RECV, which)


cdef inline bint _in_step(Sess* s, const uint8_t* d, int64_t t, int64_t prev) noexcept nogil:
    """For a datagram the jitter buffer stored (R_OK: a valid RTP header, not
    late): is it the stream's next one (sequence number + 1), carrying at
    least one tick of audio (timestamp step >= ts_step), arrived after the
    previous read (``prev``; -1: not asked)? Keeps the newest stored
    (sequence, timestamp)."""
    cdef uint16_t seq = (<uint16_t>d[2] << 8) | d[3]
    cdef uint32_t ts = (<uint32_t>d[4] << 24) | (<uint32_t>d[5] << 16) | (<uint32_t>d[6] << 8) | d[7]
    cdef uint16_t ds = <uint16_t>(seq - s.rx_seq)
    cdef bint step = (s.rx_have and ds == 1 and t > prev and prev >= 0
                      and <uint32_t>(ts - s.rx_ts) >= <uint32_t>s.ts_step
                      and <uint32_t>(ts - s.rx_ts) < 0x80000000u)
    if not s.rx_have or (ds != 0 and ds < 0x8000):
        s.rx_seq = seq
        s.rx_ts = ts
        s.rx_have = True
    return step


cdef bint _handle(Core* c, Sess* s, int which, vc_rbatch* rb, int k, int64_t now,
                  int64_t rt_off, int64_t prev) noexcept nogil:
    """Handle k received datagrams; True if the last one is the stream's next
    step (see _in_step; ``prev`` the previous read's time, -1 not asked)."""
    cdef int i, n, r
    cdef bint step = False
    cdef int64_t t, kts
    cdef bint from_remote
    cdef const uint8_t* d
    cdef const sockaddr_storage* src
    for i in range(k):
        step = False
        d = vc_rbatch_data(rb, i)
        n = vc_rbatch_len(rb, i)
        src = vc_rbatch_addr(rb, i)
        kts = vc_rbatch_kts(rb, i)
        t = kts - rt_off if kts != 0 else now
        if t > now or t < now - 1000000000:
            t = now                   # a realtime step: trust the wake-up time
        if which or (n >= 2 and d[1] >= 192 and d[1] <= 223 and (d[0] >> 6) == 2):
            # RTCP: from the remote's RTCP port, or its RTP port (rtcp-mux)
            if vc_host_equal(src, &s.remote) and (vc_addr_equal(src, &s.remote_rtcp)
                                                  or vc_addr_equal(src, &s.remote)):
                on_rtcp(c, s, d, n, t)
            else:
                s.st.foreign_rtcp += 1
            continue
        from_remote = vc_addr_equal(src, &s.remote)
        if not from_remote and not (s.tflags & F_LATCH):
            s.st.foreign_source += 1
            continue
        if s.srtp != NULL:
            # authenticated (and decrypted in place) before the jitter buffer,
            # address learning or latching ever see it
            r = (<SRTPSession>s.srtp).unprotect_rtp_c(<uint8_t*>d, n)
            if r < 0:
                srtp_failed(s, r)
                continue
            n = r
        if not from_remote and not _latch(c, s, d, n, src, vc_rbatch_addrlen(rb, i), t):
            s.st.foreign_source += 1
            continue
        if s.jb != NULL:
            r = (<JitterBuffer>s.jb).push_c(d, n, t)
            step = r == R_OK and _in_step(s, d, t, prev)
        s.last_rx_ns = t
        if s.inactive:
            s.inactive = False
            ev_post(c, s, EV_ACTIVE, 0, 0, 0)
    return step


# ====================================================================== the clock
cdef inline void _pf_sess(Sess* s, int stage) noexcept nogil:
    """Prefetch hints for a session the tick will reach soon (see _ticks).
    The first line of each page is touched with a demand load: a prefetch
    that misses the TLB may be dropped (measured here: with prefetches alone
    the loads of the next session still missed), a load is not."""
    cdef const char* p
    if stage == 0:
        p = <const char*>s
        vc_touch(p)
        _prefetch(p + 64)
        _prefetch(p + 128)
        _prefetch(&s.remote)
        _prefetch(&s.st)
        _prefetch(<const char*>&s.st + 64)
        return
    if s.jb == NULL:
        return
    if stage == 1:
        _prefetch(s.jb)             # the buffer object (push_c / pull_c read its state pointer)
        jb_prefetch(<const JBState*>s.jbs, 0)
        # the input buffer when the frame is played out there (resampled or
        # not delivered); otherwise it goes straight to the frame queue (_pf_fq)
        if s.in_buf != NULL and (s.in_rs != NULL or not (s.tflags & F_DELIVER)):
            p = <const char*>s.in_buf
            vc_touch(p)
            while p < <const char*>(s.in_buf + s.frame_in):
                _prefetchw(p, 1)
                p += 64
        if s.out_ring != NULL:
            _prefetch(s.out_ring)
    else:
        jb_prefetch(<const JBState*>s.jbs, 1)


cdef inline void _pf_fq(vc_fqueue* q) noexcept nogil:
    """Prefetch (for writing) the frame-queue slot after the next one: where
    the next session's frame goes once this session's is pushed."""
    cdef uint64_t w = vc_load_relaxed(&q.write_idx) + 1
    cdef const char* p = <const char*>(q.frames + (w & q.mask) * q.frame_samples)
    cdef const char* e = p + q.frame_samples * sizeof(int16_t)
    while p < e:
        _prefetchw(p, 1)
        p += 64
    _prefetchw(&q.meta[w & q.mask], 1)


cdef uint64_t _busy_ticks(Core* c, uint64_t a, uint64_t b) noexcept nogil:
    """Ticks in [a, b) whose sub-slot has sessions."""
    cdef uint64_t ns = <uint64_t>c.nslots, full, busy = 0, t
    cdef int32_t k
    if b <= a:
        return 0
    full = (b - a) // ns
    for k in range(c.nslots):
        if c.nmembers[k] > 0:
            busy += 1
    busy *= full
    t = a + full * ns
    while t < b:
        if c.nmembers[t % ns] > 0:
            busy += 1
        t += 1
    return busy


cdef void _ticks(Core* c, int64_t now, vc_rbatch* rb) noexcept nogil:
    cdef uint64_t due, t
    cdef int64_t deadline, t1, late, rnow, rt_off
    cdef int32_t k, j, n
    cdef int32_t* m
    cdef Sess* s
    if now < c.t0_ns:
        return
    due = <uint64_t>((now - c.t0_ns) // c.slot_ns) + 1       # ticks whose deadline has passed
    # the timer skips empty sub-slots: step over them first
    while c.tick_no < due and c.nmembers[c.tick_no % <uint64_t>c.nslots] == 0:
        c.tick_no += 1
    if due - c.tick_no > <uint64_t>c.max_catchup:
        c.st.ticks_skipped += _busy_ticks(c, c.tick_no, due - <uint64_t>c.max_catchup)
        c.tick_no = due - <uint64_t>c.max_catchup
    while c.tick_no < due:
        t = c.tick_no
        k = <int32_t>(t % <uint64_t>c.nslots)
        n = c.nmembers[k]
        if n == 0:
            c.tick_no = t + 1     # an empty sub-slot: nothing to do (the timer skipped it)
            continue
        deadline = c.t0_ns + <int64_t>t * c.slot_ns
        late = now - deadline
        hist_add(&c.lateness, <uint64_t>late)
        if late > c.slot_ns:
            c.st.ticks_late += 1
            if t + 1 < due:
                c.st.ticks_caught_up += 1
        m = c.members + k * c.max_sessions
        if c.read_on_tick:
            rnow = vc_now_ns()
            rt_off = vc_realtime_ns() - rnow
        # Each session: its RTP socket is read (tick mode) right before its
        # own playout. The state of the sessions ahead is prefetched in three
        # stages (its Sess lines; then its jitter buffer's state and its
        # buffers; then the slots and payload those point to), so the cache
        # misses of one call overlap the syscall and work of the one before.
        for j in range(min(n, 3)):
            _pf_sess(c.table[m[j]], 0)
        for j in range(min(n, 2)):
            _pf_sess(c.table[m[j]], 1)
        if n > 0:
            _pf_sess(c.table[m[0]], 2)
        for j in range(n):
            s = c.table[m[j]]
            if c.read_on_tick and s.state == S_ACTIVE:
                if j:
                    # the read's own time: arrival stamps later than this are
                    # clamped to it, and the next read asks what came after it
                    rnow = vc_now_ns()
                _readable(c, s, 0, rb, rnow, rt_off)
            # after the syscall (which waits for every load before it), so
            # the misses overlap this session's tick
            if j + 3 < n:
                _pf_sess(c.table[m[j + 3]], 0)
            if j + 2 < n:
                _pf_sess(c.table[m[j + 2]], 1)
            if j + 1 < n:
                _pf_sess(c.table[m[j + 1]], 2)
                _pf_fq(c.fq[c.table[m[j + 1]].queue])
            session_tick(c, s, deadline, now, t // <uint64_t>c.nslots)
        c.tick_no = t + 1
        c.st.ticks += 1
        t1 = vc_now_ns()
        hist_add(&c.work, <uint64_t>(t1 - now))
        now = t1


cdef void _signal_loop(Core* c) noexcept nogil:
    if c.produced:
        c.produced = False
        # store-load (Dekker) pairing with drain(): our queue stores must be
        # visible before we read `armed`, as python's `armed` store is before
        # it re-reads the queues. Without this fence x86 lets the load pass
        # the stores (store buffer): both sides miss each other and the loop
        # is never woken for an event that sits in the queue.
        vc_fence_seq_cst()
        if vc_load_seq_cst(&c.armed) and vc_exchange_seq_cst(&c.armed, 0):
            vc_efd_signal(c.loop_fd)
            c.st.wakeups += 1


cdef void _dispatch(Core* c, epoll_event* evs, int n, vc_rbatch* rb, int64_t now,
                    int64_t rt_off) noexcept nogil:
    """Read the sockets of a batch of readiness events."""
    cdef int i, which
    cdef uint64_t tag
    cdef uint32_t idx
    cdef Sess* s
    for i in range(n):
        tag = evs[i].data.u64
        if tag >= _TAG_TIMER:
            continue
        idx = <uint32_t>(tag >> 1)
        which = <int>(tag & 1)
        if idx < <uint32_t>c.max_sessions:
            s = c.table[idx]
            if s != NULL and s.state == S_ACTIVE:
                _readable(c, s, which, rb, now, rt_off)


cdef void _poll_sockets(Core* c, epoll_event* evs, vc_rbatch* rb) noexcept nogil:
    """Tick mode: read every socket that has data, without sleeping."""
    cdef int n, rounds = 0
    cdef int64_t now, rt_off
    while rounds < 64:                    # bound the work (64 x MAX_EVENTS sockets)
        n = epoll_wait(c.sock_ep, evs, MAX_EVENTS, 0)
        if n <= 0:
            if n < 0 and errno != EINTR:
                c.st.errors += 1
            return
        now = vc_now_ns()
        rt_off = vc_realtime_ns() - now
        _dispatch(c, evs, n, rb, now, rt_off)
        if n < MAX_EVENTS:
            return
        rounds += 1


cdef void* _main(void* arg) noexcept nogil:
    cdef Core* c = <Core*>arg
    cdef epoll_event evs[MAX_EVENTS]
    cdef vc_rbatch rb
    cdef int n, i
    cdef uint64_t tag
    cdef int64_t now, rt_off
    cdef bint timer, cmd
    vc_rbatch_init(&rb, c.rbuf)
    while vc_load_acquire(&c.running):
        # the timer, a command or (not on tick) a socket; an EV_REMOVED that
        # found the event queue full is retried within 5 ms even when no
        # session is left to keep the clock ticking
        n = epoll_wait(c.epfd, evs, MAX_EVENTS, 5 if c.removing else -1)
        if n < 0:
            if errno != EINTR:
                c.st.errors += 1
                ev_post(c, NULL, EV_ERROR, errno, E_EPOLL, 0)
                _signal_loop(c)
                usleep(1000)
            continue
        now = vc_now_ns()
        c.st.epoll_wakeups += 1
        timer = False
        cmd = False
        for i in range(n):
            tag = evs[i].data.u64
            if tag == _TAG_TIMER:
                timer = True
            elif tag == _TAG_CMD:
                cmd = True
        if not c.read_on_tick:
            _dispatch(c, evs, n, &rb, now, vc_realtime_ns() - now)
        if cmd:
            vc_efd_drain(c.cmd_fd)
            _commands(c, now)
        if timer:
            vc_efd_drain(c.timer_fd)       # the expiration count; deadlines come from the clock
            if c.read_on_tick:
                _poll_sockets(c, evs, &rb)
            _ticks(c, vc_now_ns(), &rb)
            if c.st.sessions > 0:
                _arm_next(c)
        _retry_removed(c)
        _signal_loop(c)
        if now - c.faults_ns >= 250000000:
            _read_faults(c, now)
    return NULL


cdef void _read_faults(Core* c, int64_t now) noexcept nogil:
    """The I/O thread's page faults (a fault in the audio thread is a stall:
    a zeroed page, or worse); a syscall, so at most four times a second."""
    cdef long long f = vc_thread_faults()
    c.faults_ns = now
    if f >= 0:
        c.st.page_faults = <uint64_t>f


cdef void _retry_removed(Core* c) noexcept nogil:
    """EV_REMOVED events that found the event queue full are posted again."""
    cdef int32_t i
    cdef Sess* s
    if c.removing == 0:
        return
    for i in range(c.max_sessions):
        s = c.table[i]
        if s != NULL and s.state == S_REMOVING:
            if ev_post(c, s, EV_REMOVED, 0, 0, 0):
                s.state = S_RELEASED
                c.removing -= 1


cdef int core_start(Core* c) noexcept nogil:
    cdef epoll_event ev
    ev.events = EPOLLIN
    ev.data.u64 = _TAG_TIMER
    if epoll_ctl(c.epfd, EPOLL_CTL_ADD, c.timer_fd, &ev) != 0:
        return errno
    ev.data.u64 = _TAG_CMD
    if epoll_ctl(c.epfd, EPOLL_CTL_ADD, c.cmd_fd, &ev) != 0:
        return errno
    vc_store_release(&c.running, 1)
    cdef sched_param sp
    cdef int r = pthread_create(&c.thread, NULL, _main, c)
    if r != 0:
        vc_store_release(&c.running, 0)
        return r
    c.thread_started = True
    if c.rt_priority > 0:
        # real-time scheduling keeps the clock on time on a loaded machine;
        # it needs CAP_SYS_NICE (or an rtprio limit): otherwise the thread
        # stays on normal scheduling and rt_error says why
        sp.sched_priority = c.rt_priority
        c.rt_error = pthread_setschedparam(c.thread, SCHED_FIFO, &sp)
    return 0


cdef void core_join(Core* c) noexcept nogil:
    if c.thread_started:
        pthread_join(c.thread, NULL)
        c.thread_started = False

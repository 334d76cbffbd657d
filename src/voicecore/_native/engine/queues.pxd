# Inline helpers shared by the engine's modules: the event queue (thread ->
# python), the command queue (python -> thread) and the latency histograms.
# All noexcept nogil; compiled into each module that cimports them.
from libc.stdint cimport int64_t, uint32_t, uint64_t
from voicecore._native.atomic cimport vc_load_relaxed, vc_load_acquire, vc_store_release, vc_stat_add
from voicecore._native.engine.core cimport Core, Sess, Cmd, Ev, Hist, HIST_BUCKETS

cdef extern from *:
    int __builtin_clzll(unsigned long long x) nogil


# ---------------------------------------------------------------- events
cdef inline bint ev_post(Core* c, Sess* s, uint32_t typ, int64_t a, int64_t b, int64_t cc) noexcept nogil:
    """Queue an event for python (thread side). Returns False when the queue is
    full (the event is dropped and counted; callers that must not lose one,
    EV_REMOVED, retry on the next tick)."""
    cdef uint64_t w = vc_load_relaxed(&c.ev_w)
    cdef uint64_t r = vc_load_acquire(&c.ev_r)
    cdef Ev* e
    if w - r > c.ev_mask:
        c.st.event_overflow += 1
        if s != NULL:
            s.st.events_dropped += 1
        return False
    e = &c.evs[w & c.ev_mask]
    e.type = typ
    e.session = s.idx if s != NULL else 0xFFFFFFFFu
    e.gen = s.gen if s != NULL else 0
    e.a = a
    e.b = b
    e.c = cc
    vc_store_release(&c.ev_w, w + 1)
    c.produced = True
    return True


cdef inline bint ev_pop(Core* c, Ev* out) noexcept nogil:
    """Python side: take the oldest event."""
    cdef uint64_t r = vc_load_relaxed(&c.ev_r)
    if r == vc_load_acquire(&c.ev_w):
        return False
    out[0] = c.evs[r & c.ev_mask]
    vc_store_release(&c.ev_r, r + 1)
    return True


# ---------------------------------------------------------------- frames
cdef inline uint32_t frame_tag(Sess* s) noexcept nogil:
    """A queued frame's session field: index (low 16 bits, max_sessions <=
    65536) and generation (high 16 bits), so frames still queued when a call
    ends are never handed to the next call on the same index."""
    return (<uint32_t>s.idx & 0xFFFFu) | ((s.gen & 0xFFFFu) << 16)


cdef inline Sess* frame_owner(Core* c, uint32_t tag) noexcept nogil:
    """Python side: the live session a queued frame belongs to, or NULL."""
    cdef uint32_t idx = tag & 0xFFFFu
    cdef Sess* s
    if idx >= <uint32_t>c.max_sessions:
        return NULL
    s = c.table[idx]
    if s == NULL or (s.gen & 0xFFFFu) != (tag >> 16):
        return NULL
    return s


# ---------------------------------------------------------------- commands
cdef inline bint cmd_pop(Core* c, Cmd* out) noexcept nogil:
    """Thread side: take the oldest command."""
    cdef uint64_t r = vc_load_relaxed(&c.cmd_r)
    if r == vc_load_acquire(&c.cmd_w):
        return False
    out[0] = c.cmds[r & c.cmd_mask]
    vc_store_release(&c.cmd_r, r + 1)
    return True


# ---------------------------------------------------------------- histograms
cdef inline int hist_bucket(uint64_t v) noexcept nogil:
    """Log-linear bucket: exact below 16, then 16 sub-buckets per octave (<= 6.25 % wide)."""
    cdef int e
    cdef int b
    if v < 16:
        return <int>v
    e = 63 - __builtin_clzll(v)
    b = (e - 3) * 16 + <int>((v >> (e - 4)) & 15)
    return b if b < HIST_BUCKETS else HIST_BUCKETS - 1


cdef inline uint64_t hist_value(int b) noexcept nogil:
    """Upper edge of bucket ``b`` (what a percentile reports)."""
    cdef int e
    if b < 16:
        return <uint64_t>b
    e = b // 16 + 3
    return (<uint64_t>(16 + (b % 16) + 1) << (e - 4)) - 1


cdef inline void hist_add(Hist* h, uint64_t v) noexcept nogil:
    h.b[hist_bucket(v)] += 1
    h.n += 1
    h.sum += v
    if v > h.max:
        h.max = v


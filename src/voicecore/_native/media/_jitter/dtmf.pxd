# RFC 4733 telephone events: one digit reported once per event, with its
# duration, whatever end / start packets are lost or repeated; long events
# (RFC 4733 2.5.1.3 segments) are joined. Durations are kept in RTP timestamp
# units and reported in samples at the buffer's rate (x2 for G.722).
# The digit queue is single-producer / single-consumer (see JDtmf in state.pxd).
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from voicecore._native.media._jitter.types cimport JDtmfEvent
from voicecore._native.media._jitter.state cimport (
    JBState, JDtmf, vc_load_relaxed, vc_load_acquire, vc_store_release,
)
from voicecore._native.media._jitter.codec cimport jb_ts_delta
from voicecore._native.media._jitter.arith cimport jb_elapsed


cdef inline void jb_dtmf_report(JBState* s, int code, int64_t base, int64_t dur, uint32_t ts) noexcept nogil:
    """Producer side: queue a completed digit whose last segment has timestamp
    ``ts`` and lasted ``dur`` after the ``base`` of the earlier segments (RTP
    timestamp units; the event started at ``ts - base``). Dropped and counted
    in dtmf_overflow when 32 are waiting."""
    cdef JDtmf* t = &s.dt
    cdef uint64_t tail, head
    cdef JDtmfEvent* ev
    t.done[t.done_n & 7] = ts
    t.done_n += 1
    if code > 15:
        return            # not a keypad digit (RFC 4733 events 16-255)
    tail = vc_load_relaxed(&t.q_tail)
    head = vc_load_acquire(&t.q_head)       # the consumer is done with the slot it freed
    if tail - head >= 32:
        s.st.dtmf_overflow += 1
        return
    ev = &t.q[tail & 31]
    ev.code = code
    ev.duration = jb_ts_delta(s, base + dur)   # samples at the buffer's rate
    ev.ts = ts - <uint32_t>base                # the event's start (RFC 4733 2.5.1.3)
    vc_store_release(&t.q_tail, tail + 1)   # publish the event
    s.st.dtmf_digits += 1


cdef inline bint jb_dtmf_pop(JDtmf* t, JDtmfEvent* out) noexcept nogil:
    """Consumer side: the oldest queued digit into ``out`` (1), or 0 when none."""
    cdef uint64_t head = vc_load_relaxed(&t.q_head)
    if vc_load_acquire(&t.q_tail) == head:
        return False
    out[0] = t.q[head & 31]
    vc_store_release(&t.q_head, head + 1)   # hand the slot back to the producer
    return True


cdef inline void jb_dtmf_timeout(JBState* s, int64_t now) noexcept nogil:
    """Report an event whose end packets never came, ``dtmf_timeout_ms`` after its last update."""
    cdef JDtmf* t = &s.dt
    if t.active and jb_elapsed(now, t.last_ns) > s.dtmf_timeout_ns:
        t.active = False
        jb_dtmf_report(s, t.code, t.base, t.dur, t.ts)


cdef inline void jb_dtmf(JBState* s, const uint8_t* p, uint32_t ts, int64_t now) noexcept nogil:
    """One RFC 4733 payload (at least 4 bytes) with the packet's timestamp."""
    cdef JDtmf* t = &s.dt
    cdef int code = p[0], i
    cdef bint end = (p[1] & 0x80) != 0
    cdef int64_t dur = (p[2] << 8) | p[3]
    cdef uint32_t delta
    if t.active and ts == t.ts:
        if dur > t.dur:
            t.dur = dur
        t.last_ns = now
        if end:
            t.active = False
            jb_dtmf_report(s, t.code, t.base, t.dur, t.ts)
        return
    for i in range(8):
        if i < t.done_n and t.done[i] == ts:
            return        # redundant end / late packet of a reported event
    if t.active:
        delta = ts - t.ts
        if code == t.code and t.dur > 65535 - s.rtp_rate // 2 and 0 < delta <= 65536:
            # next segment of a long event (RFC 4733 2.5.1.3)
            t.done[t.done_n & 7] = t.ts
            t.done_n += 1
            t.base += delta
            t.ts = ts
            t.dur = dur
            t.last_ns = now
            if end:
                t.active = False
                jb_dtmf_report(s, t.code, t.base, t.dur, ts)
            return
        # end packets of the previous event were lost
        t.active = False
        jb_dtmf_report(s, t.code, t.base, t.dur, t.ts)
    t.code = code
    t.ts = ts
    t.base = 0
    t.dur = dur
    t.last_ns = now
    if end:
        jb_dtmf_report(s, code, 0, dur, ts)
    else:
        t.active = True

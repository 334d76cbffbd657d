# cython: freethreading_compatible=True
"""The engine's statistics as Python dicts (read on the loop side)."""
from libc.stdint cimport uint64_t
from voicecore._native.media.jitter cimport JitterBuffer, JStats
from voicecore._native.media.jitter import STAT_NAMES as _STAT_NAMES
from voicecore._native.atomic cimport vc_load_relaxed
from voicecore._native.engine.core cimport Core, Sess, Hist, HIST_BUCKETS
from voicecore._native.engine.queues cimport hist_value

SESSION_COUNTERS = (
    "foreign_source", "foreign_rtcp", "recv_errors", "consumer_overflow", "frames_delivered",
    "packets_sent", "octets_sent", "send_errors", "frames_sent", "pacer_underruns",
    "pacer_max_behind_ns", "dtmf_sent", "dtmf_dropped", "rtcp_sent", "rtcp_received",
    "rtcp_malformed", "latches", "played_overflow", "events_dropped", "segments_dropped",
    "encode_errors", "srtp_auth_fail", "srtp_replay", "srtp_malformed", "srtp_other",
    "srtp_protect_fail",
)
ENGINE_COUNTERS = (
    "ticks", "ticks_late", "ticks_caught_up", "ticks_skipped", "wakeups", "epoll_wakeups",
    "datagrams", "frame_overflow", "played_overflow", "event_overflow", "commands", "errors",
    "sessions", "page_faults",
)


cdef dict hist_dict(const Hist* h, double scale):
    """count / p50 / p99 / max / mean of a histogram, values * scale."""
    cdef uint64_t acc = 0, q50, q99, n = h.n
    cdef int b
    cdef double p50 = 0.0, p99 = 0.0
    cdef bint got50 = False
    if n == 0:
        return {"count": 0, "p50": 0.0, "p99": 0.0, "max": 0.0, "mean": 0.0}
    q50 = (n + 1) // 2
    q99 = n - n // 100
    for b in range(HIST_BUCKETS):
        acc += h.b[b]
        if not got50 and acc >= q50:
            p50 = hist_value(b) * scale
            got50 = True
        if acc >= q99:
            p99 = hist_value(b) * scale
            break
    if p99 > h.max * scale:
        p99 = h.max * scale
    if p50 > h.max * scale:
        p50 = h.max * scale
    return {"count": n, "p50": p50, "p99": p99, "max": h.max * scale, "mean": h.sum * scale / n}


cdef dict jitter_stats(JitterBuffer jb):
    """The jitter buffer's counters and delay figures, read by the loop while
    the engine owns it (plain 64-bit reads: each exact, not one snapshot)."""
    cdef JStats st = jb.stats_c()[0]
    cdef double jit, tgt, cur
    cdef dict raw = st
    cdef dict d = {k: raw[k] for k in _STAT_NAMES}     # the order of JitterBuffer.stats()
    jb.delay_ms_c(&jit, &tgt, &cur)
    d["jitter_ms"] = jit
    d["target_delay_ms"] = tgt
    d["current_delay_ms"] = cur
    return d




cdef dict session_stats(Sess* s):
    """The session's counters (engine and jitter buffer)."""
    cdef uint64_t* v = <uint64_t*>&s.st
    cdef dict d = {}
    cdef int i
    for i, name in enumerate(SESSION_COUNTERS):
        d[name] = v[i]
    d["peer_fraction_lost"] = s.st.peer_fraction_lost / 256.0
    d["peer_cumulative_lost"] = s.st.peer_cumulative_lost
    d["peer_jitter_ms"] = s.st.peer_jitter * 1000.0 / s.rtp_clock
    d["rtt_ms"] = s.st.rtt_us / 1000.0 if s.st.rtt_us else None
    d["pacer_max_behind_ms"] = s.st.pacer_max_behind_ns / 1e6
    del d["pacer_max_behind_ns"]
    d["out_overflow_samples"] = vc_load_relaxed(&s.out_ring.overflow_samples)
    d["ssrc"] = s.ssrc
    if s.jb != NULL:
        d.update(jitter_stats(<JitterBuffer>s.jb))
    return d


cdef dict core_stats(Core* c):
    """The engine's counters and its three latency distributions (ms)."""
    cdef uint64_t* v = <uint64_t*>&c.st
    cdef dict d = {}
    cdef int i
    for i, name in enumerate(ENGINE_COUNTERS):
        d[name] = v[i]
    d["tick_lateness_ms"] = hist_dict(&c.lateness, 1e-6)
    d["tick_work_ms"] = hist_dict(&c.work, 1e-6)
    d["send_lateness_ms"] = hist_dict(&c.send_late, 1e-6)
    return d

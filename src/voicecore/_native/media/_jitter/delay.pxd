# Delay estimation: RFC 3550 A.8 interarrival jitter, and the adaptive
# playout target from a forgetting histogram of each packet's delay relative
# to the fastest packet of the last two 2-second windows.
from libc.math cimport fabs
from libc.stdint cimport int64_t
from voicecore._native.media._jitter.rtcp cimport jb_rr_transit
from voicecore._native.media._jitter.arith cimport jb_elapsed
from voicecore._native.media._jitter.state cimport (
    JBState, JDelay, WINDOW_NS, FORGET, QUANTILE, MARGIN_MS,
)


cdef inline double jb_now_s(const JBState* s, int64_t now) noexcept nogil:
    """``now`` (ns) in samples since the stream started (the elapsed ns
    saturate at the int64 range: +-4.4e14 samples at 48 kHz)."""
    return <double>jb_elapsed(now, s.t0_ns) * s.rate / 1e9


cdef inline double jb_ref(const JDelay* d) noexcept nogil:
    """Transit of the fastest recent packet (samples)."""
    return d.tmin_cur if d.tmin_cur < d.tmin_prev else d.tmin_prev


cdef inline void jb_delay_init(JDelay* d, double* hgram, int nbins, int target) noexcept nogil:
    d.hgram = hgram
    d.nbins = nbins
    d.target = target
    d.hw = 1.0
    # prior: one forgetting-window's worth of "no extra delay", so a single
    # outlier early in the call does not move the quantile
    d.hgram[0] = 1.0 / (1.0 - FORGET)
    d.htotal = d.hgram[0]
    d.tmin_cur = 1e300
    d.tmin_prev = 1e300


cdef inline void jb_timing(JBState* s, int64_t ext_ts, int64_t now) noexcept nogil:
    """One media packet's transit: A.8 jitter, minimum-transit windows, the
    delay histogram and (every 8 packets) the playout target."""
    cdef JDelay* d = &s.d
    cdef double transit = jb_now_s(s, now) - <double>ext_ts
    cdef double r_ms, acc, q
    cdef int b, i
    jb_rr_transit(&s.rr, transit)
    d.have_transit = True
    if jb_elapsed(now, d.win_start) >= WINDOW_NS:
        d.tmin_prev = d.tmin_cur
        d.tmin_cur = transit
        d.win_start = now
    elif transit < d.tmin_cur:
        d.tmin_cur = transit
    r_ms = (transit - jb_ref(d)) * 1000.0 / s.rate
    if r_ms > 0.0 and r_ms < d.nbins:     # clamped before the cast (r_ms may be far outside int)
        b = <int>r_ms
    elif r_ms >= d.nbins:
        b = d.nbins - 1
    else:
        b = 0
    d.hw /= FORGET
    d.hgram[b] += d.hw
    d.htotal += d.hw
    if d.hw > 1e100:
        for i in range(d.nbins):
            d.hgram[i] /= d.hw
        d.htotal /= d.hw
        d.hw = 1.0
    d.hcount += 1
    if d.hcount >= 8:
        d.hcount = 0
        q = QUANTILE * d.htotal
        acc = 0.0
        b = 0
        while b < d.nbins - 1:
            acc += d.hgram[b]
            if acc >= q:
                break
            b += 1
        b = (b + 1 + MARGIN_MS) * s.rate // 1000
        if b < s.min_delay:
            b = s.min_delay
        if b > s.max_delay:
            b = s.max_delay
        d.target = b

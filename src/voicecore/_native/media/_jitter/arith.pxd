# Overflow-free arithmetic on the jitter buffer's times and timeline.
#
# Arrival and pull times come from the caller as any int64 ns: the engine
# gives one monotonic clock, but the Python API accepts any int64 (a
# wall-clock arrival with a monotonic pull is a plausible misuse), so the
# difference of two of them may not fit in int64, and a timeline position
# computed in double from such a difference may not fit either. Signed
# overflow and out-of-range float -> int conversions are undefined behaviour
# in C (issue 13: found by fuzz/fuzz_rtp_jitter.py under UBSan). These
# helpers saturate instead; whenever plain arithmetic does not overflow they
# return exactly what it returns, so sane inputs behave bit for bit as before.
from libc.math cimport llround
from libc.stdint cimport int64_t, INT64_MAX, INT64_MIN

cdef extern from *:
    """
    #define VC_JB_TL_LIMIT 1152921504606846976.0  /* 2^60 */
    """
    # Bound of a timeline position placed from arrival times (samples: 2^60
    # is 760 000 years at 48 kHz). Every other timeline value moves from one
    # of these by RTP timestamp differences (< 2^33 per packet), so timeline
    # sums and differences stay far from the int64 range.
    const double TL_LIMIT "VC_JB_TL_LIMIT"


cdef inline int64_t jb_elapsed(int64_t now, int64_t then) noexcept nogil:
    """``now - then`` (ns), saturated to the int64 range instead of
    overflowing (two caller-given times may be further apart than 2^63 ns)."""
    if then < 0:
        if now > INT64_MAX + then:
            return INT64_MAX
    elif now < INT64_MIN + then:
        return INT64_MIN
    return now - then


cdef inline int64_t jb_tl_round(double x) noexcept nogil:
    """``llround(x)`` for a timeline position computed in double from arrival
    times, clamped to +-TL_LIMIT (llround of a value outside int64 is
    unspecified); NaN (never produced from finite times) gives 0."""
    if x >= TL_LIMIT:
        return <int64_t>TL_LIMIT
    if x <= -TL_LIMIT:
        return -<int64_t>TL_LIMIT
    if x != x:
        return 0
    return llround(x)

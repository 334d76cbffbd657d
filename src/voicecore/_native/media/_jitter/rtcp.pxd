# RTCP receiver-report figures of the established source, exactly as RFC 3550
# Appendix A computes them: A.1 extended highest sequence number (16-bit
# cycles), A.3 cumulative and fractional loss, A.8 interarrival jitter in RTP
# timestamp units. The buffer's own probation decides which packets belong to
# the source; A.1's ``init_seq`` happens on the second packet of a probation
# pair (stream start, restart after a sequence jump, SSRC takeover), as in the
# RFC, so the first packet of the pair is played but not counted here.
from libc.math cimport fabs
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from voicecore._native.media._jitter.types cimport JRtcp
from voicecore._native.media._jitter.state cimport JRr, MAX_DROPOUT, MAX_MISORDER


cdef inline void jb_rr_init(JRr* r, uint16_t seq) noexcept nogil:
    """A.1 init_seq (the source starts or restarts at ``seq``); counts that packet."""
    r.base_seq = seq
    r.max_seq = seq
    r.cycles = 0
    r.received = 1
    r.received_prior = 0
    r.expected_prior = 0
    r.valid = True


cdef inline void jb_rr_update(JRr* r, uint16_t seq) noexcept nogil:
    """A.1 update_seq for a packet of the valid source (the caller's probation
    already rejected strays): in order with a permissible gap (16-bit wrap ->
    another cycle), or duplicate / reordered. Every packet counts as received,
    duplicates and late ones included (A.3)."""
    cdef uint16_t udelta
    if not r.valid:
        return
    udelta = <uint16_t>(seq - r.max_seq)
    if udelta < MAX_DROPOUT:
        if seq < r.max_seq:
            r.cycles += 65536
        r.max_seq = seq
    r.received += 1


cdef inline void jb_rr_transit(JRr* r, double transit) noexcept nogil:
    """A.8: J += (|D| - J) / 16 with D the transit difference of consecutive
    media packets in arrival order (timeline samples; jb_rr_report converts
    to RTP timestamp units)."""
    if r.have_transit:
        r.jitter += (fabs(transit - r.last_transit) - r.jitter) / 16.0
    r.last_transit = transit
    r.have_transit = True


cdef inline void jb_rr_reset_jitter(JRr* r) noexcept nogil:
    r.jitter = 0.0
    r.have_transit = False


cdef inline void jb_rr_report(JRr* r, JRtcp* out, bint new_interval, double to_rtp) noexcept nogil:
    """Fill the loss and jitter fields of ``out`` (A.3); ``new_interval`` closes
    the interval that ``fraction_lost`` covers; ``to_rtp`` = RTP timestamp
    units per timeline sample (rtp_clock_rate / clock_rate)."""
    cdef uint32_t ext_max = r.cycles + r.max_seq
    cdef int64_t expected = <int64_t>ext_max - r.base_seq + 1
    cdef int64_t lost = expected - <int64_t>r.received
    cdef int64_t exp_int, rec_int, lost_int
    cdef double jit
    if lost > 0x7FFFFF:
        lost = 0x7FFFFF
    elif lost < -0x800000:
        lost = -0x800000
    out.ext_highest_seq = ext_max
    out.cumulative_lost = <int32_t>lost
    exp_int = expected - r.expected_prior
    rec_int = <int64_t>r.received - r.received_prior
    lost_int = exp_int - rec_int
    if exp_int == 0 or lost_int <= 0:
        out.fraction_lost = 0
    else:
        lost_int = (lost_int << 8) // exp_int
        out.fraction_lost = <uint8_t>(lost_int if lost_int < 255 else 255)
    if new_interval:
        r.expected_prior = expected
        r.received_prior = <int64_t>r.received
    jit = r.jitter * to_rtp                     # >= 0; saturates at the 32-bit field
    if jit >= 4294967295.0:
        out.jitter = 0xFFFFFFFF
    elif jit > 0.0:
        out.jitter = <uint32_t>jit
    else:
        out.jitter = 0

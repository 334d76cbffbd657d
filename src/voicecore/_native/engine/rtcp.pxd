# RTCP (RFC 3550 section 6) for the audio I/O engine: build one compound
# report (SR or RR, SDES CNAME, optional BYE) and parse a received compound
# packet, both without the GIL, neither raising. Python wrappers in rtcp.pyx
# exist for tests and fuzzing.
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t

cdef struct RtcpReportBlock:
    uint32_t ssrc            # the source this block is about
    uint8_t fraction_lost    # x / 256 since the previous report
    int32_t cumulative_lost  # 24-bit signed
    uint32_t ext_highest_seq
    uint32_t jitter          # RTP timestamp units
    uint32_t lsr             # middle 32 bits of the NTP time of the last SR received
    uint32_t dlsr            # delay since that SR, 1/65536 s

cdef struct RtcpOut:
    uint32_t ssrc
    bint sender              # SR (True) or RR
    uint64_t ntp             # 64-bit NTP time of the report (SR)
    uint32_t rtp_ts          # RTP timestamp at that time (SR)
    uint32_t packets         # packets sent (SR)
    uint32_t octets          # payload octets sent (SR)
    bint have_block
    RtcpReportBlock block
    const char* cname
    bint bye

cdef struct RtcpIn:
    int status               # 0 ok, else RTCP_* error below
    int packets              # RTCP packets in the compound
    bint have_sr
    uint32_t sr_ssrc
    uint32_t sr_lsr          # middle 32 bits of the SR's NTP time
    bint have_block          # a report block about `our_ssrc`
    RtcpReportBlock block
    bint bye

cdef enum:
    RTCP_OK = 0
    RTCP_SHORT = 1           # shorter than a header, or a length past the end
    RTCP_VERSION = 2
    RTCP_PADDING = 3         # padding bit not on the last packet, or bad padding count
    RTCP_FIRST = 4           # first packet neither SR nor RR (RFC 3550 A.2)
    RTCP_LENGTH = 5          # lengths do not add up to the datagram

cdef int rtcp_build(uint8_t* buf, int cap, const RtcpOut* r) noexcept nogil
cdef int rtcp_parse(const uint8_t* d, Py_ssize_t n, uint32_t our_ssrc, RtcpIn* out) noexcept nogil
cdef uint64_t ntp_now() noexcept nogil
cdef inline uint32_t ntp_mid32(uint64_t ntp) noexcept nogil:
    return <uint32_t>(ntp >> 16)

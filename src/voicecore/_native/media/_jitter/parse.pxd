# Parsing of one datagram (RFC 7983 demultiplexing, RFC 3550 header checks,
# negotiated payload types, size limits, Opus packet structure). Pure: reads
# the configuration only.
from libc.stdint cimport uint8_t, uint32_t
from voicecore._native.media._jitter.types cimport R_OK, R_MALFORMED, R_OVERSIZE, R_UNKNOWN_PT, R_FOREIGN
from voicecore._native.media._jitter.state cimport (
    JBState, JHdr, KIND_MEDIA, KIND_DTMF, KIND_CN, CODEC_NONE, CODEC_L16, CODEC_OPUS, MAX_DATAGRAM,
)
from voicecore._native.media._jitter.codec cimport jb_samples


cdef inline int jb_parse(const JBState* s, const uint8_t* d, Py_ssize_t n, JHdr* h) noexcept nogil:
    """Classify one datagram without touching any state. Returns R_OK with
    ``h`` filled, or the drop reason (R_MALFORMED, R_FOREIGN, R_OVERSIZE,
    R_UNKNOWN_PT)."""
    cdef int b0, off, cc, pt, end, pad
    if n <= 0:
        return R_MALFORMED
    b0 = d[0]
    if b0 < 4 or (b0 >= 20 and b0 < 80):
        return R_FOREIGN              # STUN, DTLS, TURN channel (RFC 7983)
    if n > MAX_DATAGRAM:
        return R_OVERSIZE
    if n < 12 or (b0 >> 6) != 2:
        return R_MALFORMED
    if d[1] >= 192 and d[1] <= 223:
        return R_FOREIGN              # RTCP on the RTP port (RFC 5761)
    cc = b0 & 15
    off = 12 + 4 * cc
    if off > n:
        return R_MALFORMED
    if b0 & 0x10:
        if off + 4 > n:
            return R_MALFORMED
        off += 4 + 4 * ((d[off + 2] << 8) | d[off + 3])
        if off > n:
            return R_MALFORMED
    end = <int>n
    if b0 & 0x20:
        pad = d[n - 1]
        if pad == 0 or pad > end - off:
            return R_MALFORMED
        end -= pad
    h.off = off
    h.plen = end - off
    pt = d[1] & 0x7F
    h.pt = pt
    h.marker = d[1] >> 7
    h.codec = CODEC_NONE
    if pt == s.dtmf_pt:
        h.kind = KIND_DTMF
    elif pt == s.cn_pt:
        h.kind = KIND_CN
    else:
        h.codec = s.codec_of_pt[pt]
        if h.codec == CODEC_NONE:
            return R_UNKNOWN_PT
        h.kind = KIND_MEDIA
        if h.plen > s.max_payload:
            return R_OVERSIZE
        if h.codec == CODEC_L16 and h.plen & 1:
            return R_MALFORMED              # L16 carries whole 16-bit samples
        if h.codec == CODEC_OPUS and h.plen > 0 and jb_samples(s, CODEC_OPUS, d + off, h.plen) <= 0:
            return R_MALFORMED              # not an Opus packet (RFC 6716 3.4: TOC / frame count)
    h.seq = (d[2] << 8) | d[3]
    h.ts = (<uint32_t>d[4] << 24) | (<uint32_t>d[5] << 16) | (<uint32_t>d[6] << 8) | d[7]
    h.ssrc = (<uint32_t>d[8] << 24) | (<uint32_t>d[9] << 16) | (<uint32_t>d[10] << 8) | d[11]
    return R_OK

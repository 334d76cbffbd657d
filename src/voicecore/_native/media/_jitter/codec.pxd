# Payload formats and clocks of the jitter buffer: how many samples a payload
# holds, how RTP timestamp differences map onto the timeline (audio samples
# at the buffer's rate), and how samples are cut out of a stateless payload.
#   G.711 (1 byte per sample) and L16 (RFC 3551: 16-bit big-endian, 2 bytes
#   per sample): RTP clock = audio rate, cut straight from the payload.
#   G.722 (RFC 3551): 1 octet = 2 samples at 16 kHz, RTP clock 8 kHz.
#   Opus (RFC 7587): the packet's TOC gives its duration; RTP clock 48 kHz.
# G.722 and Opus are stateful: decode.pxd decodes them whole, in order.
from libc.stdint cimport int16_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from voicecore._native.media.g711 cimport ulaw_decode, alaw_decode
from voicecore._native.media.opus cimport OpusDecoder
from voicecore._native.media._jitter.state cimport (
    JBState, CODEC_PCMU, CODEC_PCMA, CODEC_L16, CODEC_G722, CODEC_OPUS,
)


cdef inline int jb_samples(const JBState* s, int codec, const uint8_t* p, int plen) noexcept nogil:
    """Samples (at the buffer's rate) a media payload of ``plen`` bytes holds;
    -1 for an Opus payload that is not a valid packet."""
    if codec == CODEC_L16:
        return plen >> 1
    if codec == CODEC_G722:
        return plen << 1
    if codec == CODEC_OPUS:
        if plen <= 0:
            return 0
        return (<OpusDecoder>s.cx.dec).packet_samples_c(p, plen)
    return plen


cdef inline int64_t jb_ts_delta(const JBState* s, int64_t d) noexcept nogil:
    """An RTP timestamp difference ``d`` on the timeline (samples at the
    buffer's rate): ``d * tsn / tsd`` rounded down. Exact whenever ``d`` is a
    multiple of ``tsd`` (every Opus frame duration is: 2.5 ms = 120 RTP
    units, a multiple of 48000 / rate for 8, 12, 16, 24 and 48 kHz)."""
    cdef int64_t v
    if s.tsd == 1:
        return d * s.tsn
    v = d * s.tsn
    if v >= 0:
        return v // s.tsd
    return -((-v + s.tsd - 1) // s.tsd)


cdef inline uint32_t jb_rtp_ts(const JBState* s, int64_t d) noexcept nogil:
    """A timeline difference ``d`` (samples) in RTP timestamp units, rounded
    down, modulo 2^32 (the inverse of jb_ts_delta, for adding to a 32-bit
    RTP timestamp). Computed without overflow for any ``d``: unsigned
    (modular) products, and floor(d * tsd / tsn) split as
    q * tsd + floor(r * tsd / tsn) with d = q * tsn + r, 0 <= r < tsn."""
    cdef int64_t q, r
    if s.tsn == 1:
        return <uint32_t>(<uint64_t>d * <uint64_t>s.tsd)
    q = d // s.tsn               # C division (cdivision): truncates toward zero
    r = d - q * s.tsn
    if r < 0:
        q -= 1
        r += s.tsn
    return <uint32_t>(<uint64_t>q * <uint64_t>s.tsd + <uint64_t>(r * s.tsd // s.tsn))


cdef inline void jb_decode(int codec, const uint8_t* pay, int64_t off, int16_t* dst, int m) noexcept nogil:
    """Samples ``off`` .. ``off + m`` of a stateless (G.711 / L16) payload into ``dst`` (s16)."""
    cdef int i
    cdef const uint8_t* p
    if codec == CODEC_PCMA:
        alaw_decode(pay + off, dst, m)
    elif codec == CODEC_L16:
        p = pay + 2 * off
        for i in range(m):
            dst[i] = <int16_t>(<uint16_t>((p[2 * i] << 8) | p[2 * i + 1]))
    else:
        ulaw_decode(pay + off, dst, m)

# Payload formats of the jitter buffer: how many samples a payload holds and
# how samples are cut out of it. G.711 (1 byte per sample) and L16 (RFC 3551:
# 16-bit big-endian, 2 bytes per sample), at the RTP clock rate. Inline
# helpers over raw payload bytes; no state.
from libc.stdint cimport int16_t, int64_t, uint8_t, uint16_t
from voicecore._native.media.g711 cimport ulaw_decode, alaw_decode
from voicecore._native.media._jitter.state cimport CODEC_PCMU, CODEC_PCMA, CODEC_L16


cdef inline int jb_samples(int codec, int plen) noexcept nogil:
    """Samples (RTP timestamp units) a media payload of ``plen`` bytes holds."""
    return plen >> 1 if codec == CODEC_L16 else plen


cdef inline void jb_decode(int codec, const uint8_t* pay, int64_t off, int16_t* dst, int m) noexcept nogil:
    """Samples ``off`` .. ``off + m`` of a payload into ``dst`` (s16)."""
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

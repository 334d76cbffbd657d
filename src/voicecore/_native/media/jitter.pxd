# cdef API of the RTP jitter buffer for the audio I/O engine.
cimport cython
from libc.stdint cimport int16_t, int64_t, uint8_t
from voicecore._native.media._jitter.types cimport (
    R_OK, R_HELD, R_DUPLICATE, R_LATE, R_MALFORMED, R_OVERSIZE, R_UNKNOWN_PT, R_FOREIGN,
    R_FOREIGN_SSRC, R_DISCARDED, R_MALFORMED_DTMF,
    K_AUDIO, K_CONCEALED, K_SILENCE, K_COMFORT_NOISE,
    JStats,
)
from voicecore._native.media._jitter.state cimport JBState


@cython.final
cdef class JitterBuffer:
    cdef JBState _s              # private state (voicecore/_native/media/_jitter/state.pxd)

    cdef int push_c(self, const uint8_t* data, Py_ssize_t n, int64_t arrival_ns) noexcept nogil
    cdef int pull_c(self, int16_t* out, int64_t now_ns) noexcept nogil

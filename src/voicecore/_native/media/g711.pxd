# cdef API of the G.711 codec for other native modules (jitter buffer, engine).
# All functions are pure table look-ups: no GIL, cannot fail. src and dst must
# be valid for n elements (NULL only with n == 0; the caller's contract).
from libc.stdint cimport int16_t, uint8_t

cdef void ulaw_encode(const int16_t* src, uint8_t* dst, Py_ssize_t n) noexcept nogil
cdef void ulaw_decode(const uint8_t* src, int16_t* dst, Py_ssize_t n) noexcept nogil
cdef void alaw_encode(const int16_t* src, uint8_t* dst, Py_ssize_t n) noexcept nogil
cdef void alaw_decode(const uint8_t* src, int16_t* dst, Py_ssize_t n) noexcept nogil
cdef void ulaw_to_alaw(const uint8_t* src, uint8_t* dst, Py_ssize_t n) noexcept nogil
cdef void alaw_to_ulaw(const uint8_t* src, uint8_t* dst, Py_ssize_t n) noexcept nogil
cdef int16_t ulaw_decode_one(uint8_t code) noexcept nogil
cdef int16_t alaw_decode_one(uint8_t code) noexcept nogil

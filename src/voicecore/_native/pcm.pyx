# LOCAL BUILD STUB (not committed): the lead's pcm lands on main.
from libc.stdint cimport int16_t
cdef void s16_to_f32(const int16_t* src, float* dst, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dst[i] = src[i] / 32768.0
cdef void f32_to_s16(const float* src, int16_t* dst, Py_ssize_t n) noexcept nogil:
    pass
cdef double s16_mean_square(const int16_t* src, Py_ssize_t n) noexcept nogil:
    return 0

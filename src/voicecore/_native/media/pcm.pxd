# cdef API of the PCM helpers for other native modules (resampler, engine,
# sherpa-onnx binding). s16le <-> float32, no GIL, cannot fail. src and dst
# must be valid for n elements (NULL only with n == 0; the caller's contract).
from libc.stdint cimport int16_t

# x / 32768 (exact over all inputs)
cdef void s16_to_f32(const int16_t* src, float* dst, Py_ssize_t n) noexcept nogil
# round to nearest (ties to even), saturate to [-32768, 32767], NaN -> 0
cdef void f32_to_s16(const float* src, int16_t* dst, Py_ssize_t n) noexcept nogil
# mean square of s16 samples relative to full scale (1.0 == full-scale square)
cdef double s16_mean_square(const int16_t* src, Py_ssize_t n) noexcept nogil

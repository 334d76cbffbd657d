# cdef API of the streaming resampler for other native modules (audio I/O
# engine). Create the object from Python (``Resampler(in_rate, out_rate)``:
# that designs or fetches the cached filter and allocates all state), then
# drive it without the GIL:
#
#     n_out = r.out_count(n_in)          # exact output count for n_in more inputs
#     r.run_s16(src, n_in, dst)          # dst holds >= n_out samples; returns n_out
#     r.flush_s16(dst)                   # writes r.latency samples, then resets
#
# Nothing here allocates or raises. One object is one stream: do not share it
# between threads without a lock.
from libc.stdint cimport int16_t, int64_t
from voicecore._native.atomic cimport vc_u64

cdef extern from "resample_kernel.h":
    ctypedef struct rs_filter:
        const float* coefs
        Py_ssize_t stride
        int64_t L
        int64_t step_int
        int64_t step_frac


cdef class Resampler:
    cdef rs_filter filt
    cdef object _design          # voicecore.media._resample_design.Design (owns coefs)
    cdef float* _coef_copy       # aligned private copy, only if the design's is misaligned
    cdef float* work             # history + one block of input, float32
    cdef Py_ssize_t cap          # floats in work
    cdef Py_ssize_t wlen         # valid floats in work
    cdef Py_ssize_t pos          # first work sample of the next output's window
    cdef int64_t phase           # phase of the next output
    cdef int64_t n_in            # input samples since the last reset
    cdef int64_t n_out           # output samples since the last reset
    cdef int _last_float         # last process() call was float32
    cdef vc_u64 _busy            # Python methods: claimed by one thread at a time (atomic)
    cdef readonly int in_rate
    cdef readonly int out_rate
    cdef readonly int latency

    cdef Py_ssize_t out_count(self, Py_ssize_t n) noexcept nogil
    cdef Py_ssize_t run_f32(self, const float* src, Py_ssize_t n, float* dst) noexcept nogil
    cdef Py_ssize_t run_s16(self, const int16_t* src, Py_ssize_t n, int16_t* dst) noexcept nogil
    cdef Py_ssize_t flush_f32(self, float* dst) noexcept nogil
    cdef Py_ssize_t flush_s16(self, int16_t* dst) noexcept nogil
    cdef void clear(self) noexcept nogil
    cdef int _claim(self, const char* what) except -1
    cdef object _process(self, object data, object out)
    cdef object _flush(self, object out, object float32)

# cdef API of the streaming resampler for other native modules (audio I/O
# engine). Create the object from Python (``Resampler(in_rate, out_rate)``:
# that designs or fetches the cached filter and allocates all state), keep a
# reference, then drive it without the GIL:
#
#     n_out = r.out_count(n_in)          # exact output count for n_in more inputs
#     r.run_s16(src, n_in, dst)          # dst holds >= n_out samples; returns n_out
#     r.run_s16(NULL, n_in, dst)         # NULL src: n_in samples of silence (as run_f32)
#     r.flush_s16(dst)                   # writes r.latency samples, then resets
#     r.clear()                          # forget the stream (history to silence)
#
# run_f32 / flush_f32 are the same for float32 samples (nominal -1..1); one
# stream may mix them. Nothing here allocates, raises or takes the GIL.
# in_rate, out_rate (Hz) and latency (output samples) are readonly.
#
# Ownership rule: `engine_adopt()` (with the GIL; RuntimeError if an engine
# already adopted it or a Python call is running on it) hands the stream to
# the engine: from then on every Python method that reads or changes the
# stream (process, flush, reset, output_length, total_in, total_out) raises
# RuntimeError; the immutable properties (in_rate, out_rate, latency,
# latency_ms, preset, ratio, taps, coefficients) keep working.
# `engine_release()` (nogil) hands it back. One atomic word holds both the
# engine bit and the claim of a running Python call.
cimport cython
from libc.stdint cimport int16_t, int64_t
from voicecore._native.atomic cimport vc_u64

cdef extern from "resample_kernel.h":
    ctypedef struct rs_filter:
        const float* coefs
        Py_ssize_t stride
        int64_t L
        int64_t step_int
        int64_t step_frac


@cython.final
cdef class Resampler:
    cdef readonly int in_rate       # Hz
    cdef readonly int out_rate      # Hz
    cdef readonly int latency       # output samples of group delay (flush writes this many)

    cdef Py_ssize_t out_count(self, Py_ssize_t n) noexcept nogil
    cdef Py_ssize_t run_f32(self, const float* src, Py_ssize_t n, float* dst) noexcept nogil
    cdef Py_ssize_t run_s16(self, const int16_t* src, Py_ssize_t n, int16_t* dst) noexcept nogil
    cdef Py_ssize_t flush_f32(self, float* dst) noexcept nogil
    cdef Py_ssize_t flush_s16(self, int16_t* dst) noexcept nogil
    cdef void clear(self) noexcept nogil
    cdef int engine_adopt(self) except -1
    cdef void engine_release(self) noexcept nogil

    # ---- private layout (Cython needs it here; not API, do not touch) ----
    cdef rs_filter filt
    cdef float* work             # history + one block of input, float32
    cdef Py_ssize_t cap          # floats in work
    cdef Py_ssize_t wlen         # valid floats in work
    cdef Py_ssize_t pos          # first work sample of the next output's window
    cdef int64_t phase           # phase of the next output
    cdef int64_t n_in            # input samples since the last reset
    cdef int64_t n_out           # output samples since the last reset
    cdef int _last_float         # last process() call was float32
    cdef vc_u64 _owner           # bit 0: a Python call runs, bit 1: an engine owns it
    cdef float* _coef_copy       # aligned private copy, only if the design's is misaligned
    cdef object _design          # the filter design (owns coefs)

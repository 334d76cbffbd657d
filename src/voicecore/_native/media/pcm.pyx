# cython: freethreading_compatible=True
"""PCM conversions for the speech path: s16le <-> float32 and levels.

* ``s16le_to_float32``: x / 32768, exact over all 65,536 inputs; returns a
  contiguous float32 numpy array (or fills ``out=``), ready for sherpa-onnx.
* ``float32_to_s16le``: round to nearest (ties to even), saturate to
  [-32768, 32767], NaN -> 0, +-inf saturate; returns bytes (or fills ``out=``).
* ``rms_dbfs``: RMS level of s16le audio in dBFS (0 dB = full-scale square
  wave), clamped below at ``floor`` (-60 dB, as roomkit's ``rms_db``).

Inputs: any C-contiguous buffer (bytes, bytearray, memoryview, numpy int16 for
s16le; numpy float32 for float). The GIL is released around loops longer than
``GIL_THRESHOLD`` samples.
"""
from libc.stdint cimport int16_t, int64_t
from libc.math cimport log10
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from voicecore._native._buffers cimport (
    Buf, get_input, get_output_fmt, release, KIND_BYTES, KIND_S16, KIND_F32,
)

cimport numpy as cnp

# numpy's C API only to allocate the result array: np.empty plus a buffer
# request cost more than the conversion of a whole 20 ms frame.
cnp.import_array()

GIL_THRESHOLD = 1024
cdef Py_ssize_t _GIL_THRESHOLD = 1024


cdef void s16_to_f32(const int16_t* src, float* dst, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dst[i] = <float>src[i] * <float>(1.0 / 32768.0)


cdef inline int16_t _f2s(float x) noexcept nogil:
    # Branch-free so the loop vectorizes: NaN -> 0, clamp, then round to
    # nearest-even with the 1.5 * 2**23 trick (exact for |v| <= 2**22; the
    # default rounding mode is ties-to-even, and without -ffast-math the
    # compiler may not fold (v + M) - M).
    cdef float v = x * <float>32768.0
    v = v if v == v else <float>0.0
    v = v if v < <float>32767.0 else <float>32767.0
    v = v if v > <float>-32768.0 else <float>-32768.0
    v = (v + <float>12582912.0) - <float>12582912.0
    return <int16_t><int>v


cdef void f32_to_s16(const float* src, int16_t* dst, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dst[i] = _f2s(src[i])


cdef double s16_mean_square(const int16_t* src, Py_ssize_t n) noexcept nogil:
    cdef int64_t acc = 0
    cdef Py_ssize_t i
    if n <= 0:
        return 0.0
    for i in range(n):
        acc += <int64_t>src[i] * <int64_t>src[i]
    return <double>acc / (<double>n * 1073741824.0)


cdef int _even(Py_ssize_t nbytes, const char* what) except -1:
    if nbytes & 1:
        raise ValueError(f"{(<bytes>what).decode()}: data must be s16le PCM with an even byte count, "
                         f"got {nbytes} bytes")
    return 0


def s16le_to_float32(data, out=None):
    """Convert s16le mono PCM to float32 samples in [-1, 1): ``x / 32768``.

    ``data``: bytes-like s16le (even byte count) or an int16 array.
    ``out``: optional writable float32 buffer with room for ``len(data)//2``
    samples; filled and returned. Otherwise a new 1-D float32 numpy array.
    """
    cdef Buf src, dst
    cdef cnp.npy_intp dims[1]
    cdef cnp.ndarray result
    cdef Py_ssize_t n
    get_input(data, &src, KIND_BYTES | KIND_S16, b"s16le_to_float32", b"data")
    try:
        _even(src.len, b"s16le_to_float32")
        n = src.len >> 1
        if out is None:
            dims[0] = n
            result = cnp.PyArray_EMPTY(1, dims, cnp.NPY_FLOAT32, 0)
            dst.buf = <char*>cnp.PyArray_DATA(result)
            if n >= _GIL_THRESHOLD:
                with nogil:
                    s16_to_f32(<const int16_t*>src.buf, <float*>dst.buf, n)
            else:
                s16_to_f32(<const int16_t*>src.buf, <float*>dst.buf, n)
            return result
        get_output_fmt(out, &dst, 4 * n, KIND_F32 | KIND_BYTES, b"s16le_to_float32")
        try:
            if n >= _GIL_THRESHOLD:
                with nogil:
                    s16_to_f32(<const int16_t*>src.buf, <float*>dst.buf, n)
            else:
                s16_to_f32(<const int16_t*>src.buf, <float*>dst.buf, n)
        finally:
            release(&dst)
        return out
    finally:
        release(&src)


def float32_to_s16le(samples, out=None):
    """Convert float32 samples (nominal [-1, 1]) to s16le mono PCM bytes.

    ``x * 32768`` rounded to nearest (ties to even), saturated to
    [-32768, 32767]; NaN becomes 0. ``samples`` must be a C-contiguous float32
    buffer (numpy float32 array, ``array('f')``); other dtypes raise TypeError.
    ``out``: optional writable buffer of at least ``2*len(samples)`` bytes.
    """
    cdef Buf src, dst
    cdef Py_ssize_t n
    get_input(samples, &src, KIND_F32, b"float32_to_s16le", b"samples")
    try:
        n = src.len >> 2
        if out is None:
            result = PyBytes_FromStringAndSize(NULL, 2 * n)
            dst.buf = PyBytes_AS_STRING(result)
            if n >= _GIL_THRESHOLD:
                with nogil:
                    f32_to_s16(<const float*>src.buf, <int16_t*>dst.buf, n)
            else:
                f32_to_s16(<const float*>src.buf, <int16_t*>dst.buf, n)
            return result
        get_output_fmt(out, &dst, 2 * n, KIND_S16 | KIND_BYTES, b"float32_to_s16le")
        try:
            if n >= _GIL_THRESHOLD:
                with nogil:
                    f32_to_s16(<const float*>src.buf, <int16_t*>dst.buf, n)
            else:
                f32_to_s16(<const float*>src.buf, <int16_t*>dst.buf, n)
        finally:
            release(&dst)
        return out
    finally:
        release(&src)


cdef double _mean_square(object data, const char* what) except? -1.0:
    cdef Buf src
    cdef double ms
    cdef Py_ssize_t n
    get_input(data, &src, KIND_BYTES | KIND_S16, what, b"data")
    try:
        _even(src.len, what)
        n = src.len >> 1
        if n >= _GIL_THRESHOLD:
            with nogil:
                ms = s16_mean_square(<const int16_t*>src.buf, n)
        else:
            ms = s16_mean_square(<const int16_t*>src.buf, n)
        return ms
    finally:
        release(&src)


def mean_square(data):
    """Mean of squared s16le samples relative to full scale (1.0 = full-scale square).

    Empty input gives 0.0. Exact 64-bit integer accumulation.
    """
    return _mean_square(data, b"mean_square")


def rms_dbfs(data, double floor=-60.0):
    """RMS level of s16le mono PCM in dBFS, never below ``floor`` (dB).

    0 dB is a full-scale square wave; a full-scale sine is about -3 dB.
    Empty input or digital silence returns ``floor``. Matches roomkit's
    ``rms_db`` (which uses floor -60 dB) for the level in ``VADAudioLevelEvent``.
    """
    cdef double ms = _mean_square(data, b"rms_dbfs")
    cdef double db
    if ms <= 1e-20:
        return floor
    db = 10.0 * log10(ms)
    return db if db > floor else floor

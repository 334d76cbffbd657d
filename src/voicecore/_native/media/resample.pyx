# cython: freethreading_compatible=True
"""Streaming polyphase resampler: any rational ratio between 1 Hz and 192 kHz.

Mono. s16le bytes in and out (``process(bytes)``), or float32 arrays in and
out (``process(ndarray[float32])``); both share one float32 filter state, so a
stream may mix them. The filter (Kaiser-windowed sinc, exact ratio
``out/in = L/M``, linear phase) is designed once per (in, out, preset) by
``voicecore.media._resample_design`` and cached; see there for the specification.

Timing: output sample ``k`` is the band-limited input at time
``(k - latency) / out_rate`` s. After ``N`` input samples in total,
``ceil(N * L / M)`` output samples have been returned, whatever the chunking
(one output per input instant that has fully arrived; nothing else is held
back). ``flush()`` returns the last ``latency`` output samples (the filter's
look-ahead, computed with silence) and resets the stream.

The per-output dot product runs in C (``resample_kernel.h``): AVX2+FMA when the
CPU has it, otherwise SSE/NEON, with the GIL released.
"""
cimport cython
from libc.stdint cimport int16_t, int64_t, uint64_t, uintptr_t
from voicecore._native.atomic cimport vc_init, vc_cas_acq_rel, vc_store_release
from libc.string cimport memcpy, memmove, memset
from cpython.buffer cimport PyObject_GetBuffer, PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBUF_WRITABLE
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING

from voicecore._native._buffers cimport (
    Buf, get_input, release, _fmt_is, KIND_BYTES, KIND_S16, KIND_F32,
)

import numpy as np
from voicecore.media._resample_design import design as _design_filter, PRESETS

cdef extern from "resample_kernel.h" nogil:
    ctypedef Py_ssize_t (*rs_run_f32_fn)(const rs_filter*, const float*, Py_ssize_t, Py_ssize_t*,
                                         int64_t*, float*, Py_ssize_t) noexcept nogil
    ctypedef Py_ssize_t (*rs_run_s16_fn)(const rs_filter*, const float*, Py_ssize_t, Py_ssize_t*,
                                         int64_t*, int16_t*, Py_ssize_t) noexcept nogil
    int rs_use_avx2()
    rs_run_f32_fn rs_pick_f32(int avx2)
    rs_run_s16_fn rs_pick_s16(int avx2)
    void rs_s16_to_f32(const int16_t* src, float* dst, Py_ssize_t n)
    void* rs_aligned_alloc(size_t nbytes)
    void rs_aligned_free(void* p)

__all__ = ["Resampler", "PRESETS", "SIMD"]

# Input samples converted per inner pass (bounds the work buffer).
cdef Py_ssize_t _BLOCK = 1024

import os as _os

# VOICECORE_RESAMPLE_BASELINE=1 forces the SSE2/NEON/C loop (to test it on AVX2 machines).
cdef int _avx2 = 0 if _os.environ.get("VOICECORE_RESAMPLE_BASELINE", "") not in ("", "0") else rs_use_avx2()
cdef rs_run_f32_fn _run_f32 = rs_pick_f32(_avx2)
cdef rs_run_s16_fn _run_s16 = rs_pick_s16(_avx2)

#: Which inner loop this CPU uses: "avx2+fma" or "baseline" (SSE2 / NEON / C).
SIMD = "avx2+fma" if _avx2 else "baseline"


cdef int _get_out(object obj, Buf* b, Py_ssize_t n, bint want_float, const char* what) except -1:
    """Writable C-contiguous ``out=`` buffer for ``n`` samples (float32 or s16)."""
    PyObject_GetBuffer(obj, &b.view, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE | PyBUF_FORMAT)
    b.owned = True
    b.buf = <char*>b.view.buf
    b.len = b.view.len
    b.itemsize = b.view.itemsize
    cdef const char* fmt = b.view.format
    cdef bint ok
    if want_float:
        ok = b.itemsize == 4 and fmt != NULL and _fmt_is(fmt, b'f')
    else:
        ok = (b.itemsize == 2 and fmt != NULL and _fmt_is(fmt, b'h')) or (
            b.itemsize == 1 and (fmt == NULL or _fmt_is(fmt, b'B') or _fmt_is(fmt, b'b') or _fmt_is(fmt, b'c')))
    if not ok:
        f = (<bytes>fmt).decode('ascii', 'replace') if fmt != NULL else 'B'
        release(b)
        kind = "a float32 array" if want_float else "a writable bytes-like or int16 buffer"
        raise TypeError(f"{(<bytes>what).decode()}: out= must be {kind}, got format {f!r}")
    cdef Py_ssize_t need = n * (4 if want_float else 2)
    if b.len < need:
        have = b.len
        release(b)
        raise ValueError(f"{(<bytes>what).decode()}: out= holds {have} bytes, {need} needed")
    return 0


cdef inline Py_ssize_t _compact(Resampler self) noexcept nogil:
    # Make room at work[wlen] for one block: drop what no further output needs
    # (everything before pos; after the last output pos >= wlen - stride + 1,
    # so at most stride - 1 samples stay).
    cdef Py_ssize_t keep_from = self.pos if self.pos < self.wlen else self.wlen
    if keep_from > 0:
        memmove(self.work, self.work + keep_from, <size_t>(self.wlen - keep_from) * sizeof(float))
        self.wlen -= keep_from
        self.pos -= keep_from
    return self.wlen


@cython.final
# Largest n for output_length(): n * L stays far inside int64 for L <= 192000.
cdef Py_ssize_t _MAX_CHUNK = (<Py_ssize_t>1) << 40


cdef class Resampler:
    """Stateful streaming resampler for one mono stream.

    ``Resampler(in_rate, out_rate, preset="default")``: rates in Hz,
    1..192000 (any pair; the rational ratio is exact). Presets: ``"default"``
    (>= 80 dB alias/image rejection, passband to 0.85 x the lower Nyquist
    within 0.07 dB, group delay ``19 / min(in, out)`` s, i.e. 2.375 ms at
    8 kHz), ``"fast"`` (about 58 dB, 1.5 ms at 8 kHz, fewer taps) and
    ``"hq"`` (about 125 dB, 3 ms at 8 kHz).

    One object is one stream: use one object per thread/stream. Its methods
    run without the GIL, so a second thread calling ``process``/``flush``/
    ``reset`` while one is running gets RuntimeError (an atomic claim)
    instead of corrupting the stream.
    """

    cdef int _claim(self, const char* what) except -1:
        cdef uint64_t expected = 0
        if not vc_cas_acq_rel(&self._busy, &expected, 1):
            raise RuntimeError(f"{(<bytes>what).decode()}: this Resampler is in use by another thread "
                               "(one object per stream and thread)")
        return 0

    def __cinit__(self, in_rate, out_rate, str preset="default"):
        self.work = NULL
        self._coef_copy = NULL
        vc_init(&self._busy, 0)
        d = _design_filter(in_rate, out_rate, preset)
        self._design = d
        self.in_rate = d.in_rate
        self.out_rate = d.out_rate
        self.latency = d.latency
        cdef const float[:, ::1] cv = d.coefs
        cdef const float* cp = &cv[0, 0]
        cdef size_t nb = <size_t>(d.L * d.stride) * sizeof(float)
        if (<uintptr_t>cp) & 31:
            self._coef_copy = <float*>rs_aligned_alloc(nb)
            if self._coef_copy == NULL:
                raise MemoryError("Resampler: cannot allocate the filter")
            memcpy(self._coef_copy, cp, nb)
            cp = self._coef_copy
        self.filt.coefs = cp
        self.filt.stride = d.stride
        self.filt.L = d.L
        self.filt.step_int = d.M // d.L
        self.filt.step_frac = d.M % d.L
        self.cap = d.stride - 1 + _BLOCK
        self.work = <float*>rs_aligned_alloc(<size_t>self.cap * sizeof(float))
        if self.work == NULL:
            raise MemoryError("Resampler: cannot allocate the history buffer")
        self.clear()

    def __init__(self, in_rate, out_rate, str preset="default"):
        # Everything happens in __cinit__; this gives the class its signature.
        pass

    def __dealloc__(self):
        if self.work != NULL:
            rs_aligned_free(self.work)
            self.work = NULL
        if self._coef_copy != NULL:
            rs_aligned_free(self._coef_copy)
            self._coef_copy = NULL

    # ------------------------------------------------------------ cdef API
    cdef void clear(self) noexcept nogil:
        # History of stride-1 zeros: output 0 needs input 0 as its newest sample.
        self.wlen = self.filt.stride - 1
        memset(self.work, 0, <size_t>self.wlen * sizeof(float))
        self.pos = 0
        self.phase = 0
        self.n_in = 0
        self.n_out = 0

    cdef Py_ssize_t out_count(self, Py_ssize_t n) noexcept nogil:
        # Outputs k >= 0 fit while pos + (phase + k*M) // L <= wlen + n - stride.
        cdef int64_t r = <int64_t>self.wlen + n - self.filt.stride - self.pos
        if r < 0:
            return 0
        cdef int64_t L = self.filt.L
        cdef int64_t M = self.filt.step_int * L + self.filt.step_frac
        return <Py_ssize_t>(((r + 1) * L - self.phase + M - 1) // M)

    cdef Py_ssize_t run_f32(self, const float* src, Py_ssize_t n, float* dst) noexcept nogil:
        cdef Py_ssize_t done = 0, m, w
        cdef Py_ssize_t big = <Py_ssize_t>1 << 62
        while n > 0:
            m = n if n < _BLOCK else _BLOCK
            w = _compact(self)
            if src != NULL:
                memcpy(self.work + w, src, <size_t>m * sizeof(float))
                src += m
            else:
                memset(self.work + w, 0, <size_t>m * sizeof(float))
            self.wlen = w + m
            n -= m
            self.n_in += m
            done += _run_f32(&self.filt, self.work, self.wlen, &self.pos, &self.phase, dst + done, big)
        self.n_out += done
        return done

    cdef Py_ssize_t run_s16(self, const int16_t* src, Py_ssize_t n, int16_t* dst) noexcept nogil:
        cdef Py_ssize_t done = 0, m, w
        cdef Py_ssize_t big = <Py_ssize_t>1 << 62
        while n > 0:
            m = n if n < _BLOCK else _BLOCK
            w = _compact(self)
            rs_s16_to_f32(src, self.work + w, m)
            src += m
            self.wlen = w + m
            n -= m
            self.n_in += m
            done += _run_s16(&self.filt, self.work, self.wlen, &self.pos, &self.phase, dst + done, big)
        self.n_out += done
        return done

    cdef Py_ssize_t flush_f32(self, float* dst) noexcept nogil:
        cdef Py_ssize_t want = self.latency, done = 0, m, w
        while done < want:
            m = _BLOCK
            w = _compact(self)
            memset(self.work + w, 0, <size_t>m * sizeof(float))
            self.wlen = w + m
            done += _run_f32(&self.filt, self.work, self.wlen, &self.pos, &self.phase, dst + done, want - done)
        self.clear()
        return done

    cdef Py_ssize_t flush_s16(self, int16_t* dst) noexcept nogil:
        cdef Py_ssize_t want = self.latency, done = 0, m, w
        while done < want:
            m = _BLOCK
            w = _compact(self)
            memset(self.work + w, 0, <size_t>m * sizeof(float))
            self.wlen = w + m
            done += _run_s16(&self.filt, self.work, self.wlen, &self.pos, &self.phase, dst + done, want - done)
        self.clear()
        return done

    # ------------------------------------------------------------ Python API
    def process(self, data, out=None):
        """Resample the next chunk of the stream.

        ``data``: s16le mono PCM (bytes, bytearray, memoryview or an int16
        array; even byte count) or a float32 array (C-contiguous, nominal
        range -1..1). Returns the output samples that this chunk completes,
        ``output_length(n)`` of them: ``bytes`` (s16le, rounded and
        saturated) for s16 input, a new float32 ndarray for float32 input.

        ``out``: optional writable buffer (bytearray / int16 array for s16,
        float32 array for float) of at least ``output_length(n)`` samples;
        it is filled and the number of samples written is returned. Nothing
        is allocated on that path. ``out`` must not overlap ``data``.
        """
        cdef Buf src, dst
        cdef Py_ssize_t n, cnt, got
        cdef object result
        self._claim(b"Resampler.process")
        try:
            return self._process(data, out)
        finally:
            vc_store_release(&self._busy, 0)

    cdef object _process(self, object data, object out):
        cdef Buf src, dst
        cdef Py_ssize_t n, cnt, got
        cdef object result
        get_input(data, &src, KIND_BYTES | KIND_S16 | KIND_F32, b"Resampler.process")
        try:
            if src.itemsize == 4:
                n = src.len >> 2
                cnt = self.out_count(n)
                if out is None:
                    result = np.empty(cnt, dtype=np.float32)
                    _get_out(result, &dst, cnt, True, b"Resampler.process")
                else:
                    _get_out(out, &dst, cnt, True, b"Resampler.process")
                    result = None
                self._last_float = 1
                with nogil:
                    got = self.run_f32(<const float*>src.buf, n, <float*>dst.buf)
                release(&dst)
            else:
                if src.len & 1:
                    raise ValueError(
                        f"Resampler.process: s16le PCM must have an even byte count, got {src.len} bytes")
                n = src.len >> 1
                cnt = self.out_count(n)
                if out is None:
                    self._last_float = 0
                    result = PyBytes_FromStringAndSize(NULL, 2 * cnt)
                    dst.buf = PyBytes_AS_STRING(result)
                    with nogil:
                        got = self.run_s16(<const int16_t*>src.buf, n, <int16_t*>dst.buf)
                else:
                    _get_out(out, &dst, cnt, False, b"Resampler.process")
                    self._last_float = 0
                    result = None
                    with nogil:
                        got = self.run_s16(<const int16_t*>src.buf, n, <int16_t*>dst.buf)
                    release(&dst)
            return got if result is None else result
        finally:
            release(&src)

    def flush(self, out=None, *, float32=None):
        """End of stream: return the last ``latency`` output samples and reset.

        The samples are in the format of the last ``process()`` call (s16le
        ``bytes`` or a float32 ndarray) unless ``float32`` says otherwise.
        With ``out=`` they are written there and the count is returned.
        """
        self._claim(b"Resampler.flush")
        try:
            return self._flush(out, float32)
        finally:
            vc_store_release(&self._busy, 0)

    cdef object _flush(self, object out, object float32):
        cdef Buf dst
        cdef Py_ssize_t cnt = self.latency, got
        cdef bint as_float = self._last_float if float32 is None else bool(float32)
        cdef object result
        if out is not None:
            _get_out(out, &dst, cnt, as_float, b"Resampler.flush")
            with nogil:
                if as_float:
                    got = self.flush_f32(<float*>dst.buf)
                else:
                    got = self.flush_s16(<int16_t*>dst.buf)
            release(&dst)
            return got
        if as_float:
            result = np.empty(cnt, dtype=np.float32)
            _get_out(result, &dst, cnt, True, b"Resampler.flush")
            with nogil:
                self.flush_f32(<float*>dst.buf)
            release(&dst)
            return result
        result = PyBytes_FromStringAndSize(NULL, 2 * cnt)
        dst.buf = PyBytes_AS_STRING(result)
        with nogil:
            self.flush_s16(<int16_t*>dst.buf)
        return result

    def reset(self):
        """Forget the stream: history back to silence, counters to zero."""
        self._claim(b"Resampler.reset")
        self.clear()
        vc_store_release(&self._busy, 0)

    def output_length(self, Py_ssize_t n):
        """Exact number of output samples the next ``process()`` of ``n`` input samples returns."""
        if n < 0:
            raise ValueError(f"Resampler.output_length: n must be >= 0, got {n}")
        if n > _MAX_CHUNK:
            raise ValueError(f"Resampler.output_length: n must be <= {_MAX_CHUNK} samples, got {n}")
        return self.out_count(n)

    @property
    def preset(self):
        """Name of the filter preset."""
        return self._design.preset

    @property
    def ratio(self):
        """``(L, M)``: out_rate / in_rate as a reduced fraction."""
        return (self._design.L, self._design.M)

    @property
    def taps(self):
        """Non-zero filter taps per output sample."""
        return self._design.taps

    @property
    def latency_ms(self):
        """Group delay in milliseconds (``latency / out_rate * 1000``)."""
        return self.latency * 1000.0 / self.out_rate

    @property
    def total_in(self):
        """Input samples since construction or the last reset/flush."""
        return self.n_in

    @property
    def total_out(self):
        """Output samples since construction or the last reset/flush (flush output not counted)."""
        return self.n_out

    @property
    def coefficients(self):
        """The filter as a read-only float32 array of shape (L, stride)."""
        return self._design.coefs

    def __repr__(self):
        return (f"Resampler({self.in_rate}, {self.out_rate}, preset={self._design.preset!r}, "
                f"latency={self.latency})")

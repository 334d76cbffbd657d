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
from libc.string cimport memcpy, memmove, memset
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING

from voicecore._native.atomic cimport vc_init, vc_load_acquire, vc_own_try, vc_own_drop
from voicecore._native._buffers cimport (
    Buf, get_input, get_output_fmt, get_s16_output, release, KIND_BYTES, KIND_S16, KIND_F32,
)

import numpy as np
from voicecore.media._resample_design import design as _design_filter, check_rate, PRESETS

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


cdef enum:
    _CALL = 1          # owner bit: a Python method is running on this object
    _ENGINE = 2        # owner bit: an engine adopted it


cdef int _enter(Resampler r, const char* what) except -1:
    """Claim the stream for one Python call (atomic: also without the GIL)."""
    cdef uint64_t seen = vc_own_try(&r._owner, _CALL, _CALL | _ENGINE)
    if seen & (_CALL | _ENGINE):
        _refuse(seen, what)
    return 0


cdef inline void _leave(Resampler r) noexcept nogil:
    vc_own_drop(&r._owner, _CALL)


cdef inline int _not_adopted(Resampler r, const char* what) except -1:
    """For methods that only read the stream state."""
    if vc_load_acquire(&r._owner) & _ENGINE:
        _refuse(_ENGINE, what)
    return 0


cdef int _refuse(uint64_t seen, const char* what) except -1:
    w = (<bytes>what).decode()
    if seen & _ENGINE:
        raise RuntimeError(f"{w}: this Resampler is owned by an Engine's I/O thread "
                           "(its immutable properties stay readable)")
    raise RuntimeError(f"{w}: this Resampler is in use by another thread "
                       "(one object per stream and thread)")


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


# Largest n for output_length(): n * L stays far inside int64 for L <= 192000.
cdef Py_ssize_t _MAX_CHUNK = (<Py_ssize_t>1) << 40


@cython.final
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
    instead of corrupting the stream; so does any Python call on a stream an
    Engine has adopted (see ``resample.pxd``).
    """

    def __cinit__(self, in_rate, out_rate, preset="default"):
        self.work = NULL
        self._coef_copy = NULL
        vc_init(&self._owner, 0)
        check_rate(in_rate, "Resampler: in_rate")
        check_rate(out_rate, "Resampler: out_rate")
        if not isinstance(preset, str):
            raise TypeError(f"Resampler: preset must be a str, got {type(preset).__name__}")
        if preset not in PRESETS:
            raise ValueError(f"Resampler: preset must be one of {sorted(PRESETS)}, got {preset!r}")
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

    def __init__(self, in_rate, out_rate, preset="default"):
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
        cdef Py_ssize_t done = _pump(self, src, NULL, n, dst, NULL, _UNBOUNDED)
        self.n_out += done
        return done

    cdef Py_ssize_t run_s16(self, const int16_t* src, Py_ssize_t n, int16_t* dst) noexcept nogil:
        # src NULL: n samples of silence (a NULL float source as well, so the
        # pair behaves the same)
        cdef Py_ssize_t done = _pump(self, NULL, src, n, NULL, dst, _UNBOUNDED)
        self.n_out += done
        return done

    cdef Py_ssize_t flush_f32(self, float* dst) noexcept nogil:
        return _flush_into(self, dst, NULL)

    cdef Py_ssize_t flush_s16(self, int16_t* dst) noexcept nogil:
        return _flush_into(self, NULL, dst)

    cdef int engine_adopt(self) except -1:
        cdef uint64_t seen = vc_own_try(&self._owner, _ENGINE, _CALL | _ENGINE)
        if seen & _ENGINE:
            raise RuntimeError("Resampler: already adopted by an Engine")
        if seen & _CALL:
            raise RuntimeError("Resampler: a Python call is running on it (in use by another thread)")
        return 0

    cdef void engine_release(self) noexcept nogil:
        vc_own_drop(&self._owner, _ENGINE)

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
        _enter(self, b"Resampler.process")
        try:
            return _process(self, data, out)
        finally:
            _leave(self)

    def flush(self, out=None, *, float32=None):
        """End of stream: return the last ``latency`` output samples and reset.

        The samples are in the format of the last ``process()`` call (s16le
        ``bytes`` or a float32 ndarray) unless ``float32`` says otherwise.
        With ``out=`` they are written there and the count is returned.
        """
        _enter(self, b"Resampler.flush")
        try:
            return _flush(self, out, float32)
        finally:
            _leave(self)

    def reset(self):
        """Forget the stream: history back to silence, counters to zero."""
        _enter(self, b"Resampler.reset")
        self.clear()
        _leave(self)

    def output_length(self, n):
        """Exact number of output samples the next ``process()`` of ``n``
        input samples (an int, 0..2**40) returns."""
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"Resampler.output_length: n must be an int, got {type(n).__name__}")
        if not 0 <= n <= _MAX_CHUNK:
            raise ValueError(f"Resampler.output_length: n must be 0..{_MAX_CHUNK} samples (2**40), got {n}")
        _not_adopted(self, b"Resampler.output_length")
        return self.out_count(<Py_ssize_t>n)

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
        _not_adopted(self, b"Resampler.total_in")
        return self.n_in

    @property
    def total_out(self):
        """Output samples since construction or the last reset/flush (flush output not counted)."""
        _not_adopted(self, b"Resampler.total_out")
        return self.n_out

    @property
    def coefficients(self):
        """The filter as a read-only float32 array of shape (L, stride)."""
        return self._design.coefs

    def __repr__(self):
        return (f"Resampler({self.in_rate}, {self.out_rate}, preset={self._design.preset!r}, "
                f"latency={self.latency})")


# ------------------------------------------------------------------ the one stream loop
cdef Py_ssize_t _UNBOUNDED = (<Py_ssize_t>1) << 62


cdef inline Py_ssize_t _pump(Resampler self, const float* fsrc, const int16_t* ssrc, Py_ssize_t n,
                             float* fdst, int16_t* sdst, Py_ssize_t max_out) noexcept nogil:
    """Feed ``n`` input samples block by block (float32 from ``fsrc``, s16
    from ``ssrc``, silence when both are NULL) and write the outputs they
    complete, float32 to ``fdst`` or s16 to ``sdst``, at most ``max_out``.
    The one loop behind run_f32/run_s16 and (with silence) flush_*."""
    cdef Py_ssize_t done = 0, m, w
    while n > 0 and done < max_out:
        m = n if n < _BLOCK else _BLOCK
        w = _compact(self)
        if fsrc != NULL:
            memcpy(self.work + w, fsrc, <size_t>m * sizeof(float))
            fsrc += m
        elif ssrc != NULL:
            rs_s16_to_f32(ssrc, self.work + w, m)
            ssrc += m
        else:
            memset(self.work + w, 0, <size_t>m * sizeof(float))
        self.wlen = w + m
        n -= m
        self.n_in += m
        if fdst != NULL:
            done += _run_f32(&self.filt, self.work, self.wlen, &self.pos, &self.phase, fdst + done, max_out - done)
        else:
            done += _run_s16(&self.filt, self.work, self.wlen, &self.pos, &self.phase, sdst + done, max_out - done)
    return done


cdef inline Py_ssize_t _flush_into(Resampler self, float* fdst, int16_t* sdst) noexcept nogil:
    """The last ``latency`` outputs (the look-ahead, computed with silence), then reset."""
    cdef Py_ssize_t want = self.latency, done = 0
    while done < want:
        if fdst != NULL:
            done += _pump(self, NULL, NULL, _BLOCK, fdst + done, NULL, want - done)
        else:
            done += _pump(self, NULL, NULL, _BLOCK, NULL, sdst + done, want - done)
    self.clear()
    return done


# ------------------------------------------------------------------ Python glue
cdef object _process(Resampler self, object data, object out):
    cdef Buf src, dst
    cdef Py_ssize_t n, cnt, got
    cdef object result = None
    cdef bint f32
    get_input(data, &src, KIND_BYTES | KIND_S16 | KIND_F32, b"Resampler.process", b"data")
    try:
        f32 = src.itemsize == 4
        if not f32 and src.len & 1:
            raise ValueError(f"Resampler.process: data must be s16le PCM with an even byte count, "
                             f"got {src.len} bytes")
        n = src.len >> 2 if f32 else src.len >> 1
        cnt = self.out_count(n)
        if out is not None:
            if f32:
                get_output_fmt(out, &dst, 4 * cnt, KIND_F32, b"Resampler.process")
            else:
                get_s16_output(out, &dst, cnt, b"Resampler.process")
        elif f32:
            result = np.empty(cnt, dtype=np.float32)
            get_output_fmt(result, &dst, 4 * cnt, KIND_F32, b"Resampler.process")
        else:
            result = PyBytes_FromStringAndSize(NULL, 2 * cnt)
            dst.buf = PyBytes_AS_STRING(result)
            dst.owned = False
        self._last_float = f32
        try:
            with nogil:
                if f32:
                    got = self.run_f32(<const float*>src.buf, n, <float*>dst.buf)
                else:
                    got = self.run_s16(<const int16_t*>src.buf, n, <int16_t*>dst.buf)
        finally:
            release(&dst)
        return got if result is None else result
    finally:
        release(&src)


cdef object _flush(Resampler self, object out, object float32):
    cdef Buf dst
    cdef Py_ssize_t cnt = self.latency, got
    cdef bint as_float = self._last_float if float32 is None else bool(float32)
    cdef object result = None
    if out is not None:
        if as_float:
            get_output_fmt(out, &dst, 4 * cnt, KIND_F32, b"Resampler.flush")
        else:
            get_s16_output(out, &dst, cnt, b"Resampler.flush")
    elif as_float:
        result = np.empty(cnt, dtype=np.float32)
        get_output_fmt(result, &dst, 4 * cnt, KIND_F32, b"Resampler.flush")
    else:
        result = PyBytes_FromStringAndSize(NULL, 2 * cnt)
        dst.buf = PyBytes_AS_STRING(result)
        dst.owned = False
    try:
        with nogil:
            if as_float:
                got = self.flush_f32(<float*>dst.buf)
            else:
                got = self.flush_s16(<int16_t*>dst.buf)
    finally:
        release(&dst)
    return got if result is None else result

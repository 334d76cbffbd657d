# Test-only (tests/test_resample_seam.py): drives the resampler through the
# cdef API cimported from the *installed* resample.pxd, without the GIL and
# from a native pthread. Compiled by tests/native/build.py; never shipped.
from libc.stdint cimport int16_t
from libc.stdlib cimport malloc, free
from voicecore._native.media.resample cimport Resampler

cdef extern from "<pthread.h>" nogil:
    ctypedef struct pthread_t:
        pass
    ctypedef void* (*pthread_start_fn)(void*) noexcept nogil
    int pthread_create(pthread_t* thread, const void* attr, pthread_start_fn start, void* arg)
    int pthread_join(pthread_t thread, void** retval)


cdef struct job:
    void* r                   # borrowed Resampler (the caller keeps a reference)
    const int16_t* src
    Py_ssize_t n
    Py_ssize_t chunk
    int16_t* dst
    Py_ssize_t got


cdef void* _run_chunks(void* arg) noexcept nogil:
    cdef job* j = <job*>arg
    cdef Py_ssize_t off = 0, m
    while off < j.n:
        m = j.chunk if j.n - off > j.chunk else j.n - off
        j.got += (<Resampler>j.r).run_s16(j.src + off, m, j.dst + j.got)
        off += m
    j.got += (<Resampler>j.r).flush_s16(j.dst + j.got)
    return NULL


def run_s16_on_a_pthread(Resampler r not None, const int16_t[::1] x, Py_ssize_t chunk):
    """Stream ``x`` through ``r`` in ``chunk``-sample calls of run_s16 on a
    native thread (no GIL), then flush_s16; returns the s16 output."""
    cdef job j
    cdef pthread_t t
    cdef Py_ssize_t n = x.shape[0]
    cdef Py_ssize_t cap = r.out_count(n) + r.latency + 16
    out = bytearray(2 * cap)
    cdef int16_t[::1] o = memoryview(out).cast("h")
    j.r = <void*>r
    j.src = &x[0] if n else NULL
    j.n = n
    j.chunk = chunk
    j.dst = &o[0]
    j.got = 0
    with nogil:
        pthread_create(&t, NULL, _run_chunks, &j)
        pthread_join(t, NULL)
    return bytes(out[:2 * j.got])


def run_f32_nogil(Resampler r not None, const float[::1] x):
    """run_f32 then flush_f32 inside ``with nogil``; returns float32 bytes."""
    cdef Py_ssize_t n = x.shape[0]
    cdef Py_ssize_t cap = r.out_count(n) + r.latency
    out = bytearray(4 * cap)
    cdef float[::1] o = memoryview(out).cast("f")
    cdef Py_ssize_t got
    with nogil:
        got = r.run_f32(&x[0] if n else NULL, n, &o[0])
        got += r.flush_f32(&o[got])
    return bytes(out[:4 * got])


def run_silence(Resampler r not None, Py_ssize_t n, bint as_float):
    """run_s16 / run_f32 with a NULL source: n samples of silence."""
    cdef Py_ssize_t cap = r.out_count(n) + 1
    out = bytearray(4 * cap + 4)
    cdef char* p = <char*>out
    cdef Py_ssize_t got
    with nogil:
        if as_float:
            got = r.run_f32(NULL, n, <float*>p)
        else:
            got = r.run_s16(NULL, n, <int16_t*>p)
    return got, bytes(out[:got * (4 if as_float else 2)])


def clear_and_count(Resampler r not None, Py_ssize_t n):
    with nogil:
        r.clear()
    return r.out_count(n), r.in_rate, r.out_rate, r.latency


def adopt(Resampler r not None):
    r.engine_adopt()


def release(Resampler r not None):
    with nogil:
        r.engine_release()

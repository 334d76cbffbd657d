# Test-only timing helper for benchmarks/bench_jitter.py: N jitter buffers
# driven the way the audio I/O engine drives them (push_c for each arrival,
# then one pull_c per buffer per tick, without the GIL), with the time of
# the pulls measured natively. Uses only JitterBuffer.push_c / pull_c, so it
# also builds against older versions of the .pxd (before/after figures).
from libc.stdint cimport int16_t, int64_t, uint8_t
from libc.stdlib cimport malloc, free
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC
from voicecore._native.media.jitter cimport JitterBuffer


cdef inline int64_t _now() noexcept nogil:
    cdef timespec t
    clock_gettime(CLOCK_MONOTONIC, &t)
    return t.tv_sec * 1000000000 + t.tv_nsec


cdef void** _array(list buffers) except NULL:
    cdef Py_ssize_t i, nb = len(buffers)
    cdef void** jbs = <void**>malloc((nb + 1) * sizeof(void*))
    if jbs == NULL:
        raise MemoryError()
    for i in range(nb):
        if (<JitterBuffer?>buffers[i]).frame_samples > 2880:
            free(jbs)
            raise ValueError("frames up to 2880 samples")
        jbs[i] = <void*>buffers[i]
    return jbs


def push_until(list buffers, const uint8_t[::1] blob, const int64_t[::1] off, const int64_t[::1] ln,
               const int64_t[::1] arrival_ns, Py_ssize_t p, int64_t t_ns):
    """Push packets ``p``, ``p + 1``, ... that arrived by ``t_ns`` into every
    buffer (the same packets for all, so they all do the same work in the same
    tick). Returns the index of the next packet."""
    cdef Py_ssize_t i, nb = len(buffers), npk = off.shape[0]
    cdef void** jbs = _array(buffers)
    with nogil:
        while p < npk and arrival_ns[p] <= t_ns:
            for i in range(nb):
                (<JitterBuffer>jbs[i]).push_c(&blob[off[p]], ln[p], arrival_ns[p])
            p += 1
    free(jbs)
    return p


def pull_all(list buffers, int64_t t_ns):
    """One tick: every buffer plays one frame at ``t_ns``. Returns the ns it took."""
    cdef Py_ssize_t i, nb = len(buffers)
    cdef int16_t out[2880]
    cdef int64_t a
    cdef void** jbs = _array(buffers)
    with nogil:
        a = _now()
        for i in range(nb):
            (<JitterBuffer>jbs[i]).pull_c(out, t_ns)
        a = _now() - a
    free(jbs)
    return a


def run_ticks(list buffers, const uint8_t[::1] blob, const int64_t[::1] off, const int64_t[::1] ln,
              const int64_t[::1] arrival_ns, int64_t t0_ns, int64_t period_ns, int nticks, int64_t[::1] tick_ns):
    """Ticks 0 .. nticks - 1 at ``t0_ns + k * period_ns``: the packets that
    arrived by then into every buffer (not timed), then one frame from every
    buffer; ``tick_ns[k]`` receives the time of the pulls of tick k."""
    cdef Py_ssize_t i, nb = len(buffers), p = 0, npk = off.shape[0]
    cdef int k
    cdef int64_t t, a
    cdef int16_t out[2880]
    cdef void** jbs = _array(buffers)
    with nogil:
        for k in range(nticks):
            t = t0_ns + k * period_ns
            while p < npk and arrival_ns[p] <= t:
                for i in range(nb):
                    (<JitterBuffer>jbs[i]).push_c(&blob[off[p]], ln[p], arrival_ns[p])
                p += 1
            a = _now()
            for i in range(nb):
                (<JitterBuffer>jbs[i]).pull_c(out, t)
            tick_ns[k] = _now() - a
    free(jbs)

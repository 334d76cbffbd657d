# Test-only timing helper for benchmarks/bench_jitter.py: N jitter buffers
# driven the way the audio I/O engine drives them (push_c for each arrival,
# then one pull_c per buffer per tick, without the GIL), with the time of
# each tick measured natively. Uses only JitterBuffer.push_c / pull_c.
from libc.stdint cimport int16_t, int64_t, uint8_t
from libc.stdlib cimport malloc, free
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC
from voicecore._native.media.jitter cimport JitterBuffer


cdef inline int64_t _now() noexcept nogil:
    cdef timespec t
    clock_gettime(CLOCK_MONOTONIC, &t)
    return t.tv_sec * 1000000000 + t.tv_nsec


def run_ticks(list buffers, const uint8_t[::1] blob, const int64_t[::1] off, const int64_t[::1] ln,
              const int64_t[::1] arrival_ns, int64_t t0_ns, int64_t period_ns, int first, int last,
              int64_t[::1] tick_ns):
    """Ticks ``first`` .. ``last - 1``: before tick k (at t0 + k * period) every
    buffer receives the packets that arrived by then (the same packets for all
    buffers, so they all do the same work in the same tick), then every buffer
    plays one frame. ``tick_ns[k]`` receives the time of the pulls of tick k
    (all buffers); the pushes are not timed. Returns the index of the next
    packet to push."""
    cdef Py_ssize_t nb = len(buffers), i, p = 0, npk = off.shape[0]
    cdef int k
    cdef int64_t t, a
    cdef void** jbs = <void**>malloc(nb * sizeof(void*))
    cdef int16_t out[2880]
    if jbs == NULL:
        raise MemoryError()
    for i in range(nb):
        jbs[i] = <void*>buffers[i]
        if (<JitterBuffer>buffers[i]).frame_samples > 2880:
            free(jbs)
            raise ValueError("frame too long")
    try:
        with nogil:
            while p < npk and arrival_ns[p] <= t0_ns + first * period_ns:
                p += 1           # before the first tick: already pushed by an earlier call
            for k in range(first, last):
                t = t0_ns + k * period_ns
                while p < npk and arrival_ns[p] <= t:
                    for i in range(nb):
                        (<JitterBuffer>jbs[i]).push_c(&blob[off[p]], ln[p], arrival_ns[p])
                    p += 1
                a = _now()
                for i in range(nb):
                    (<JitterBuffer>jbs[i]).pull_c(out, t)
                tick_ns[k] = _now() - a
    finally:
        free(jbs)
    return p

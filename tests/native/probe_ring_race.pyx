# Test-only (tests/test_ring_threads.py): issue 9's race. readable() asked on
# the producer side while the consumer reads, from native pthreads (and from
# Python while a native thread has adopted the consumer side), through the
# *installed* ring .pxd files. Compiled by tests/native/build.py; never shipped.
from libc.stdint cimport int16_t, int64_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memset
from libc.errno cimport errno
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

from voicecore._native.atomic cimport (
    vc_u64, vc_load_relaxed, vc_load_acquire, vc_store_relaxed, vc_store_release, vc_stat_add,
)
from voicecore._native.media.ring cimport (
    SampleRing, AECReferenceRing, FrameQueue, vc_sring, vc_aec, vc_fqueue, vc_frame_meta,
    sring_new, sring_free, sring_writable, sring_write, sring_request_flush, sring_readable,
    sring_read, sring_read_full, aec_new, aec_free, aec_write, aec_read_aligned, aec_read_at,
    fq_new, fq_free, fq_push, fq_pop, fq_len, FLAG_END, FLAG_SILENCE, FLAG_DISCONTINUITY,
    FLAG_PARTIAL, VC_WAKEUP_NONE, VC_WAKEUP_DEFAULT, VC_WAKEUP_PIPE, VC_AEC_RUNS,
)

cdef extern from "<pthread.h>" nogil:
    ctypedef struct pthread_t:
        pass
    ctypedef void* (*pthread_start_fn)(void*) noexcept nogil
    int pthread_create(pthread_t* thread, const void* attr, pthread_start_fn start, void* arg)
    int pthread_join(pthread_t thread, void** retval)

cdef extern from "<sched.h>" nogil:
    int sched_yield()

cdef extern from *:
    """
    #include <errno.h>
    static inline void probe_set_errno(int e) { errno = e; }
    """
    void probe_set_errno(int e) noexcept nogil


cdef inline uint64_t min_u64(uint64_t a, uint64_t b) noexcept nogil:
    return a if a < b else b

cdef inline int64_t pos_diff(uint64_t a, uint64_t b) noexcept nogil:
    return <int64_t>(a - b)


cdef inline int16_t _pattern(uint64_t i) noexcept nogil:
    """Sample expected at absolute index i: pseudo-random, never zero."""
    return <int16_t>(((i * <uint64_t>0x9E3779B97F4A7C15) >> 48) | 1)

cdef inline uint64_t _rng(uint64_t* s) noexcept nogil:
    s[0] ^= s[0] << 13
    s[0] ^= s[0] >> 7
    s[0] ^= s[0] << 17
    return s[0]

cdef inline int64_t _now_ns() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <int64_t>ts.tv_sec * 1000000000 + ts.tv_nsec

# ======================================================================
# The producer asks readable() while the consumer reads (issue 9's race)
# ======================================================================
# Samples carry their absolute position (mod 2**15). The consumer knows where
# each read started (read_pos is its own) and checks every sample against it:
# a read that starts before the previous one ended delivers audio twice; a
# sample that does not match its position was overwritten while being copied
# (torn) or the position was moved under the consumer.
cdef inline int16_t _pos_sample(uint64_t i) noexcept nogil:
    return <int16_t>(i & 0x7FFF)

cdef struct race_ctx:
    vc_sring* sr
    int64_t duration_ns
    uint64_t chunk
    uint64_t flush_every      # producer iterations between flush requests
    uint64_t queries          # sring_readable() calls per producer iteration
    vc_u64 p_done
    vc_u64 stop
    vc_u64 delivered          # samples the consumer got
    vc_u64 back_steps         # reads starting before the previous read's end
    vc_u64 torn               # breaks inside one read
    vc_u64 produced
    int16_t* p_buf
    int16_t* c_buf

cdef void* _race_producer(void* arg) noexcept nogil:
    cdef race_ctx* x = <race_ctx*>arg
    cdef uint64_t s = 0x2545F4914F6CDD1D, pos = 0, n, i, k, done, it = 0, q
    cdef int64_t t_end = _now_ns() + x.duration_ns
    cdef uint64_t sink = 0
    while not vc_load_relaxed(&x.stop):
        it += 1
        if (it & 63) == 0 and _now_ns() >= t_end:
            break
        n = 1 + _rng(&s) % x.chunk
        for i in range(n):
            x.p_buf[i] = _pos_sample(pos + i)
        done = 0
        while done < n and not vc_load_relaxed(&x.stop):
            k = min_u64(sring_writable(x.sr), n - done)
            if k == 0:
                sink += sring_readable(x.sr)       # the producer-side query under test
                sched_yield()
                continue
            sring_write(x.sr, x.p_buf + done, k)
            done += k
        pos += n
        if it % x.flush_every == 0:
            sring_request_flush(x.sr)
        for q in range(x.queries):
            sink += sring_readable(x.sr)
    vc_store_relaxed(&x.produced, pos + (sink & 0))
    vc_store_release(&x.p_done, 1)
    return NULL

cdef void* _race_consumer(void* arg) noexcept nogil:
    cdef race_ctx* x = <race_ctx*>arg
    cdef uint64_t s = 0x9E3779B97F4A7C15, n, k, i, start, got = 0, back = 0, torn = 0
    cdef uint64_t prev_end = 0
    cdef bint finished
    while not vc_load_relaxed(&x.stop):
        finished = vc_load_acquire(&x.p_done) != 0
        n = 1 + _rng(&s) % x.chunk
        k = sring_read(x.sr, x.c_buf, n)
        if k == 0:
            if finished:
                break
            sched_yield()
            continue
        # read_pos is the consumer's own: the k samples came from [start, start + k)
        start = vc_load_relaxed(&x.sr.read_pos) - k
        if pos_diff(start, prev_end) < 0:
            back += 1                       # delivered again
        for i in range(k):
            if x.c_buf[i] != _pos_sample(start + i):
                torn += 1                   # not the sample written at that position
                break
        prev_end = start + k
        got += k
        vc_store_relaxed(&x.delivered, got)
    vc_store_relaxed(&x.back_steps, back)
    vc_store_relaxed(&x.torn, torn)
    return NULL


def readable_race(double seconds=1.0, uint64_t capacity=1024, uint64_t chunk=256,
                  uint64_t flush_every=2, uint64_t queries=2):
    """A producer pthread writes, requests a flush every ``flush_every``
    writes and calls sring_readable() ``queries`` times after each; a consumer
    pthread reads and checks every sample. Returns the consumer's findings and
    the ring's counters (the accounting must close:
    written == read + flushed + left)."""
    cdef race_ctx x
    cdef pthread_t tp, tc
    memset(&x, 0, sizeof(race_ctx))
    x.sr = sring_new(capacity, 0)
    x.duration_ns = <int64_t>(seconds * 1e9)
    x.chunk = chunk
    x.flush_every = flush_every
    x.queries = queries
    x.p_buf = <int16_t*>calloc(chunk, sizeof(int16_t))
    x.c_buf = <int16_t*>calloc(chunk, sizeof(int16_t))
    if x.sr == NULL or x.p_buf == NULL or x.c_buf == NULL:
        sring_free(x.sr); free(x.p_buf); free(x.c_buf)
        raise MemoryError()
    with nogil:
        pthread_create(&tp, NULL, _race_producer, &x)
        pthread_create(&tc, NULL, _race_consumer, &x)
        pthread_join(tp, NULL)
        pthread_join(tc, NULL)
    r = x.sr
    res = {
        "produced": vc_load_relaxed(&x.produced),
        "delivered": vc_load_relaxed(&x.delivered),
        "back_steps": vc_load_relaxed(&x.back_steps),
        "torn": vc_load_relaxed(&x.torn),
        "written_samples": vc_load_relaxed(&r.written_samples),
        "read_samples": vc_load_relaxed(&r.read_samples),
        "flushed_samples": vc_load_relaxed(&r.flushed_samples),
        "left": vc_load_relaxed(&r.write_pos) - vc_load_relaxed(&r.read_pos),
    }
    sring_free(x.sr)
    free(x.p_buf)
    free(x.c_buf)
    return res


# ======================================================================
# A native consumer thread on a SampleRing that Python writes into
# ======================================================================
cdef struct consumer_ctx:
    vc_sring* sr
    uint64_t chunk
    vc_u64 stop
    vc_u64 delivered
    vc_u64 back_steps
    vc_u64 torn
    int16_t* buf
    int64_t first_bad[3]      # previous end, start, samples read

cdef void* _py_ring_consumer(void* arg) noexcept nogil:
    cdef consumer_ctx* x = <consumer_ctx*>arg
    cdef uint64_t k, i, start, prev_end = 0, got = 0, back = 0, torn = 0, idle = 0
    while True:
        k = sring_read(x.sr, x.buf, x.chunk)
        if k == 0:
            if vc_load_acquire(&x.stop):
                idle += 1
                if idle > 2:          # stop seen and the ring found empty twice
                    break
            sched_yield()
            continue
        idle = 0
        start = vc_load_relaxed(&x.sr.read_pos) - k
        if pos_diff(start, prev_end) < 0:
            if back == 0:
                x.first_bad[0] = <int64_t>prev_end
                x.first_bad[1] = <int64_t>start
                x.first_bad[2] = <int64_t>k
            back += 1
        for i in range(k):
            if x.buf[i] != _pos_sample(start + i):
                torn += 1
                break
        prev_end = start + k
        got += k
        vc_store_relaxed(&x.delivered, got)
    vc_store_relaxed(&x.back_steps, back)
    vc_store_relaxed(&x.torn, torn)
    return NULL


cdef class NativeConsumer:
    """The consumer side of ``ring`` (a SampleRing made in Python) on a native
    pthread, the way the engine would take it: adopted (so Python's read
    methods raise), driven through ``ring.ptr()`` without the GIL."""
    cdef SampleRing ring
    cdef consumer_ctx x
    cdef pthread_t t
    cdef bint running

    def __cinit__(self, SampleRing ring not None, uint64_t chunk=160):
        memset(&self.x, 0, sizeof(consumer_ctx))
        self.ring = ring
        self.x.sr = ring.ptr()
        self.x.chunk = chunk
        self.x.buf = <int16_t*>calloc(chunk, sizeof(int16_t))
        if self.x.buf == NULL:
            raise MemoryError()

    def start(self):
        self.ring.engine_adopt_consumer()
        if pthread_create(&self.t, NULL, _py_ring_consumer, &self.x) != 0:
            self.ring.engine_release_consumer()
            raise OSError("pthread_create failed")
        self.running = True

    def join(self) -> dict:
        if self.running:
            vc_store_release(&self.x.stop, 1)
            with nogil:
                pthread_join(self.t, NULL)
            self.running = False
            self.ring.engine_release_consumer()
        return {
            "delivered": vc_load_relaxed(&self.x.delivered),
            "back_steps": vc_load_relaxed(&self.x.back_steps),
            "torn": vc_load_relaxed(&self.x.torn),
            "first_back_step": tuple(self.x.first_bad[i] for i in range(3)),
        }

    def __dealloc__(self):
        if self.running:
            vc_store_release(&self.x.stop, 1)
            with nogil:
                pthread_join(self.t, NULL)
            self.ring.engine_release_consumer()
        free(self.x.buf)


def position_samples(uint64_t start, uint64_t n) -> bytes:
    """s16le samples that carry their absolute position (mod 2**15)."""
    cdef bytearray out = bytearray(2 * n)
    cdef int16_t* p = <int16_t*><char*>out
    cdef uint64_t i
    for i in range(n):
        p[i] = _pos_sample(start + i)
    return bytes(out)

# Test-only (tests/test_ring_threads.py): a producer and a consumer of one ring
# on two native pthreads that never take the GIL, through the cdef API
# cimported from the *installed* ring .pxd files, checking every sample.
# Compiled by tests/native/build.py; never shipped. (Moved here from ring.pyx.)
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
    fq_new, fq_free, fq_push, fq_slot, fq_commit, fq_pop, fq_len, FLAG_END, FLAG_SILENCE, FLAG_DISCONTINUITY,
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


# ======================================================================
# Two native threads on one ring, checking every sample (moved here from
# ring.pyx: a test harness is not shipped)
# ======================================================================
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

cdef enum:
    STRESS_SAMPLES = 1
    STRESS_AEC = 2
    STRESS_FRAMES = 3

cdef struct stress_ctx:
    int kind
    vc_sring* sr
    vc_aec* ar
    vc_fqueue* fq
    uint64_t seed
    int64_t duration_ns
    uint64_t chunk
    uint64_t start
    # shared
    vc_u64 stop
    vc_u64 p_done
    vc_u64 p_items
    vc_u64 c_items
    vc_u64 p_sum
    vc_u64 c_sum
    vc_u64 c_bad
    vc_u64 c_zero
    vc_u64 c_zero_counted
    vc_u64 c_order
    # a scratch buffer per side
    int16_t* p_buf
    int16_t* c_buf


cdef void* _stress_producer(void* arg) noexcept nogil:
    cdef stress_ctx* x = <stress_ctx*>arg
    cdef uint64_t s = x.seed | 1
    cdef uint64_t pos = x.start, n, i, k, done, frame = 0, sm = 0
    cdef int64_t t_end = _now_ns() + x.duration_ns
    cdef int16_t* slot
    cdef uint64_t iters = 0
    while not vc_load_relaxed(&x.stop):
        iters += 1
        if (iters & 63) == 0 and _now_ns() >= t_end:
            break
        if x.kind == STRESS_SAMPLES:
            n = 1 + _rng(&s) % x.chunk
            for i in range(n):
                x.p_buf[i] = _pattern(pos + i)
                sm += <uint16_t>x.p_buf[i]
            done = 0
            while done < n and not vc_load_relaxed(&x.stop):
                k = min_u64(sring_writable(x.sr), n - done)
                if k == 0:
                    sched_yield()
                    continue
                sring_write(x.sr, x.p_buf + done, k)
                done += k
            pos += n
            vc_store_relaxed(&x.p_items, pos - x.start)
        elif x.kind == STRESS_AEC:
            # frame `frame` is sent at exactly frame * 20 ms; stay at most
            # capacity + 2 frames ahead of the consumer so that it sometimes
            # finds its reference overwritten (late) and sometimes not yet
            # written (underrun).
            while (not vc_load_relaxed(&x.stop)
                   and frame > vc_load_relaxed(&x.c_items) + x.ar.capacity // x.chunk + 2):
                sched_yield()
            for i in range(x.chunk):
                x.p_buf[i] = _pattern(x.start + frame * x.chunk + i)
            aec_write(x.ar, x.p_buf, x.chunk, <int64_t>(frame * 20000000), <uint32_t>(frame * x.chunk))
            frame += 1
            vc_store_relaxed(&x.p_items, frame)
        else:
            # half the frames written in place (fq_slot + fq_commit, as the
            # engine plays out into the queue), the rest (and every frame
            # while the queue is full) copied in by fq_push
            slot = fq_slot(x.fq) if (_rng(&s) & 1) else NULL
            if slot != NULL:
                for i in range(x.chunk):
                    slot[i] = _pattern(frame * x.chunk + i)
                fq_commit(x.fq, <uint32_t>(frame & 0xFFFF), frame, <uint32_t>(frame * 7))
            else:
                for i in range(x.chunk):
                    x.p_buf[i] = _pattern(frame * x.chunk + i)
                fq_push(x.fq, x.p_buf, <uint32_t>(frame & 0xFFFF), frame, <uint32_t>(frame * 7))
            frame += 1
            vc_store_relaxed(&x.p_items, frame)
            if (_rng(&s) & 15) == 0:
                sched_yield()
    vc_store_relaxed(&x.p_sum, sm)
    vc_store_release(&x.p_done, 1)
    return NULL


cdef void* _stress_consumer(void* arg) noexcept nogil:
    cdef stress_ctx* x = <stress_ctx*>arg
    cdef uint64_t s = (x.seed * 31) | 1
    cdef uint64_t pos = x.start, n, i, k, frame = 0, sm = 0, bad = 0, zeros = 0
    cdef uint64_t before, after, got, last_ts = 0
    cdef bint have_last = False, finished
    cdef vc_frame_meta m
    cdef int16_t v
    while not vc_load_relaxed(&x.stop):
        if x.kind == STRESS_SAMPLES:
            n = 1 + _rng(&s) % x.chunk
            finished = vc_load_acquire(&x.p_done) != 0
            k = sring_read(x.sr, x.c_buf, n)
            for i in range(k):
                if x.c_buf[i] != _pattern(pos + i):
                    bad += 1
                sm += <uint16_t>x.c_buf[i]
            pos += k
            vc_store_relaxed(&x.c_items, pos - x.start)
            if k == 0:
                if finished:
                    break
                sched_yield()
        elif x.kind == STRESS_AEC:
            finished = vc_load_acquire(&x.p_done) != 0
            if finished and frame >= vc_load_relaxed(&x.p_items):
                break
            # at most one frame ahead of the producer: frame `frame` may be
            # the one being written right now (then it underruns)
            while (not finished and not vc_load_relaxed(&x.stop)
                   and frame > vc_load_relaxed(&x.p_items)):
                sched_yield()
                finished = vc_load_acquire(&x.p_done) != 0
            if not finished and frame > vc_load_relaxed(&x.p_items):
                break                 # stopped while waiting: never read past the bound
            before = vc_load_relaxed(&x.ar.silence_samples) + vc_load_relaxed(&x.ar.late_samples)
            got = aec_read_aligned(x.ar, x.c_buf, x.chunk, <int64_t>(frame * 20000000))
            after = vc_load_relaxed(&x.ar.silence_samples) + vc_load_relaxed(&x.ar.late_samples)
            if got != x.start + frame * x.chunk:
                vc_stat_add(&x.c_order, 1)
            for i in range(x.chunk):
                v = x.c_buf[i]
                if v == 0:
                    zeros += 1
                elif v != _pattern(got + i):
                    bad += 1
            vc_stat_add(&x.c_zero_counted, after - before)
            frame += 1
            vc_store_relaxed(&x.c_items, frame)
        else:
            finished = vc_load_acquire(&x.p_done) != 0
            if fq_pop(x.fq, x.c_buf, &m):
                if have_last and m.timestamp <= last_ts:
                    vc_stat_add(&x.c_order, 1)
                have_last = True
                last_ts = m.timestamp
                if m.session != <uint32_t>(m.timestamp & 0xFFFF) or m.flags != <uint32_t>(m.timestamp * 7):
                    bad += 1
                for i in range(x.chunk):
                    if x.c_buf[i] != _pattern(m.timestamp * x.chunk + i):
                        bad += 1
                        break
                frame += 1
                vc_store_relaxed(&x.c_items, frame)
                if (_rng(&s) & 7) == 0:
                    sched_yield()     # fall behind now and then: drops happen
            elif finished:
                break
            else:
                sched_yield()
    vc_store_relaxed(&x.c_sum, sm)
    vc_store_relaxed(&x.c_bad, bad)
    vc_store_relaxed(&x.c_zero, zeros)
    return NULL


cdef class StressRun:
    """Run a producer and a consumer of one ring on two
    native pthreads that never take the GIL, checking every sample.

    kind: "samples" (SampleRing, random chunk sizes up to ``chunk``), "aec"
    (AECReferenceRing, frames of ``chunk`` samples at 8 kHz sent every 20 ms
    of synthetic time), "frames" (FrameQueue of ``capacity`` slots of
    ``chunk`` samples, drop-oldest). ``start()`` returns at once; ``progress()``
    reads the live counters; ``join()`` waits (GIL released) and returns the
    results.
    """
    cdef stress_ctx x
    cdef pthread_t tp, tc
    cdef bint started, joined
    cdef object kind

    def __cinit__(self, str kind, *, double seconds=1.0, uint64_t capacity=1024,
                  uint64_t chunk=160, uint64_t start_position=0, uint64_t seed=12345):
        memset(&self.x, 0, sizeof(stress_ctx))
        if capacity == 0 or capacity & (capacity - 1):
            raise ValueError("StressRun: capacity must be a power of two")
        if chunk == 0 or chunk > capacity and kind != "frames":
            raise ValueError("StressRun: need 1 <= chunk <= capacity")
        self.kind = kind
        self.x.seed = seed
        self.x.duration_ns = <int64_t>(seconds * 1e9)
        self.x.chunk = chunk
        self.x.start = start_position
        self.x.p_buf = <int16_t*>calloc(chunk, sizeof(int16_t))
        self.x.c_buf = <int16_t*>calloc(chunk, sizeof(int16_t))
        if kind == "samples":
            self.x.kind = STRESS_SAMPLES
            self.x.sr = sring_new(capacity, start_position)
        elif kind == "aec":
            self.x.kind = STRESS_AEC
            self.x.ar = aec_new(capacity, 8000, 0, start_position, 40, 0)
        elif kind == "frames":
            self.x.kind = STRESS_FRAMES
            self.x.start = 0
            self.x.fq = fq_new(capacity, chunk, False)
        else:
            raise ValueError(f"StressRun: unknown kind {kind!r}")
        if (self.x.p_buf == NULL or self.x.c_buf == NULL
                or (self.x.sr == NULL and self.x.ar == NULL and self.x.fq == NULL)):
            raise MemoryError("StressRun: allocation failed")

    def start(self) -> None:
        if self.started:
            raise RuntimeError("StressRun: already started")
        if pthread_create(&self.tp, NULL, _stress_producer, &self.x) != 0:
            raise OSError("StressRun: pthread_create failed")
        if pthread_create(&self.tc, NULL, _stress_consumer, &self.x) != 0:
            vc_store_relaxed(&self.x.stop, 1)
            with nogil:
                pthread_join(self.tp, NULL)
            raise OSError("StressRun: pthread_create failed")
        self.started = True

    def progress(self) -> tuple:
        """(items produced, items consumed) so far: samples or frames."""
        return (vc_load_relaxed(&self.x.p_items), vc_load_relaxed(&self.x.c_items))

    def join(self) -> dict:
        if not self.started:
            raise RuntimeError("StressRun: not started")
        if not self.joined:
            with nogil:
                pthread_join(self.tp, NULL)
                pthread_join(self.tc, NULL)
            self.joined = True
        res = {
            "produced": vc_load_relaxed(&self.x.p_items),
            "consumed": vc_load_relaxed(&self.x.c_items),
            "bad": vc_load_relaxed(&self.x.c_bad),
            "out_of_order": vc_load_relaxed(&self.x.c_order),
        }
        if self.x.kind == STRESS_SAMPLES:
            res["producer_sum"] = vc_load_relaxed(&self.x.p_sum)
            res["consumer_sum"] = vc_load_relaxed(&self.x.c_sum)
            res["overflow_samples"] = vc_load_relaxed(&self.x.sr.overflow_samples)
            res["final_write_position"] = vc_load_relaxed(&self.x.sr.write_pos)
        elif self.x.kind == STRESS_AEC:
            res["zeros"] = vc_load_relaxed(&self.x.c_zero)
            res["zeros_counted"] = vc_load_relaxed(&self.x.c_zero_counted)
            res["late_samples"] = vc_load_relaxed(&self.x.ar.late_samples)
            res["silence_samples"] = vc_load_relaxed(&self.x.ar.silence_samples)
            res["underrun_samples"] = vc_load_relaxed(&self.x.ar.underrun_samples)
            res["overflow_samples"] = vc_load_relaxed(&self.x.ar.overflow_samples)
            res["read_frames"] = vc_load_relaxed(&self.x.ar.read_frames)
            res["written_frames"] = vc_load_relaxed(&self.x.ar.written_frames)
            res["realigns"] = vc_load_relaxed(&self.x.ar.realigns)
        else:
            res["pushed"] = vc_load_relaxed(&self.x.fq.pushed)
            res["dropped"] = vc_load_relaxed(&self.x.fq.dropped)
            res["popped"] = vc_load_relaxed(&self.x.fq.popped)
            res["lost_races"] = vc_load_relaxed(&self.x.fq.lost_races)
        return res

    def __dealloc__(self):
        if self.started and not self.joined:
            vc_store_relaxed(&self.x.stop, 1)
            with nogil:
                pthread_join(self.tp, NULL)
                pthread_join(self.tc, NULL)
        sring_free(self.x.sr)
        aec_free(self.x.ar)
        fq_free(self.x.fq)
        free(self.x.p_buf)
        free(self.x.c_buf)

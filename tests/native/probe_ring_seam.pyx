# Test-only (tests/test_ring_seam.py): the rings' engine seam as the engine
# will use it, cimported from the *installed* ring .pxd files: the classes and
# their structs, the ownership rule, the FLAG_* enum, the cdef constructors'
# contracts and the pipe wake-up. Compiled by tests/native/build.py; never shipped.
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


# ======================================================================
# The seam itself: ownership, constants, constructor contracts
# ======================================================================
def adopt(obj, str side):
    """engine_adopt_<side>() on any of the three rings (side: producer,
    consumer or both)."""
    if isinstance(obj, SampleRing):
        r = <SampleRing>obj
        if side == "producer": r.engine_adopt_producer()
        elif side == "consumer": r.engine_adopt_consumer()
        else: r.engine_adopt()
    elif isinstance(obj, AECReferenceRing):
        a = <AECReferenceRing>obj
        if side == "producer": a.engine_adopt_producer()
        elif side == "consumer": a.engine_adopt_consumer()
        else: a.engine_adopt()
    else:
        q = <FrameQueue?>obj
        if side == "producer": q.engine_adopt_producer()
        elif side == "consumer": q.engine_adopt_consumer()
        else: q.engine_adopt()


def release(obj, str side):
    if isinstance(obj, SampleRing):
        r = <SampleRing>obj
        if side == "producer": r.engine_release_producer()
        elif side == "consumer": r.engine_release_consumer()
        else: r.engine_release()
    elif isinstance(obj, AECReferenceRing):
        a = <AECReferenceRing>obj
        if side == "producer": a.engine_release_producer()
        elif side == "consumer": a.engine_release_consumer()
        else: a.engine_release()
    else:
        q = <FrameQueue?>obj
        if side == "producer": q.engine_release_producer()
        elif side == "consumer": q.engine_release_consumer()
        else: q.engine_release()


def engine_roundtrip(SampleRing sr not None, AECReferenceRing ar not None, FrameQueue fq not None):
    """Use each Python-made ring through its struct pointer without the GIL:
    write then read one 160-sample frame; returns what came out."""
    cdef int16_t src[160]
    cdef int16_t a[160]
    cdef int16_t b[160]
    cdef int16_t c[160]
    cdef vc_frame_meta m
    cdef uint64_t i, ka
    cdef int got
    cdef vc_sring* s = sr.ptr()
    cdef vc_aec* e = ar.ptr()
    cdef vc_fqueue* q = fq.ptr()
    if s != sr.ring or e != ar.ring or q != fq.queue:
        raise AssertionError("ptr() and the struct attribute disagree")
    for i in range(160):
        src[i] = <int16_t>(i * 7 - 500)
    with nogil:
        sring_write(s, src, 160)
        ka = sring_read(s, a, 160)
        aec_write(e, src, 160, 0, 1000)
        aec_read_at(e, b, 160, e.origin)
        fq_push(q, src, 3, 4, FLAG_END | FLAG_PARTIAL)
        got = fq_pop(q, c, &m)
    return (ka, bytes((<char*>a)[:320]), bytes((<char*>b)[:320]), got, bytes((<char*>c)[:320]),
            (m.session, m.timestamp, m.flags))


def flags():
    """The FLAG_* values as the .pxd enum declares them."""
    return {"FLAG_END": FLAG_END, "FLAG_SILENCE": FLAG_SILENCE,
            "FLAG_DISCONTINUITY": FLAG_DISCONTINUITY, "FLAG_PARTIAL": FLAG_PARTIAL}


def aec_runs():
    return VC_AEC_RUNS


def new_errno(str kind, uint64_t capacity, uint64_t frame_samples=160, int wakeup=0):
    """Create a ring with the cdef constructor: (ok, errno)."""
    cdef vc_sring* s
    cdef vc_aec* a
    cdef vc_fqueue* q
    cdef int err = 0
    probe_set_errno(0)
    if kind == "sample":
        s = sring_new(capacity, 0)
        err = errno
        sring_free(s)
        return (s != NULL, err)
    if kind == "aec":
        a = aec_new(capacity, 8000, 0, 0, 40, 0)
        err = errno
        aec_free(a)
        return (a != NULL, err)
    q = fq_new(capacity, frame_samples, wakeup)
    err = errno
    fq_free(q)
    return (q != NULL, err)


def pipe_wakeup_queue_fds():
    """fq_new with VC_WAKEUP_PIPE (the non-Linux path) on this platform:
    push from C, then return the two fds for Python to inspect, and a
    closer."""
    cdef vc_fqueue* q = fq_new(4, 160, VC_WAKEUP_PIPE)
    cdef int16_t frame[160]
    memset(frame, 0, sizeof(frame))
    if q == NULL:
        raise OSError(errno, "fq_new(VC_WAKEUP_PIPE) failed")
    return _PipeQueue.wrap(q)


cdef class _PipeQueue:
    cdef vc_fqueue* q

    @staticmethod
    cdef _PipeQueue wrap(vc_fqueue* q):
        cdef _PipeQueue o = _PipeQueue.__new__(_PipeQueue)
        o.q = q
        return o

    @property
    def fds(self):
        return (self.q.fds[0], self.q.fds[1])

    def push(self, uint64_t ts):
        cdef int16_t frame[160]
        memset(frame, 0, sizeof(frame))
        with nogil:
            fq_push(self.q, frame, 0, ts, 0)

    def pop(self):
        cdef int16_t frame[160]
        cdef vc_frame_meta m
        if fq_pop(self.q, frame, &m):
            return m.timestamp
        return None

    @property
    def wakeups(self):
        return vc_load_relaxed(&self.q.wakeups)

    def __dealloc__(self):
        fq_free(self.q)

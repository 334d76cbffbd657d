# cython: freethreading_compatible=True
"""Lock-free single-producer/single-consumer rings for the audio I/O thread.

Three structures, each usable from native code without the GIL through the
``cdef ... nogil`` API in ``ring.pxd`` and from Python through a small class
whose methods copy into and out of caller buffers (never a view of ring memory):

``SampleRing``
    int16 samples (s16 mono) with absolute 64-bit positions. The producer never
    overwrites unread samples: ``write`` copies what fits and counts the rest
    in ``overflow_samples``. ``request_flush`` (producer side, for barge-in)
    makes the consumer discard everything written so far on its next call.

``AECReferenceRing``
    The echo canceller's reference: the sending side writes exactly the
    samples it sends, stamped with their send time (monotonic ns) and RTP
    timestamp; the capture side reads the reference aligned to capture time
    minus the echo delay. Time where nothing was played reads as zeros
    (counted); overflow overwrites the oldest samples (counted); a read always
    returns exactly the samples asked for, so one reference frame is read per
    capture frame processed.

``FrameQueue``
    Fixed-size int16 frames with metadata (session index, timestamp, flags),
    drop-oldest on overflow (counted), and a wake-up file descriptor (eventfd
    on Linux, pipe elsewhere) for ``loop.add_reader`` that is signalled once per
    empty -> non-empty transition, not once per frame.

Memory ordering (C11 atomics from ``vc_atomic.h``): a producer publishes data
with a release store of its position and the consumer reads that position with
an acquire load before touching the data (and vice versa for freeing space).
Where a producer may overwrite memory a consumer is copying (AEC overflow,
frame-queue drop-oldest) the consumer validates the copy afterwards and throws
away whatever may have been overwritten (a seqlock; see ``aec_read_at`` and
``fq_pop``). Capacities must be powers of two: constructors reject other
values (``voicecore.ring.next_power_of_two`` rounds up explicitly).
"""
cimport cython
from libc.stdint cimport int16_t, int64_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy, memset
from cpython.buffer cimport (
    PyObject_GetBuffer, PyBuffer_Release, PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBUF_WRITABLE,
)
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_GET_SIZE
from cpython.bytearray cimport PyByteArray_CheckExact, PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.tuple cimport PyTuple_GET_ITEM
from cpython.ref cimport PyObject
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

from voicecore._native._buffers cimport Buf, get_input, release, KIND_BYTES, KIND_S16


cdef extern from "vc_wakeup.h" nogil:
    int vc_wakeup_open(int fds[2])
    int vc_wakeup_signal(int wfd)
    long vc_wakeup_drain(int rfd)
    void vc_wakeup_close(int fds[2])

cdef extern from "<pthread.h>" nogil:
    ctypedef struct pthread_t:
        pass
    ctypedef void* (*pthread_start_fn)(void*) noexcept nogil
    int pthread_create(pthread_t* thread, const void* attr, pthread_start_fn start, void* arg)
    int pthread_join(pthread_t thread, void** retval)

cdef extern from "<sched.h>" nogil:
    int sched_yield()


#: Largest capacity accepted (samples or frame slots): 2**30.
MAX_CAPACITY = 1 << 30
#: Python-level copies at least this long release the GIL (a shorter memcpy
#: costs less than releasing and re-taking it).
GIL_THRESHOLD = 16384
cdef uint64_t _GIL_THRESHOLD = 16384

#: FrameQueue flag bits a backend may use (free for other meanings above bit 7).
FLAG_END = 1          # last frame of a response/utterance (playback_ended)
FLAG_SILENCE = 2      # the frame is silence filled in by the sender
FLAG_DISCONTINUITY = 4  # the frame does not follow the previous one in time


# Counts returned per frame (160, 320, 960 samples...) are above CPython's
# small-int cache (-5..256), so each return would allocate and free an int:
# about 20 ns, as much as the copy itself. The hot methods hand out these
# preallocated ints instead (read-only after import, so safe from any thread).
cdef enum:
    _N_COUNTS = 2048
cdef tuple _COUNTS = tuple(range(_N_COUNTS + 1))     # owns them
# Borrowed pointers into _COUNTS, so a return touches only the int's refcount
# (going through the tuple would incref/decref the tuple too: a 32-bit store
# then a 64-bit load of the same word, a store-forwarding stall on 3.12).
cdef PyObject* _COUNT_OBJ[_N_COUNTS + 1]

cdef void _init_counts():
    cdef Py_ssize_t i
    for i in range(_N_COUNTS + 1):
        _COUNT_OBJ[i] = PyTuple_GET_ITEM(_COUNTS, i)
_init_counts()

cdef inline object _count(uint64_t k):
    if k <= _N_COUNTS:
        return <object>_COUNT_OBJ[k]
    return k


cdef inline uint64_t _min_u64(uint64_t a, uint64_t b) noexcept nogil:
    return a if a < b else b

cdef inline int64_t _min_i64(int64_t a, int64_t b) noexcept nogil:
    return a if a < b else b

cdef inline int64_t _max_i64(int64_t a, int64_t b) noexcept nogil:
    return a if a > b else b

cdef inline int64_t _diff(uint64_t a, uint64_t b) noexcept nogil:
    """a - b for wrapping 64-bit positions (valid while |a - b| < 2**63)."""
    return <int64_t>(a - b)


# Wrapping copies between a linear buffer and ring slots [pos, pos + n), n <= capacity.
cdef inline void _copy_in(int16_t* ring, uint64_t mask, uint64_t pos,
                          const int16_t* src, uint64_t n) noexcept nogil:
    cdef uint64_t idx = pos & mask
    cdef uint64_t first = _min_u64(n, mask + 1 - idx)
    memcpy(ring + idx, src, first * sizeof(int16_t))
    if n > first:
        memcpy(ring, src + first, (n - first) * sizeof(int16_t))

cdef inline void _copy_out(const int16_t* ring, uint64_t mask, uint64_t pos,
                           int16_t* dst, uint64_t n) noexcept nogil:
    cdef uint64_t idx = pos & mask
    cdef uint64_t first = _min_u64(n, mask + 1 - idx)
    memcpy(dst, ring + idx, first * sizeof(int16_t))
    if n > first:
        memcpy(dst + first, ring, (n - first) * sizeof(int16_t))

cdef inline void _zero_ring(int16_t* ring, uint64_t mask, uint64_t pos, uint64_t n) noexcept nogil:
    cdef uint64_t idx = pos & mask
    cdef uint64_t first = _min_u64(n, mask + 1 - idx)
    memset(ring + idx, 0, first * sizeof(int16_t))
    if n > first:
        memset(ring, 0, (n - first) * sizeof(int16_t))


# ======================================================================
# Sample ring: cdef API
# ======================================================================
cdef vc_sring* sring_new(uint64_t capacity, uint64_t start_position) noexcept nogil:
    cdef vc_sring* r = <vc_sring*>calloc(1, sizeof(vc_sring))
    if r == NULL:
        return NULL
    r.data = <int16_t*>calloc(capacity, sizeof(int16_t))
    if r.data == NULL:
        free(r)
        return NULL
    r.capacity = capacity
    r.mask = capacity - 1
    vc_init(&r.write_pos, start_position)
    vc_init(&r.flush_to, start_position)
    vc_init(&r.read_pos, start_position)
    return r

cdef void sring_free(vc_sring* r) noexcept nogil:
    if r != NULL:
        free(r.data)
        free(r)

cdef uint64_t sring_writable(vc_sring* r) noexcept nogil:
    # Acquire pairs with the consumer's release of read_pos: the slots it frees
    # are no longer being read once we see the new value.
    return r.capacity - (vc_load_relaxed(&r.write_pos) - vc_load_acquire(&r.read_pos))

cdef uint64_t sring_write(vc_sring* r, const int16_t* src, uint64_t n) noexcept nogil:
    return _sring_write(r, src, n)

# The bodies are inline so the Python methods' per-frame path has no call
# into them (the exported cdef API above wraps the same code).
cdef inline uint64_t _sring_write(vc_sring* r, const int16_t* src, uint64_t n) noexcept nogil:
    cdef uint64_t w = vc_load_relaxed(&r.write_pos)      # we are its only writer
    cdef uint64_t free_ = r.capacity - (w - vc_load_acquire(&r.read_pos))
    cdef uint64_t k
    if free_ > r.capacity:
        free_ = 0        # impossible with one producer; stay in bounds if misused
    k = _min_u64(n, free_)
    if k:
        _copy_in(r.data, r.mask, w, src, k)
        vc_store_release(&r.write_pos, w + k)            # publish the samples
        vc_stat_add(&r.written_samples, k)
    if n > k:
        vc_stat_add(&r.overflow_samples, n - k)
    return k

cdef void sring_request_flush(vc_sring* r) noexcept nogil:
    # Everything before the current write position is to be discarded. The
    # consumer applies it (it alone moves read_pos), so no CAS is needed.
    vc_store_release(&r.flush_to, vc_load_relaxed(&r.write_pos))

cdef inline uint64_t _sring_consumer_pos(vc_sring* r) noexcept nogil:
    cdef uint64_t rd = vc_load_relaxed(&r.read_pos)
    cdef uint64_t f = vc_load_acquire(&r.flush_to)       # f <= write_pos seen afterwards
    if _diff(f, rd) > 0:
        vc_stat_add(&r.flushed_samples, f - rd)
        vc_store_release(&r.read_pos, f)
        return f
    return rd

cdef uint64_t sring_readable(vc_sring* r) noexcept nogil:
    cdef uint64_t rd = _sring_consumer_pos(r)
    return vc_load_acquire(&r.write_pos) - rd

cdef uint64_t sring_read(vc_sring* r, int16_t* dst, uint64_t n) noexcept nogil:
    return _sring_read(r, dst, n)

cdef inline uint64_t _sring_read(vc_sring* r, int16_t* dst, uint64_t n) noexcept nogil:
    cdef uint64_t rd = _sring_consumer_pos(r)
    cdef uint64_t avail = vc_load_acquire(&r.write_pos) - rd   # acquire: samples visible
    cdef uint64_t k
    if avail > r.capacity:
        avail = 0        # impossible with one consumer; stay in bounds if misused
    k = _min_u64(n, avail)
    if k:
        _copy_out(r.data, r.mask, rd, dst, k)
        vc_store_release(&r.read_pos, rd + k)            # our loads finish before the slots are reused
        vc_stat_add(&r.read_samples, k)
    return k

cdef uint64_t sring_read_full(vc_sring* r, int16_t* dst, uint64_t n) noexcept nogil:
    """Read n samples, zero-filling (and counting as underrun) what is missing."""
    cdef uint64_t k = sring_read(r, dst, n)
    if k < n:
        memset(dst + k, 0, (n - k) * sizeof(int16_t))
        vc_stat_add(&r.underrun_samples, n - k)
    return k


# ======================================================================
# AEC reference ring: cdef API
# ======================================================================
cdef inline int64_t _ns_to_samples(int64_t dt, uint32_t rate) noexcept nogil:
    """floor(dt * rate / 1e9) without 64-bit overflow for any dt."""
    cdef int64_t q = dt // 1000000000     # C division (cdivision): truncates
    cdef int64_t rem = dt % 1000000000
    if rem < 0:
        rem += 1000000000
        q -= 1
    return q * <int64_t>rate + (rem * <int64_t>rate) // 1000000000

cdef vc_aec* aec_new(uint64_t capacity, uint32_t rate, int64_t epoch_ns, uint64_t origin,
                     int64_t tolerance, int64_t echo_delay_ns) noexcept nogil:
    cdef vc_aec* a = <vc_aec*>calloc(1, sizeof(vc_aec))
    if a == NULL:
        return NULL
    a.data = <int16_t*>calloc(capacity, sizeof(int16_t))
    a.runs_capacity = 64
    a.runs = <vc_aec_run*>calloc(a.runs_capacity, sizeof(vc_aec_run))
    if a.data == NULL or a.runs == NULL:
        aec_free(a)
        return NULL
    a.capacity = capacity
    a.mask = capacity - 1
    a.runs_mask = a.runs_capacity - 1
    a.rate = rate
    a.epoch_ns = epoch_ns
    a.origin = origin
    a.tolerance = tolerance
    vc_init(&a.head, origin)
    vc_init(&a.claim, origin)
    vc_init(&a.consumed, origin)
    vc_init(&a.echo_delay_ns, <uint64_t>echo_delay_ns)
    a.c_next = origin
    a.c_started = False
    return a

cdef void aec_free(vc_aec* a) noexcept nogil:
    if a != NULL:
        free(a.data)
        free(a.runs)
        free(a)

cdef uint64_t aec_position_at(vc_aec* a, int64_t t_ns) noexcept nogil:
    return a.origin + <uint64_t>_ns_to_samples(t_ns - a.epoch_ns, a.rate)

cdef inline void _aec_publish_run(vc_aec* a, uint64_t gap_start, uint64_t start,
                                  int64_t send_ns, uint32_t rtp) noexcept nogil:
    cdef uint64_t k = vc_load_relaxed(&a.runs_head)
    cdef vc_aec_run* e = &a.runs[k & a.runs_mask]
    vc_store_relaxed(&a.runs_claim, k + 1)
    vc_fence_release()          # readers that see the entry's new bytes also see the claim
    e.gap_start = gap_start
    e.start = start
    e.send_ns = send_ns
    e.rtp = rtp
    vc_store_release(&a.runs_head, k + 1)

cdef uint64_t aec_write(vc_aec* a, const int16_t* src, uint64_t n, int64_t send_ns,
                        uint32_t rtp) noexcept nogil:
    cdef uint64_t h = vc_load_relaxed(&a.head)           # producer owns head
    cdef uint64_t t = aec_position_at(a, send_ns)
    cdef int64_t d = _diff(t, h)
    cdef uint64_t pos = h
    cdef bint first = vc_load_relaxed(&a.runs_head) == 0
    cdef uint64_t end, lo, zstart, c, old_lo
    cdef int64_t lost
    if n == 0:
        return h
    if d > a.tolerance:
        # Sent later than the previous block's end: nothing was played in
        # between. Open a gap (it reads as zeros) and start a new run.
        pos = t
        if not first:
            vc_stat_add(&a.gaps, 1)
        _aec_publish_run(a, h, t, send_ns, rtp)
    else:
        if d < -a.tolerance:
            vc_stat_add(&a.early_writes, 1)   # ahead of real time: plays back to back
        if first or rtp != a.p_next_rtp:
            if not first:
                vc_stat_add(&a.rtp_discontinuities, 1)
            _aec_publish_run(a, h, h, send_ns, rtp)
    end = pos + n
    # Overflow accounting: positions [h - cap, end - cap) drop out of the ring;
    # those at or past the consumer's cursor were never read.
    c = vc_load_acquire(&a.consumed)
    old_lo = h - a.capacity
    lo = end - a.capacity
    # (positions in [h, lo) are a new gap's silence, never held)
    lost = _diff(lo if _diff(lo, h) < 0 else h, old_lo if _diff(old_lo, c) > 0 else c)
    if lost > 0:
        vc_stat_add(&a.overflow_samples, <uint64_t>lost)
    # Seqlock: announce the overwrite before touching any slot.
    vc_store_relaxed(&a.claim, end)
    vc_fence_release()
    if pos != h:
        zstart = h if _diff(h, lo) > 0 else lo
        if _diff(pos, zstart) > 0:
            _zero_ring(a.data, a.mask, zstart, <uint64_t>_diff(pos, zstart))
    if n > a.capacity:
        _copy_in(a.data, a.mask, end - a.capacity, src + (n - a.capacity), a.capacity)
    else:
        _copy_in(a.data, a.mask, pos, src, n)
    vc_store_release(&a.head, end)                       # publish
    a.p_next_rtp = rtp + <uint32_t>n
    vc_stat_add(&a.written_samples, n)
    vc_stat_add(&a.written_frames, 1)
    vc_store_relaxed(&a.last_send_ns, <uint64_t>send_ns)
    vc_store_relaxed(&a.last_rtp, rtp)
    return pos


cdef int64_t _aec_played(vc_aec* a, uint64_t lo, uint64_t hi, uint64_t h) noexcept nogil:
    """How many positions in [lo, hi) (all < h) were really played, from the
    runs ring (consumer side). Positions older than the oldest run still held
    count as played if older runs were evicted (unknown), else as silence."""
    cdef int64_t span = _diff(hi, lo)
    cdef uint64_t rh, rc, cnt, base, skip, k, run_end
    cdef int64_t played = 0, s, e
    cdef vc_aec_run[64] copy
    if span <= 0:
        return 0
    rh = vc_load_acquire(&a.runs_head)
    cnt = _min_u64(rh, a.runs_capacity)
    base = rh - cnt
    for k in range(cnt):
        copy[k] = a.runs[(base + k) & a.runs_mask]
    vc_fence_acquire()
    rc = vc_load_relaxed(&a.runs_claim)
    # entry j is intact iff the producer has not claimed j + runs_capacity
    skip = 0
    if rc > a.runs_capacity and rc - a.runs_capacity > base:
        skip = _min_u64(rc - a.runs_capacity - base, cnt)
    if skip == cnt:
        return span if rh > 0 else 0
    k = cnt
    while k > skip:
        k -= 1
        run_end = h if k == cnt - 1 else copy[k + 1].gap_start
        s = _max_i64(_diff(copy[k].start, lo), 0)
        e = _min_i64(_diff(run_end, lo), span)
        if e > s:
            played += e - s
        if _diff(copy[k].gap_start, lo) <= 0:
            return played
    if base + skip > 0:
        # older runs were evicted: [lo, oldest gap_start) is unknown, call it played
        e = _min_i64(_diff(copy[skip].gap_start, lo), span)
        if e > 0:
            played += e
    return played if played < span else span


cdef uint64_t aec_read_at(vc_aec* a, int16_t* dst, uint64_t n, uint64_t p) noexcept nogil:
    cdef uint64_t h = vc_load_acquire(&a.head)           # samples < h are visible
    cdef int64_t lo = _max_i64(_diff(h - a.capacity, p), 0)   # older ones are gone
    cdef int64_t hi = _min_i64(_diff(h, p), <int64_t>n)       # newer ones not written
    cdef int64_t late = _min_i64(lo, <int64_t>n)
    cdef int64_t torn_hi, played = 0
    cdef uint64_t c2
    if hi > lo:
        _copy_out(a.data, a.mask, p + <uint64_t>lo, dst + lo, <uint64_t>(hi - lo))
        # Seqlock validation: anything the producer claimed meanwhile is suspect.
        vc_fence_acquire()
        c2 = vc_load_relaxed(&a.claim)
        torn_hi = _min_i64(_diff(c2 - a.capacity, p), hi)
        if torn_hi > lo:
            late += torn_hi - lo
            lo = torn_hi
    if lo > 0:
        memset(dst, 0, <size_t>_min_i64(lo, <int64_t>n) * sizeof(int16_t))
    if hi < <int64_t>n:
        memset(dst + _max_i64(hi, lo), 0, <size_t>(<int64_t>n - _max_i64(hi, lo)) * sizeof(int16_t))
        vc_stat_add(&a.underrun_reads, 1)
        vc_stat_add(&a.underrun_samples, <uint64_t>(<int64_t>n - _max_i64(hi, 0)))
    if hi > lo:
        played = _aec_played(a, p + <uint64_t>lo, p + <uint64_t>hi, h)
        vc_stat_add(&a.silence_samples, <uint64_t>((hi - lo) - played))
    if hi < <int64_t>n:
        vc_stat_add(&a.silence_samples, <uint64_t>(<int64_t>n - _max_i64(hi, lo)))
    if late > 0:
        vc_stat_add(&a.late_samples, <uint64_t>late)
    vc_stat_add(&a.read_frames, 1)
    vc_stat_add(&a.read_samples, n)
    a.c_next = p + n
    a.c_started = True
    vc_store_release(&a.consumed, p + n)
    return p

cdef uint64_t aec_read_aligned(vc_aec* a, int16_t* dst, uint64_t n, int64_t capture_ns) noexcept nogil:
    cdef int64_t delay = <int64_t>vc_load_relaxed(&a.echo_delay_ns)
    cdef uint64_t t = aec_position_at(a, capture_ns - delay)
    cdef int64_t d = _diff(t, a.c_next)
    cdef uint64_t p = t
    if a.c_started:
        if -a.tolerance <= d <= a.tolerance:
            p = a.c_next                                  # contiguous with the last read
        else:
            vc_stat_add(&a.realigns, 1)
    return aec_read_at(a, dst, n, p)


cdef bint _aec_rtp_at(vc_aec* a, uint64_t pos, uint32_t* rtp) noexcept nogil:
    """RTP timestamp of the played sample at ``pos`` (consumer side)."""
    cdef uint64_t h = vc_load_acquire(&a.head)
    cdef uint64_t rh = vc_load_acquire(&a.runs_head)
    cdef uint64_t n = _min_u64(rh, a.runs_capacity)
    cdef uint64_t k, rc
    cdef uint64_t run_end = h
    cdef vc_aec_run run
    if _diff(pos, h) >= 0 or _diff(pos, h - a.capacity) < 0:
        return False
    k = 0
    while k < n:
        run = a.runs[(rh - 1 - k) & a.runs_mask]
        vc_fence_acquire()
        rc = vc_load_relaxed(&a.runs_claim)
        if rc - (rh - 1 - k) > a.runs_capacity:
            return False                                  # overwritten while read
        if _diff(pos, run.start) >= 0:
            if _diff(pos, run_end) < 0:
                rtp[0] = run.rtp + <uint32_t>(pos - run.start)
                return True
            return False
        run_end = run.gap_start
        k += 1
    return False


# ======================================================================
# Frame queue: cdef API
# ======================================================================
cdef vc_fqueue* fq_new(uint64_t slots, uint64_t frame_samples, bint wakeup) noexcept nogil:
    cdef vc_fqueue* q = <vc_fqueue*>calloc(1, sizeof(vc_fqueue))
    if q == NULL:
        return NULL
    q.fds[0] = -1
    q.fds[1] = -1
    q.frames = <int16_t*>calloc(slots * frame_samples, sizeof(int16_t))
    q.meta = <vc_frame_meta*>calloc(slots, sizeof(vc_frame_meta))
    if q.frames == NULL or q.meta == NULL:
        fq_free(q)
        return NULL
    q.slots = slots
    q.mask = slots - 1
    q.frame_samples = frame_samples
    vc_init(&q.armed, 1)          # the consumer starts out waiting
    if wakeup and vc_wakeup_open(q.fds) != 0:
        q.fds[0] = -1
        q.fds[1] = -1
        fq_free(q)
        return NULL
    return q

cdef void fq_free(vc_fqueue* q) noexcept nogil:
    if q != NULL:
        vc_wakeup_close(q.fds)
        free(q.frames)
        free(q.meta)
        free(q)

cdef int fq_push(vc_fqueue* q, const int16_t* src, uint32_t session, uint64_t timestamp,
                 uint32_t flags) noexcept nogil:
    cdef uint64_t w = vc_load_relaxed(&q.write_idx)      # we are its only writer
    cdef uint64_t r = vc_load_acquire(&q.read_idx)
    cdef int dropped = 0
    cdef vc_frame_meta* m
    while w - r >= q.slots:
        # Full: drop the oldest frame by moving the read index past it. If the
        # consumer took it first the CAS fails, r is refreshed and there is room.
        if vc_cas_acq_rel(&q.read_idx, &r, r + 1):
            dropped = 1
            vc_stat_add(&q.dropped, 1)
            break
    # Slot w & mask held frame w - slots, which is consumed or dropped: a
    # consumer still copying it will fail its CAS and discard the copy.
    memcpy(q.frames + (w & q.mask) * q.frame_samples, src, q.frame_samples * sizeof(int16_t))
    m = &q.meta[w & q.mask]
    m.timestamp = timestamp
    m.session = session
    m.flags = flags
    # seq_cst store then seq_cst load of `armed` (Dekker with fq_pop's arming):
    # either we see the consumer armed, or it sees this frame.
    vc_store_seq_cst(&q.write_idx, w + 1)
    vc_stat_add(&q.pushed, 1)
    if vc_load_seq_cst(&q.armed) and vc_exchange_seq_cst(&q.armed, 0):
        if q.fds[1] >= 0:
            if vc_wakeup_signal(q.fds[1]) != 0:
                vc_stat_add(&q.wakeup_errors, 1)
            vc_stat_add(&q.wakeups, 1)
    return dropped

cdef int fq_pop(vc_fqueue* q, int16_t* dst, vc_frame_meta* meta) noexcept nogil:
    cdef uint64_t r, w
    cdef bint armed = False
    while True:
        r = vc_load_acquire(&q.read_idx)
        w = vc_load_seq_cst(&q.write_idx)
        if w == r:
            if armed:
                return 0
            # Empty: ask for a wake-up, then look again (the producer may have
            # pushed between our load and the arming, without seeing it).
            vc_store_seq_cst(&q.armed, 1)
            armed = True
            continue
        memcpy(dst, q.frames + (r & q.mask) * q.frame_samples, q.frame_samples * sizeof(int16_t))
        meta[0] = q.meta[r & q.mask]
        # Claim the frame. Failure means the producer dropped it (and may have
        # overwritten the slot during our copy): discard and take the next.
        if vc_cas_acq_rel(&q.read_idx, &r, r + 1):
            vc_stat_add(&q.popped, 1)
            return 1
        vc_stat_add(&q.lost_races, 1)

cdef uint64_t fq_len(vc_fqueue* q) noexcept nogil:
    cdef uint64_t r = vc_load_acquire(&q.read_idx)
    cdef uint64_t w = vc_load_acquire(&q.write_idx)
    return w - r if _diff(w, r) > 0 else 0


# ======================================================================
# Python API
# ======================================================================
cdef uint64_t _check_capacity(object capacity, str what, str unit) except 0:
    if isinstance(capacity, bool) or not isinstance(capacity, int):
        raise TypeError(f"{what}: {unit} must be an int, got {type(capacity).__name__}")
    if capacity <= 0 or capacity > MAX_CAPACITY or (capacity & (capacity - 1)):
        raise ValueError(
            f"{what}: {unit} must be a power of two between 1 and {MAX_CAPACITY}, got {capacity} "
            "(voicecore.ring.next_power_of_two rounds up)")
    return <uint64_t>capacity


cdef inline uint64_t _check_position(object pos, str what) except? 0:
    if isinstance(pos, bool) or not isinstance(pos, int):
        raise TypeError(f"{what}: position must be an int, got {type(pos).__name__}")
    if pos < 0 or pos >= (1 << 64):
        raise ValueError(f"{what}: position must be in [0, 2**64), got {pos}")
    return <uint64_t>pos


cdef int _get_s16_in(object obj, Buf* b, const char* what) except -1:
    get_input(obj, b, KIND_BYTES | KIND_S16, what)
    if b.len & 1:
        n = b.len
        release(b)
        raise ValueError(f"{(<bytes>what).decode()}: s16 PCM must have an even byte count, got {n} bytes")
    return 0


cdef int _get_s16_out(object obj, Py_buffer* view, const char* what) except -1:
    """Writable C-contiguous int16 (or bytes-like with an even length) buffer."""
    PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE | PyBUF_FORMAT)
    cdef const char* fmt = view.format
    cdef bint ok
    if fmt != NULL and (fmt[0] == b'<' or fmt[0] == b'=' or fmt[0] == b'@'):
        fmt += 1
    if view.itemsize == 1:
        ok = fmt == NULL or ((fmt[0] == b'B' or fmt[0] == b'b' or fmt[0] == b'c') and fmt[1] == 0)
    elif view.itemsize == 2:
        ok = fmt != NULL and fmt[0] == b'h' and fmt[1] == 0
    else:
        ok = False
    if not ok or (view.len & 1):
        f = (<bytes>view.format).decode('ascii', 'replace') if view.format != NULL else 'B'
        n = view.len
        isz = view.itemsize
        PyBuffer_Release(view)
        if ok:
            raise ValueError(f"{(<bytes>what).decode()}: out= must hold whole int16 samples, got {n} bytes")
        raise TypeError(f"{(<bytes>what).decode()}: out= must be a writable int16 buffer "
                        f"(or bytearray), got format {f!r} (itemsize {isz})")
    return 0


cdef extern from *:
    """
    #ifdef Py_GIL_DISABLED
    #define VC_GIL_DISABLED 1
    #else
    #define VC_GIL_DISABLED 0
    #endif
    """
    int VC_GIL_DISABLED


cdef inline int16_t* _bytearray_out(object out, Py_ssize_t* nbytes) noexcept:
    """Fast path for an exact bytearray ``out`` (no buffer export): only for
    copies done while holding the GIL, which keeps it from being resized.
    On free-threaded builds nothing stops another thread from resizing it, so
    the fast path is off there and the buffer is exported (pinned) instead.
    NULL for anything else (then use ``_get_s16_out``)."""
    if not VC_GIL_DISABLED and PyByteArray_CheckExact(out):
        nbytes[0] = PyByteArray_GET_SIZE(out)
        if not (nbytes[0] & 1) and (nbytes[0] >> 1) < <Py_ssize_t>_GIL_THRESHOLD:
            return <int16_t*>PyByteArray_AS_STRING(out)
    return NULL


@cython.final
cdef class SampleRing:
    """Lock-free SPSC ring of int16 samples (s16 mono) with absolute positions.

    ``capacity``: samples, a power of two (ValueError otherwise).
    ``start_position``: absolute position of the first sample (0..2**64-1;
    positions wrap modulo 2**64).

    One producer thread calls ``write`` / ``writable`` / ``request_flush``;
    one consumer thread calls ``read_into`` / ``read`` / ``readable``. Writes
    never overwrite unread samples: what does not fit is dropped and counted
    in ``overflow_samples``.
    """
    cdef vc_sring* _r

    def __cinit__(self, capacity, *, start_position=0):
        cdef uint64_t cap = _check_capacity(capacity, "SampleRing", "capacity")
        cdef uint64_t start = _check_position(start_position, "SampleRing")
        self._r = sring_new(cap, start)
        if self._r == NULL:
            raise MemoryError(f"SampleRing: cannot allocate {cap} samples")

    def __dealloc__(self):
        sring_free(self._r)
        self._r = NULL

    @property
    def capacity(self) -> int:
        """Capacity in samples."""
        return self._r.capacity

    @property
    def write_position(self) -> int:
        """Absolute position one past the newest written sample."""
        return vc_load_acquire(&self._r.write_pos)

    @property
    def read_position(self) -> int:
        """Absolute position of the next sample the consumer will read."""
        return vc_load_acquire(&self._r.read_pos)

    def writable(self) -> int:
        """Samples the producer can write now without dropping any."""
        return sring_writable(self._r)

    def readable(self) -> int:
        """Samples the consumer can read now (applies a pending flush, so it
        moves the read position: consumer side only)."""
        return sring_readable(self._r)

    def __len__(self) -> int:
        """Same as ``readable()``: consumer side only."""
        return sring_readable(self._r)

    @cython.binding(False)                      # plain method descriptor: ~7 ns less per call
    @cython.embedsignature.format("clinic")     # keeps inspect.signature() working
    @cython.always_allow_keywords(False)
    def write(self, pcm) -> int:
        """Copy s16 samples (bytes-like or int16 array) into the ring.

        Returns how many samples were written; the rest (ring full) is dropped
        and counted in ``overflow_samples``. Producer side.
        """
        cdef Buf b
        cdef uint64_t k
        cdef Py_ssize_t nb
        if PyBytes_CheckExact(pcm):
            # Fast path (exact bytes: immutable, no buffer export to release).
            nb = PyBytes_GET_SIZE(pcm)
            if not (nb & 1) and <uint64_t>(nb >> 1) < _GIL_THRESHOLD:
                return _count(_sring_write(self._r, <const int16_t*>PyBytes_AS_STRING(pcm),
                                           <uint64_t>(nb >> 1)))
        _get_s16_in(pcm, &b, b"SampleRing.write")
        if <uint64_t>(b.len >> 1) >= _GIL_THRESHOLD:
            with nogil:
                k = _sring_write(self._r, <const int16_t*>b.buf, <uint64_t>(b.len >> 1))
        else:
            k = _sring_write(self._r, <const int16_t*>b.buf, <uint64_t>(b.len >> 1))
        release(&b)
        return _count(k)

    def request_flush(self) -> None:
        """Ask the consumer to discard every sample written so far (barge-in).
        Producer side; applied by the consumer's next call, counted in
        ``flushed_samples``."""
        sring_request_flush(self._r)

    @cython.binding(False)                      # plain method descriptor: ~7 ns less per call
    @cython.embedsignature.format("clinic")     # keeps inspect.signature() working
    def read_into(self, out, *, fill=False) -> int:
        """Copy up to ``len(out)`` samples into ``out`` (writable int16 array or
        bytearray). Returns the number of samples copied. With ``fill=True``
        the rest of ``out`` is zeroed and counted in ``underrun_samples``.
        Consumer side."""
        cdef Py_buffer v
        cdef uint64_t k, n
        cdef bint zero_fill = fill
        cdef Py_ssize_t nb
        cdef int16_t* fast = _bytearray_out(out, &nb)
        if fast != NULL:
            if zero_fill:
                return _count(sring_read_full(self._r, fast, <uint64_t>(nb >> 1)))
            return _count(_sring_read(self._r, fast, <uint64_t>(nb >> 1)))
        _get_s16_out(out, &v, b"SampleRing.read_into")
        n = <uint64_t>(v.len >> 1)
        if n >= _GIL_THRESHOLD:
            with nogil:
                if zero_fill:
                    k = sring_read_full(self._r, <int16_t*>v.buf, n)
                else:
                    k = sring_read(self._r, <int16_t*>v.buf, n)
        elif zero_fill:
            k = sring_read_full(self._r, <int16_t*>v.buf, n)
        else:
            k = sring_read(self._r, <int16_t*>v.buf, n)
        PyBuffer_Release(&v)
        return _count(k)

    def read(self, n: int) -> bytes:
        """Return up to ``n`` samples as s16le bytes (fewer if fewer are
        readable). Consumer side."""
        if n < 0:
            raise ValueError(f"SampleRing.read: n must be >= 0, got {n}")
        cdef uint64_t want = _min_u64(<uint64_t>n, sring_readable(self._r))
        cdef object out = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>(want * 2))
        cdef uint64_t k = sring_read(self._r, <int16_t*>PyBytes_AS_STRING(out), want)
        return out if k == want else out[:k * 2]

    @property
    def written_samples(self) -> int:
        return vc_load_relaxed(&self._r.written_samples)

    @property
    def overflow_samples(self) -> int:
        """Samples dropped by ``write`` because the ring was full."""
        return vc_load_relaxed(&self._r.overflow_samples)

    @property
    def read_samples(self) -> int:
        return vc_load_relaxed(&self._r.read_samples)

    @property
    def flushed_samples(self) -> int:
        """Samples discarded by ``request_flush``."""
        return vc_load_relaxed(&self._r.flushed_samples)

    @property
    def underrun_samples(self) -> int:
        """Zeros handed out by ``read_into(fill=True)`` for missing samples."""
        return vc_load_relaxed(&self._r.underrun_samples)

    def stats(self) -> dict:
        """All counters (64-bit, monotonic) as a dict."""
        return {
            "written_samples": self.written_samples,
            "overflow_samples": self.overflow_samples,
            "read_samples": self.read_samples,
            "flushed_samples": self.flushed_samples,
            "underrun_samples": self.underrun_samples,
        }


@cython.final
cdef class AECReferenceRing:
    """Echo-cancellation reference: what was really sent, on the capture timeline.

    ``capacity``: samples held (power of two); it must cover the echo delay
    plus the consumer's lag. ``sample_rate``: Hz of the reference (the same as
    the capture it is subtracted from). ``echo_delay_ms``: how long after it is
    sent a sample shows up in the capture. ``tolerance_ms``: send/capture time
    jitter absorbed without breaking continuity (a send later than the
    previous block's end by more than this opens a silent gap).
    ``epoch_ns``: monotonic ns mapped to ``start_position`` (default: now).

    Producer (sending side): ``write(pcm, send_time_ns, rtp_timestamp)``.
    Consumer (capture side): ``read_aligned(capture_time_ns, out)`` fills all of
    ``out`` with the reference for ``capture_time_ns - echo_delay``, zeros where
    nothing was played.
    """
    cdef vc_aec* _a

    def __cinit__(self, capacity, sample_rate, *, echo_delay_ms=0.0, tolerance_ms=5.0,
                  epoch_ns=None, start_position=0):
        cdef uint64_t cap = _check_capacity(capacity, "AECReferenceRing", "capacity")
        cdef uint64_t origin = _check_position(start_position, "AECReferenceRing")
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int):
            raise TypeError(f"AECReferenceRing: sample_rate must be an int (Hz), got {sample_rate!r}")
        if not 1000 <= sample_rate <= 384000:
            raise ValueError(f"AECReferenceRing: sample_rate must be 1000..384000 Hz, got {sample_rate}")
        if not (0.0 <= echo_delay_ms <= 10_000.0):
            raise ValueError(f"AECReferenceRing: echo_delay_ms must be 0..10000 ms, got {echo_delay_ms}")
        if not (0.0 <= tolerance_ms <= 1_000.0):
            raise ValueError(f"AECReferenceRing: tolerance_ms must be 0..1000 ms, got {tolerance_ms}")
        if epoch_ns is None:
            import time
            epoch_ns = time.monotonic_ns()
        cdef int64_t tol = <int64_t>(tolerance_ms * sample_rate / 1000.0)
        self._a = aec_new(cap, <uint32_t>sample_rate, <int64_t>epoch_ns, origin, tol,
                          <int64_t>(echo_delay_ms * 1_000_000.0))
        if self._a == NULL:
            raise MemoryError(f"AECReferenceRing: cannot allocate {cap} samples")

    def __dealloc__(self):
        aec_free(self._a)
        self._a = NULL

    @property
    def capacity(self) -> int:
        """Samples held."""
        return self._a.capacity

    @property
    def sample_rate(self) -> int:
        """Hz."""
        return self._a.rate

    @property
    def epoch_ns(self) -> int:
        """Monotonic ns that maps to ``start_position``."""
        return self._a.epoch_ns

    @property
    def start_position(self) -> int:
        return self._a.origin

    @property
    def tolerance_samples(self) -> int:
        return self._a.tolerance

    @property
    def echo_delay_ms(self) -> float:
        """Echo delay in ms (capture time minus send time of the same sound).
        Settable from any thread; takes effect on the next read."""
        return (<int64_t>vc_load_relaxed(&self._a.echo_delay_ns)) / 1e6

    @echo_delay_ms.setter
    def echo_delay_ms(self, value: float) -> None:
        if not (0.0 <= value <= 10_000.0):
            raise ValueError(f"AECReferenceRing: echo_delay_ms must be 0..10000 ms, got {value}")
        vc_store_relaxed(&self._a.echo_delay_ns, <uint64_t>(<int64_t>(value * 1_000_000.0)))

    @property
    def head(self) -> int:
        """Absolute position one past the newest written sample."""
        return vc_load_acquire(&self._a.head)

    @property
    def consumed(self) -> int:
        """Absolute position one past the end of the consumer's last read."""
        return vc_load_acquire(&self._a.consumed)

    def position_at(self, time_ns: int) -> int:
        """Timeline position (absolute sample index, mod 2**64) of monotonic time ``time_ns``."""
        return aec_position_at(self._a, <int64_t>time_ns)

    @cython.binding(False)                      # plain method descriptor: ~7 ns less per call
    @cython.embedsignature.format("clinic")     # keeps inspect.signature() working
    def write(self, pcm, int64_t send_time_ns, int64_t rtp_timestamp=0) -> int:
        """Record samples as sent: s16 bytes-like or int16 array, the send
        time of the first sample (monotonic ns) and its RTP timestamp
        (0..2**32-1). Returns the absolute position they were placed at.
        Producer side."""
        cdef Buf b
        cdef uint64_t pos
        if not 0 <= rtp_timestamp <= 0xFFFFFFFF:
            raise ValueError(f"AECReferenceRing.write: rtp_timestamp must be 0..2**32-1, got {rtp_timestamp}")
        _get_s16_in(pcm, &b, b"AECReferenceRing.write")
        pos = aec_write(self._a, <const int16_t*>b.buf, <uint64_t>(b.len >> 1), send_time_ns,
                        <uint32_t>rtp_timestamp)
        release(&b)
        return pos

    @cython.binding(False)                      # plain method descriptor: ~7 ns less per call
    @cython.embedsignature.format("clinic")     # keeps inspect.signature() working
    def read_aligned(self, int64_t capture_time_ns, out) -> int:
        """Fill all of ``out`` (writable int16 array or bytearray) with the
        reference for capture time ``capture_time_ns`` (monotonic ns of the
        first captured sample) minus the echo delay. Contiguous with the
        previous read when within the tolerance. Zeros where nothing was
        played (``silence_samples``) or the reference was already overwritten
        (``late_samples``). Returns the absolute position read. Consumer side."""
        cdef Py_buffer v
        cdef uint64_t pos
        cdef Py_ssize_t nb
        cdef int16_t* fast = _bytearray_out(out, &nb)
        if fast != NULL and <uint64_t>(nb >> 1) <= self._a.capacity:
            return aec_read_aligned(self._a, fast, <uint64_t>(nb >> 1), capture_time_ns)
        _get_s16_out(out, &v, b"AECReferenceRing.read_aligned")
        if <uint64_t>(v.len >> 1) > self._a.capacity:
            n = v.len >> 1
            PyBuffer_Release(&v)
            raise ValueError(f"AECReferenceRing.read_aligned: out= holds {n} samples, more than the capacity {self._a.capacity}")
        pos = aec_read_aligned(self._a, <int16_t*>v.buf, <uint64_t>(v.len >> 1), capture_time_ns)
        PyBuffer_Release(&v)
        return pos

    def read_at(self, position: int, out) -> int:
        """Fill ``out`` with the reference starting at absolute ``position``
        (no time mapping, no snapping). Consumer side."""
        cdef Py_buffer v
        cdef uint64_t p = _check_position(position, "AECReferenceRing.read_at")
        _get_s16_out(out, &v, b"AECReferenceRing.read_at")
        if <uint64_t>(v.len >> 1) > self._a.capacity:
            n = v.len >> 1
            PyBuffer_Release(&v)
            raise ValueError(f"AECReferenceRing.read_at: out= holds {n} samples, more than the capacity {self._a.capacity}")
        aec_read_at(self._a, <int16_t*>v.buf, <uint64_t>(v.len >> 1), p)
        PyBuffer_Release(&v)
        return p

    def rtp_timestamp_at(self, position: int):
        """RTP timestamp of the played sample at absolute ``position``, or None
        if nothing played there is still held. Consumer side."""
        cdef uint32_t rtp = 0
        if _aec_rtp_at(self._a, _check_position(position, "AECReferenceRing.rtp_timestamp_at"), &rtp):
            return rtp
        return None

    def stats(self) -> dict:
        """All counters (64-bit, monotonic) as a dict. Producer: written_*,
        overflow_samples (overwritten before being read), gaps, early_writes,
        rtp_discontinuities. Consumer: read_*, silence_samples (zeros where
        nothing was played, including underrun_samples past the newest write),
        underrun_reads, late_samples (zeros for overwritten reference), realigns."""
        a = self._a
        return {
            "written_samples": vc_load_relaxed(&a.written_samples),
            "written_frames": vc_load_relaxed(&a.written_frames),
            "overflow_samples": vc_load_relaxed(&a.overflow_samples),
            "gaps": vc_load_relaxed(&a.gaps),
            "early_writes": vc_load_relaxed(&a.early_writes),
            "rtp_discontinuities": vc_load_relaxed(&a.rtp_discontinuities),
            "read_frames": vc_load_relaxed(&a.read_frames),
            "read_samples": vc_load_relaxed(&a.read_samples),
            "silence_samples": vc_load_relaxed(&a.silence_samples),
            "underrun_samples": vc_load_relaxed(&a.underrun_samples),
            "underrun_reads": vc_load_relaxed(&a.underrun_reads),
            "late_samples": vc_load_relaxed(&a.late_samples),
            "realigns": vc_load_relaxed(&a.realigns),
        }


@cython.final
cdef class FrameQueue:
    """Bounded lock-free SPSC queue of fixed-size s16 frames with metadata.

    ``slots``: frames held (power of two). ``frame_samples``: samples per
    frame (e.g. 160 for 20 ms at 8 kHz). ``wakeup``: create the wake-up fd
    (``fileno()``) the consumer's event loop can ``add_reader`` on.

    A push into a full queue drops the oldest frame (``dropped``). The fd
    becomes readable when a frame arrives after the consumer found the queue
    empty (once per empty -> non-empty transition); the consumer calls
    ``clear_wakeup()`` and then pops until ``pop_into`` returns None.
    """
    cdef vc_fqueue* _q
    cdef bint _closed

    def __cinit__(self, slots, frame_samples, *, wakeup=True):
        cdef uint64_t n = _check_capacity(slots, "FrameQueue", "slots")
        if isinstance(frame_samples, bool) or not isinstance(frame_samples, int):
            raise TypeError(f"FrameQueue: frame_samples must be an int, got {type(frame_samples).__name__}")
        if not 1 <= frame_samples <= 1 << 20:
            raise ValueError(f"FrameQueue: frame_samples must be 1..{1 << 20}, got {frame_samples}")
        if n * <uint64_t>frame_samples > (1 << 30):
            raise ValueError(f"FrameQueue: slots * frame_samples must be <= 2**30, got {n * frame_samples}")
        self._q = fq_new(n, <uint64_t>frame_samples, bool(wakeup))
        if self._q == NULL:
            if wakeup:
                raise OSError(f"FrameQueue: cannot allocate {n} x {frame_samples} samples or open the wake-up fd")
            raise MemoryError(f"FrameQueue: cannot allocate {n} x {frame_samples} samples")
        self._closed = False

    def __dealloc__(self):
        fq_free(self._q)
        self._q = NULL

    @property
    def slots(self) -> int:
        return self._q.slots

    @property
    def frame_samples(self) -> int:
        """Samples per frame."""
        return self._q.frame_samples

    def __len__(self) -> int:
        return fq_len(self._q)

    def fileno(self) -> int:
        """Read end of the wake-up fd (eventfd on Linux, pipe elsewhere), for
        ``loop.add_reader``. ValueError without one or once closed."""
        if self._q.fds[0] < 0:
            raise ValueError("FrameQueue: no wake-up fd (created with wakeup=False, or closed)")
        return self._q.fds[0]

    def clear_wakeup(self) -> int:
        """Consume pending wake-ups (call before draining). Returns how many
        signals were pending (eventfd count; bytes for a pipe)."""
        if self._q.fds[0] < 0:
            return 0
        cdef long r = vc_wakeup_drain(self._q.fds[0])
        if r < 0:
            import os
            raise OSError(-r, f"FrameQueue.clear_wakeup: {os.strerror(-r)}")
        return r

    def close(self) -> None:
        """Close the wake-up fd (the queue itself stays usable). Idempotent.
        Remove the fd from the event loop first, and call it only once no
        producer can push any more: a push racing with close could signal a
        recycled fd number."""
        vc_wakeup_close(self._q.fds)

    @cython.binding(False)                      # plain method descriptor: ~7 ns less per call
    @cython.embedsignature.format("clinic")     # keeps inspect.signature() working
    def push(self, frame, uint32_t session_index=0, uint64_t timestamp=0, uint32_t flags=0) -> bool:
        """Copy one frame (exactly ``frame_samples`` s16 samples) in with its
        metadata: ``session_index`` 0..2**32-1, ``timestamp`` 0..2**64-1 (any
        unit: RTP timestamp, monotonic ns...), ``flags`` 0..2**32-1. Returns
        True if the oldest frame was dropped to make room. Producer side."""
        cdef Buf b
        cdef int dropped
        _get_s16_in(frame, &b, b"FrameQueue.push")
        if b.len != <Py_ssize_t>(self._q.frame_samples * 2):
            n = b.len
            release(&b)
            raise ValueError(f"FrameQueue.push: frame must be exactly {self._q.frame_samples} "
                             f"samples ({self._q.frame_samples * 2} bytes), got {n} bytes")
        dropped = fq_push(self._q, <const int16_t*>b.buf, session_index, timestamp, flags)
        release(&b)
        return dropped != 0

    @cython.binding(False)                      # plain method descriptor: ~7 ns less per call
    @cython.embedsignature.format("clinic")     # keeps inspect.signature() working
    def pop_into(self, out):
        """Copy the oldest frame into ``out`` (writable int16 array or
        bytearray of exactly ``frame_samples`` samples) and return
        ``(session_index, timestamp, flags)``, or None if the queue is empty
        (which arms the wake-up). Consumer side."""
        cdef Py_buffer v
        cdef vc_frame_meta m
        cdef int got
        cdef Py_ssize_t nb
        cdef int16_t* fast = _bytearray_out(out, &nb)
        if fast != NULL and nb == <Py_ssize_t>(self._q.frame_samples * 2):
            if fq_pop(self._q, fast, &m):
                return (m.session, m.timestamp, m.flags)
            return None
        _get_s16_out(out, &v, b"FrameQueue.pop_into")
        if v.len != <Py_ssize_t>(self._q.frame_samples * 2):
            n = v.len
            PyBuffer_Release(&v)
            raise ValueError(f"FrameQueue.pop_into: out= must hold exactly {self._q.frame_samples} samples, got {n} bytes")
        got = fq_pop(self._q, <int16_t*>v.buf, &m)
        PyBuffer_Release(&v)
        if got:
            return (m.session, m.timestamp, m.flags)
        return None

    def pop(self):
        """Return ``(frame_bytes, session_index, timestamp, flags)`` for the
        oldest frame (s16le bytes), or None if empty. Consumer side."""
        cdef vc_frame_meta m
        cdef object out = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>(self._q.frame_samples * 2))
        if fq_pop(self._q, <int16_t*>PyBytes_AS_STRING(out), &m):
            return (out, m.session, m.timestamp, m.flags)
        return None

    @property
    def pushed(self) -> int:
        return vc_load_relaxed(&self._q.pushed)

    @property
    def dropped(self) -> int:
        """Frames dropped (oldest first) because the queue was full."""
        return vc_load_relaxed(&self._q.dropped)

    @property
    def popped(self) -> int:
        return vc_load_relaxed(&self._q.popped)

    @property
    def wakeups(self) -> int:
        """Wake-up signals sent (one per empty -> non-empty transition)."""
        return vc_load_relaxed(&self._q.wakeups)

    def stats(self) -> dict:
        """All counters as a dict; ``lost_races`` counts frames the consumer was
        copying when the producer dropped them (discarded, never returned)."""
        return {
            "pushed": vc_load_relaxed(&self._q.pushed),
            "dropped": vc_load_relaxed(&self._q.dropped),
            "popped": vc_load_relaxed(&self._q.popped),
            "lost_races": vc_load_relaxed(&self._q.lost_races),
            "wakeups": vc_load_relaxed(&self._q.wakeups),
            "wakeup_errors": vc_load_relaxed(&self._q.wakeup_errors),
        }


# ======================================================================
# Test harness: producer and consumer on two native threads (no GIL)
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
                k = _min_u64(sring_writable(x.sr), n - done)
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


@cython.final
cdef class _StressRun:
    """Test harness (not API): run a producer and a consumer of one ring on two
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
        _check_capacity(capacity, "_StressRun", "capacity")
        if chunk == 0 or chunk > capacity and kind != "frames":
            raise ValueError("_StressRun: need 1 <= chunk <= capacity")
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
            raise ValueError(f"_StressRun: unknown kind {kind!r}")
        if (self.x.p_buf == NULL or self.x.c_buf == NULL
                or (self.x.sr == NULL and self.x.ar == NULL and self.x.fq == NULL)):
            raise MemoryError("_StressRun: allocation failed")

    def start(self) -> None:
        if self.started:
            raise RuntimeError("_StressRun: already started")
        if pthread_create(&self.tp, NULL, _stress_producer, &self.x) != 0:
            raise OSError("_StressRun: pthread_create failed")
        if pthread_create(&self.tc, NULL, _stress_consumer, &self.x) != 0:
            vc_store_relaxed(&self.x.stop, 1)
            with nogil:
                pthread_join(self.tp, NULL)
            raise OSError("_StressRun: pthread_create failed")
        self.started = True

    def progress(self) -> tuple:
        """(items produced, items consumed) so far: samples or frames."""
        return (vc_load_relaxed(&self.x.p_items), vc_load_relaxed(&self.x.c_items))

    def join(self) -> dict:
        if not self.started:
            raise RuntimeError("_StressRun: not started")
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

# cython: freethreading_compatible=True
"""``AECReferenceRing``: the echo canceller's reference, on the capture timeline.

The sending side writes exactly the samples it sends, stamped with their send
time (monotonic ns) and RTP timestamp; the capture side reads the reference
aligned to capture time minus the echo delay. Time where nothing was played
reads as zeros (counted); overflow overwrites the oldest samples (counted); a
read always returns exactly the samples asked for, so one reference frame is
read per capture frame processed. The cdef API is in ``aec.pxd`` (re-exported
by ``voicecore._native.media.ring``).

Memory ordering: the producer publishes with a release store of ``head``.
Where it may overwrite memory the consumer is copying (overflow), it first
announces the overwrite in ``claim`` and the consumer validates its copy
afterwards, zeroing whatever may have been overwritten (a seqlock; see
``aec_read_at``). The runs ring is validated the same way (``runs_claim``).
"""
cimport cython
from libc.stdint cimport int16_t, int64_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from voicecore._native.hugemem cimport vc_prefault
from libc.string cimport memset
from libc.errno cimport EINVAL, ENOMEM

from voicecore._native.atomic cimport (
    vc_init, vc_load_relaxed, vc_load_acquire, vc_store_relaxed, vc_store_release, vc_stat_add,
    vc_fence_acquire, vc_fence_release,
)
from voicecore._native._buffers cimport Buf, release, get_s16_output
from voicecore._native.media.ring._common cimport (
    OWN_PRODUCER, OWN_CONSUMER, is_pow2_capacity, vc_set_errno, min_u64, min_i64, max_i64, pos_diff,
    copy_in, copy_out, zero_ring, check_capacity, check_uint, check_ns, check_ms, get_s16_in,
    bytearray_out, side_free, adopt_sides, release_sides,
)

cdef enum:
    _RUNS_MASK = VC_AEC_RUNS - 1
assert VC_AEC_RUNS & (VC_AEC_RUNS - 1) == 0, "VC_AEC_RUNS must be a power of two"


# ======================================================================
# cdef API
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
    cdef vc_aec* a
    if not is_pow2_capacity(capacity) or rate == 0:
        vc_set_errno(EINVAL)
        return NULL
    a = <vc_aec*>calloc(1, sizeof(vc_aec))
    if a == NULL:
        vc_set_errno(ENOMEM)
        return NULL
    a.data = <int16_t*>calloc(capacity, sizeof(int16_t))
    if a.data == NULL:
        free(a)
        vc_set_errno(ENOMEM)
        return NULL
    vc_prefault(a.data, capacity * sizeof(int16_t))     # the audio thread writes it
    a.capacity = capacity
    a.mask = capacity - 1
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
        free(a)

cdef uint64_t aec_position_at(vc_aec* a, int64_t t_ns) noexcept nogil:
    return a.origin + <uint64_t>_ns_to_samples(t_ns - a.epoch_ns, a.rate)

cdef inline void _aec_publish_run(vc_aec* a, uint64_t gap_start, uint64_t start,
                                  int64_t send_ns, uint32_t rtp) noexcept nogil:
    cdef uint64_t k = vc_load_relaxed(&a.runs_head)
    cdef vc_aec_run* e = &a.runs[k & _RUNS_MASK]
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
    cdef int64_t d = pos_diff(t, h)
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
    lost = pos_diff(lo if pos_diff(lo, h) < 0 else h, old_lo if pos_diff(old_lo, c) > 0 else c)
    if lost > 0:
        vc_stat_add(&a.overflow_samples, <uint64_t>lost)
    # Seqlock: announce the overwrite before touching any slot.
    vc_store_relaxed(&a.claim, end)
    vc_fence_release()
    if pos != h:
        zstart = h if pos_diff(h, lo) > 0 else lo
        if pos_diff(pos, zstart) > 0:
            zero_ring(a.data, a.mask, zstart, <uint64_t>pos_diff(pos, zstart))
    if n > a.capacity:
        copy_in(a.data, a.mask, end - a.capacity, src + (n - a.capacity), a.capacity)
    else:
        copy_in(a.data, a.mask, pos, src, n)
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
    cdef int64_t span = pos_diff(hi, lo)
    cdef uint64_t rh, rc, cnt, base, skip, k, run_end
    cdef int64_t played = 0, s, e
    cdef vc_aec_run copy[VC_AEC_RUNS]   # one slot per run the ring holds (same constant)
    if span <= 0:
        return 0
    rh = vc_load_acquire(&a.runs_head)
    cnt = min_u64(rh, <uint64_t>VC_AEC_RUNS)
    base = rh - cnt
    for k in range(cnt):
        copy[k] = a.runs[(base + k) & _RUNS_MASK]
    vc_fence_acquire()
    rc = vc_load_relaxed(&a.runs_claim)
    # entry j is intact iff the producer has not claimed j + VC_AEC_RUNS
    skip = 0
    if rc > <uint64_t>VC_AEC_RUNS and rc - <uint64_t>VC_AEC_RUNS > base:
        skip = min_u64(rc - <uint64_t>VC_AEC_RUNS - base, cnt)
    if skip == cnt:
        return span if rh > 0 else 0
    k = cnt
    while k > skip:
        k -= 1
        run_end = h if k == cnt - 1 else copy[k + 1].gap_start
        s = max_i64(pos_diff(copy[k].start, lo), 0)
        e = min_i64(pos_diff(run_end, lo), span)
        if e > s:
            played += e - s
        if pos_diff(copy[k].gap_start, lo) <= 0:
            return played
    if base + skip > 0:
        # older runs were evicted: [lo, oldest gap_start) is unknown, call it played
        e = min_i64(pos_diff(copy[skip].gap_start, lo), span)
        if e > 0:
            played += e
    return played if played < span else span


cdef uint64_t aec_read_at(vc_aec* a, int16_t* dst, uint64_t n, uint64_t p) noexcept nogil:
    cdef uint64_t h = vc_load_acquire(&a.head)           # samples < h are visible
    cdef int64_t lo = max_i64(pos_diff(h - a.capacity, p), 0)   # older ones are gone
    cdef int64_t hi = min_i64(pos_diff(h, p), <int64_t>n)       # newer ones not written
    cdef int64_t late = min_i64(lo, <int64_t>n)
    cdef int64_t torn_hi, played = 0
    cdef uint64_t c2
    if hi > lo:
        copy_out(a.data, a.mask, p + <uint64_t>lo, dst + lo, <uint64_t>(hi - lo))
        # Seqlock validation: anything the producer claimed meanwhile is suspect.
        vc_fence_acquire()
        c2 = vc_load_relaxed(&a.claim)
        torn_hi = min_i64(pos_diff(c2 - a.capacity, p), hi)
        if torn_hi > lo:
            late += torn_hi - lo
            lo = torn_hi
    if lo > 0:
        memset(dst, 0, <size_t>min_i64(lo, <int64_t>n) * sizeof(int16_t))
    if hi < <int64_t>n:
        memset(dst + max_i64(hi, lo), 0, <size_t>(<int64_t>n - max_i64(hi, lo)) * sizeof(int16_t))
        vc_stat_add(&a.underrun_reads, 1)
        vc_stat_add(&a.underrun_samples, <uint64_t>(<int64_t>n - max_i64(hi, 0)))
    if hi > lo:
        played = _aec_played(a, p + <uint64_t>lo, p + <uint64_t>hi, h)
        vc_stat_add(&a.silence_samples, <uint64_t>((hi - lo) - played))
    if hi < <int64_t>n:
        vc_stat_add(&a.silence_samples, <uint64_t>(<int64_t>n - max_i64(hi, lo)))
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
    cdef int64_t d = pos_diff(t, a.c_next)
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
    cdef uint64_t n = min_u64(rh, <uint64_t>VC_AEC_RUNS)
    cdef uint64_t k, rc
    cdef uint64_t run_end = h
    cdef vc_aec_run run
    if pos_diff(pos, h) >= 0 or pos_diff(pos, h - a.capacity) < 0:
        return False
    k = 0
    while k < n:
        run = a.runs[(rh - 1 - k) & _RUNS_MASK]
        vc_fence_acquire()
        rc = vc_load_relaxed(&a.runs_claim)
        if rc - (rh - 1 - k) > <uint64_t>VC_AEC_RUNS:
            return False                                  # overwritten while read
        if pos_diff(pos, run.start) >= 0:
            if pos_diff(pos, run_end) < 0:
                rtp[0] = run.rtp + <uint32_t>(pos - run.start)
                return True
            return False
        run_end = run.gap_start
        k += 1
    return False


# ======================================================================
# Python API
# ======================================================================
cdef int _get_out(vc_aec* a, object out, Buf* v, const char* what) except -1:
    """``out=`` of a read: whole int16 samples, at most ``capacity`` of them."""
    get_s16_output(out, v, 0, what)
    if <uint64_t>(v.len >> 1) > a.capacity:
        n = v.len >> 1
        release(v)
        raise ValueError(f"{(<bytes>what).decode()}: out= holds {n} samples, more than the "
                         f"capacity {a.capacity}")
    return 0


@cython.final
cdef class AECReferenceRing:
    """Echo-cancellation reference: what was really sent, on the capture timeline.

    ``capacity``: samples held (a power of two in 1..2**30); it must cover the
    echo delay plus the consumer's lag. ``sample_rate``: Hz of the reference
    (the same as the capture it is subtracted from), 1000..384000.
    ``echo_delay_ms``: how long after it is sent a sample shows up in the
    capture, 0..10000 ms. ``tolerance_ms``: send/capture time jitter absorbed
    without breaking continuity (a send later than the previous block's end by
    more than this opens a silent gap), 0..1000 ms. ``epoch_ns``: monotonic ns
    mapped to ``start_position`` (default: now).

    Producer (sending side): ``write(pcm, send_time_ns, rtp_timestamp)``.
    Consumer (capture side): ``read_aligned(capture_time_ns, out)`` fills all of
    ``out`` with the reference for ``capture_time_ns - echo_delay``, zeros where
    nothing was played. When an Engine adopts one side, that side's methods
    raise RuntimeError (see ``ring.pxd``).
    """

    def __cinit__(self, capacity, sample_rate, *, echo_delay_ms=0.0, tolerance_ms=5.0,
                  epoch_ns=None, start_position=0):
        cdef uint64_t cap = check_capacity(capacity, "AECReferenceRing", "capacity")
        cdef uint64_t origin, rate
        cdef int64_t epoch
        check_uint(start_position, "AECReferenceRing", "start_position", 64, &origin)
        check_uint(sample_rate, "AECReferenceRing", "sample_rate (Hz)", 32, &rate)
        if not 1000 <= rate <= 384000:
            raise ValueError(f"AECReferenceRing: sample_rate must be 1000..384000 Hz, got {sample_rate}")
        cdef double delay = check_ms(echo_delay_ms, "AECReferenceRing", "echo_delay_ms", 10_000.0)
        cdef double tol_ms = check_ms(tolerance_ms, "AECReferenceRing", "tolerance_ms", 1_000.0)
        if epoch_ns is None:
            import time
            epoch_ns = time.monotonic_ns()
        check_ns(epoch_ns, "AECReferenceRing", "epoch_ns", &epoch)
        cdef int64_t tol = <int64_t>(tol_ms * rate / 1000.0)
        vc_init(&self._owner, 0)
        self.ring = aec_new(cap, <uint32_t>rate, epoch, origin, tol, <int64_t>(delay * 1_000_000.0))
        if self.ring == NULL:
            raise MemoryError(f"AECReferenceRing: cannot allocate {cap} samples")

    def __dealloc__(self):
        aec_free(self.ring)
        self.ring = NULL

    # ------------------------------------------------------------ engine seam
    cdef vc_aec* ptr(self) noexcept nogil:
        return self.ring

    cdef int engine_adopt_producer(self) except -1:
        return adopt_sides(&self._owner, OWN_PRODUCER, b"AECReferenceRing")

    cdef int engine_adopt_consumer(self) except -1:
        return adopt_sides(&self._owner, OWN_CONSUMER, b"AECReferenceRing")

    cdef void engine_release_producer(self) noexcept nogil:
        release_sides(&self._owner, OWN_PRODUCER)

    cdef void engine_release_consumer(self) noexcept nogil:
        release_sides(&self._owner, OWN_CONSUMER)

    cdef int engine_adopt(self) except -1:
        return adopt_sides(&self._owner, OWN_PRODUCER | OWN_CONSUMER, b"AECReferenceRing")

    cdef void engine_release(self) noexcept nogil:
        release_sides(&self._owner, OWN_PRODUCER | OWN_CONSUMER)

    # ------------------------------------------------------------ Python API
    @property
    def capacity(self) -> int:
        """Samples held."""
        return self.ring.capacity

    @property
    def sample_rate(self) -> int:
        """Hz."""
        return self.ring.rate

    @property
    def epoch_ns(self) -> int:
        """Monotonic ns that maps to ``start_position``."""
        return self.ring.epoch_ns

    @property
    def start_position(self) -> int:
        return self.ring.origin

    @property
    def tolerance_samples(self) -> int:
        return self.ring.tolerance

    @property
    def echo_delay_ms(self) -> float:
        """Echo delay in ms (capture time minus send time of the same sound).
        Settable from any thread; takes effect on the next read."""
        return (<int64_t>vc_load_relaxed(&self.ring.echo_delay_ns)) / 1e6

    @echo_delay_ms.setter
    def echo_delay_ms(self, value) -> None:
        cdef double ms = check_ms(value, "AECReferenceRing", "echo_delay_ms", 10_000.0)
        vc_store_relaxed(&self.ring.echo_delay_ns, <uint64_t>(<int64_t>(ms * 1_000_000.0)))

    @property
    def head(self) -> int:
        """Absolute position one past the newest written sample."""
        return vc_load_acquire(&self.ring.head)

    @property
    def consumed(self) -> int:
        """Absolute position one past the end of the consumer's last read."""
        return vc_load_acquire(&self.ring.consumed)

    def position_at(self, time_ns) -> int:
        """Timeline position (absolute sample index, mod 2**64) of monotonic time ``time_ns``."""
        cdef int64_t t
        check_ns(time_ns, "AECReferenceRing.position_at", "time_ns", &t)
        return aec_position_at(self.ring, t)

    @cython.binding(False)                      # plain method descriptor: ~7 ns less per call
    @cython.embedsignature.format("clinic")     # keeps inspect.signature() working
    def write(self, pcm, send_time_ns, rtp_timestamp=0) -> int:
        """Record samples as sent: s16 bytes-like or int16 array, the send
        time of the first sample (monotonic ns) and its RTP timestamp
        (0..2**32-1). Returns the absolute position they were placed at.
        Producer side."""
        cdef Buf b
        cdef uint64_t pos
        side_free(&self._owner, OWN_PRODUCER, b"AECReferenceRing.write")
        cdef int64_t t
        cdef uint64_t rtp
        check_ns(send_time_ns, "AECReferenceRing.write", "send_time_ns", &t)
        check_uint(rtp_timestamp, "AECReferenceRing.write", "rtp_timestamp", 32, &rtp)
        get_s16_in(pcm, &b, b"AECReferenceRing.write", b"pcm")
        pos = aec_write(self.ring, <const int16_t*>b.buf, <uint64_t>(b.len >> 1), t, <uint32_t>rtp)
        release(&b)
        return pos

    @cython.binding(False)                      # plain method descriptor: ~7 ns less per call
    @cython.embedsignature.format("clinic")     # keeps inspect.signature() working
    def read_aligned(self, capture_time_ns, out) -> int:
        """Fill all of ``out`` (writable int16 array or bytearray, at most
        ``capacity`` samples) with the reference for capture time
        ``capture_time_ns`` (monotonic ns of the first captured sample) minus
        the echo delay. Contiguous with the previous read when within the
        tolerance. Zeros where nothing was played (``silence_samples``) or the
        reference was already overwritten (``late_samples``). Returns the
        absolute position read. Consumer side."""
        cdef Buf v
        cdef uint64_t pos
        cdef Py_ssize_t nb
        side_free(&self._owner, OWN_CONSUMER, b"AECReferenceRing.read_aligned")
        cdef int64_t t
        check_ns(capture_time_ns, "AECReferenceRing.read_aligned", "capture_time_ns", &t)
        cdef int16_t* fast = bytearray_out(out, &nb)
        if fast != NULL and <uint64_t>(nb >> 1) <= self.ring.capacity:
            return aec_read_aligned(self.ring, fast, <uint64_t>(nb >> 1), t)
        _get_out(self.ring, out, &v, b"AECReferenceRing.read_aligned")
        pos = aec_read_aligned(self.ring, <int16_t*>v.buf, <uint64_t>(v.len >> 1), t)
        release(&v)
        return pos

    def read_at(self, position, out) -> int:
        """Fill ``out`` with the reference starting at absolute ``position``
        (0..2**64-1; no time mapping, no snapping). Consumer side."""
        cdef Buf v
        side_free(&self._owner, OWN_CONSUMER, b"AECReferenceRing.read_at")
        cdef uint64_t p
        check_uint(position, "AECReferenceRing.read_at", "position", 64, &p)
        _get_out(self.ring, out, &v, b"AECReferenceRing.read_at")
        aec_read_at(self.ring, <int16_t*>v.buf, <uint64_t>(v.len >> 1), p)
        release(&v)
        return p

    def rtp_timestamp_at(self, position):
        """RTP timestamp of the played sample at absolute ``position``, or None
        if nothing played there is still held. Consumer side."""
        cdef uint32_t rtp = 0
        side_free(&self._owner, OWN_CONSUMER, b"AECReferenceRing.rtp_timestamp_at")
        cdef uint64_t p
        check_uint(position, "AECReferenceRing.rtp_timestamp_at", "position", 64, &p)
        if _aec_rtp_at(self.ring, p, &rtp):
            return rtp
        return None

    def stats(self) -> dict:
        """All counters (64-bit, monotonic) as a dict; readable from any thread.
        Producer: written_*, overflow_samples (overwritten before being read),
        gaps, early_writes, rtp_discontinuities. Consumer: read_*,
        silence_samples (zeros where nothing was played, including
        underrun_samples past the newest write), underrun_reads, late_samples
        (zeros for overwritten reference), realigns."""
        a = self.ring
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

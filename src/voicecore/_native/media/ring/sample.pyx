# cython: freethreading_compatible=True
"""``SampleRing``: lock-free SPSC ring of int16 samples (s16 mono).

Absolute 64-bit positions; the producer never overwrites unread samples
(``write`` copies what fits and counts the rest in ``overflow_samples``);
``request_flush`` (producer side, for barge-in) makes the consumer discard
everything written so far on its next read. The cdef API is in ``sample.pxd``
(re-exported by ``voicecore._native.media.ring``).

Memory ordering: the producer publishes samples with a release store of
``write_pos``; the consumer loads it with acquire before copying, and frees
slots with a release store of ``read_pos`` that the producer loads with
acquire. Only the consumer ever stores ``read_pos`` (a pending flush is applied
by the consumer's next read), so ``readable()`` is a pure query.
"""
cimport cython
from libc.stdint cimport int16_t, uint64_t
from libc.stdlib cimport calloc, free
from voicecore._native.hugemem cimport vc_prefault
from libc.string cimport memset
from libc.errno cimport EINVAL, ENOMEM
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_GET_SIZE
from cpython.tuple cimport PyTuple_GET_ITEM
from cpython.ref cimport PyObject

from voicecore._native.atomic cimport (
    vc_init, vc_load_relaxed, vc_load_acquire, vc_store_release, vc_stat_add,
)
from voicecore._native._buffers cimport Buf, release, get_s16_output
from voicecore._native.media.ring._common cimport (
    VC_RING_MAX_CAPACITY, VC_RING_GIL_THRESHOLD, OWN_PRODUCER, OWN_CONSUMER,
    is_pow2_capacity, vc_set_errno, min_u64, pos_diff, copy_in, copy_out, check_capacity, check_uint,
    get_s16_in, bytearray_out, side_free, adopt_sides, release_sides,
)

#: Largest capacity accepted (samples or frame slots): 2**30.
MAX_CAPACITY = VC_RING_MAX_CAPACITY
#: Python-level copies at least this long release the GIL (a shorter memcpy
#: costs less than releasing and re-taking it).
GIL_THRESHOLD = VC_RING_GIL_THRESHOLD
cdef uint64_t _GIL_THRESHOLD = VC_RING_GIL_THRESHOLD


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


# ======================================================================
# cdef API
# ======================================================================
cdef vc_sring* sring_new(uint64_t capacity, uint64_t start_position) noexcept nogil:
    cdef vc_sring* r
    if not is_pow2_capacity(capacity):
        vc_set_errno(EINVAL)
        return NULL
    r = <vc_sring*>calloc(1, sizeof(vc_sring))
    if r == NULL:
        vc_set_errno(ENOMEM)
        return NULL
    r.data = <int16_t*>calloc(capacity, sizeof(int16_t))
    if r.data == NULL:
        free(r)
        vc_set_errno(ENOMEM)
        return NULL
    vc_prefault(r.data, capacity * sizeof(int16_t))     # one side may be the audio thread
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
    k = min_u64(n, free_)
    if k:
        copy_in(r.data, r.mask, w, src, k)
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
    """Consumer only: apply a pending flush and return the read position."""
    cdef uint64_t rd = vc_load_relaxed(&r.read_pos)
    cdef uint64_t f = vc_load_acquire(&r.flush_to)       # f <= write_pos seen afterwards
    if pos_diff(f, rd) > 0:
        vc_stat_add(&r.flushed_samples, f - rd)
        vc_store_release(&r.read_pos, f)
        return f
    return rd

cdef uint64_t sring_consumer_pos(vc_sring* r) noexcept nogil:
    return _sring_consumer_pos(r)

cdef uint64_t sring_readable(vc_sring* r) noexcept nogil:
    # A pure query: samples a read would find now, a pending flush already
    # subtracted. It never stores read_pos, so the producer (or any thread)
    # may call it: were it to apply the flush, a producer-side call racing
    # with a read could move read_pos back over samples the consumer has
    # already delivered (delivered twice) or free slots it is still copying.
    cdef uint64_t rd = vc_load_acquire(&r.read_pos)
    cdef uint64_t f = vc_load_acquire(&r.flush_to)
    cdef uint64_t w = vc_load_acquire(&r.write_pos)      # loaded last: w >= f
    cdef uint64_t avail
    if pos_diff(f, rd) > 0:
        rd = f
    avail = w - rd
    return avail if avail <= r.capacity else r.capacity  # a stale read_pos (other thread)

cdef uint64_t sring_read(vc_sring* r, int16_t* dst, uint64_t n) noexcept nogil:
    return _sring_read(r, dst, n)

cdef inline uint64_t _sring_read(vc_sring* r, int16_t* dst, uint64_t n) noexcept nogil:
    cdef uint64_t rd = _sring_consumer_pos(r)
    cdef uint64_t avail = vc_load_acquire(&r.write_pos) - rd   # acquire: samples visible
    cdef uint64_t k
    if avail > r.capacity:
        avail = 0        # impossible with one consumer; stay in bounds if misused
    k = min_u64(n, avail)
    if k:
        copy_out(r.data, r.mask, rd, dst, k)
        vc_store_release(&r.read_pos, rd + k)            # our loads finish before the slots are reused
        vc_stat_add(&r.read_samples, k)
    return k

cdef uint64_t sring_read_full(vc_sring* r, int16_t* dst, uint64_t n) noexcept nogil:
    cdef uint64_t k = _sring_read(r, dst, n)
    if k < n:
        memset(dst + k, 0, (n - k) * sizeof(int16_t))
        vc_stat_add(&r.underrun_samples, n - k)
    return k


# ======================================================================
# Python API
# ======================================================================
@cython.final
cdef class SampleRing:
    """Lock-free SPSC ring of int16 samples (s16 mono) with absolute positions.

    ``capacity``: samples, a power of two in 1..2**30 (ValueError otherwise).
    ``start_position``: absolute position of the first sample (0..2**64-1;
    positions wrap modulo 2**64).

    One producer thread calls ``write`` / ``writable`` / ``request_flush``;
    one consumer thread calls ``read_into`` / ``read``; ``readable()`` (and
    ``len()``, ``bool()``) may be asked from either. Writes never overwrite
    unread samples: what does not fit is dropped and counted in
    ``overflow_samples``. When an Engine adopts one side, that side's methods
    raise RuntimeError (see ``ring.pxd``).
    """

    def __cinit__(self, capacity, *, start_position=0):
        cdef uint64_t cap = check_capacity(capacity, "SampleRing", "capacity")
        cdef uint64_t start
        check_uint(start_position, "SampleRing", "start_position", 64, &start)
        vc_init(&self._owner, 0)
        self.ring = sring_new(cap, start)
        if self.ring == NULL:
            raise MemoryError(f"SampleRing: cannot allocate {cap} samples")

    def __dealloc__(self):
        sring_free(self.ring)
        self.ring = NULL

    # ------------------------------------------------------------ engine seam
    cdef vc_sring* ptr(self) noexcept nogil:
        return self.ring

    cdef int engine_adopt_producer(self) except -1:
        return adopt_sides(&self._owner, OWN_PRODUCER, b"SampleRing")

    cdef int engine_adopt_consumer(self) except -1:
        return adopt_sides(&self._owner, OWN_CONSUMER, b"SampleRing")

    cdef void engine_release_producer(self) noexcept nogil:
        release_sides(&self._owner, OWN_PRODUCER)

    cdef void engine_release_consumer(self) noexcept nogil:
        release_sides(&self._owner, OWN_CONSUMER)

    cdef int engine_adopt(self) except -1:
        return adopt_sides(&self._owner, OWN_PRODUCER | OWN_CONSUMER, b"SampleRing")

    cdef void engine_release(self) noexcept nogil:
        release_sides(&self._owner, OWN_PRODUCER | OWN_CONSUMER)

    # ------------------------------------------------------------ Python API
    @property
    def capacity(self) -> int:
        """Capacity in samples."""
        return self.ring.capacity

    @property
    def write_position(self) -> int:
        """Absolute position one past the newest written sample."""
        return vc_load_acquire(&self.ring.write_pos)

    @property
    def read_position(self) -> int:
        """Absolute position of the next sample the consumer will read (a
        pending flush is applied by the consumer's next read)."""
        return vc_load_acquire(&self.ring.read_pos)

    def writable(self) -> int:
        """Samples the producer can write now without dropping any. Producer side."""
        side_free(&self._owner, OWN_PRODUCER, b"SampleRing.writable")
        return sring_writable(self.ring)

    def readable(self) -> int:
        """Samples a read would find now (a pending flush already discounted).
        A pure query: either side may ask; it never moves the read position."""
        return sring_readable(self.ring)

    def __len__(self) -> int:
        """Same as ``readable()``."""
        return sring_readable(self.ring)

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
        side_free(&self._owner, OWN_PRODUCER, b"SampleRing.write")
        if PyBytes_CheckExact(pcm):
            # Fast path (exact bytes: immutable, no buffer export to release).
            nb = PyBytes_GET_SIZE(pcm)
            if not (nb & 1) and <uint64_t>(nb >> 1) < _GIL_THRESHOLD:
                return _count(_sring_write(self.ring, <const int16_t*>PyBytes_AS_STRING(pcm),
                                           <uint64_t>(nb >> 1)))
        get_s16_in(pcm, &b, b"SampleRing.write", b"pcm")
        if <uint64_t>(b.len >> 1) >= _GIL_THRESHOLD:
            with nogil:
                k = _sring_write(self.ring, <const int16_t*>b.buf, <uint64_t>(b.len >> 1))
        else:
            k = _sring_write(self.ring, <const int16_t*>b.buf, <uint64_t>(b.len >> 1))
        release(&b)
        return _count(k)

    def request_flush(self) -> None:
        """Ask the consumer to discard every sample written so far (barge-in).
        Producer side; applied by the consumer's next read, counted in
        ``flushed_samples``."""
        side_free(&self._owner, OWN_PRODUCER, b"SampleRing.request_flush")
        sring_request_flush(self.ring)

    @cython.binding(False)                      # plain method descriptor: ~7 ns less per call
    @cython.embedsignature.format("clinic")     # keeps inspect.signature() working
    def read_into(self, out, *, fill=False) -> int:
        """Copy up to ``len(out)`` samples into ``out`` (writable int16 array or
        bytearray). Returns the number of samples copied. With ``fill=True``
        the rest of ``out`` is zeroed and counted in ``underrun_samples``.
        Consumer side."""
        cdef Buf v
        cdef uint64_t k, n
        cdef bint zero_fill = fill
        cdef Py_ssize_t nb
        side_free(&self._owner, OWN_CONSUMER, b"SampleRing.read_into")
        cdef int16_t* fast = bytearray_out(out, &nb)
        if fast != NULL:
            if zero_fill:
                return _count(sring_read_full(self.ring, fast, <uint64_t>(nb >> 1)))
            return _count(_sring_read(self.ring, fast, <uint64_t>(nb >> 1)))
        get_s16_output(out, &v, 0, b"SampleRing.read_into")
        n = <uint64_t>(v.len >> 1)
        if n >= _GIL_THRESHOLD:
            with nogil:
                if zero_fill:
                    k = sring_read_full(self.ring, <int16_t*>v.buf, n)
                else:
                    k = _sring_read(self.ring, <int16_t*>v.buf, n)
        elif zero_fill:
            k = sring_read_full(self.ring, <int16_t*>v.buf, n)
        else:
            k = _sring_read(self.ring, <int16_t*>v.buf, n)
        release(&v)
        return _count(k)

    def read(self, n) -> bytes:
        """Return up to ``n`` samples (an int >= 0) as s16le bytes (fewer if
        fewer are readable). Consumer side."""
        side_free(&self._owner, OWN_CONSUMER, b"SampleRing.read")
        cdef uint64_t want
        check_uint(n, "SampleRing.read", "n", 63, &want)
        want = min_u64(want, sring_readable(self.ring))
        cdef object out = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>(want * 2))
        cdef uint64_t k = _sring_read(self.ring, <int16_t*>PyBytes_AS_STRING(out), want)
        return out if k == want else out[:k * 2]

    @property
    def written_samples(self) -> int:
        return vc_load_relaxed(&self.ring.written_samples)

    @property
    def overflow_samples(self) -> int:
        """Samples dropped by ``write`` because the ring was full."""
        return vc_load_relaxed(&self.ring.overflow_samples)

    @property
    def read_samples(self) -> int:
        return vc_load_relaxed(&self.ring.read_samples)

    @property
    def flushed_samples(self) -> int:
        """Samples discarded by ``request_flush``."""
        return vc_load_relaxed(&self.ring.flushed_samples)

    @property
    def underrun_samples(self) -> int:
        """Zeros handed out by ``read_into(fill=True)`` for missing samples."""
        return vc_load_relaxed(&self.ring.underrun_samples)

    def stats(self) -> dict:
        """All counters (64-bit, monotonic) as a dict; readable from any thread."""
        return {
            "written_samples": self.written_samples,
            "overflow_samples": self.overflow_samples,
            "read_samples": self.read_samples,
            "flushed_samples": self.flushed_samples,
            "underrun_samples": self.underrun_samples,
        }

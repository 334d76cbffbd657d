# cython: freethreading_compatible=True
"""``FrameQueue``: bounded lock-free SPSC queue of fixed-size s16 frames.

Metadata per frame (session index, timestamp, flags), drop-oldest on overflow
(counted), and a wake-up file descriptor (eventfd on Linux, pipe elsewhere)
for ``loop.add_reader`` that is signalled once per empty -> non-empty
transition, not once per frame. The cdef API is in ``frames.pxd``
(re-exported by ``voicecore._native.media.ring``).

``VOICECORE_WAKEUP=pipe`` (read at import) makes queues use the pipe that
non-Linux platforms use, so that path is exercised on Linux too.
"""
cimport cython
from libc.stdint cimport int16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from voicecore._native.hugemem cimport vc_prefault
from libc.string cimport memcpy
from libc.errno cimport errno, EINVAL, ENOMEM
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING

from voicecore._native.atomic cimport (
    vc_init, vc_load_relaxed, vc_load_acquire, vc_load_seq_cst, vc_store_seq_cst,
    vc_cas_acq_rel, vc_exchange_seq_cst, vc_stat_add,
)
from voicecore._native._buffers cimport Buf, release, get_s16_output
from voicecore._native.media.ring._common cimport (
    VC_RING_MAX_CAPACITY, OWN_PRODUCER, OWN_CONSUMER, is_pow2_capacity, vc_set_errno, pos_diff,
    check_capacity, check_uint, get_s16_in, bytearray_out, side_free, adopt_sides, release_sides,
)

cdef extern from "vc_wakeup.h" nogil:
    int vc_wakeup_open(int fds[2], int force_pipe)
    int vc_wakeup_signal(const int fds[2])
    long vc_wakeup_drain(const int fds[2])
    void vc_wakeup_close(int fds[2])

import os as _os

#: Wake-up fd kind of queues created with ``wakeup=True``: "eventfd" (Linux)
#: or "pipe" (other platforms, or ``VOICECORE_WAKEUP=pipe``).
cdef int _default_wakeup = (VC_WAKEUP_PIPE if _os.environ.get("VOICECORE_WAKEUP", "") == "pipe"
                            else VC_WAKEUP_DEFAULT)
import sys as _sys
WAKEUP_KIND = "eventfd" if (_default_wakeup == VC_WAKEUP_DEFAULT and _sys.platform.startswith("linux")) else "pipe"


# ======================================================================
# cdef API
# ======================================================================
cdef vc_fqueue* fq_new(uint64_t slots, uint64_t frame_samples, int wakeup) noexcept nogil:
    cdef vc_fqueue* q
    cdef int err
    if (not is_pow2_capacity(slots) or frame_samples == 0 or frame_samples > (1 << 20)
            or slots * frame_samples > VC_RING_MAX_CAPACITY
            or wakeup < VC_WAKEUP_NONE or wakeup > VC_WAKEUP_PIPE):
        vc_set_errno(EINVAL)
        return NULL
    q = <vc_fqueue*>calloc(1, sizeof(vc_fqueue))
    if q == NULL:
        vc_set_errno(ENOMEM)
        return NULL
    q.fds[0] = -1
    q.fds[1] = -1
    q.frames = <int16_t*>calloc(slots * frame_samples, sizeof(int16_t))
    q.meta = <vc_frame_meta*>calloc(slots, sizeof(vc_frame_meta))
    if q.frames == NULL or q.meta == NULL:
        fq_free(q)
        vc_set_errno(ENOMEM)
        return NULL
    # mapped now, not at the first lap of the producer (the audio I/O thread)
    vc_prefault(q.frames, slots * frame_samples * sizeof(int16_t))
    vc_prefault(q.meta, slots * sizeof(vc_frame_meta))
    q.slots = slots
    q.mask = slots - 1
    q.frame_samples = frame_samples
    vc_init(&q.armed, 1)          # the consumer starts out waiting
    if wakeup != VC_WAKEUP_NONE:
        err = vc_wakeup_open(q.fds, wakeup == VC_WAKEUP_PIPE)
        if err != 0:
            q.fds[0] = -1
            q.fds[1] = -1
            fq_free(q)
            vc_set_errno(-err)    # after free(): the caller sees the fd's error
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
    _publish(q, w, session, timestamp, flags)
    return dropped

cdef inline void _publish(vc_fqueue* q, uint64_t w, uint32_t session, uint64_t timestamp,
                          uint32_t flags) noexcept nogil:
    cdef vc_frame_meta* m = &q.meta[w & q.mask]
    m.timestamp = timestamp
    m.session = session
    m.flags = flags
    # seq_cst store then seq_cst load of `armed` (Dekker with fq_pop's arming):
    # either we see the consumer armed, or it sees this frame.
    vc_store_seq_cst(&q.write_idx, w + 1)
    vc_stat_add(&q.pushed, 1)
    if vc_load_seq_cst(&q.armed) and vc_exchange_seq_cst(&q.armed, 0):
        if q.fds[1] >= 0:
            if vc_wakeup_signal(q.fds) != 0:
                vc_stat_add(&q.wakeup_errors, 1)
            vc_stat_add(&q.wakeups, 1)

cdef int16_t* fq_slot(vc_fqueue* q) noexcept nogil:
    cdef uint64_t w = vc_load_relaxed(&q.write_idx)      # we are its only writer
    cdef uint64_t r = vc_load_acquire(&q.read_idx)
    if w - r >= q.slots:
        return NULL
    # read_idx > w - slots: the consumer claimed frame w - slots with its CAS,
    # which it makes only after copying it out, so nothing reads this slot
    # until write_idx passes it
    return q.frames + (w & q.mask) * q.frame_samples

cdef void fq_commit(vc_fqueue* q, uint32_t session, uint64_t timestamp, uint32_t flags) noexcept nogil:
    _publish(q, vc_load_relaxed(&q.write_idx), session, timestamp, flags)

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
    return w - r if pos_diff(w, r) > 0 else 0


# ======================================================================
# Python API
# ======================================================================
@cython.final
cdef class FrameQueue:
    """Bounded lock-free SPSC queue of fixed-size s16 frames with metadata.

    ``slots``: frames held (a power of two in 1..2**30). ``frame_samples``:
    samples per frame, 1..2**20 (e.g. 160 for 20 ms at 8 kHz); ``slots *
    frame_samples`` at most 2**30. ``wakeup``: create the wake-up fd
    (``fileno()``) the consumer's event loop can ``add_reader`` on.

    A push into a full queue drops the oldest frame (``dropped``). The fd
    becomes readable when a frame arrives after the consumer found the queue
    empty (once per empty -> non-empty transition); the consumer calls
    ``clear_wakeup()`` and then pops until ``pop_into`` returns None. When an
    Engine adopts one side, that side's methods raise RuntimeError (see
    ``ring.pxd``).
    """

    def __cinit__(self, slots, frame_samples, *, wakeup=True):
        cdef uint64_t n = check_capacity(slots, "FrameQueue", "slots")
        cdef uint64_t fs
        check_uint(frame_samples, "FrameQueue", "frame_samples", 64, &fs)
        if not 1 <= fs <= 1 << 20:
            raise ValueError(f"FrameQueue: frame_samples must be 1..{1 << 20}, got {frame_samples}")
        if n * fs > VC_RING_MAX_CAPACITY:
            raise ValueError(f"FrameQueue: slots * frame_samples must be <= 2**30, got {n * fs}")
        vc_init(&self._owner, 0)
        self.queue = fq_new(n, fs, _default_wakeup if wakeup else VC_WAKEUP_NONE)
        if self.queue == NULL:
            err = errno
            if err == ENOMEM:
                raise MemoryError(f"FrameQueue: cannot allocate {n} x {fs} samples")
            raise OSError(err, f"FrameQueue: cannot open the wake-up fd: {_os.strerror(err)}")

    def __dealloc__(self):
        fq_free(self.queue)
        self.queue = NULL

    # ------------------------------------------------------------ engine seam
    cdef vc_fqueue* ptr(self) noexcept nogil:
        return self.queue

    cdef int engine_adopt_producer(self) except -1:
        return adopt_sides(&self._owner, OWN_PRODUCER, b"FrameQueue")

    cdef int engine_adopt_consumer(self) except -1:
        return adopt_sides(&self._owner, OWN_CONSUMER, b"FrameQueue")

    cdef void engine_release_producer(self) noexcept nogil:
        release_sides(&self._owner, OWN_PRODUCER)

    cdef void engine_release_consumer(self) noexcept nogil:
        release_sides(&self._owner, OWN_CONSUMER)

    cdef int engine_adopt(self) except -1:
        return adopt_sides(&self._owner, OWN_PRODUCER | OWN_CONSUMER, b"FrameQueue")

    cdef void engine_release(self) noexcept nogil:
        release_sides(&self._owner, OWN_PRODUCER | OWN_CONSUMER)

    # ------------------------------------------------------------ Python API
    @property
    def slots(self) -> int:
        return self.queue.slots

    @property
    def frame_samples(self) -> int:
        """Samples per frame."""
        return self.queue.frame_samples

    def __len__(self) -> int:
        """Frames queued now (either side may ask)."""
        return fq_len(self.queue)

    def fileno(self) -> int:
        """Read end of the wake-up fd (eventfd on Linux, pipe elsewhere), for
        ``loop.add_reader``. ValueError without one or once closed."""
        if self.queue.fds[0] < 0:
            raise ValueError("FrameQueue.fileno: no wake-up fd (created with wakeup=False, or closed)")
        return self.queue.fds[0]

    def clear_wakeup(self) -> int:
        """Consume pending wake-ups (call before draining). Returns how many
        signals were pending (eventfd count; bytes for a pipe). Consumer side."""
        side_free(&self._owner, OWN_CONSUMER, b"FrameQueue.clear_wakeup")
        if self.queue.fds[0] < 0:
            return 0
        cdef long r = vc_wakeup_drain(self.queue.fds)
        if r < 0:
            raise OSError(-r, f"FrameQueue.clear_wakeup: {_os.strerror(-r)}")
        return r

    def close(self) -> None:
        """Close the wake-up fd (the queue itself stays usable). Idempotent.
        Remove the fd from the event loop first, and call it only once no
        producer can push any more: a push racing with close could signal a
        recycled fd number (so it raises while an Engine owns the producer)."""
        side_free(&self._owner, OWN_PRODUCER, b"FrameQueue.close")
        vc_wakeup_close(self.queue.fds)

    @cython.binding(False)                      # plain method descriptor: ~7 ns less per call
    @cython.embedsignature.format("clinic")     # keeps inspect.signature() working
    def push(self, frame, session_index=0, timestamp=0, flags=0) -> bool:
        """Copy one frame (exactly ``frame_samples`` s16 samples) in with its
        metadata: ``session_index`` 0..2**32-1, ``timestamp`` 0..2**64-1 (any
        unit: RTP timestamp, monotonic ns...), ``flags`` 0..2**32-1 (FLAG_*).
        Returns True if the oldest frame was dropped to make room. Producer side."""
        cdef Buf b
        cdef int dropped
        side_free(&self._owner, OWN_PRODUCER, b"FrameQueue.push")
        cdef uint64_t s, ts, fl
        check_uint(session_index, "FrameQueue.push", "session_index", 32, &s)
        check_uint(timestamp, "FrameQueue.push", "timestamp", 64, &ts)
        check_uint(flags, "FrameQueue.push", "flags", 32, &fl)
        get_s16_in(frame, &b, b"FrameQueue.push", b"frame")
        if b.len != <Py_ssize_t>(self.queue.frame_samples * 2):
            n = b.len
            release(&b)
            raise ValueError(f"FrameQueue.push: frame must be exactly {self.queue.frame_samples} "
                             f"samples ({self.queue.frame_samples * 2} bytes), got {n} bytes")
        dropped = fq_push(self.queue, <const int16_t*>b.buf, <uint32_t>s, ts, <uint32_t>fl)
        release(&b)
        return dropped != 0

    @cython.binding(False)                      # plain method descriptor: ~7 ns less per call
    @cython.embedsignature.format("clinic")     # keeps inspect.signature() working
    def pop_into(self, out):
        """Copy the oldest frame into ``out`` (writable int16 array or
        bytearray of exactly ``frame_samples`` samples) and return
        ``(session_index, timestamp, flags)``, or None if the queue is empty
        (which arms the wake-up). Consumer side."""
        cdef Buf v
        cdef vc_frame_meta m
        cdef int got
        cdef Py_ssize_t nb
        side_free(&self._owner, OWN_CONSUMER, b"FrameQueue.pop_into")
        cdef int16_t* fast = bytearray_out(out, &nb)
        if fast != NULL and nb == <Py_ssize_t>(self.queue.frame_samples * 2):
            if fq_pop(self.queue, fast, &m):
                return (m.session, m.timestamp, m.flags)
            return None
        get_s16_output(out, &v, 0, b"FrameQueue.pop_into")
        if v.len != <Py_ssize_t>(self.queue.frame_samples * 2):
            n = v.len
            release(&v)
            raise ValueError(f"FrameQueue.pop_into: out= must hold exactly {self.queue.frame_samples} "
                             f"samples, got {n} bytes")
        got = fq_pop(self.queue, <int16_t*>v.buf, &m)
        release(&v)
        if got:
            return (m.session, m.timestamp, m.flags)
        return None

    def pop(self):
        """Return ``(frame_bytes, session_index, timestamp, flags)`` for the
        oldest frame (s16le bytes), or None if empty. Consumer side."""
        cdef vc_frame_meta m
        side_free(&self._owner, OWN_CONSUMER, b"FrameQueue.pop")
        cdef object out = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>(self.queue.frame_samples * 2))
        if fq_pop(self.queue, <int16_t*>PyBytes_AS_STRING(out), &m):
            return (out, m.session, m.timestamp, m.flags)
        return None

    @property
    def pushed(self) -> int:
        return vc_load_relaxed(&self.queue.pushed)

    @property
    def dropped(self) -> int:
        """Frames dropped (oldest first) because the queue was full."""
        return vc_load_relaxed(&self.queue.dropped)

    @property
    def popped(self) -> int:
        return vc_load_relaxed(&self.queue.popped)

    @property
    def wakeups(self) -> int:
        """Wake-up signals sent (one per empty -> non-empty transition)."""
        return vc_load_relaxed(&self.queue.wakeups)

    def stats(self) -> dict:
        """All counters as a dict, readable from any thread; ``lost_races``
        counts frames the consumer was copying when the producer dropped them
        (discarded, never returned)."""
        return {
            "pushed": vc_load_relaxed(&self.queue.pushed),
            "dropped": vc_load_relaxed(&self.queue.dropped),
            "popped": vc_load_relaxed(&self.queue.popped),
            "lost_races": vc_load_relaxed(&self.queue.lost_races),
            "wakeups": vc_load_relaxed(&self.queue.wakeups),
            "wakeup_errors": vc_load_relaxed(&self.queue.wakeup_errors),
        }

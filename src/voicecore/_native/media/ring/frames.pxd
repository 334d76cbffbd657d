# Frame queue: bounded SPSC queue of fixed-size int16 frames with metadata;
# drop-oldest on overflow. The producer drops the oldest frame by advancing the
# read index with a CAS; the consumer copies a slot out and then claims it with
# a CAS on the same index, so a frame the producer dropped (and may be
# overwriting) while it was being copied is detected and discarded, never
# returned torn. A wake-up fd (eventfd on Linux, pipe elsewhere or on request)
# is signalled only when the consumer has armed it by finding the queue empty:
# one syscall per empty -> non-empty transition.
#
# Every function is `noexcept nogil`. Producer: fq_push (or fq_slot + fq_commit).
# Consumer: fq_pop.
# fq_len is a query either side may call. Ownership rule per side as in
# sample.pxd; FrameQueue.close() also raises while the producer side is
# adopted (a push racing with close could signal a recycled fd number).
cimport cython
from libc.stdint cimport int16_t, uint32_t, uint64_t
from voicecore._native.atomic cimport vc_u64

# Flag bits of a frame (free for other meanings above bit 7). The same values
# are module attributes of voicecore.ring (FLAG_END, ...).
cpdef enum:
    FLAG_END = 1            # last frame of a response/utterance (playback_ended)
    FLAG_SILENCE = 2        # the frame is silence filled in by the sender
    FLAG_DISCONTINUITY = 4  # the frame does not follow the previous one in time
    FLAG_PARTIAL = 8        # fewer valid samples than frame_samples: count in bits 16-31

# fq_new's wake-up argument
cdef enum:
    VC_WAKEUP_NONE = 0      # no fd (poll the queue)
    VC_WAKEUP_DEFAULT = 1   # eventfd on Linux, pipe elsewhere
    VC_WAKEUP_PIPE = 2      # a pipe everywhere (the non-Linux path, testable on Linux)

cdef struct vc_frame_meta:
    uint64_t timestamp
    uint32_t session
    uint32_t flags

cdef struct vc_fqueue:
    # written by the producer
    vc_u64 write_idx
    vc_u64 pushed
    vc_u64 dropped
    vc_u64 wakeups
    vc_u64 wakeup_errors
    char _pad0[64]
    # written by the consumer (and advanced by the producer's drop CAS)
    vc_u64 read_idx
    vc_u64 popped
    vc_u64 lost_races
    char _pad1[64]
    vc_u64 armed
    char _pad2[64]
    # immutable after creation
    int16_t* frames
    vc_frame_meta* meta
    uint64_t slots
    uint64_t mask
    uint64_t frame_samples
    int fds[2]               # wake-up fd: [0] read end, [1] write end (-1: none)

# NULL with errno set: EINVAL unless slots is a power of two in 1..2**30 and
# 1 <= frame_samples <= 2**20 with slots * frame_samples <= 2**30; ENOMEM;
# or the error opening the wake-up fd (EMFILE, ...).
cdef vc_fqueue* fq_new(uint64_t slots, uint64_t frame_samples, int wakeup) noexcept nogil
cdef void fq_free(vc_fqueue* q) noexcept nogil
# producer: copies frame_samples samples; returns 1 if the oldest frame was dropped
cdef int fq_push(vc_fqueue* q, const int16_t* src, uint32_t session, uint64_t timestamp,
                 uint32_t flags) noexcept nogil
# producer, in place: the slot the next push fills, or NULL when the queue is
# full (then fq_push, which drops the oldest frame). Fill frame_samples samples
# and fq_commit to publish them; a slot not committed leaves nothing behind.
cdef int16_t* fq_slot(vc_fqueue* q) noexcept nogil
cdef void fq_commit(vc_fqueue* q, uint32_t session, uint64_t timestamp, uint32_t flags) noexcept nogil
# consumer: returns 1 and fills dst (frame_samples samples) and meta, or 0 when
# empty (and arms the wake-up)
cdef int fq_pop(vc_fqueue* q, int16_t* dst, vc_frame_meta* meta) noexcept nogil
cdef uint64_t fq_len(vc_fqueue* q) noexcept nogil


@cython.final
cdef class FrameQueue:
    cdef vc_fqueue* queue        # the C queue (never NULL once constructed)
    cdef vc_u64 _owner           # OWN_PRODUCER | OWN_CONSUMER bits
    cdef vc_fqueue* ptr(self) noexcept nogil
    cdef int engine_adopt_producer(self) except -1
    cdef int engine_adopt_consumer(self) except -1
    cdef void engine_release_producer(self) noexcept nogil
    cdef void engine_release_consumer(self) noexcept nogil
    cdef int engine_adopt(self) except -1            # both sides
    cdef void engine_release(self) noexcept nogil    # both sides

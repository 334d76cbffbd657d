# Sample ring: plain SPSC ring of int16 samples (s16 mono) with absolute
# 64-bit positions (wrapping modulo 2**64; compare through signed differences).
# The producer never overwrites unread samples: a write copies what fits and
# counts the rest in overflow_samples (drop newest). The producer may ask the
# consumer to discard everything written so far (sring_request_flush:
# barge-in / cancel); the consumer applies it on its next read, so read_pos
# keeps a single writer.
#
# Every function is `noexcept nogil`. Sides: sring_writable / sring_write /
# sring_request_flush are the producer's; sring_read / sring_read_full the
# consumer's; sring_readable is a pure query either side may call (it counts a
# pending flush but never moves read_pos).
#
# Ownership (the engine's adoption rule, per side): engine_adopt_producer()
# or engine_adopt_consumer() (with the GIL; RuntimeError if that side is
# already adopted) makes the Python methods of that side raise RuntimeError
# until engine_release_producer()/engine_release_consumer(); the other side's
# Python methods keep working (that is how Python writes into a ring the engine
# reads). Counters and positions stay readable from any thread.
cimport cython
from libc.stdint cimport int16_t, uint64_t
from voicecore._native.atomic cimport vc_u64

cdef struct vc_sring:
    # written by the producer
    vc_u64 write_pos
    vc_u64 flush_to
    vc_u64 written_samples
    vc_u64 overflow_samples
    char _pad0[64]
    # written by the consumer
    vc_u64 read_pos
    vc_u64 read_samples
    vc_u64 flushed_samples
    vc_u64 underrun_samples
    char _pad1[64]
    # immutable after creation
    int16_t* data
    uint64_t capacity
    uint64_t mask

# NULL with errno EINVAL unless capacity is a power of two in 1..2**30,
# ENOMEM when allocation fails.
cdef vc_sring* sring_new(uint64_t capacity, uint64_t start_position) noexcept nogil
cdef void sring_free(vc_sring* r) noexcept nogil
# producer side
cdef uint64_t sring_writable(vc_sring* r) noexcept nogil
cdef uint64_t sring_write(vc_sring* r, const int16_t* src, uint64_t n) noexcept nogil
cdef void sring_request_flush(vc_sring* r) noexcept nogil
# either side (pure query)
cdef uint64_t sring_readable(vc_sring* r) noexcept nogil
# consumer side
# apply a pending flush and return the read position (the engine uses it to
# find ring positions it has marked, e.g. the end of a response)
cdef uint64_t sring_consumer_pos(vc_sring* r) noexcept nogil
cdef uint64_t sring_read(vc_sring* r, int16_t* dst, uint64_t n) noexcept nogil
# reads n samples, zero-filling (and counting as underrun) what is missing
cdef uint64_t sring_read_full(vc_sring* r, int16_t* dst, uint64_t n) noexcept nogil


@cython.final
cdef class SampleRing:
    cdef vc_sring* ring          # the C ring (never NULL once constructed)
    cdef vc_u64 _owner           # OWN_PRODUCER | OWN_CONSUMER bits
    cdef vc_sring* ptr(self) noexcept nogil
    cdef int engine_adopt_producer(self) except -1
    cdef int engine_adopt_consumer(self) except -1
    cdef void engine_release_producer(self) noexcept nogil
    cdef void engine_release_consumer(self) noexcept nogil
    cdef int engine_adopt(self) except -1            # both sides
    cdef void engine_release(self) noexcept nogil    # both sides

# cdef API of voicecore's lock-free rings for other native modules (the audio
# I/O engine). Every function below is `noexcept nogil`: safe to call from a
# native thread that never holds the GIL. Each ring is single-producer /
# single-consumer: exactly one thread calls the producer functions and exactly
# one (other) thread calls the consumer functions of a given ring.
#
# Positions are absolute 64-bit sample (or frame) counters that wrap modulo
# 2**64; compare them only through signed differences (`<int64_t>(a - b)`).
# Capacities are powers of two (the constructors reject anything else).
from libc.stdint cimport int16_t, int64_t, uint32_t, uint64_t


cdef extern from "vc_atomic.h" nogil:
    ctypedef struct vc_u64:
        pass
    void vc_init(vc_u64* a, uint64_t x)
    uint64_t vc_load_relaxed(vc_u64* a)
    uint64_t vc_load_acquire(vc_u64* a)
    uint64_t vc_load_seq_cst(vc_u64* a)
    void vc_store_relaxed(vc_u64* a, uint64_t x)
    void vc_store_release(vc_u64* a, uint64_t x)
    void vc_store_seq_cst(vc_u64* a, uint64_t x)
    bint vc_cas_acq_rel(vc_u64* a, uint64_t* expected, uint64_t desired)
    bint vc_cas_seq_cst(vc_u64* a, uint64_t* expected, uint64_t desired)
    uint64_t vc_exchange_seq_cst(vc_u64* a, uint64_t x)
    void vc_stat_add(vc_u64* a, uint64_t x)
    void vc_fence_acquire()
    void vc_fence_release()
    void vc_fence_seq_cst()
    void vc_cpu_relax()


# ----------------------------------------------------------------- sample ring
# Plain SPSC ring of int16 samples. The producer never overwrites unread
# samples: a write copies what fits and counts the rest in overflow_samples
# (drop newest). The producer may ask the consumer to discard everything
# written so far (request_flush: barge-in / cancel); the consumer applies it on
# its next call, so the read index keeps a single writer.
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

cdef vc_sring* sring_new(uint64_t capacity, uint64_t start_position) noexcept nogil
cdef void sring_free(vc_sring* r) noexcept nogil
# producer side
cdef uint64_t sring_writable(vc_sring* r) noexcept nogil
cdef uint64_t sring_write(vc_sring* r, const int16_t* src, uint64_t n) noexcept nogil
cdef void sring_request_flush(vc_sring* r) noexcept nogil
# consumer side
cdef uint64_t sring_readable(vc_sring* r) noexcept nogil
cdef uint64_t sring_read(vc_sring* r, int16_t* dst, uint64_t n) noexcept nogil
cdef uint64_t sring_read_full(vc_sring* r, int16_t* dst, uint64_t n) noexcept nogil


# ------------------------------------------------------- AEC reference ring
# Timeline: position(t) = origin + floor((t - epoch_ns) * rate / 1e9), the same
# mapping on both sides. The producer writes exactly the samples it sends at
# position(send time), snapped to the previous write's end when within
# `tolerance` samples (pacing jitter); a later send opens a gap that reads as
# zeros (silence). The consumer reads the reference for capture time minus the
# echo delay, snapped the same way to the end of its previous read. Overflow
# overwrites the oldest samples; reads validate what they copied seqlock-style
# (`claim` is published before the producer touches a slot) and zero anything
# overwritten meanwhile. Runs (contiguous stretches of played samples, each
# with the send time and RTP timestamp of its first sample) live in a small
# ring of their own so a read can tell played zeros from silence.
cdef struct vc_aec_run:
    uint64_t gap_start      # end of the previous run; [gap_start, start) is silence
    uint64_t start          # position of the run's first sample
    int64_t send_ns         # its send time (monotonic ns)
    uint32_t rtp            # its RTP timestamp
    uint32_t _reserved

cdef struct vc_aec:
    # written by the producer
    vc_u64 head              # positions < head are published
    vc_u64 claim             # positions < claim may be being written
    vc_u64 runs_head         # runs published
    vc_u64 runs_claim        # runs possibly being written
    vc_u64 written_samples
    vc_u64 written_frames
    vc_u64 overflow_samples  # overwritten before the consumer read them
    vc_u64 gaps              # silences opened by a late send
    vc_u64 early_writes      # sends ahead of their time by more than the tolerance
    vc_u64 rtp_discontinuities
    vc_u64 last_send_ns
    vc_u64 last_rtp
    char _pad0[64]
    # written by the consumer
    vc_u64 consumed          # end of the consumer's last read
    vc_u64 read_frames
    vc_u64 read_samples
    vc_u64 silence_samples   # zeros for time where nothing was played
    vc_u64 underrun_samples  # zeros past the newest written sample (subset of silence)
    vc_u64 underrun_reads
    vc_u64 late_samples      # zeros because the samples were already overwritten
    vc_u64 realigns          # reads not contiguous with the previous one
    char _pad1[64]
    vc_u64 echo_delay_ns     # settable from any thread
    char _pad2[64]
    # producer-private
    uint32_t p_next_rtp
    # consumer-private
    uint64_t c_next
    bint c_started
    # immutable after creation
    int16_t* data
    uint64_t capacity
    uint64_t mask
    vc_aec_run* runs
    uint64_t runs_capacity
    uint64_t runs_mask
    int64_t epoch_ns
    uint64_t origin
    int64_t tolerance        # samples
    uint32_t rate

cdef vc_aec* aec_new(uint64_t capacity, uint32_t rate, int64_t epoch_ns, uint64_t origin,
                     int64_t tolerance, int64_t echo_delay_ns) noexcept nogil
cdef void aec_free(vc_aec* a) noexcept nogil
cdef uint64_t aec_position_at(vc_aec* a, int64_t t_ns) noexcept nogil
# producer: returns the position the block was written at
cdef uint64_t aec_write(vc_aec* a, const int16_t* src, uint64_t n, int64_t send_ns,
                        uint32_t rtp) noexcept nogil
# consumer: always fills dst[0:n]; returns the position read from
cdef uint64_t aec_read_aligned(vc_aec* a, int16_t* dst, uint64_t n, int64_t capture_ns) noexcept nogil
cdef uint64_t aec_read_at(vc_aec* a, int16_t* dst, uint64_t n, uint64_t pos) noexcept nogil


# ----------------------------------------------------------------- frame queue
# Bounded SPSC queue of fixed-size int16 frames with metadata; drop-oldest on
# overflow. The producer drops the oldest frame by advancing the read index
# with a CAS; the consumer copies a slot out and then claims it with a CAS on
# the same index, so a frame the producer dropped (and may be overwriting)
# while it was being copied is detected and discarded, never returned torn.
# A wake-up fd (eventfd / pipe) is signalled only when the consumer has armed
# it by finding the queue empty: one syscall per empty -> non-empty transition.
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
    int fds[2]

cdef vc_fqueue* fq_new(uint64_t slots, uint64_t frame_samples, bint wakeup) noexcept nogil
cdef void fq_free(vc_fqueue* q) noexcept nogil
# producer: copies frame_samples samples; returns 1 if the oldest frame was dropped
cdef int fq_push(vc_fqueue* q, const int16_t* src, uint32_t session, uint64_t timestamp,
                 uint32_t flags) noexcept nogil
# consumer: returns 1 and fills dst/meta, or 0 when empty (and arms the wake-up)
cdef int fq_pop(vc_fqueue* q, int16_t* dst, vc_frame_meta* meta) noexcept nogil
cdef uint64_t fq_len(vc_fqueue* q) noexcept nogil

# AEC reference ring: what was really sent, on the capture timeline.
#
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
# ring of VC_AEC_RUNS entries so a read can tell played zeros from silence.
#
# Every function is `noexcept nogil`. Producer: aec_write. Consumer:
# aec_read_aligned / aec_read_at. aec_position_at is pure; echo_delay_ns may
# be stored from any thread. Ownership rule per side as in sample.pxd
# (engine_adopt_producer / engine_adopt_consumer and their release).
cimport cython
from libc.stdint cimport int16_t, int64_t, uint32_t, uint64_t
from voicecore._native.atomic cimport vc_u64

cdef enum:
    VC_AEC_RUNS = 64         # runs remembered (a power of two)

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
    int64_t epoch_ns
    uint64_t origin
    int64_t tolerance        # samples
    uint32_t rate
    vc_aec_run runs[VC_AEC_RUNS]

# NULL with errno EINVAL unless capacity is a power of two in 1..2**30 and
# rate > 0, ENOMEM when allocation fails.
cdef vc_aec* aec_new(uint64_t capacity, uint32_t rate, int64_t epoch_ns, uint64_t origin,
                     int64_t tolerance, int64_t echo_delay_ns) noexcept nogil
cdef void aec_free(vc_aec* a) noexcept nogil
cdef uint64_t aec_position_at(vc_aec* a, int64_t t_ns) noexcept nogil
# producer: returns the position the block was written at
cdef uint64_t aec_write(vc_aec* a, const int16_t* src, uint64_t n, int64_t send_ns,
                        uint32_t rtp) noexcept nogil
# consumer: always fills dst[0:n] (n <= capacity); returns the position read from
cdef uint64_t aec_read_aligned(vc_aec* a, int16_t* dst, uint64_t n, int64_t capture_ns) noexcept nogil
cdef uint64_t aec_read_at(vc_aec* a, int16_t* dst, uint64_t n, uint64_t pos) noexcept nogil


@cython.final
cdef class AECReferenceRing:
    cdef vc_aec* ring            # the C ring (never NULL once constructed)
    cdef vc_u64 _owner           # OWN_PRODUCER | OWN_CONSUMER bits
    cdef vc_aec* ptr(self) noexcept nogil
    cdef int engine_adopt_producer(self) except -1
    cdef int engine_adopt_consumer(self) except -1
    cdef void engine_release_producer(self) noexcept nogil
    cdef void engine_release_consumer(self) noexcept nogil
    cdef int engine_adopt(self) except -1            # both sides
    cdef void engine_release(self) noexcept nogil    # both sides

# cdef API of voicecore's lock-free rings for other native modules (the audio
# I/O engine). One import for all three:
#
#     from voicecore._native.media.ring cimport (
#         SampleRing, AECReferenceRing, FrameQueue, vc_sring, vc_aec, vc_fqueue,
#         vc_frame_meta, sring_write, sring_read, aec_write, fq_push, fq_pop, FLAG_END, ...)
#
# Each ring is single-producer / single-consumer: exactly one thread calls the
# producer functions and exactly one (other) thread the consumer functions of
# a given ring. Every function is `noexcept nogil`. Positions are absolute
# 64-bit sample (or frame) counters that wrap modulo 2**64; compare them only
# through signed differences (`<int64_t>(a - b)`). Capacities are powers of
# two: the constructors (and sring_new / aec_new / fq_new, which return NULL
# with errno EINVAL) reject anything else. Data pointers must be valid for the
# n samples passed (NULL only with n == 0; the caller's contract).
#
# Sharing one object between the engine and Python: create it from Python (or
# the engine creates it, with the GIL, and hands it to Python), keep a strong
# reference, take the C struct with `.ptr()` (or the `ring` / `queue`
# attribute) and drive it through the functions below.
#
# Ownership rule, per side (SPSC): `engine_adopt_producer()` /
# `engine_adopt_consumer()` (with the GIL; RuntimeError if that side is
# already adopted, by this or another engine) and
# `engine_release_producer()` / `engine_release_consumer()` (nogil).
# While a side is adopted, the Python methods of that side raise RuntimeError
# naming the class and side; the other side's Python methods keep working (so
# Python writes outbound PCM into a ring whose consumer is the engine).
# `engine_adopt()` / `engine_release()` take and hand back both sides. Counters
# (stats()), positions and immutable properties stay readable from Python.
#
# Files: sample.pxd (SampleRing), aec.pxd (AECReferenceRing), frames.pxd
# (FrameQueue and the FLAG_* bits) hold the declarations and their comments.
from voicecore._native.media.ring.sample cimport (
    SampleRing, vc_sring, sring_new, sring_free, sring_writable, sring_write,
    sring_request_flush, sring_readable, sring_consumer_pos, sring_read, sring_read_full,
)
from voicecore._native.media.ring.aec cimport (
    AECReferenceRing, vc_aec, vc_aec_run, VC_AEC_RUNS, aec_new, aec_free, aec_position_at,
    aec_write, aec_read_aligned, aec_read_at,
)
from voicecore._native.media.ring.frames cimport (
    FrameQueue, vc_fqueue, vc_frame_meta, fq_new, fq_free, fq_push, fq_slot, fq_commit, fq_pop, fq_len,
    FLAG_END, FLAG_SILENCE, FLAG_DISCONTINUITY, FLAG_PARTIAL,
    VC_WAKEUP_NONE, VC_WAKEUP_DEFAULT, VC_WAKEUP_PIPE,
)

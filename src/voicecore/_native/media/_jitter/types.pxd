# Public constants and structs of the jitter buffer. They are re-exported by
# (and documented in) voicecore/_native/media/jitter.pxd: cimport them from
# there. They live in this file only so that the implementation files in this
# folder can use them without a cimport cycle.
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t


# push_c() results
cdef enum:
    R_OK = 0
    R_HELD = 1
    R_DUPLICATE = 2
    R_LATE = 3
    R_MALFORMED = 4
    R_OVERSIZE = 5
    R_UNKNOWN_PT = 6
    R_FOREIGN = 7
    R_FOREIGN_SSRC = 8
    R_DISCARDED = 9
    R_MALFORMED_DTMF = 10

# pull_c() frame kinds
cdef enum:
    K_AUDIO = 0
    K_CONCEALED = 1
    K_SILENCE = 2
    K_COMFORT_NOISE = 3


cdef struct JStats:
    uint64_t received
    uint64_t duplicates
    uint64_t late
    uint64_t lost
    uint64_t discarded
    uint64_t malformed
    uint64_t oversize
    uint64_t unknown_pt
    uint64_t foreign
    uint64_t foreign_ssrc
    uint64_t malformed_dtmf
    uint64_t concealed_samples
    uint64_t concealment_events
    uint64_t ssrc_switches
    uint64_t sequence_restarts
    uint64_t reordered
    uint64_t dtmf_digits
    uint64_t dtmf_overflow
    uint64_t cn_frames
    uint64_t frames_out
    uint64_t audio_frames
    uint64_t concealed_frames
    uint64_t silence_frames
    uint64_t comfort_noise_frames
    uint64_t time_scaled_samples

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


# Statistics (JitterBuffer.stats() and stats_c()). Every push_c() call
# increments exactly one *outcome* counter, the one its result names, at once:
#   R_OK received, R_HELD held, R_DUPLICATE duplicates, R_LATE late,
#   R_MALFORMED malformed, R_OVERSIZE oversize, R_UNKNOWN_PT unknown_pt,
#   R_FOREIGN foreign, R_FOREIGN_SSRC foreign_ssrc, R_DISCARDED discarded,
#   R_MALFORMED_DTMF malformed_dtmf,
# so their sum equals the number of push_c() calls at every moment. ``held``
# is the one gauge (0 or 1: the packet on probation now); when probation
# ends the packet moves from ``held`` to ``received`` (it validated and is
# played) or to ``discarded`` / ``late`` (it was a stray). All other fields
# are monotonic counters that describe what happened on the way.
cdef struct JStats:
    # outcome counters (one per push, see above; ``received`` is at the end)
    uint64_t held                # gauge: packets on probation now (0 or 1)
    uint64_t duplicates
    uint64_t late                # arrived after their playout deadline (dropped)
    uint64_t malformed
    uint64_t oversize
    uint64_t unknown_pt          # payload type not negotiated (dropped before sequencing)
    uint64_t foreign             # STUN / DTLS / TURN / RTCP bytes on the RTP port
    uint64_t foreign_ssrc        # packets of an SSRC other than the established stream's
    uint64_t discarded           # strays (probation never validated) and window overflow
    uint64_t malformed_dtmf      # RFC 4733 payload shorter than 4 bytes (its slot is kept)
    # what happened on the way
    uint64_t late_partial        # stored but their start was already concealed (in received)
    uint64_t takeover_packets    # counted in foreign_ssrc on arrival, played after their SSRC took over
    uint64_t window_overflow     # stored packets dropped unplayed when a packet beyond the window came
    uint64_t lost                # sequence numbers the playout passed without playing
    uint64_t concealed_samples
    uint64_t concealment_events
    uint64_t ssrc_switches
    uint64_t sequence_restarts
    uint64_t reordered
    uint64_t dtmf_digits
    uint64_t dtmf_overflow
    uint64_t cn_frames
    uint64_t concealed_frames
    uint64_t silence_frames
    uint64_t comfort_noise_frames
    uint64_t time_scaled_samples
    uint64_t fec_recovered_samples   # Opus: lost samples recovered from the next packet's in-band FEC
                                     # (also counted in concealed_samples: the packet itself was lost)
    # The three counters every push and pull of an established stream
    # update: last, so that they share the first of JBState's hot lines
    # (state.pxd).
    uint64_t frames_out
    uint64_t audio_frames
    uint64_t received            # outcome: stored for playout (includes validated probation packets)


# One RFC 4733 keypad event (dtmf_pop_c)
cdef struct JDtmfEvent:
    int code               # 0-9, 10 = '*', 11 = '#', 12-15 = 'A'-'D'
    int64_t duration       # samples at the buffer's clock_rate (RTP timestamp units x
                           # clock_rate / rtp_clock_rate: x2 for G.722, x1 for G.711)
    uint32_t ts            # RTP timestamp of the event (its start)


# What an RTCP receiver report block needs (rtcp_c)
cdef struct JRtcp:
    bint have_source       # a stream is established (the fields below are valid)
    uint32_t ssrc
    uint32_t ext_highest_seq   # cycles << 16 | max_seq (RFC 3550 A.1)
    int32_t cumulative_lost    # expected - received (A.3), clamped to 24-bit signed
    uint8_t fraction_lost      # lost / expected * 256 since the previous interval (A.3)
    uint32_t jitter            # interarrival jitter (A.8), RTP timestamp units (rtp_clock_rate)
    uint32_t played_ts         # RTP timestamp of the first sample of the last frame pulled
    bint have_played           # a frame of this stream has been pulled (played_ts is valid)

# cdef API of the RTP jitter buffer for the audio I/O engine.
#
# The engine calls push_c() for every datagram it receives and pull_c() once
# per output frame, both without the GIL; neither can raise. Everything the
# buffer owns lives in C memory allocated in __cinit__.
cimport cython
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t


cdef struct JSlot:
    int64_t seq          # extended sequence number stored here (-1: never)
    int64_t ts           # extended RTP timestamp of the first sample
    int32_t ns           # samples of media in the payload (0 for non-media)
    uint8_t state        # SLOT_* below
    uint8_t codec        # CODEC_*
    uint8_t kind         # KIND_MEDIA / KIND_DTMF / KIND_CN
    uint8_t cn_level     # RFC 3389 noise level (-dBov) for CN slots


cdef struct JHdr:
    int off              # payload offset in the datagram
    int plen             # payload length (padding removed)
    int pt, marker, kind, codec
    uint16_t seq
    uint32_t ts
    uint32_t ssrc


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


# Interim seam for the engine (replaced by the jitter buffer's own API).
cdef struct JDtmfEvent:
    int code
    int64_t duration
    uint32_t ts

cdef struct JRtcp:
    bint have_source
    uint32_t ssrc
    uint32_t ext_highest_seq
    int32_t cumulative_lost
    uint8_t fraction_lost
    uint32_t jitter
    uint32_t played_ts
    bint have_played


@cython.final
cdef class JitterBuffer:
    cdef JSlot* slots
    cdef uint8_t* pay            # capacity * max_payload bytes
    cdef int16_t* hist           # decoded / concealed sample history (playout order)
    cdef int16_t* tmp            # scratch for time scaling and end-of-erasure overlap-add
    cdef int16_t* pbuf           # the pitch period copied at the start of an erasure
    cdef double* hgram           # relative-delay histogram (1 ms bins)
    cdef uint8_t* cand_pay       # payload of the packet on probation
    cdef double* fbuf            # one pitch period of the packet after a gap (two-sided blend), then scratch for its pitch search
    cdef int64_t bp_seq          # packet whose pitch period bp_P was measured (-1: none)
    cdef int bp_P
    cdef int16_t* lpcsrc         # the 20 ms before an erasure, for the lazily computed LPC
    cdef JStats st
    # configuration
    cdef int rate, frame, r8, capacity, mask, max_payload, dl
    cdef int dtmf_pt, cn_pt
    cdef uint8_t codec_of_pt[128]
    cdef int min_delay, max_delay, init_delay     # samples
    cdef int nbins
    cdef bint conceal_on, cn_on
    cdef int fade_start, fade_end               # samples into an erasure
    cdef int64_t dtmf_timeout_ns
    # stream / sequence state
    cdef bint have_stream
    cdef uint32_t ssrc
    cdef int64_t max_ext
    cdef uint16_t max_seq16
    cdef int64_t ref_ext_ts
    cdef uint32_t ref_ts32
    cdef int64_t max_arrival
    cdef int64_t max_media_ts
    cdef int64_t last_accept_ns
    cdef int64_t t0_ns
    # probation candidate
    cdef bint cand_valid
    cdef uint32_t cand_ssrc
    cdef uint16_t cand_seq
    cdef uint32_t cand_ts
    cdef int64_t cand_arrival
    cdef int cand_len
    cdef uint8_t cand_pt, cand_marker
    # timing and delay estimation
    cdef double jitter, last_transit
    cdef bint have_transit
    cdef double tmin_cur, tmin_prev
    cdef int64_t win_start
    cdef double hw, htotal
    cdef int target, hcount, pkt_ns
    cdef double cur_delay
    # playout
    cdef bint started, in_pause, lost_flag, cn_pause
    cdef int64_t read_seq, play_ts
    cdef int hist_end, hist_size, hist_keep
    cdef int adjusting
    cdef uint8_t cn_level
    cdef uint32_t rng
    cdef uint8_t cur_codec
    # concealment (G.711 Appendix I style)
    cdef bint plc_active, joined
    cdef double plc_noise, noise_frac, voicing_min
    cdef double lpc_a[11]
    cdef double lpc_mem[11]
    cdef double lpc_gain
    cdef bint lpc_ready
    cdef int bl_max
    cdef int P, L, pos, ck
    cdef int end_left, end_len
    cdef int flags
    # DTMF (RFC 4733)
    cdef bint dt_active
    cdef uint32_t dt_ts
    cdef int dt_code
    cdef int64_t dt_base, dt_dur, dt_last_ns
    cdef uint32_t dt_done[8]
    cdef int dt_done_n
    cdef int dq_code[32]
    cdef int64_t dq_dur[32]
    cdef uint32_t dq_ts[32]
    cdef int dq_head, dq_len

    # internal steps (declared here because Cython requires it)
    cdef double _now_s(self, int64_t now) noexcept nogil
    cdef double _ref(self) noexcept nogil
    cdef void _timing(self, int64_t ext_ts, int64_t now) noexcept nogil
    cdef void _dtmf_report(self, int code, int64_t dur, uint32_t ts) noexcept nogil
    cdef void _dtmf_timeout(self, int64_t now) noexcept nogil
    cdef void _dtmf(self, const uint8_t* p, uint32_t ts, int64_t now) noexcept nogil
    cdef int _parse(self, const uint8_t* d, Py_ssize_t n, JHdr* h) noexcept nogil
    cdef bint _consistent(self, uint32_t ts, int64_t now) noexcept nogil
    cdef int _candidate(self, uint32_t ssrc, uint16_t seq, uint32_t ts, int marker, int kind,
                        int codec, const uint8_t* p, int plen, int64_t now) noexcept nogil
    cdef void _overflow(self, int64_t ext) noexcept nogil
    cdef int _accept(self, int64_t ext, uint16_t seq, uint32_t ts, int kind, int codec,
                     const uint8_t* p, int plen, int64_t now) noexcept nogil
    cdef void _plc_start(self) noexcept nogil
    cdef double _synth(self) noexcept nogil
    cdef double _noise(self) noexcept nogil
    cdef double _shaped(self) noexcept nogil
    cdef void _lpc(self, const int16_t* x) noexcept nogil
    cdef int _bpitch(self, const uint8_t* fp, int ns, int codec) noexcept nogil
    cdef void _conceal(self, int m, JSlot* fut, int64_t gap) noexcept nogil
    cdef void _fill_silence(self, int m) noexcept nogil
    cdef bint _quiet(self) noexcept nogil
    cdef void _end_ola(self, int16_t* dst, int m) noexcept nogil
    cdef int64_t _advance(self) noexcept nogil
    cdef void _produce(self, int n) noexcept nogil

    cdef int64_t _rr_expected_prior, _rr_received_prior, _base_ext
    # the engine's API
    cdef int push_c(self, const uint8_t* data, Py_ssize_t n, int64_t arrival_ns) noexcept nogil
    cdef int pull_c(self, int16_t* out, int64_t now_ns) noexcept nogil
    cdef bint dtmf_pop_c(self, JDtmfEvent* ev) noexcept nogil
    cdef void rtcp_c(self, JRtcp* out, bint new_interval) noexcept nogil
    cdef const JStats* stats_c(self) noexcept nogil
    cdef int frame_samples_c(self) noexcept nogil
    cdef bint _adopted
    cdef int engine_adopt(self) except -1
    cdef void engine_release(self) noexcept nogil
    cdef dict engine_stats(self)

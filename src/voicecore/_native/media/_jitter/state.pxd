# Private state of one jitter buffer (the JitterBuffer object embeds one
# JBState) and the constants the implementation files share. Not an API.
#
# Time bases: arrival / pull times are int64 ns on the consumer's monotonic
# clock; everything on the media timeline is in *extended* audio samples at
# the buffer's rate (int64), so 32-bit timestamp wraps, ptime changes and
# re-anchorings never break the arithmetic. RTP timestamp differences enter
# the timeline scaled by ``tsn / tsd`` (1 for G.711 / L16, 2 for G.722 whose
# RTP clock is 8 kHz for 16 kHz audio, rate / 48000 for Opus; codec.pxd
# jb_ts_delta); raw 32-bit timestamps are kept where raw values are needed
# (wrap handling, the reported played_ts). Sequence numbers are extended the
# same way (int64 ``ext``), starting at 1 << 20.
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from voicecore._native.media._jitter.types cimport JStats, JDtmfEvent
from voicecore._native.media.g722 cimport G722State


# C11 atomics (voicecore/_native/vc_atomic.h), declared here until the shared
# voicecore/_native/atomic.pxd exists; only what the jitter buffer uses.
cdef extern from "vc_atomic.h" nogil:
    ctypedef struct vc_u64:
        pass
    void vc_init(vc_u64* a, uint64_t x)
    uint64_t vc_load_relaxed(vc_u64* a)
    uint64_t vc_load_acquire(vc_u64* a)
    void vc_store_release(vc_u64* a, uint64_t x)
    bint vc_cas_acq_rel(vc_u64* a, uint64_t* expected, uint64_t desired)


cdef enum:
    SLOT_EMPTY = 0
    SLOT_MEDIA = 1
    SLOT_NONMEDIA = 2
    SLOT_PLAYED = 3

cdef enum:
    KIND_MEDIA = 0
    KIND_DTMF = 1
    KIND_CN = 2

cdef enum:
    CODEC_NONE = 0
    CODEC_PCMU = 1
    CODEC_PCMA = 2
    CODEC_L16 = 3              # 16-bit big-endian PCM (RFC 3551)
    CODEC_G722 = 4             # ITU-T G.722 (RFC 3551: RTP clock 8 kHz, audio 16 kHz)
    CODEC_OPUS = 5             # Opus (RFC 7587: RTP clock 48 kHz), libopus

# what went into the frame being produced (pull_c's result is derived from it)
cdef enum:
    F_AUDIO = 1
    F_CONCEAL = 2
    F_SILENCE = 4
    F_CN = 8

cdef enum:
    CAND_LATE = 2             # cand_marker flag: held while behind the playout position
    MAX_DROPOUT = 3000        # RFC 3550 A.1
    MAX_MISORDER = 100
    JUMP_CHECK = 8            # forward gaps above this must have a consistent timestamp
    MAX_DATAGRAM = 1500
    MARGIN_MS = 5             # added to the delay quantile
    QUIET_MEAN_ABS_C = 100    # mean |x| of the last 10 ms below which a drained buffer is a pause
    FR_CAP = 16               # packets of a foreign SSRC kept for a possible takeover
    OPUS_PLC_END_MS = 200     # Opus: libopus's PLC fades to silence here (decode.pxd)
    N_INTRUDERS = 4           # SSRCs remembered as seen interleaved with the stream

cdef extern from *:
    """
    #define VC_JB_PROBATION_NS 1000000000LL
    #define VC_JB_CAND_PRIORITY_NS 100000000LL
    #define VC_JB_WINDOW_NS 2000000000LL
    #define VC_JB_FORGET 0.985
    #define VC_JB_QUANTILE 0.98
    #define VC_JB_INTRUDER_QUIET_NS 2000000000LL
    """
    const int64_t PROBATION_NS "VC_JB_PROBATION_NS"          # probation pair must arrive within this
    const int64_t CAND_PRIORITY_NS "VC_JB_CAND_PRIORITY_NS"  # first SSRC on probation keeps priority
    const int64_t WINDOW_NS "VC_JB_WINDOW_NS"                # minimum-transit window
    const double FORGET "VC_JB_FORGET"                       # per-packet forgetting of the delay histogram
    const double QUANTILE "VC_JB_QUANTILE"
    const int64_t INTRUDER_QUIET_NS "VC_JB_INTRUDER_QUIET_NS"  # silence before an interleaved SSRC may take over


cdef struct JSlot:
    int64_t seq          # extended sequence number stored here (-1: never)
    int64_t ts           # extended RTP timestamp of the first sample
    int32_t ns           # samples of media in the payload (0 for non-media)
    int32_t plen         # payload bytes stored
    uint8_t state        # SLOT_*
    uint8_t codec        # CODEC_*
    uint8_t kind         # KIND_*
    uint8_t cn_level     # RFC 3389 noise level (-dBov) for CN slots


cdef struct JHdr:
    int off              # payload offset in the datagram
    int plen             # payload length (padding removed)
    int pt, marker, kind, codec
    uint16_t seq
    uint32_t ts
    uint32_t ssrc


# Packets of another SSRC while a stream is established (seq.pxd): the
# newest run of sequential packets of one SSRC, kept in case that SSRC takes
# the stream over (the established one stopped).
cdef struct JForeign:
    int n                            # entries (first: read on every push and pull)
    uint32_t ssrc
    int head                         # index of the oldest
    uint16_t seq[16]
    uint32_t ts[16]
    int64_t arrival[16]
    int len[16]
    uint8_t info[16]                 # kind << 4 | marker
    uint8_t codec[16]
    uint8_t* pay                     # FR_CAP * max_payload bytes
    uint32_t intruders[4]            # SSRCs seen interleaved with the stream
    int n_intruders
    int own_since                    # packets of the stream that advanced it since the run began


# RFC 3550 A.1 / A.3 / A.8 state of the established source (rtcp.pxd)
cdef struct JRr:
    bint valid
    uint16_t max_seq
    uint32_t cycles
    uint32_t base_seq
    uint64_t received
    int64_t expected_prior, received_prior
    double jitter, last_transit
    bint have_transit


# Delay estimation (delay.pxd): RFC 3550 A.8 interarrival jitter and the
# histogram of delays relative to the fastest recent packet.
cdef struct JDelay:
    bint have_transit                # a media packet has been timed
    double tmin_cur, tmin_prev       # minimum transit of this and the previous window
    int64_t win_start
    double* hgram                    # relative-delay histogram, 1 ms bins
    int nbins
    double hw, htotal                # weight of the next packet (grows: forgetting), total weight
    int hcount
    int target                       # playout delay target (samples)
    double cur_delay                 # delay of the playout position (samples)


# RFC 4733 events (dtmf.pxd). Everything but ``q_head`` belongs to the thread
# that pushes packets (and pulls frames); the digit queue is single-producer /
# single-consumer: the producer writes q[q_tail % 32] then publishes q_tail
# (release), the consumer reads q[q_head % 32] after an acquire load of q_tail
# then publishes q_head (release), so another thread may pop digits while
# packets are pushed.
cdef struct JDtmf:
    uint32_t ts
    int code
    int64_t base, dur, last_ns
    uint32_t done[8]
    int done_n
    JDtmfEvent q[32]
    # last (JBState's layout): read on every push and pull
    bint active
    vc_u64 q_tail            # written by the producer only
    vc_u64 q_head            # written by the consumer only


# Concealment (plc.pxd)
cdef struct JPlc:
    bint active               # first (JBState's layout): active and end_left are read on every pull
    int end_left
    int16_t* pbuf         # the pitch period copied at the start of an erasure
    int16_t* fbuf         # one pitch period of the packet after a gap (two-sided blend)
    int32_t lpc8[170]     # the 20 ms before the erasure (8 kHz-equivalent sums) + 10 samples of memory
    int64_t bp_seq        # packet whose pitch period bp_P was measured (-1: none)
    int bp_P
    bint joined
    double noise, noise_frac, voicing_min
    double lpc_a[11]
    double lpc_mem[11]
    double lpc_gain
    bint lpc_ready
    double n8_prev, n8_next   # 8 kHz noise samples being interpolated (above 8 kHz)
    int nph                   # output samples since n8_prev
    int bl_max
    int P, L, pos, ck
    int end_len
    int fade_start, fade_mid, fade_end  # samples into an erasure (fade_mid: gain below 1/2)
    uint32_t rng


# Stateful decoders (decode.pxd): G.722 and Opus decode whole packets in
# playout order into ``buf`` when the playout first touches a packet; the
# frame is cut from there. Opus losses are filled by libopus (PLC, or the
# in-band FEC of the next packet) into ``lbuf`` in multiples of 2.5 ms.
cdef struct JCodec:
    void* dec             # G722Decoder / OpusDecoder (borrowed: JitterBuffer._dec owns it)
    void* enc             # G.722: the G722Encoder that makes the decoder follow a concealment
    int16_t pend          # G.722: a concealed sample waiting for its pair
    bint has_pend
    bint tracked          # G.722: the decoder follows a concealment; ``saved`` is its state before
    G722State saved
    int16_t* buf          # decoded audio of packet ``seq`` (whole packet)
    int cap               # samples buf / lbuf hold
    int64_t seq           # extended sequence number decoded into buf (-1: none)
    int n                 # samples in buf
    bint bad              # buf holds concealment (the packet did not decode)
    int64_t last          # extended sequence number of the last packet decoded
    int64_t reset_seq     # a new source starts here: reset the decoder before its first packet
    int16_t* lbuf         # Opus: samples libopus synthesised for a loss
    int lo                # first sample not used yet in lbuf
    int64_t lts           # timeline position of lbuf[lo]
    int ln                # samples left in lbuf from lo
    bint lfec             # lbuf holds FEC-recovered audio
    bint stopped          # Opus: the erasure reached silent_after: libopus no longer called
    int lk                # Opus: samples of the current erasure so far
    int q                 # Opus: 2.5 ms at the buffer's rate (libopus's loss granularity)
    int fade0, fend       # Opus: erasure samples where the fade to silence begins / ends
    bint fec_on           # Opus: use in-band FEC


# Layout: one push and one pull of an established stream (the engine does
# both for every call every 20 ms, across thousands of buffers, so each line
# they touch is a cache miss) touch only the fields from ``st``'s last three
# counters to the first entries of ``codec_of_pt`` (about seven lines, in
# one run), then the heads of dt's tail / plc (adjacent) and fr's head:
# keep fields read on that path in the hot block, everything else below it.
# jb_prefetch (jitter.pxd) prefetches these lines by field address.
cdef struct JBState:
    JStats st                # its per-frame counters are its last fields: they open the hot block
    # ---- hot block: configuration the path reads ----
    int64_t tsn, tsd         # timeline samples per RTP timestamp unit = tsn / tsd
    # buffers (allocated by JitterBuffer.__cinit__)
    JSlot* slots
    uint8_t* pay             # capacity * max_payload bytes
    int16_t* hist            # decoded / concealed sample history (playout order)
    # ---- hot block: stream / sequence state (seq.pxd) ----
    int64_t max_ext
    int64_t ref_ext_ts
    int64_t max_arrival
    int64_t max_media_ts
    int64_t media_end         # end (timestamp + samples) of the newest media packet
    int64_t last_own_ns       # arrival of the newest packet of the established SSRC in its window
    int64_t t0_ns
    # ---- hot block: playout (playout.pxd), delay, RFC 3550 ----
    int64_t read_seq, play_ts
    JDelay d
    JRr rr
    int rate, frame, capacity, mask, max_payload, dl    # configuration (fixed at construction)
    int scodec               # CODEC_G722 / CODEC_OPUS: the buffer's stateful codec (else CODEC_NONE)
    int dtmf_pt, cn_pt
    int min_delay, max_delay                 # samples
    int hist_keep, hist_size
    uint32_t ssrc
    uint32_t ref_ts32
    int pkt_ns               # samples in the newest media packet
    int hist_end
    int adjusting
    int flags
    uint32_t played_ts
    bint have_stream
    bint cand_valid
    bint in_pause, lost_flag, cn_pause
    bint have_played
    uint16_t max_seq16
    uint8_t codec_of_pt[128] # last of the hot block: the static payload types' entries are in it
    # ---- cold: configuration ----
    int r8
    int rtp_rate             # RTP timestamp clock (Hz)
    int init_delay           # samples
    bint conceal_on, cn_on
    int64_t dtmf_timeout_ns
    int16_t* tmp             # scratch for time scaling
    uint8_t* cand_pay        # payload of the packet on probation
    # probation candidate
    uint32_t cand_ssrc
    uint16_t cand_seq
    uint32_t cand_ts
    int64_t cand_arrival
    int cand_len
    uint8_t cand_pt, cand_marker
    uint8_t cn_level
    vc_u64 owner             # 1 while an Engine's I/O thread owns the buffer (engine_adopt)
    JCodec cx
    JForeign fr              # hot: its head (n)
    JDtmf dt                 # hot: its tail (active, q_tail, q_head) ...
    JPlc plc                 # ... next to plc's head (active, end_left)

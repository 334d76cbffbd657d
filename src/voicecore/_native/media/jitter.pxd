# cdef API of the RTP jitter buffer for the audio I/O engine.
#
#     from voicecore._native.media.jitter cimport (
#         JitterBuffer, JStats, JDtmfEvent, JRtcp, R_OK, ..., K_AUDIO, ...)
#
# Create the buffer from Python (``JitterBuffer(clock_rate=..., ...)``: the
# constructor validates and allocates everything), keep a reference, then
# drive it without the GIL. Nothing below allocates, raises or blocks.
#
# Ownership (one rule for every engine-usable object):
#   engine_adopt()   with the GIL, when the engine takes the buffer; raises
#                    RuntimeError if an engine already owns it.
#   engine_release() nogil, when the engine hands it back (session removed).
#   While adopted, the Python methods that read or change its state (push,
#   pull, pull_into, pop_dtmf, stats, rtcp, target_delay_ms) raise
#   RuntimeError("JitterBuffer is owned by an Engine's I/O thread: ...");
#   clock_rate, rtp_clock_rate, frame_samples, output_delay_samples and
#   parse_header() keep working (they read only the configuration).
#
# Codecs: G.711, L16, G.722 (clock_rate 16000: 16 kHz audio on an 8 kHz RTP
# clock) and Opus (clock_rate 8000/16000/24000/48000: decoded at that rate
# from a 48 kHz RTP clock). pull_c always writes samples at clock_rate_c();
# RTP timestamps count at rtp_clock_rate_c(). JRtcp.jitter and
# JRtcp.played_ts are in RTP timestamp units, JDtmfEvent.duration in samples
# at clock_rate_c().
#
# Threads: push_c, pull_c, stats_c and rtcp_c belong to one thread (the
# owner: the engine's I/O thread). dtmf_pop_c may be called from one other
# thread: the digit queue is single-producer (push_c / pull_c) /
# single-consumer (dtmf_pop_c) with acquire/release atomics.
#
# Push results R_* (push_c; Python: voicecore.jitter.PushResult):
#   R_OK              stored for playout              R_HELD          on probation (A.1: 2 sequential packets)
#   R_DUPLICATE       already stored                  R_LATE          after its playout deadline, dropped
#   R_MALFORMED       bad RTP header                  R_OVERSIZE      > 1500 bytes or > 200 ms of payload
#   R_UNKNOWN_PT      payload type not negotiated     R_FOREIGN       STUN / DTLS / TURN / RTCP bytes
#   R_FOREIGN_SSRC    another SSRC than the stream's  R_DISCARDED     a stray (timestamp or sequence far off)
#   R_MALFORMED_DTMF  RFC 4733 payload < 4 bytes (its sequence slot is kept as non-media)
# Each result increments the JStats outcome counter it names (see JStats).
#
# Frame kinds K_* (pull_c; Python: voicecore.jitter.FrameKind):
#   K_AUDIO (decoded packets, possibly with an overlap-add after a loss),
#   K_CONCEALED (some samples synthesised for missing audio), K_SILENCE,
#   K_COMFORT_NOISE (RFC 3389 level during a CN pause).
#
# Structs JStats, JDtmfEvent, JRtcp: fields and units are documented where
# they are defined, voicecore/_native/media/_jitter/types.pxd.
cimport cython
from libc.stdint cimport int16_t, int64_t, uint8_t, uintptr_t
from voicecore._native.media._jitter.types cimport (
    R_OK, R_HELD, R_DUPLICATE, R_LATE, R_MALFORMED, R_OVERSIZE, R_UNKNOWN_PT, R_FOREIGN,
    R_FOREIGN_SSRC, R_DISCARDED, R_MALFORMED_DTMF,
    K_AUDIO, K_CONCEALED, K_SILENCE, K_COMFORT_NOISE,
    JStats, JDtmfEvent, JRtcp,
)
from voicecore._native.media._jitter.state cimport JBState, CODEC_NONE


@cython.final
cdef class JitterBuffer:
    cdef JBState* _s             # private: the buffer's state (_jitter/state.pxd, a huge-page block: vc_hugemem.h), not an API
    cdef object _dec             # private: the G.722 / Opus decoder the state points to (or None)

    # One datagram (raw RTP, ``n`` bytes) that arrived at ``arrival_ns``
    # (monotonic clock, ns). Returns an R_* code.
    cdef int push_c(self, const uint8_t* data, Py_ssize_t n, int64_t arrival_ns) noexcept nogil
    # Plays out one frame at ``now_ns``: writes exactly frame_samples_c()
    # samples (clock_rate * frame_ms / 1000, s16 mono) to ``out``. Returns a
    # K_* code. Call once per frame_ms of the consumer's clock.
    cdef int pull_c(self, int16_t* out, int64_t now_ns) noexcept nogil
    cdef int frame_samples_c(self) noexcept nogil     # samples pull_c writes
    cdef int clock_rate_c(self) noexcept nogil        # Hz of the output (samples pull_c writes)
    cdef int rtp_clock_rate_c(self) noexcept nogil    # Hz of the RTP timestamps (G.722 8000, Opus 48000)
    # The oldest RFC 4733 digit not yet popped into ``ev``: 1, or 0 when none.
    cdef bint dtmf_pop_c(self, JDtmfEvent* ev) noexcept nogil
    # The counters (a plain read by the owner thread; see JStats).
    cdef const JStats* stats_c(self) noexcept nogil
    # The delay figures in ms: interarrival jitter (RFC 3550 A.8), the playout
    # target and the current playout delay (read by the owner thread).
    cdef void delay_ms_c(self, double* jitter, double* target, double* current) noexcept nogil
    # The receiver-report figures of the established source and the
    # timestamp just played; ``new_interval`` = 1 closes the interval that
    # ``fraction_lost`` covers (call it once per RTCP report).
    cdef void rtcp_c(self, JRtcp* out, bint new_interval) noexcept nogil

    cdef int engine_adopt(self) except -1
    cdef void engine_release(self) noexcept nogil


cdef extern from *:
    """
    /* a demand load whose value is not used: unlike a prefetch, it is never
       dropped on a TLB miss, and out-of-order execution goes on past it */
    #define VC_TOUCH(p) ((void)*(const volatile unsigned char *)(p))
    """
    void _jb_pf "__builtin_prefetch" (const void* p) nogil
    void _jb_pfw "__builtin_prefetch" (const void* p, int rw) nogil
    void vc_touch "VC_TOUCH" (const void* p) nogil


# Cache prefetch hints for an engine that walks many buffers in turn: a hint
# only (reads what the owner thread may read, changes nothing). ``s`` is
# ``buffer._s`` (an engine keeps a copy of that pointer per session). stage 0: the state
# every push / pull touches; stage 1 (once stage 0 had time to land): the
# slots, payload, history and delay-histogram lines the next push / pull use.
cdef inline void jb_prefetch(const JBState* s, int stage) noexcept nogil:
    cdef const char* p
    cdef const char* e
    cdef int64_t k
    if stage == 0:
        # the hot block (state.pxd: from st's per-frame counters to the
        # static payload types' codec entries), fr's head, dt's tail and
        # plc's head; the codec block for a stateful codec
        vc_touch(&s.max_ext)
        p = <const char*>(<uintptr_t>&s.st.frames_out & ~(<uintptr_t>63))
        e = <const char*>&s.codec_of_pt[36]
        while p < e:
            _jb_pf(p)
            p += 64
        _jb_pf(&s.fr.n)
        _jb_pf(&s.dt.active)
        _jb_pf(&s.dt.q_head)
        _jb_pf(&s.plc.end_left)
        if s.scodec != CODEC_NONE:
            _jb_pf(&s.cx)
        return
    # Prefetches only, no demand load (vc_touch) in this stage: these lines
    # may lie on pages never written yet (payload slots not used so far, a
    # new buffer's history). A load there maps the zero page and the first
    # write faults a second time; measured with loads here, the engine's
    # worst tick (2,500 calls all starting to send, voicecore.bench.worst)
    # went from 3.5 to 6.3 ms.
    # The slots the playout reads next (the one it is in, the one after) and
    # their payload
    for k in range(s.read_seq, s.read_seq + 2):
        _jb_pf(&s.slots[k & s.mask])
        p = <const char*>(s.pay + (k & s.mask) * s.max_payload)
        _jb_pf(p)
        _jb_pf(p + 64)
        _jb_pf(p + 128)
        _jb_pf(p + 191)
    # the slot the next in-order packet is stored in (written)
    k = (s.max_ext + 1) & s.mask
    _jb_pfw(&s.slots[k], 1)
    p = <const char*>(s.pay + k * s.max_payload)
    _jb_pfw(p, 1)
    _jb_pfw(p + 64, 1)
    _jb_pfw(p + 128, 1)
    _jb_pfw(p + 191, 1)
    # the history the next frame is written to and cut from
    if s.hist_end >= s.dl + s.frame:
        p = <const char*>(s.hist + s.hist_end - s.dl - s.frame)
        e = <const char*>(s.hist + s.hist_end + s.frame)
        while p < e:
            _jb_pfw(p, 1)
            p += 64
    # the delay histogram's first bins (a packet's delay over the fastest
    # recent one is a few ms: bins 0-7 share this line)
    _jb_pfw(s.d.hgram, 1)

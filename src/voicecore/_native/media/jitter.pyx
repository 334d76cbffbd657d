# cython: freethreading_compatible=True
"""RTP jitter buffer (G.711, L16, G.722, Opus) with G.711 Appendix I style packet
loss concealment (libopus's own PLC and in-band FEC for Opus).

Long because it is the whole API of one cdef class (a Cython class cannot be
split across modules): argument checks and buffer lifetime, push / pull for
bytes, buffers and batches, stats and RTCP; the algorithms themselves are in
_jitter/*.pxd.

One :class:`JitterBuffer` receives the raw RTP datagrams of one call with their
arrival time (``push``) and hands out exactly one frame of s16le mono PCM per
``pull`` (every ``frame_ms`` of the consumer's clock): decoded audio, concealed
audio, silence or comfort noise, with a :class:`FrameKind` saying which.

Inbound checks (a hostile datagram is counted and dropped, never raises):
RFC 7983 demultiplexing (STUN/DTLS/TURN/RTCP -> ``foreign``), RFC 3550 header
validation (version, CSRC count, extension, padding -> ``malformed``), size
(datagram > 1500 bytes or payload > 200 ms -> ``oversize``), negotiated payload
types only (``unknown_pt``; such a packet never occupies a sequence number,
so if the sender really skipped audio for it, that slot is ``lost`` and
concealed), RFC 3550 Appendix A.1 sequence validation with probation (2
sequential packets), MAX_DROPOUT 3000, MAX_MISORDER 100 and 16-bit cycles,
plus a timestamp-consistency check: a forward packet whose timestamp
disagrees with its arrival time by more than the maximum delay + 60 ms goes
to probation, so a single stray inside the dropout window never moves the
stream, while a timestamp rebase or a hold resumed with old timestamps
re-anchors the timeline after 2 sequential packets arriving at pace (counted
in ``sequence_restarts``); a burst released after a network freeze is late,
not a new timeline. RFC 4733 events and RFC 3389 comfort noise occupy their
sequence numbers as non-media.
Another SSRC never interrupts the established stream: its packets are
``foreign_ssrc`` on arrival. It takes over (``ssrc_switches``) only when the
established stream has stopped: two sequential packets of it arrived after
the stream's newest one and the stream has nothing left to play; its packets
kept meanwhile then play from where the old audio ends (``takeover_packets``),
so a sender change (re-INVITE, SBC failover) costs no concealment. An SSRC
that was seen interleaved with the stream must also wait for 2 s of the
stream's silence (a talker's pause is not a stop).

Timing: a packet whose delay over the fastest recent packet is at most
``target_delay_ms`` is played whole whatever the phase of ``pull`` within
the packet period (the frame being produced is part of the delay). Output is
delayed by another ``output_delay_samples`` (3.75 ms, G.711 Appendix I) so
that the start of an erasure can be overlap-added into audio that has not
been played yet. A packet that arrives after its first samples were due is
played from the middle and counted in ``late_partial``; its delay feeds the
target like every other packet's.

Internally everything runs on a timeline of extended audio samples at
``clock_rate`` (64-bit), so timestamp wrap, 10-60 ms senders and mid-call
ptime changes keep the timeline exact: the consumer's frame is cut out of
whatever packets cover it. RTP timestamp differences are scaled onto it: x2
for G.722 (RFC 3551: an 8 kHz RTP clock for 16 kHz audio), x clock_rate /
48000 for Opus (RFC 7587: a 48 kHz RTP clock; exact, since every Opus frame
lasts a multiple of 2.5 ms = 120 RTP units). G.722 and Opus decoders are
stateful: each packet is decoded whole, in sequence order, when the playout
first reaches it (see _jitter/decode.pxd).

Source-address filtering is *not* done here: the audio engine filters by
address before calling ``push`` (it owns ``foreign_source``).

Threads: the Python methods hold a per-object critical section (free-threaded
builds), so one buffer shared between threads stays consistent; they raise
RuntimeError while an Engine owns the buffer (see jitter.pxd). A push costs
about 0.1 us, a pull of decoded audio 0.1-0.3 us, a concealed frame at most
about 2 us at 8 kHz and 10 us at 48 kHz (benchmarks/bench_jitter.py), so the
Python methods keep the GIL (as g711 does below its ``GIL_THRESHOLD``).
"""
cimport cython
from voicecore._native.media.g722 cimport G722Decoder, G722Encoder
from voicecore._native.media.opus cimport OpusDecoder, OPUS_MAX_SAMPLES_48K
from cpython.buffer cimport PyObject_CheckBuffer
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_GET_SIZE
from libc.stdint cimport int16_t, int64_t, uint8_t, uint64_t
from voicecore._native.hugemem cimport vc_hm_alloc, vc_hm_calloc, vc_hm_free, vc_hm_stats
from libc.string cimport memset

import enum

from voicecore._native.media import _jitter_args

from voicecore._native._buffers cimport Buf, get_input, get_output_fmt, release, KIND_BYTES, KIND_S16
from voicecore._native.media._jitter.state cimport (
    JHdr, JSlot, SLOT_EMPTY, CODEC_NONE, CODEC_PCMU, CODEC_PCMA, CODEC_L16, CODEC_G722, CODEC_OPUS,
    MAX_DATAGRAM, FR_CAP, OPUS_PLC_END_MS,
    vc_init, vc_load_acquire, vc_store_release, vc_cas_acq_rel,
)
from voicecore._native.media._jitter.parse cimport jb_parse
from voicecore._native.media._jitter.delay cimport jb_delay_init
from voicecore._native.media._jitter.seq cimport jb_push
from voicecore._native.media._jitter.playout cimport jb_pull
from voicecore._native.media._jitter.plc cimport jb_plc_reach
from voicecore._native.media._jitter.dtmf cimport jb_dtmf_pop
from voicecore._native.media._jitter.rtcp cimport jb_rr_report


class PushResult(enum.IntEnum):
    """Outcome of one ``push`` (an int): stored, held on probation, or why it
    was dropped. Each outcome has the counter of the same meaning in
    ``stats()`` (OK -> received, HELD -> held, ...)."""

    OK = R_OK
    HELD = R_HELD
    DUPLICATE = R_DUPLICATE
    LATE = R_LATE
    MALFORMED = R_MALFORMED
    OVERSIZE = R_OVERSIZE
    UNKNOWN_PT = R_UNKNOWN_PT
    FOREIGN = R_FOREIGN
    FOREIGN_SSRC = R_FOREIGN_SSRC
    DISCARDED = R_DISCARDED
    MALFORMED_DTMF = R_MALFORMED_DTMF


class FrameKind(enum.IntEnum):
    """What a pulled frame contains (an int)."""

    AUDIO = K_AUDIO
    CONCEALED = K_CONCEALED
    SILENCE = K_SILENCE
    COMFORT_NOISE = K_COMFORT_NOISE


cdef tuple _PUSH = tuple(sorted(PushResult, key=int))
cdef tuple _KIND = tuple(sorted(FrameKind, key=int))

# module-level names of the members (kept for existing callers)
RESULT_OK = PushResult.OK
RESULT_HELD = PushResult.HELD
RESULT_DUPLICATE = PushResult.DUPLICATE
RESULT_LATE = PushResult.LATE
RESULT_MALFORMED = PushResult.MALFORMED
RESULT_OVERSIZE = PushResult.OVERSIZE
RESULT_UNKNOWN_PT = PushResult.UNKNOWN_PT
RESULT_FOREIGN = PushResult.FOREIGN
RESULT_FOREIGN_SSRC = PushResult.FOREIGN_SSRC
RESULT_DISCARDED = PushResult.DISCARDED
RESULT_MALFORMED_DTMF = PushResult.MALFORMED_DTMF
FRAME_AUDIO = FrameKind.AUDIO
FRAME_CONCEALED = FrameKind.CONCEALED
FRAME_SILENCE = FrameKind.SILENCE
FRAME_COMFORT_NOISE = FrameKind.COMFORT_NOISE

_DIGITS = "0123456789*#ABCD"


cdef JStats _zero_stats():
    cdef JStats z
    memset(&z, 0, sizeof(JStats))
    return z


def _documented_order(names):
    """The JStats field names in the order stats() reports them: the struct
    keeps its three per-frame counters last for the cache (state.pxd), the
    dict keeps ``received`` first with the outcome counters and the frame
    counters together, as it always had."""
    hot = ("frames_out", "audio_frames", "received")
    rest = [n for n in names if n not in hot]
    i = rest.index("concealed_frames")
    return ("received",) + tuple(rest[:i]) + ("frames_out", "audio_frames") + tuple(rest[i:])


# Names of the JStats fields, in the order of stats() (all monotonic counters
# but ``held``).
STAT_NAMES = _documented_order(tuple(_zero_stats()))

_CODEC_IDS = {"pcmu": CODEC_PCMU, "pcma": CODEC_PCMA, "l16": CODEC_L16, "g722": CODEC_G722, "opus": CODEC_OPUS}


cdef int64_t _time_arg(object v, str where, str name) except? -1:
    """``v`` as int64 ns, or a TypeError / ValueError naming the call and argument."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{where}: {name} must be an int (ns on a monotonic clock), got {type(v).__name__}")
    try:
        return v
    except OverflowError:
        raise ValueError(f"{where}: {name} must fit in a signed 64-bit int (ns), got {v}") from None


cdef int _raise_owned(str where) except -1:
    raise RuntimeError(f"JitterBuffer is owned by an Engine's I/O thread: read its figures from the "
                       f"session's stats() ({where} is not available while the engine owns it)")


def memory_stats() -> dict:
    """Where jitter buffers keep their state and buffers (vc_hugemem.h):
    ``chunks`` of 32 MiB advised for transparent huge pages, ``arena_blocks``
    and ``heap_blocks`` live now in those chunks and in the C allocator
    (VOICECORE_HUGEPAGES=0, sanitizer builds, non-Linux)."""
    cdef uint64_t chunks = 0, arena = 0, heap = 0
    vc_hm_stats(&chunks, &arena, &heap)
    return {"chunks": chunks, "arena_blocks": arena, "heap_blocks": heap}


@cython.final
cdef class JitterBuffer:
    """Jitter buffer, playout clock and concealment for one inbound RTP stream.

    All arguments are keyword-only.

    Args:
        clock_rate: output sample rate in Hz (the RTP clock too, except for
            G.722 and Opus): 8000 (G.711), 16000, 24000, 32000, 40000 or
            48000. G.722 needs 16000; Opus 8000, 16000, 24000 or 48000 (it
            decodes at that rate).
        frame_ms: consumer frame length in ms (5-60, whole samples); ``pull``
            returns ``clock_rate * frame_ms / 1000`` samples of s16le mono.
        payload_types: negotiated audio payload types, ``{pt: "pcmu"|"pcma"|"l16"|"g722"|"opus"}``
            (L16: RFC 3551 big-endian; default ``{0: "pcmu", 8: "pcma"}``).
            G.722 (RFC 3551, usually PT 9) and Opus (RFC 7587, dynamic PT,
            needs voicecore built with libopus: ``voicecore.media.opus.require()``)
            each fix the rate, so they cannot be mixed with other codecs.
        dtmf_payload_type: RFC 4733 telephone-event PT (0-127, default 101, None = off).
        cn_payload_type: RFC 3389 comfort-noise PT (0-127, default 13, None = off).
        min_delay_ms, max_delay_ms: floor and cap of the adaptive playout delay
            target (0 <= min <= max <= 2000 ms): the largest delay over the
            fastest recent packet at which a packet still plays whole. The
            output lags the fastest packets by the target + ``frame_ms`` +
            3.75 ms.
        initial_delay_ms: target before any jitter has been measured (between
            min and max; default min_delay_ms).
        capacity: packet slots (power of two, 16-4096).
        concealment: G.711 Appendix I style concealment, libopus's PLC for
            Opus (False: lost audio is replaced by silence, still flagged and
            counted as concealed; no FEC either).
        fec: Opus only: recover a single lost packet from the in-band FEC of
            the next one when it is buffered and carries it (counted in
            ``concealed_samples`` and ``fec_recovered_samples``).
        comfort_noise: play noise at the RFC 3389 level during CN pauses.
        dtmf_timeout_ms: an RFC 4733 event without an end packet is reported
            after this long without updates (1-60000 ms).
        fade_start_ms, silent_after_ms: concealment runs at full level for
            ``fade_start_ms`` of an erasure, then fades linearly to zero at
            ``silent_after_ms`` (0 <= fade_start < silent_after <= 1000 ms;
            G.711 Appendix I: 10 and 60 ms). Not for Opus: libopus's PLC
            attenuates by itself and is faded to zero at 200 ms.
        blend_ms: (not Opus) when the packet after a gap is already buffered, the last
            ``blend_ms`` (0-200) of the gap cross-fade into a backward pitch
            extension of that packet, repeating its own pitch period (5-15
            ms, measured on the packet) backwards (two-sided interpolation;
            0 = forward concealment only).
        concealment_noise: level of the noise floor that replaces the faded
            concealment, as a fraction (0-1) of the RMS of the 20 ms before
            the loss (0 = true silence).

    A floor of 60 ms (default) leaves room for two-sided interpolation over
    bursts of up to three 20 ms packets; lower floors trade concealment
    quality for latency.
    """

    def __cinit__(self, *args, **kwargs):
        cdef int i, nbins, clock_rate, frame_ms, capacity, min_delay_ms, max_delay_ms, init_ms
        cdef int fade_start_ms, silent_after_ms, blend_ms, dtmf_timeout_ms
        cdef double* hgram
        cfg = _jitter_args.check(args, kwargs)          # every bad argument raises there
        # the state on huge pages, with the buffers below: an engine walks
        # every call's state each tick, and 4 KiB pages cost TLB misses
        self._s = <JBState*>vc_hm_calloc(1, sizeof(JBState))
        if self._s == NULL:
            raise MemoryError("JitterBuffer: cannot allocate its state")
        clock_rate, frame_ms, capacity = cfg["clock_rate"], cfg["frame_ms"], cfg["capacity"]
        min_delay_ms, max_delay_ms, init_ms = cfg["min_delay_ms"], cfg["max_delay_ms"], cfg["initial_delay_ms"]
        fade_start_ms, silent_after_ms = cfg["fade_start_ms"], cfg["silent_after_ms"]
        dtmf_timeout_ms, blend_ms, noise = cfg["dtmf_timeout_ms"], cfg["blend_ms"], cfg["concealment_noise"]
        memset(self._s.codec_of_pt, 0, sizeof(self._s.codec_of_pt))
        for pt, name in cfg["payload_types"].items():
            self._s.codec_of_pt[pt] = _CODEC_IDS[name]
        self._s.dtmf_pt = cfg["dtmf_payload_type"]
        self._s.cn_pt = cfg["cn_payload_type"]
        self._s.scodec = CODEC_NONE
        if cfg["stateful"] == "g722":
            self._dec = (G722Decoder(64000), G722Encoder(64000))
            self._s.cx.dec = <void*>self._dec[0]
            self._s.cx.enc = <void*>self._dec[1]
            self._s.scodec = CODEC_G722
        elif cfg["stateful"] == "opus":
            self._dec = OpusDecoder(clock_rate)
            self._s.cx.dec = <void*>self._dec
            self._s.scodec = CODEC_OPUS

        self._s.rate = clock_rate
        self._s.r8 = clock_rate // 8000
        self._s.rtp_rate = clock_rate
        self._s.tsn = 1
        self._s.tsd = 1
        if self._s.scodec == CODEC_G722:
            self._s.rtp_rate = 8000                  # RFC 3551: 1 octet = 2 samples = 1 RTP unit
            self._s.tsn = 2
        elif self._s.scodec == CODEC_OPUS:
            self._s.rtp_rate = 48000                 # RFC 7587
            self._s.tsd = 48000 // clock_rate
        self._s.frame = clock_rate * frame_ms // 1000
        self._s.capacity = capacity
        self._s.mask = capacity - 1
        width = 2 if CODEC_L16 in self._s.codec_of_pt else 1       # bytes per sample (L16: 2)
        self._s.max_payload = min(MAX_DATAGRAM - 12, width * clock_rate // 5)    # 200 ms
        if self._s.scodec != CODEC_NONE:
            self._s.max_payload = MAX_DATAGRAM - 12      # G.722: 1488 octets = 93 ms; Opus: <= 120 ms
        # the look-back that lets our concealment overlap-add into the last
        # samples before an erasure; libopus needs none
        self._s.dl = 0 if self._s.scodec == CODEC_OPUS else 30 * self._s.r8
        self._s.min_delay = min_delay_ms * clock_rate // 1000
        self._s.max_delay = max_delay_ms * clock_rate // 1000
        self._s.init_delay = init_ms * clock_rate // 1000
        self._s.plc.fade_start = fade_start_ms * clock_rate // 1000
        self._s.plc.fade_end = silent_after_ms * clock_rate // 1000
        self._s.plc.fade_mid = min(self._s.plc.fade_end, self._s.plc.fade_start
                                   + (self._s.plc.fade_end - self._s.plc.fade_start) // 2 + 1)
        self._s.plc.noise_frac = noise
        self._s.plc.voicing_min = 0.3
        self._s.plc.bl_max = blend_ms * clock_rate // 1000
        self._s.conceal_on = cfg["concealment"]
        self._s.cn_on = cfg["comfort_noise"]
        self._s.dtmf_timeout_ns = <int64_t>dtmf_timeout_ms * 1000000
        # the history kept across a shift covers what the concealment reads
        # before an erasure, plus the frame being produced and the look-back
        self._s.hist_keep = jb_plc_reach(self._s.r8) + self._s.frame + self._s.dl + 64
        self._s.hist_size = self._s.hist_keep + 8 * self._s.frame + 64

        nbins = max_delay_ms + 2
        self._s.slots = <JSlot*>vc_hm_alloc(capacity * sizeof(JSlot))
        self._s.pay = <uint8_t*>vc_hm_alloc(<size_t>capacity * self._s.max_payload)
        self._s.hist = <int16_t*>vc_hm_calloc(self._s.hist_size, sizeof(int16_t))
        self._s.tmp = <int16_t*>vc_hm_alloc((2 * self._s.frame + 64) * sizeof(int16_t))
        self._s.plc.pbuf = <int16_t*>vc_hm_alloc(160 * self._s.r8 * sizeof(int16_t) + 16)
        hgram = <double*>vc_hm_calloc(nbins, sizeof(double))
        self._s.cand_pay = <uint8_t*>vc_hm_alloc(MAX_DATAGRAM)
        self._s.fr.pay = <uint8_t*>vc_hm_alloc(<size_t>FR_CAP * self._s.max_payload)
        self._s.plc.fbuf = <int16_t*>vc_hm_alloc((160 * self._s.r8 + 16) * sizeof(int16_t))
        # decode cache: a whole packet (G.722: 2 samples per octet; Opus: <= 120 ms)
        self._s.cx.q = clock_rate // 400
        self._s.cx.cap = (2 * self._s.max_payload if self._s.scodec == CODEC_G722
                          else OPUS_MAX_SAMPLES_48K * clock_rate // 48000)
        self._s.cx.seq = -1
        self._s.cx.last = -1
        self._s.cx.reset_seq = -1
        self._s.cx.fec_on = cfg["fec"]
        self._s.cx.fend = OPUS_PLC_END_MS * clock_rate // 1000
        self._s.cx.fade0 = self._s.cx.fend - clock_rate // 50
        if self._s.scodec != CODEC_NONE:
            self._s.cx.buf = <int16_t*>vc_hm_alloc(self._s.cx.cap * sizeof(int16_t))
            self._s.cx.lbuf = <int16_t*>vc_hm_alloc(self._s.cx.cap * sizeof(int16_t))
            if self._s.cx.buf == NULL or self._s.cx.lbuf == NULL:
                raise MemoryError("JitterBuffer: cannot allocate buffers")
        if hgram != NULL:
            jb_delay_init(&self._s.d, hgram, nbins, self._s.init_delay)
        if (self._s.slots == NULL or self._s.pay == NULL or self._s.hist == NULL or self._s.tmp == NULL
                or self._s.plc.pbuf == NULL or hgram == NULL or self._s.cand_pay == NULL
                or self._s.fr.pay == NULL or self._s.plc.fbuf == NULL):
            raise MemoryError("JitterBuffer: cannot allocate buffers")
        for i in range(capacity):
            self._s.slots[i].seq = -1
            self._s.slots[i].state = SLOT_EMPTY
        self._s.hist_end = self._s.hist_keep
        self._s.in_pause = True
        self._s.cn_level = 127
        self._s.plc.rng = 0x9E3779B9u
        vc_init(&self._s.dt.q_head, 0)
        vc_init(&self._s.dt.q_tail, 0)
        vc_init(&self._s.owner, 0)

    def __dealloc__(self):
        if self._s == NULL:
            return                  # __cinit__ failed before allocating it
        vc_hm_free(self._s.slots)
        vc_hm_free(self._s.pay)
        vc_hm_free(self._s.hist)
        vc_hm_free(self._s.tmp)
        vc_hm_free(self._s.plc.pbuf)
        vc_hm_free(self._s.d.hgram)
        vc_hm_free(self._s.cand_pay)
        vc_hm_free(self._s.fr.pay)
        vc_hm_free(self._s.plc.fbuf)
        vc_hm_free(self._s.cx.buf)
        vc_hm_free(self._s.cx.lbuf)
        vc_hm_free(self._s)
        self._s = NULL

    # ------------------------------------------------------------ properties
    @property
    def clock_rate(self) -> int:
        """Output sample rate (Hz): ``pull`` returns samples at this rate. It
        is the RTP clock too, except for G.722 and Opus (``rtp_clock_rate``)."""
        return self._s.rate

    @property
    def rtp_clock_rate(self) -> int:
        """RTP timestamp clock (Hz): 8000 for G.722 (RFC 3551), 48000 for Opus
        (RFC 7587), else ``clock_rate``. RTCP ``jitter`` and ``played_ts``
        count in these units."""
        return self._s.rtp_rate

    @property
    def frame_samples(self) -> int:
        """Samples per pulled frame (s16le mono, so 2 bytes each)."""
        return self._s.frame

    @property
    def output_delay_samples(self) -> int:
        """Fixed look-back of the output (samples; 3.75 ms, G.711 Appendix I;
        0 for Opus, whose concealment is libopus's)."""
        return self._s.dl

    @property
    def target_delay_ms(self) -> float:
        """Current playout delay target (ms): the largest delay over the fastest
        recent packet at which a packet still plays whole."""
        if vc_load_acquire(&self._s.owner):
            _raise_owned("target_delay_ms")
        return self._s.d.target * 1000.0 / self._s.rate

    # ------------------------------------------------------------ engine API
    cdef int push_c(self, const uint8_t* data, Py_ssize_t n, int64_t arrival_ns) noexcept nogil:
        return jb_push(self._s, data, n, arrival_ns)

    cdef int pull_c(self, int16_t* out, int64_t now_ns) noexcept nogil:
        return jb_pull(self._s, out, now_ns)

    cdef int frame_samples_c(self) noexcept nogil:
        return self._s.frame

    cdef int clock_rate_c(self) noexcept nogil:
        return self._s.rate

    cdef int rtp_clock_rate_c(self) noexcept nogil:
        return self._s.rtp_rate

    cdef bint dtmf_pop_c(self, JDtmfEvent* ev) noexcept nogil:
        return jb_dtmf_pop(&self._s.dt, ev)

    cdef const JStats* stats_c(self) noexcept nogil:
        return &self._s.st

    cdef void delay_ms_c(self, double* jitter, double* target, double* current) noexcept nogil:
        jitter[0] = self._s.rr.jitter * 1000.0 / self._s.rate
        target[0] = self._s.d.target * 1000.0 / self._s.rate
        current[0] = self._s.d.cur_delay * 1000.0 / self._s.rate

    cdef void rtcp_c(self, JRtcp* out, bint new_interval) noexcept nogil:
        memset(out, 0, sizeof(JRtcp))
        out.have_source = self._s.have_stream
        out.ssrc = self._s.ssrc
        if self._s.rr.valid:
            jb_rr_report(&self._s.rr, out, new_interval, <double>self._s.rtp_rate / self._s.rate)
        out.have_played = self._s.have_played
        out.played_ts = self._s.played_ts

    cdef int engine_adopt(self) except -1:
        cdef uint64_t expected = 0
        cdef bint ok
        with cython.critical_section(self):      # no Python method is half-way through
            ok = vc_cas_acq_rel(&self._s.owner, &expected, 1)
        if not ok:
            raise RuntimeError("JitterBuffer is already owned by an Engine's I/O thread")
        return 0

    cdef void engine_release(self) noexcept nogil:
        vc_store_release(&self._s.owner, 0)

    # ------------------------------------------------------------ Python API
    def push(self, datagram, arrival_ns):
        """Feed one received UDP payload (raw RTP) with its arrival time
        (``arrival_ns``: int ns on a monotonic clock). Never raises for bad
        network input: the datagram is counted in ``stats()`` and dropped.
        Any int64 time is accepted: arrival and pull times of different
        clocks, even more than 2^63 ns apart, never overflow (their
        difference saturates); such packets are judged by that saturated
        difference (probation, late, re-anchoring).
        Returns a :class:`PushResult` (an int; ``PushResult.OK`` = stored)."""
        cdef Buf b
        cdef int r = -1
        cdef int64_t t = _time_arg(arrival_ns, "JitterBuffer.push", "arrival_ns")
        if PyBytes_CheckExact(datagram):
            with cython.critical_section(self):
                if not vc_load_acquire(&self._s.owner):
                    r = jb_push(self._s, <const uint8_t*>PyBytes_AS_STRING(datagram),
                                PyBytes_GET_SIZE(datagram), t)
        else:
            if not PyObject_CheckBuffer(datagram):
                raise TypeError(f"JitterBuffer.push: datagram must be a bytes-like object (raw RTP), "
                                f"got {type(datagram).__name__}")
            get_input(datagram, &b, KIND_BYTES, b"JitterBuffer.push: datagram")
            try:
                with cython.critical_section(self):
                    if not vc_load_acquire(&self._s.owner):
                        r = jb_push(self._s, <const uint8_t*>b.buf, b.len, t)
            finally:
                release(&b)
        if r < 0:
            _raise_owned("push")
        return _PUSH[r]

    def parse_header(self, datagram) -> tuple:
        """Classify ``datagram`` the way ``push`` does, without changing any
        state: ``(result, fields)`` where ``fields`` is None or a dict with
        seq, ts, ssrc, pt, marker, payload_offset, payload_len and kind
        ('media', 'dtmf', 'cn'). For tests and diagnostics."""
        cdef Buf b
        cdef JHdr h
        cdef int code
        if not PyObject_CheckBuffer(datagram):
            raise TypeError(f"JitterBuffer.parse_header: datagram must be a bytes-like object, "
                            f"got {type(datagram).__name__}")
        get_input(datagram, &b, KIND_BYTES, b"JitterBuffer.parse_header: datagram")
        try:
            code = jb_parse(self._s, <const uint8_t*>b.buf, b.len, &h)
        finally:
            release(&b)
        if code != R_OK:
            return _PUSH[code], None
        return _PUSH[code], {"seq": h.seq, "ts": h.ts, "ssrc": h.ssrc, "pt": h.pt, "marker": bool(h.marker),
                             "payload_offset": h.off, "payload_len": h.plen,
                             "kind": ("media", "dtmf", "cn")[h.kind]}

    def pull(self, now_ns):
        """Play out one frame at ``now_ns`` (int ns, the consumer's monotonic clock).

        Returns ``(pcm, kind)``: ``frame_samples`` samples of s16le mono bytes and
        a :class:`FrameKind`."""
        cdef int64_t t = _time_arg(now_ns, "JitterBuffer.pull", "now_ns")
        cdef object res = PyBytes_FromStringAndSize(NULL, self._s.frame * 2)
        cdef int kind = -1
        with cython.critical_section(self):
            if not vc_load_acquire(&self._s.owner):
                kind = jb_pull(self._s, <int16_t*>PyBytes_AS_STRING(res), t)
        if kind < 0:
            _raise_owned("pull")
        return res, _KIND[kind]

    def pull_into(self, out, now_ns):
        """Like :meth:`pull` but writes the frame into ``out``: a writable
        buffer of bytes (bytearray, memoryview) or int16 elements with room
        for ``frame_samples`` samples (``2 * frame_samples`` bytes). Returns
        the :class:`FrameKind`."""
        cdef Buf b
        cdef int kind = -1
        cdef int64_t t = _time_arg(now_ns, "JitterBuffer.pull_into", "now_ns")
        if not PyObject_CheckBuffer(out) or PyBytes_CheckExact(out):
            raise TypeError(f"JitterBuffer.pull_into: out= must be a writable buffer of bytes or int16 "
                            f"(bytearray, memoryview, numpy int16 array), got {type(out).__name__}")
        try:
            get_output_fmt(out, &b, self._s.frame * 2, KIND_BYTES | KIND_S16, b"JitterBuffer.pull_into")
        except BufferError as exc:
            raise TypeError(f"JitterBuffer.pull_into: out= must be a writable C-contiguous buffer ({exc})") from None
        with cython.critical_section(self):
            if not vc_load_acquire(&self._s.owner):
                kind = jb_pull(self._s, <int16_t*>b.buf, t)
        release(&b)
        if kind < 0:
            _raise_owned("pull_into")
        return _KIND[kind]

    def pop_dtmf(self) -> list:
        """Digits completed since the last call, oldest first, each reported once:
        a list of ``(digit, duration_samples, rtp_timestamp)`` (duration in
        samples at ``clock_rate``: RTP timestamp units x 2 for G.722) with digit one of
        '0'-'9', '*', '#', 'A'-'D'. May be called from another thread than the
        one pushing packets (the digit queue is single-producer /
        single-consumer)."""
        cdef list res = []
        cdef JDtmfEvent ev
        if vc_load_acquire(&self._s.owner):
            _raise_owned("pop_dtmf")
        with cython.critical_section(self):
            while jb_dtmf_pop(&self._s.dt, &ev):
                res.append((_DIGITS[ev.code], ev.duration, ev.ts))
        return res

    def stats(self) -> dict:
        """Counters and figures: the JStats fields (64-bit; outcome counters
        that sum to the number of pushes, ``held`` the packets on probation now,
        the rest monotonic), ``jitter_ms``, ``target_delay_ms`` and
        ``current_delay_ms`` (ms), and the RTCP figures of the established
        source: ``ssrc`` (None before a stream), ``ext_highest_seq``,
        ``cumulative_lost``, ``jitter_ts`` (RFC 3550 A.8, timestamp units) and
        ``played_ts`` (RTP timestamp of the first sample of the last frame
        pulled; None before one)."""
        cdef JRtcp r
        cdef JStats st
        cdef bint owned = False
        cdef double jit, tgt, cur
        with cython.critical_section(self):
            if vc_load_acquire(&self._s.owner):
                owned = True
            else:
                st = self._s.st
                self.rtcp_c(&r, False)
                jit = self._s.rr.jitter
                tgt = self._s.d.target
                cur = self._s.d.cur_delay
        if owned:
            _raise_owned("stats")
        cdef dict raw = st
        cdef dict d = {k: raw[k] for k in STAT_NAMES}
        rate = self._s.rate
        d["jitter_ms"] = jit * 1000.0 / rate
        d["target_delay_ms"] = tgt * 1000.0 / rate
        d["current_delay_ms"] = cur * 1000.0 / rate
        d["ssrc"] = r.ssrc if r.have_source else None
        d["ext_highest_seq"] = r.ext_highest_seq
        d["cumulative_lost"] = r.cumulative_lost
        d["jitter_ts"] = r.jitter
        d["played_ts"] = r.played_ts if r.have_played else None
        return d

    def rtcp(self, new_interval=True):
        """The RTCP receiver-report figures (RFC 3550 A.1, A.3, A.8) of the
        established source as a dict (ssrc, ext_highest_seq, cumulative_lost,
        fraction_lost, jitter in RTP timestamp units, played_ts), or None before
        a stream. ``new_interval`` (default True) starts a new interval for
        ``fraction_lost``: call it once per report."""
        cdef JRtcp r
        cdef bint owned = False
        with cython.critical_section(self):
            if vc_load_acquire(&self._s.owner):
                owned = True
            else:
                self.rtcp_c(&r, bool(new_interval))
        if owned:
            _raise_owned("rtcp")
        if not r.have_source:
            return None
        return {"ssrc": r.ssrc, "ext_highest_seq": r.ext_highest_seq, "cumulative_lost": r.cumulative_lost,
                "fraction_lost": r.fraction_lost, "jitter": r.jitter,
                "played_ts": r.played_ts if r.have_played else None}

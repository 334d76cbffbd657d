# cython: freethreading_compatible=True
"""RTP jitter buffer with G.711 Appendix I style packet loss concealment.

One :class:`JitterBuffer` receives the raw RTP datagrams of one call with their
arrival time (``push``) and hands out exactly one frame of s16le mono PCM per
``pull`` (every ``frame_ms`` of the consumer's clock): decoded audio, concealed
audio, silence or comfort noise, with a code saying which.

Inbound checks (a hostile datagram is counted and dropped, never raises):
RFC 7983 demultiplexing (STUN/DTLS/TURN/RTCP -> ``foreign``), RFC 3550 header
validation (version, CSRC count, extension, padding -> ``malformed``), size
(datagram > 1500 bytes or payload > 200 ms -> ``oversize``), negotiated payload
types only (``unknown_pt``), RFC 3550 Appendix A.1 sequence validation with
probation (2 sequential packets), MAX_DROPOUT 3000, MAX_MISORDER 100 and
16-bit cycles, plus a timestamp-consistency check: a forward packet whose
timestamp disagrees with its arrival time by more than the maximum delay + 60
ms goes to probation, so a single stray inside the dropout window never moves
the stream, while a timestamp rebase or a hold resumed with old timestamps
re-anchors the timeline after 2 sequential packets arriving at pace (counted in
``sequence_restarts``); a burst released after a network freeze is late, not a
new timeline. RFC 4733 events and
RFC 3389 comfort noise occupy their sequence numbers as non-media.

Internally everything runs in extended RTP timestamp units (64-bit), so
timestamp wrap, 10-60 ms senders and mid-call ptime changes keep the timeline
exact: the consumer's frame is cut out of whatever packets cover it.

Output is delayed by ``output_delay_samples`` (3.75 ms, as in G.711 Appendix
I) so that the start of an erasure can be overlap-added into audio that has
not been played yet.

Source-address filtering is *not* done here: the audio engine filters by
address before calling ``push`` (it owns ``foreign_source``).

Threads: the Python methods hold a per-object critical section (free-threaded
builds) so one buffer shared between threads stays consistent; the ``cdef``
API (``push_c``/``pull_c``) leaves serialisation to its caller (the engine's
I/O thread owns the buffer). Per-call work is a few hundred ns, below the cost
of releasing the GIL, so the Python methods keep it (as g711 does below its
``GIL_THRESHOLD``).
"""
cimport cython
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memcpy, memset, memmove
from libc.math cimport fabs, llround, pow as cpow, sqrt
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_GET_SIZE

from voicecore._native._buffers cimport Buf, get_input, get_output, release, KIND_BYTES, KIND_S16
from voicecore._native.media.g711 cimport ulaw_decode, alaw_decode, ulaw_decode_one, alaw_decode_one

# ---------------------------------------------------------------- constants
# push() results
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

# pull() frame kinds
cdef enum:
    K_AUDIO = 0
    K_CONCEALED = 1
    K_SILENCE = 2
    K_COMFORT_NOISE = 3

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

cdef enum:
    F_AUDIO = 1
    F_CONCEAL = 2
    F_SILENCE = 4
    F_CN = 8

cdef int CAND_LATE = 2            # cand_marker flag: held while behind the playout position
cdef int MAX_DROPOUT = 3000
cdef int MAX_MISORDER = 100
cdef int JUMP_CHECK = 8           # forward gaps above this must have a consistent timestamp
cdef int MAX_DATAGRAM = 1500
cdef int64_t PROBATION_NS = 1000000000
cdef int64_t CAND_PRIORITY_NS = 100000000
cdef int64_t WINDOW_NS = 2000000000
cdef double FORGET = 0.985          # per-packet forgetting of the delay histogram
cdef double QUANTILE = 0.98
cdef int MARGIN_MS = 5
cdef int QUIET_MEAN_ABS_C = 100    # mean |x| of the last 10 ms below which a drained buffer is a pause

RESULT_OK = R_OK
RESULT_HELD = R_HELD
RESULT_DUPLICATE = R_DUPLICATE
RESULT_LATE = R_LATE
RESULT_MALFORMED = R_MALFORMED
RESULT_OVERSIZE = R_OVERSIZE
RESULT_UNKNOWN_PT = R_UNKNOWN_PT
RESULT_FOREIGN = R_FOREIGN
RESULT_FOREIGN_SSRC = R_FOREIGN_SSRC
RESULT_DISCARDED = R_DISCARDED
RESULT_MALFORMED_DTMF = R_MALFORMED_DTMF

FRAME_AUDIO = K_AUDIO
FRAME_CONCEALED = K_CONCEALED
FRAME_SILENCE = K_SILENCE
FRAME_COMFORT_NOISE = K_COMFORT_NOISE

_DIGITS = "0123456789*#ABCD"

STAT_NAMES = (
    "received", "duplicates", "late", "lost", "discarded", "malformed", "oversize",
    "unknown_pt", "foreign", "foreign_ssrc", "malformed_dtmf", "concealed_samples",
    "concealment_events", "ssrc_switches", "sequence_restarts", "reordered",
    "dtmf_digits", "dtmf_overflow", "cn_frames", "frames_out", "audio_frames",
    "concealed_frames", "silence_frames", "comfort_noise_frames", "time_scaled_samples",
)


cdef inline int16_t _clip(double v) noexcept nogil:
    if v >= 32767.0:
        return 32767
    if v <= -32768.0:
        return -32768
    return <int16_t>llround(v)


cdef int _pitch(const int16_t* x, int r8, double* voicing) noexcept nogil:
    """Pitch period (samples) of the history ending just before ``x``:
    maximum of the normalised autocorrelation over 5-15 ms lags. Coarse search
    on a 4:1 decimated copy (sums of 4 samples), then refined at full rate
    within +-3 samples. ``voicing`` receives the normalised correlation."""
    cdef int W = 160 * r8, pmin = 40 * r8, pmax = 120 * r8
    cdef int D = 4 * r8
    cdef int nd = (W + pmax) // D + 1
    cdef int wd = W // D
    cdef double dec[128]
    cdef int lag, i, j, best = pmax, lo, hi
    cdef int64_t c, e, e0 = 0
    cdef double dc, de, score, bestscore = 0.0, bestc = 0.0, beste = 1.0
    cdef int64_t acc
    if nd > 128:
        nd = 128
    # dec[k] = sum of the D samples ending (k * D) samples before x
    for i in range(nd):
        acc = 0
        for j in range(D):
            acc += x[-(i + 1) * D + j]
        dec[i] = <double>acc
    for lag in range(pmin // D, pmax // D + 1):
        dc = 0.0
        de = 0.0
        for i in range(wd):
            if i + lag >= nd:
                break
            dc += dec[i] * dec[i + lag]
            de += dec[i + lag] * dec[i + lag]
        if dc > 0.0 and de > 0.0:
            score = dc * dc / de
            if score > bestscore:
                bestscore = score
                best = lag * D
    lo = best - 2 if best - 2 >= pmin else pmin
    hi = best + 2 if best + 2 <= pmax else pmax
    bestscore = 0.0
    e = 0
    for i in range(W):
        e += <int32_t>x[i - W - lo] * <int32_t>x[i - W - lo]
    for lag in range(lo, hi + 1):
        if lag > lo:      # slide the lagged window one sample back
            e += <int32_t>x[-W - lag] * <int32_t>x[-W - lag] - <int32_t>x[-lag] * <int32_t>x[-lag]
        c = 0
        for i in range(W):
            c += <int32_t>x[i - W] * <int32_t>x[i - W - lag]
        if c > 0 and e > 0:
            score = <double>c * <double>c / <double>e
            if score > bestscore:
                bestscore = score
                best = lag
                bestc = <double>c
                beste = <double>e
    for i in range(W):
        e0 += <int64_t>x[i - W] * x[i - W]
    voicing[0] = bestc / sqrt(beste * e0) if e0 > 0 else 0.0
    return best


cdef inline bint _pair_paced(JitterBuffer self, uint32_t ssrc, uint32_t ts, int kind, int64_t now) noexcept nogil:
    """Do the probation candidate and this packet form a plausible stream? Their
    timestamps must advance with their arrival times (within the maximum delay +
    60 ms). For a re-anchoring of the established SSRC (timestamp rebase, hold
    and resume) the pair must also arrive at pace (arrival gap >= half the
    timestamp gap): packets released in a burst after a network freeze are
    late on the existing timeline, not a new one."""
    cdef double dts, darr
    if kind != KIND_MEDIA or (self.cand_marker >> 4) != KIND_MEDIA:
        return True
    dts = <double>(<int32_t>(ts - self.cand_ts)) * 1e9 / self.rate
    darr = <double>(now - self.cand_arrival)
    if fabs(dts - darr) > self.max_delay * 1e9 / self.rate + 60e6:
        return False
    if self.have_stream and ssrc == self.ssrc and darr < 0.5 * dts:
        return False
    return True


cdef inline void _drop_candidate(JitterBuffer self) noexcept nogil:
    """Count the probation candidate that is being dropped: another SSRC ->
    foreign_ssrc; a packet of the stream's own sequence window that was already
    behind the playout position when it arrived (a burst after a network
    freeze, flagged CAND_LATE when held) -> late; otherwise (a stray) ->
    discarded."""
    self.cand_valid = False
    if self.have_stream and self.cand_ssrc != self.ssrc:
        self.st.foreign_ssrc += 1
    elif self.cand_marker & CAND_LATE:
        self.st.late += 1
    else:
        self.st.discarded += 1


@cython.final
cdef class JitterBuffer:
    """Jitter buffer, playout clock and concealment for one inbound RTP stream.

    Args:
        clock_rate: RTP clock and output sample rate in Hz (8000 for G.711;
            multiples of 8000 up to 48000 are accepted).
        frame_ms: consumer frame length in ms (5-60); ``pull`` returns
            ``clock_rate * frame_ms / 1000`` samples of s16le mono.
        payload_types: negotiated audio payload types, ``{pt: "pcmu"|"pcma"}``
            (default ``{0: "pcmu", 8: "pcma"}``).
        dtmf_payload_type: RFC 4733 telephone-event PT (default 101, None = off).
        cn_payload_type: RFC 3389 comfort-noise PT (default 13, None = off).
        min_delay_ms, max_delay_ms: floor and cap of the adaptive playout delay.
        initial_delay_ms: delay used before any jitter has been measured.
        capacity: packet slots (power of two, 16-4096).
        concealment: G.711 Appendix I style concealment (False: lost audio is
            replaced by silence, still flagged and counted as concealed).
        comfort_noise: play noise at the RFC 3389 level during CN pauses.
        dtmf_timeout_ms: an RFC 4733 event without an end packet is reported
            after this long without updates.
        fade_start_ms, silent_after_ms: concealment runs at full level for
            ``fade_start_ms`` of an erasure, then fades linearly to zero at
            ``silent_after_ms`` (G.711 Appendix I: 10 and 60 ms).
        blend_ms: when the packet after a gap is already buffered, the last
            ``blend_ms`` of the gap cross-fade into a backward pitch extension of
            that packet, repeating its own pitch period (5-15 ms, measured on
            the packet) backwards (two-sided interpolation; 0 = forward
            concealment only).
        concealment_noise: level of the noise floor that replaces the faded
            concealment, as a fraction of the RMS of the 20 ms before the loss
            (0 = true silence).

    A floor of 60 ms (default) leaves room for two-sided interpolation over
    bursts of up to three 20 ms packets; lower floors trade concealment
    quality for latency.
    """

    def __cinit__(self, *, int clock_rate=8000, int frame_ms=20, payload_types=None,
                  dtmf_payload_type=101, cn_payload_type=13, int min_delay_ms=60,
                  int max_delay_ms=200, initial_delay_ms=None, int capacity=64,
                  bint concealment=True, bint comfort_noise=True, int dtmf_timeout_ms=250,
                  int fade_start_ms=10, int silent_after_ms=60, int blend_ms=60,
                  double concealment_noise=0.25):
        cdef int i
        if clock_rate < 8000 or clock_rate > 48000 or clock_rate % 8000:
            raise ValueError(f"clock_rate must be a multiple of 8000 Hz up to 48000, got {clock_rate}")
        if frame_ms < 5 or frame_ms > 60 or (clock_rate * frame_ms) % 1000:
            raise ValueError(f"frame_ms must be 5-60 ms and give whole samples, got {frame_ms}")
        if capacity < 16 or capacity > 4096 or (capacity & (capacity - 1)):
            raise ValueError(f"capacity must be a power of two in 16..4096, got {capacity}")
        if min_delay_ms < 0 or max_delay_ms < min_delay_ms or max_delay_ms > 2000:
            raise ValueError(f"need 0 <= min_delay_ms <= max_delay_ms <= 2000 ms, got {min_delay_ms}, {max_delay_ms}")
        if initial_delay_ms is None:
            initial_delay_ms = min_delay_ms
        if not (min_delay_ms <= initial_delay_ms <= max_delay_ms):
            raise ValueError(f"initial_delay_ms must lie in [{min_delay_ms}, {max_delay_ms}], got {initial_delay_ms}")
        if not (0 <= fade_start_ms < silent_after_ms <= 1000):
            raise ValueError(f"need 0 <= fade_start_ms < silent_after_ms <= 1000, got {fade_start_ms}, {silent_after_ms}")
        if dtmf_timeout_ms <= 0:
            raise ValueError(f"dtmf_timeout_ms must be positive, got {dtmf_timeout_ms}")
        if payload_types is None:
            payload_types = {0: "pcmu", 8: "pcma"}
        memset(self.codec_of_pt, 0, sizeof(self.codec_of_pt))
        for pt, name in dict(payload_types).items():
            if not isinstance(pt, int) or not 0 <= pt <= 127:
                raise ValueError(f"payload type must be an int 0-127, got {pt!r}")
            key = str(name).lower()
            if key in ("pcmu", "ulaw", "mu-law", "g711u"):
                self.codec_of_pt[pt] = CODEC_PCMU
            elif key in ("pcma", "alaw", "a-law", "g711a"):
                self.codec_of_pt[pt] = CODEC_PCMA
            else:
                raise ValueError(f"payload type {pt}: unsupported codec {name!r} (use 'pcmu' or 'pcma')")
        self.dtmf_pt = -1 if dtmf_payload_type is None else int(dtmf_payload_type)
        self.cn_pt = -1 if cn_payload_type is None else int(cn_payload_type)
        for name, v in (("dtmf_payload_type", self.dtmf_pt), ("cn_payload_type", self.cn_pt)):
            if v != -1 and not 0 <= v <= 127:
                raise ValueError(f"{name} must be 0-127 or None, got {v}")
            if v != -1 and self.codec_of_pt[v] != CODEC_NONE:
                raise ValueError(f"{name} {v} is also an audio payload type")
        if self.dtmf_pt != -1 and self.dtmf_pt == self.cn_pt:
            raise ValueError("dtmf_payload_type and cn_payload_type must differ")

        self.rate = clock_rate
        self.r8 = clock_rate // 8000
        self.frame = clock_rate * frame_ms // 1000
        self.capacity = capacity
        self.mask = capacity - 1
        self.max_payload = min(MAX_DATAGRAM - 12, clock_rate // 5)
        self.dl = 30 * self.r8
        self.min_delay = min_delay_ms * clock_rate // 1000
        self.max_delay = max_delay_ms * clock_rate // 1000
        self.init_delay = int(initial_delay_ms) * clock_rate // 1000
        self.target = self.init_delay
        self.nbins = max_delay_ms + 2
        self.fade_start = fade_start_ms * clock_rate // 1000
        self.fade_end = silent_after_ms * clock_rate // 1000
        if not (0 <= blend_ms <= 200):
            raise ValueError(f"blend_ms must be 0-200, got {blend_ms}")
        if not (0.0 <= concealment_noise <= 1.0):
            raise ValueError(f"concealment_noise must be in [0, 1], got {concealment_noise}")
        self.noise_frac = concealment_noise
        self.voicing_min = 0.3
        self.bl_max = blend_ms * clock_rate // 1000
        self.conceal_on = concealment
        self.cn_on = comfort_noise
        self.dtmf_timeout_ns = <int64_t>dtmf_timeout_ms * 1000000
        # history must cover the pitch search (390 * r8 + frame) and the 3-period
        # pitch buffer copied at the start of an erasure (3 * 160 * r8 samples)
        self.hist_keep = max(390 * self.r8 + self.frame, 480 * self.r8) + self.dl + 64
        self.hist_size = self.hist_keep + 8 * self.frame + 64

        self.slots = <JSlot*>malloc(capacity * sizeof(JSlot))
        self.pay = <uint8_t*>malloc(<size_t>capacity * self.max_payload)
        self.hist = <int16_t*>calloc(self.hist_size, sizeof(int16_t))
        self.tmp = <int16_t*>malloc((2 * self.frame + 64) * sizeof(int16_t))
        self.pbuf = <int16_t*>malloc(160 * self.r8 * sizeof(int16_t) + 16)
        self.hgram = <double*>calloc(self.nbins, sizeof(double))
        self.cand_pay = <uint8_t*>malloc(MAX_DATAGRAM)
        self.fbuf = <double*>malloc((3 * (160 * self.r8 + 16) + 1) * sizeof(double))
        self.lpcsrc = <int16_t*>malloc((160 * self.r8 + 16) * sizeof(int16_t))
        if (self.slots == NULL or self.pay == NULL or self.hist == NULL or self.tmp == NULL
                or self.pbuf == NULL or self.hgram == NULL or self.cand_pay == NULL or self.fbuf == NULL
                or self.lpcsrc == NULL):
            raise MemoryError("JitterBuffer: cannot allocate buffers")
        for i in range(capacity):
            self.slots[i].seq = -1
            self.slots[i].state = SLOT_EMPTY
        memset(&self.st, 0, sizeof(JStats))
        self.hist_end = self.hist_keep
        self.hw = 1.0
        # prior: one forgetting-window's worth of "no extra delay", so a single
        # outlier early in the call does not move the quantile
        self.hgram[0] = 1.0 / (1.0 - FORGET)
        self.htotal = self.hgram[0]
        self.tmin_cur = 1e300
        self.tmin_prev = 1e300
        self.in_pause = True
        self.cn_level = 127
        self.rng = 0x9E3779B9u

    def __dealloc__(self):
        free(self.slots)
        free(self.pay)
        free(self.hist)
        free(self.tmp)
        free(self.pbuf)
        free(self.hgram)
        free(self.cand_pay)
        free(self.fbuf)
        free(self.lpcsrc)

    # ------------------------------------------------------------ properties
    @property
    def clock_rate(self) -> int:
        """RTP clock and output sample rate (Hz)."""
        return self.rate

    @property
    def frame_samples(self) -> int:
        """Samples per pulled frame (s16le mono, so 2 bytes each)."""
        return self.frame

    @property
    def output_delay_samples(self) -> int:
        """Fixed look-back of the output (samples; 3.75 ms, G.711 Appendix I)."""
        return self.dl

    @property
    def target_delay_ms(self) -> float:
        """Current playout delay target (ms) above the fastest recent packet."""
        return self.target * 1000.0 / self.rate

    # ------------------------------------------------------------ timing
    cdef double _now_s(self, int64_t now) noexcept nogil:
        return <double>(now - self.t0_ns) * self.rate / 1e9

    cdef double _ref(self) noexcept nogil:
        return self.tmin_cur if self.tmin_cur < self.tmin_prev else self.tmin_prev

    cdef void _timing(self, int64_t ext_ts, int64_t now) noexcept nogil:
        cdef double transit = self._now_s(now) - <double>ext_ts
        cdef double d, r_ms, acc, q
        cdef int b, i
        if self.have_transit:
            d = fabs(transit - self.last_transit)
            self.jitter += (d - self.jitter) / 16.0
        self.last_transit = transit
        self.have_transit = True
        if now - self.win_start >= WINDOW_NS:
            self.tmin_prev = self.tmin_cur
            self.tmin_cur = transit
            self.win_start = now
        elif transit < self.tmin_cur:
            self.tmin_cur = transit
        r_ms = (transit - self._ref()) * 1000.0 / self.rate
        b = <int>r_ms
        if b < 0:
            b = 0
        elif b >= self.nbins:
            b = self.nbins - 1
        self.hw /= FORGET
        self.hgram[b] += self.hw
        self.htotal += self.hw
        if self.hw > 1e100:
            for i in range(self.nbins):
                self.hgram[i] /= self.hw
            self.htotal /= self.hw
            self.hw = 1.0
        self.hcount += 1
        if self.hcount >= 8:
            self.hcount = 0
            q = QUANTILE * self.htotal
            acc = 0.0
            b = 0
            while b < self.nbins - 1:
                acc += self.hgram[b]
                if acc >= q:
                    break
                b += 1
            b = (b + 1 + MARGIN_MS) * self.rate // 1000
            if self.pkt_ns < self.frame:
                # a frame needs several packets: the last one is due earlier
                b += self.frame - self.pkt_ns
            if b < self.min_delay:
                b = self.min_delay
            if b > self.max_delay:
                b = self.max_delay
            self.target = b

    # ------------------------------------------------------------ DTMF
    cdef void _dtmf_report(self, int code, int64_t dur, uint32_t ts) noexcept nogil:
        cdef int i
        self.dt_done[self.dt_done_n & 7] = ts
        self.dt_done_n += 1
        if code > 15:
            return            # not a keypad digit (RFC 4733 events 16-255)
        if self.dq_len >= 32:
            self.st.dtmf_overflow += 1
            return
        i = (self.dq_head + self.dq_len) & 31
        self.dq_code[i] = code
        self.dq_dur[i] = dur
        self.dq_ts[i] = ts
        self.dq_len += 1
        self.st.dtmf_digits += 1

    cdef void _dtmf_timeout(self, int64_t now) noexcept nogil:
        if self.dt_active and now - self.dt_last_ns > self.dtmf_timeout_ns:
            self.dt_active = False
            self._dtmf_report(self.dt_code, self.dt_base + self.dt_dur, self.dt_ts)

    cdef void _dtmf(self, const uint8_t* p, uint32_t ts, int64_t now) noexcept nogil:
        cdef int code = p[0], i
        cdef bint end = (p[1] & 0x80) != 0
        cdef int64_t dur = (p[2] << 8) | p[3]
        cdef uint32_t delta
        if self.dt_active and ts == self.dt_ts:
            if dur > self.dt_dur:
                self.dt_dur = dur
            self.dt_last_ns = now
            if end:
                self.dt_active = False
                self._dtmf_report(self.dt_code, self.dt_base + self.dt_dur, self.dt_ts)
            return
        for i in range(8):
            if i < self.dt_done_n and self.dt_done[i] == ts:
                return        # redundant end / late packet of a reported event
        if self.dt_active:
            delta = ts - self.dt_ts
            if code == self.dt_code and self.dt_dur > 65535 - 4000 * self.r8 and 0 < delta <= 65536:
                # next segment of a long event (RFC 4733 2.5.1.3)
                self.dt_done[self.dt_done_n & 7] = self.dt_ts
                self.dt_done_n += 1
                self.dt_base += delta
                self.dt_ts = ts
                self.dt_dur = dur
                self.dt_last_ns = now
                if end:
                    self.dt_active = False
                    self._dtmf_report(self.dt_code, self.dt_base + self.dt_dur, ts)
                return
            # end packets of the previous event were lost
            self.dt_active = False
            self._dtmf_report(self.dt_code, self.dt_base + self.dt_dur, self.dt_ts)
        self.dt_code = code
        self.dt_ts = ts
        self.dt_base = 0
        self.dt_dur = dur
        self.dt_last_ns = now
        if end:
            self._dtmf_report(code, dur, ts)
        else:
            self.dt_active = True

    # ------------------------------------------------------------ receive
    cdef int _parse(self, const uint8_t* d, Py_ssize_t n, JHdr* h) noexcept nogil:
        """Classify one datagram (RFC 7983 demultiplexing, RFC 3550 header
        checks, negotiated payload types, size limits) without touching any
        state. Returns R_OK with ``h`` filled, or the drop reason."""
        cdef int b0, off, cc, pt, end, pad
        if n <= 0:
            return R_MALFORMED
        b0 = d[0]
        if b0 < 4 or (b0 >= 20 and b0 < 80):
            return R_FOREIGN              # STUN, DTLS, TURN channel (RFC 7983)
        if n > MAX_DATAGRAM:
            return R_OVERSIZE
        if n < 12 or (b0 >> 6) != 2:
            return R_MALFORMED
        if d[1] >= 192 and d[1] <= 223:
            return R_FOREIGN              # RTCP on the RTP port (RFC 5761)
        cc = b0 & 15
        off = 12 + 4 * cc
        if off > n:
            return R_MALFORMED
        if b0 & 0x10:
            if off + 4 > n:
                return R_MALFORMED
            off += 4 + 4 * ((d[off + 2] << 8) | d[off + 3])
            if off > n:
                return R_MALFORMED
        end = <int>n
        if b0 & 0x20:
            pad = d[n - 1]
            if pad == 0 or pad > end - off:
                return R_MALFORMED
            end -= pad
        h.off = off
        h.plen = end - off
        pt = d[1] & 0x7F
        h.pt = pt
        h.marker = d[1] >> 7
        h.codec = CODEC_NONE
        if pt == self.dtmf_pt:
            h.kind = KIND_DTMF
        elif pt == self.cn_pt:
            h.kind = KIND_CN
        else:
            h.codec = self.codec_of_pt[pt]
            if h.codec == CODEC_NONE:
                return R_UNKNOWN_PT
            h.kind = KIND_MEDIA
            if h.plen > self.max_payload:
                return R_OVERSIZE
        h.seq = (d[2] << 8) | d[3]
        h.ts = (<uint32_t>d[4] << 24) | (<uint32_t>d[5] << 16) | (<uint32_t>d[6] << 8) | d[7]
        h.ssrc = (<uint32_t>d[8] << 24) | (<uint32_t>d[9] << 16) | (<uint32_t>d[10] << 8) | d[11]
        return R_OK

    cdef int push_c(self, const uint8_t* d, Py_ssize_t n, int64_t now) noexcept nogil:
        cdef JHdr h
        cdef uint32_t udelta
        cdef int code
        cdef double off_ns, tol_ns
        if self.dt_active:
            self._dtmf_timeout(now)
        code = self._parse(d, n, &h)
        if code != R_OK:
            if code == R_MALFORMED:
                self.st.malformed += 1
            elif code == R_FOREIGN:
                self.st.foreign += 1
            elif code == R_OVERSIZE:
                self.st.oversize += 1
            else:
                self.st.unknown_pt += 1
            return code
        if self.have_stream and h.ssrc == self.ssrc:
            udelta = <uint16_t>(h.seq - self.max_seq16)
            if udelta < <uint32_t>MAX_DROPOUT:
                # A forward packet whose timestamp disagrees with its arrival time
                # (relative to the newest packet) by more than the maximum delay
                # plus a margin is either a stray or a timestamp discontinuity
                # (rebase, hold and resume): probation, and only 2 sequential
                # packets re-map the timeline. Small gaps of audio / CN are checked
                # too (a stray with seq +1..+8); DTMF timestamps name the event
                # start, so they are checked only past JUMP_CHECK as before.
                if (udelta != 0 and (udelta > <uint32_t>JUMP_CHECK or h.kind != KIND_DTMF)
                        and not self._consistent(h.ts, now)):
                    # already behind the playout position: counted late if it
                    # never validates (a burst released after a network freeze)
                    if (h.kind == KIND_MEDIA and self.ref_ext_ts + <int32_t>(h.ts - self.ref_ts32)
                            + h.plen <= self.play_ts):
                        h.marker |= CAND_LATE
                    return self._candidate(h.ssrc, h.seq, h.ts, h.marker, h.kind, h.codec, d + h.off, h.plen, now)
                return self._accept(self.max_ext + udelta, h.seq, h.ts, h.kind, h.codec, d + h.off, h.plen, now)
            elif udelta <= <uint32_t>(65536 - MAX_MISORDER):
                return self._candidate(h.ssrc, h.seq, h.ts, h.marker, h.kind, h.codec, d + h.off, h.plen, now)
            if h.kind != KIND_DTMF:
                # reordered: a timestamp far outside the timeline never reaches the
                # delay estimate (too old: late; in the future: a stray)
                off_ns = (<double>(<int32_t>(h.ts - self.ref_ts32) + self.ref_ext_ts - self.max_media_ts)
                          * 1e9 / self.rate - <double>(now - self.max_arrival))
                tol_ns = self.max_delay * 1e9 / self.rate + 60e6
                if off_ns < -tol_ns:
                    self.st.late += 1
                    return R_LATE
                if off_ns > tol_ns:
                    self.st.discarded += 1
                    return R_DISCARDED
            return self._accept(self.max_ext - <int64_t>(65536 - udelta), h.seq, h.ts, h.kind, h.codec,
                                d + h.off, h.plen, now)
        return self._candidate(h.ssrc, h.seq, h.ts, h.marker, h.kind, h.codec, d + h.off, h.plen, now)

    cdef bint _consistent(self, uint32_t ts, int64_t now) noexcept nogil:
        """Does the timestamp advance since the newest packet match the time
        elapsed since it arrived (burst loss, DTX, jitter up to the maximum
        delay + 60 ms), rather than a stray or a timestamp discontinuity?"""
        cdef int64_t ext_ts = self.ref_ext_ts + <int32_t>(ts - self.ref_ts32)
        cdef double dts_ns = <double>(ext_ts - self.max_media_ts) * 1e9 / self.rate
        cdef double darr = <double>(now - self.max_arrival)
        cdef double tol = (self.max_delay * 1e9 / self.rate) + 60e6
        return fabs(dts_ns - darr) <= tol

    cdef int _candidate(self, uint32_t ssrc, uint16_t seq, uint32_t ts, int marker, int kind,
                        int codec, const uint8_t* p, int plen, int64_t now) noexcept nogil:
        cdef int r
        cdef int64_t ext, mapped
        if (self.cand_valid and ssrc == self.cand_ssrc and seq == <uint16_t>(self.cand_seq + 1)
                and now - self.cand_arrival <= PROBATION_NS
                and (not self.have_stream or ssrc == self.ssrc or self.last_accept_ns < self.cand_arrival)
                and _pair_paced(self, ssrc, ts, kind, now)):
            # Two sequential packets: (re)synchronise on the new stream.
            if self.have_stream:
                if ssrc != self.ssrc:
                    self.st.ssrc_switches += 1
                else:
                    self.st.sequence_restarts += 1
                ext = self.max_ext + 1
                if self.have_transit:
                    mapped = llround(self._now_s(self.cand_arrival) - self._ref())
                else:
                    mapped = self.max_media_ts
                if mapped < self.max_media_ts + self.pkt_ns:
                    mapped = self.max_media_ts + self.pkt_ns    # never over the newest packet
            else:
                self.have_stream = True
                self.t0_ns = self.cand_arrival
                self.win_start = self.cand_arrival
                ext = 1 << 20
                mapped = (<int64_t>1 << 33) + self.cand_ts
                self.read_seq = ext
                self.play_ts = mapped
                self.max_media_ts = mapped
                self.in_pause = True
            self.ssrc = ssrc
            self.max_ext = ext - 1
            self.max_seq16 = <uint16_t>(self.cand_seq - 1)
            self.ref_ext_ts = mapped
            self.ref_ts32 = self.cand_ts
            self.max_arrival = self.cand_arrival
            self.cand_valid = False
            self._accept(ext, self.cand_seq, self.cand_ts, self.cand_marker >> 4, self.cand_pt,
                         self.cand_pay, self.cand_len, self.cand_arrival)
            return self._accept(ext + 1, seq, ts, kind, codec, p, plen, now)
        if self.cand_valid and ssrc != self.cand_ssrc and now - self.cand_arrival < CAND_PRIORITY_NS:
            # another source is already on probation: first come keeps priority
            # briefly, so two interleaved SSRCs cannot keep resetting each other
            if self.have_stream and ssrc == self.ssrc:
                self.st.discarded += 1
                return R_DISCARDED
            self.st.foreign_ssrc += 1
            return R_FOREIGN_SSRC
        # not (yet) acceptable: hold it as the new probation candidate
        if self.cand_valid:
            _drop_candidate(self)
        self.cand_valid = True
        self.cand_ssrc = ssrc
        self.cand_seq = seq
        self.cand_ts = ts
        self.cand_arrival = now
        self.cand_marker = <uint8_t>((kind << 4) | marker)
        self.cand_pt = <uint8_t>codec
        if plen > MAX_DATAGRAM:
            plen = MAX_DATAGRAM
        memcpy(self.cand_pay, p, plen)
        self.cand_len = plen
        if self.have_stream and ssrc != self.ssrc:
            return R_FOREIGN_SSRC
        return R_HELD

    cdef void _overflow(self, int64_t ext) noexcept nogil:
        """A packet beyond the window: drop the oldest slots to make room."""
        cdef int64_t new_read = ext - self.capacity + 1, s, stop
        cdef JSlot* sl
        stop = new_read
        if stop > self.read_seq + self.capacity:
            stop = self.read_seq + self.capacity
        s = self.read_seq
        while s < stop:
            sl = &self.slots[s & self.mask]
            if sl.seq == s and (sl.state == SLOT_MEDIA or sl.state == SLOT_NONMEDIA):
                sl.state = SLOT_PLAYED
                self.st.discarded += 1
            else:
                self.st.lost += 1
            s += 1
        if new_read > stop:
            self.st.lost += <uint64_t>(new_read - stop)
        self.read_seq = new_read
        self.lost_flag = True
        self.in_pause = False

    cdef int _accept(self, int64_t ext, uint16_t seq, uint32_t ts, int kind, int codec,
                     const uint8_t* p, int plen, int64_t now) noexcept nogil:
        cdef int64_t ext_ts = self.ref_ext_ts + <int32_t>(ts - self.ref_ts32)
        cdef JSlot* sl = &self.slots[ext & self.mask]
        cdef bint dup = sl.seq == ext and sl.state != SLOT_EMPTY
        if kind == KIND_DTMF:
            if plen < 4:
                self.st.malformed_dtmf += 1
            elif not dup:
                self._dtmf(p, ts, now)
        if dup:
            self.st.duplicates += 1
            return R_DUPLICATE
        if ext > self.max_ext:
            self.max_ext = ext
            self.max_seq16 = seq
            if <int32_t>(ts - self.ref_ts32) > 0:
                self.ref_ext_ts = ext_ts
                self.ref_ts32 = ts
        else:
            self.st.reordered += 1
        self.last_accept_ns = now
        if kind == KIND_MEDIA:
            if plen > 0:
                self.pkt_ns = plen
            self._timing(ext_ts, now)
            if ext_ts >= self.max_media_ts:
                self.max_media_ts = ext_ts
                self.max_arrival = now
        if ext < self.read_seq or (kind == KIND_MEDIA and ext_ts + plen <= self.play_ts):
            self.st.late += 1
            return R_LATE
        if ext >= self.read_seq + self.capacity:
            self._overflow(ext)
            sl = &self.slots[ext & self.mask]
        sl.seq = ext
        sl.ts = ext_ts
        sl.kind = <uint8_t>kind
        sl.codec = <uint8_t>codec
        if kind == KIND_MEDIA and plen > 0:
            sl.state = SLOT_MEDIA
            sl.ns = plen
            memcpy(self.pay + (ext & self.mask) * self.max_payload, p, plen)
        else:
            sl.state = SLOT_NONMEDIA       # DTMF, CN, or an empty / padding-only packet
            sl.ns = 0
            if kind == KIND_CN:
                self.st.cn_frames += 1
                sl.cn_level = p[0] & 0x7F if plen >= 1 else 127
        self.st.received += 1
        if kind == KIND_DTMF and plen < 4:
            return R_MALFORMED_DTMF
        return R_OK

    # ------------------------------------------------------------ concealment
    cdef void _plc_start(self) noexcept nogil:
        cdef int16_t* x = self.hist + self.hist_end
        cdef int P, L, i
        cdef double w, acc, voicing = 0.0
        P = _pitch(x, self.r8, &voicing)
        if voicing < self.voicing_min:
            P = 160 * self.r8        # unvoiced / noisy: repeat a whole 20 ms instead
        L = P >> 2
        if L > self.dl:
            L = self.dl
        if L < 1:
            L = 1
        for i in range(L):
            w = (i + 1.0) / (L + 1.0)
            x[i - L] = _clip(x[i - L] * (1.0 - w) + x[i - L - P] * w)
        acc = 0.0
        for i in range(160 * self.r8):
            acc += <double>x[i - 160 * self.r8] * x[i - 160 * self.r8]
        self.plc_noise = sqrt(acc / (160 * self.r8)) * self.noise_frac
        memcpy(self.lpcsrc, x - 160 * self.r8 - 10, (160 * self.r8 + 10) * sizeof(int16_t))
        self.lpc_ready = False
        # one period, repeated for the whole erasure: Appendix I widens it to
        # 2 and 3 periods at 10 and 20 ms, which scored lower on PESQ NB on all
        # four clips (see benchmarks/bench_jitter.py) because the output is
        # silent by 60 ms anyway
        memcpy(self.pbuf, x - P, P * sizeof(int16_t))
        self.P = P
        self.L = L
        self.pos = 0
        self.ck = 0
        self.end_left = 0
        self.joined = False
        self.bp_seq = -1
        self.plc_active = True
        self.st.concealment_events += 1

    cdef double _synth(self) noexcept nogil:
        cdef double v, w
        if self.ck >= self.fade_end:
            self.ck += 1
            return self._shaped() * self.plc_noise
        v = self.pbuf[self.pos]
        self.pos += 1
        if self.pos >= self.P:
            self.pos = 0
        if self.ck >= self.fade_start:
            w = 1.0 - <double>(self.ck - self.fade_start) / (self.fade_end - self.fade_start)
            v = v * w
            if w < 0.5 and self.plc_noise > 0.0:
                # the noise floor comes in over the second half of the fade
                v += self._shaped() * self.plc_noise * (1.0 - 2.0 * w)
        self.ck += 1
        return v

    cdef void _lpc(self, const int16_t* x) noexcept nogil:
        """Order-10 LPC of the last 20 ms (Levinson-Durbin), so the noise floor
        that follows a faded concealment has the spectral envelope of the
        speech before the loss."""
        cdef int W = 160 * self.r8, i, k, j
        cdef double r[11]
        cdef double a[11]
        cdef double tmp[11]
        cdef double err, acc, refl, g
        cdef int64_t iacc
        for k in range(11):
            iacc = 0
            for i in range(k, W):
                iacc += <int32_t>x[i - W] * <int32_t>x[i - W - k]
            r[k] = <double>iacc
        for k in range(11):
            a[k] = 0.0
            self.lpc_mem[k] = 0.0
        self.lpc_gain = 0.0
        if r[0] <= 0.0:
            return
        r[0] *= 1.0001
        a[0] = 1.0
        err = r[0]
        for i in range(1, 11):
            acc = r[i]
            for j in range(1, i):
                acc += a[j] * r[i - j]
            refl = -acc / err
            for j in range(i):
                tmp[j] = a[j]
            for j in range(1, i):
                a[j] = tmp[j] + refl * tmp[i - j]
            a[i] = refl
            err *= (1.0 - refl * refl)
            if err <= 0.0:
                return
        for k in range(11):
            self.lpc_a[k] = a[k]
        # white noise of unit RMS through 1/A(z) then has the history's RMS
        g = sqrt(err / W) / sqrt(r[0] / W)
        self.lpc_gain = g

    cdef double _noise(self) noexcept nogil:
        """Uniform white noise with unit RMS (xorshift32)."""
        self.rng ^= self.rng << 13
        self.rng ^= self.rng >> 17
        self.rng ^= self.rng << 5
        return (<double>self.rng / 2147483648.0 - 1.0) * 1.7320508

    cdef double _shaped(self) noexcept nogil:
        """Unit-RMS noise with the LPC envelope of the speech before the loss."""
        cdef double y
        cdef int k
        if not self.lpc_ready:
            self.lpc_ready = True
            self._lpc(self.lpcsrc + 160 * self.r8 + 10)      # computed on first use only
        if self.lpc_gain <= 0.0:
            return self._noise()
        y = self._noise() * self.lpc_gain
        for k in range(1, 11):
            y -= self.lpc_a[k] * self.lpc_mem[k - 1]
        for k in range(9, 0, -1):
            self.lpc_mem[k] = self.lpc_mem[k - 1]
        self.lpc_mem[0] = y
        return y

    cdef int _bpitch(self, const uint8_t* fp, int ns, int codec) noexcept nogil:
        """Pitch period (samples) of the packet after a gap, for the backward
        extension: maximum of the normalised autocorrelation of its first 20 ms
        over 5-15 ms lags (energies from prefix sums), searched on a 2:1
        decimated copy (sums of sample pairs) and refined within +-1 sample at
        full rate. The forward period when the packet is unvoiced (best
        correlation below ``voicing_min``)."""
        cdef int n = 160 * self.r8, hi, lo, lag, i, best = -1, nh, step
        cdef double* d = self.fbuf + 160 * self.r8 + 16
        cdef double* S = self.fbuf + 2 * (160 * self.r8 + 16)
        cdef double c, sc, bs = -2.0
        if ns < n:
            n = ns
        S[0] = 0.0
        for i in range(n):
            d[i] = alaw_decode_one(fp[i]) if codec == CODEC_PCMA else ulaw_decode_one(fp[i])
            S[i + 1] = S[i] + d[i] * d[i]
        hi = n - 40 * self.r8           # at least 5 ms of overlap
        if hi > 120 * self.r8:
            hi = 120 * self.r8
        lo = 40 * self.r8
        step = 2 * self.r8
        # coarse: correlation of every other sample at every other lag
        lag = lo
        while lag <= hi:
            c = 0.0
            i = 0
            while i < n - lag:
                c += d[i] * d[i + lag]
                i += step
            if c > 0.0:
                sc = c * c / ((S[n - lag] + 1.0) * (S[n] - S[lag] + 1.0))
                if sc > bs:
                    bs = sc
                    best = lag
            lag += step
        if best < 0:
            return self.P
        lo = best - step + 1 if best - step + 1 >= 40 * self.r8 else 40 * self.r8
        hi = best + step - 1 if best + step - 1 <= hi else hi
        bs = -2.0
        for lag in range(lo, hi + 1):
            c = 0.0
            for i in range(n - lag):
                c += d[i] * d[i + lag]
            if c > 0.0:
                sc = c / sqrt((S[n - lag] + 1.0) * (S[n] - S[lag] + 1.0))
                if sc > bs:
                    bs = sc
                    best = lag
        if bs < self.voicing_min:
            return self.P            # unvoiced: keep the forward period (a whole 20 ms when unvoiced too)
        return best

    cdef void _conceal(self, int m, JSlot* fut, int64_t gap) noexcept nogil:
        """Synthesise ``m`` samples for missing audio. When the packet after the
        gap (``fut``, starting ``gap`` samples from now) is already buffered,
        the last ``blend_ms`` of the gap cross-fade into a backward pitch
        extension of that packet (two-sided interpolation), so the first real
        frame joins without a second overlap-add."""
        cdef int16_t* dst = self.hist + self.hist_end
        cdef int i, r, run, P, BL = self.bl_max, k
        cdef int64_t j
        cdef const uint8_t* fp = NULL
        cdef double f, w
        if self.conceal_on:
            if not self.plc_active:
                self._plc_start()
            P = self.P
            if fut != NULL and fut.ns > 0 and BL > 0:
                fp = self.pay + (fut.seq & self.mask) * self.max_payload
                if BL > gap + self.ck:
                    BL = <int>(gap + self.ck)
                if self.bp_seq != fut.seq:
                    self.bp_seq = fut.seq
                    self.bp_P = self._bpitch(fp, fut.ns, fut.codec)
                P = self.bp_P
                # one pitch period of the next packet, decoded once
                for k in range(P):
                    if fut.codec == CODEC_PCMA:
                        self.fbuf[k] = alaw_decode_one(fp[k % fut.ns])
                    else:
                        self.fbuf[k] = ulaw_decode_one(fp[k % fut.ns])
                if P + (P >> 2) <= fut.ns:
                    # the period wrap fbuf[P-1] -> fbuf[0] made smooth: fbuf[0..P/4)
                    # fades in from packet[P..P+P/4), the natural successor of packet[P-1]
                    for k in range(P >> 2):
                        w = (k + 1.0) / ((P >> 2) + 1.0)
                        if fut.codec == CODEC_PCMA:
                            f = alaw_decode_one(fp[P + k])
                        else:
                            f = ulaw_decode_one(fp[P + k])
                        self.fbuf[k] = f * (1.0 - w) + self.fbuf[k] * w
            i = 0
            while i < m:
                j = gap - i
                if fp == NULL or j > BL:
                    run = m - i
                    if fp != NULL and j - BL < run:
                        run = <int>(j - BL)
                    if self.ck >= self.fade_end and self.plc_noise == 0.0:
                        memset(dst + i, 0, run * sizeof(int16_t))      # faded out: silence
                        self.ck += run
                    else:
                        for r in range(run):
                            dst[i + r] = _clip(self._synth())
                    i += run
                    continue
                # blend region: forward concealment -> backward extension of the next packet
                k = P - 1 - <int>((j - 1) % P)
                while i < m:
                    j = gap - i
                    f = self._synth()
                    w = (BL - j + 1.0) / (BL + 1.0)
                    dst[i] = _clip(f * (1.0 - w) + self.fbuf[k] * w)
                    if j == 1:
                        self.joined = True
                    k += 1
                    if k >= P:
                        k = 0
                    i += 1
        else:
            memset(dst, 0, m * sizeof(int16_t))
        self.flags |= F_CONCEAL
        self.st.concealed_samples += <uint64_t>m

    cdef void _fill_silence(self, int m) noexcept nogil:
        cdef int16_t* dst = self.hist + self.hist_end
        cdef int i
        cdef double amp
        cdef int32_t a
        self.plc_active = False
        self.end_left = 0
        if self.cn_pause and self.cn_on and self.cn_level < 90:
            amp = 32767.0 * cpow(10.0, -self.cn_level / 20.0) * 1.7320508
            a = <int32_t>amp
            if a < 1:
                a = 1
            elif a > 32767:
                a = 32767        # levels 0-4 -dBov: saturate, never wrap in the int16 cast
            for i in range(m):
                self.rng ^= self.rng << 13
                self.rng ^= self.rng >> 17
                self.rng ^= self.rng << 5
                dst[i] = <int16_t>(<int32_t>(self.rng % <uint32_t>(2 * a + 1)) - a)
            self.flags |= F_CN
        else:
            memset(dst, 0, m * sizeof(int16_t))
            self.flags |= F_SILENCE

    cdef bint _quiet(self) noexcept nogil:
        """Was the last 10 ms of playout below about -50 dBFS (mean |x| < 100)?"""
        cdef int i, n = 80 * self.r8
        cdef int64_t acc = 0
        cdef int v
        for i in range(n):
            v = self.hist[self.hist_end - n + i]
            acc += v if v >= 0 else -v
        return acc < QUIET_MEAN_ABS_C * n

    cdef void _end_ola(self, int16_t* dst, int m) noexcept nogil:
        """Overlap-add the continued concealment into the first real samples."""
        cdef int i, k
        cdef double w, syn
        for i in range(m):
            if self.end_left <= 0:
                break
            syn = self._synth()
            k = self.end_len - self.end_left
            w = (k + 1.0) / (self.end_len + 1.0)
            dst[i] = _clip(syn * (1.0 - w) + dst[i] * w)
            self.end_left -= 1

    # ------------------------------------------------------------ playout
    cdef int64_t _advance(self) noexcept nogil:
        """Move the read pointer past played and non-media slots, and past
        missing slots whose successor is already due. Returns the next present
        slot after a missing one (or -1)."""
        cdef JSlot* sl
        cdef int64_t j, lim
        while self.read_seq <= self.max_ext:
            sl = &self.slots[self.read_seq & self.mask]
            if sl.seq == self.read_seq:
                if sl.state == SLOT_MEDIA:
                    if sl.ts + sl.ns <= self.play_ts:
                        sl.state = SLOT_PLAYED
                        self.read_seq += 1
                        continue
                    return -1
                if sl.state == SLOT_NONMEDIA:
                    sl.state = SLOT_PLAYED
                    self.read_seq += 1
                    self.in_pause = True
                    self.lost_flag = False
                    if sl.kind == KIND_CN:
                        self.cn_pause = True
                        self.cn_level = sl.cn_level
                    continue
                if sl.state == SLOT_PLAYED:
                    self.read_seq += 1
                    continue
            # missing: skip it once a later packet is due
            lim = self.read_seq + self.capacity - 1
            if lim > self.max_ext:
                lim = self.max_ext
            j = self.read_seq + 1
            while j <= lim:
                sl = &self.slots[j & self.mask]
                if sl.seq == j and (sl.state == SLOT_MEDIA or sl.state == SLOT_NONMEDIA):
                    break
                j += 1
            if j > lim:
                return -1
            if sl.ts <= self.play_ts:
                self.st.lost += <uint64_t>(j - self.read_seq)
                self.read_seq = j
                self.lost_flag = True
                self.in_pause = False
                self.cn_pause = False
                continue
            return j
        return -1

    cdef void _produce(self, int n) noexcept nogil:
        """Append ``n`` samples of the playout stream at ``play_ts`` to the history."""
        cdef JSlot* sl
        cdef int64_t nxt, off
        cdef int m
        cdef uint8_t* src
        while n > 0:
            nxt = self._advance()
            if self.read_seq <= self.max_ext:
                sl = &self.slots[self.read_seq & self.mask]
                if sl.seq == self.read_seq and sl.state == SLOT_MEDIA:
                    if sl.ts <= self.play_ts:
                        off = self.play_ts - sl.ts
                        m = <int>(sl.ns - off)
                        if m > n:
                            m = n
                        src = self.pay + (self.read_seq & self.mask) * self.max_payload + off
                        if sl.codec == CODEC_PCMA:
                            alaw_decode(src, self.hist + self.hist_end, m)
                        else:
                            ulaw_decode(src, self.hist + self.hist_end, m)
                        if self.plc_active and self.joined:
                            self.plc_active = False       # two-sided interpolation already joined
                        if self.plc_active:
                            self.plc_active = False
                            self.end_len = self.L + 32 * self.r8 * ((self.ck + 80 * self.r8 - 1) // (80 * self.r8) - 1)
                            if self.end_len > 80 * self.r8:
                                self.end_len = 80 * self.r8
                            self.end_left = self.end_len
                        if self.end_left > 0:
                            self._end_ola(self.hist + self.hist_end, m)
                        self.in_pause = False
                        self.lost_flag = False
                        self.cn_pause = False
                        self.flags |= F_AUDIO
                    else:
                        m = <int>(sl.ts - self.play_ts) if sl.ts - self.play_ts < n else n
                        if self.lost_flag:
                            self._conceal(m, sl, sl.ts - self.play_ts)
                        else:
                            self.in_pause = True     # timestamp jump without loss: DTX
                            self._fill_silence(m)
                    self.play_ts += m
                    self.hist_end += m
                    n -= m
                    continue
                m = n
                if nxt >= 0:
                    sl = &self.slots[nxt & self.mask]
                    if sl.ts - self.play_ts < m:
                        m = <int>(sl.ts - self.play_ts)
                    self._conceal(m, sl if sl.state == SLOT_MEDIA else NULL, sl.ts - self.play_ts)
                else:
                    self._conceal(m, NULL, 0)
            elif self.in_pause or (not self.plc_active and self._quiet()):
                # Nothing buffered after quiet audio: most likely a DTX pause
                # (VAD hangover), so silence rather than concealment; after loud
                # audio it is probably loss. The pause is confirmed (and the
                # delay re-evaluated) when the next talkspurt arrives.
                m = n
                self._fill_silence(m)
            else:
                m = n
                self._conceal(m, NULL, 0)
            self.play_ts += m
            self.hist_end += m
            n -= m

    cdef int pull_c(self, int16_t* out, int64_t now) noexcept nogil:
        cdef int F = self.frame, n, k, kmax, i, he0, Lx, P0, v
        cdef double ideal, err, w, ref
        cdef int64_t tgt
        cdef int64_t acc
        cdef JSlot* sl
        cdef int16_t* c
        if self.dt_active:
            self._dtmf_timeout(now)
        self.st.frames_out += 1
        if self.cand_valid and now - self.cand_arrival > PROBATION_NS:
            _drop_candidate(self)            # probation expired: the held packet is dropped
        if not self.have_stream:
            memset(out, 0, F * sizeof(int16_t))
            self.st.silence_frames += 1
            return K_SILENCE
        if self.hist_end + 2 * F + 16 > self.hist_size:
            memmove(self.hist, self.hist + self.hist_end - self.hist_keep, self.hist_keep * sizeof(int16_t))
            self.hist_end = self.hist_keep
        self.flags = 0
        n = F
        k = 0
        self._advance()
        if self.have_transit:
            ref = self._ref()
            ideal = self._now_s(now) - ref - self.target
            if self.in_pause:
                self.adjusting = 0
                if self.read_seq <= self.max_ext:
                    sl = &self.slots[self.read_seq & self.mask]
                    if sl.seq == self.read_seq and sl.state == SLOT_MEDIA and sl.ts >= self.play_ts:
                        tgt = llround(ideal)
                        self.play_ts = tgt if tgt < sl.ts else sl.ts
                else:
                    self.play_ts = llround(ideal)
            else:
                err = <double>self.play_ts - ideal
                if self.adjusting == 0 and fabs(err) > 10.0 * self.rate / 1000.0:
                    self.adjusting = 1
                elif self.adjusting and fabs(err) < 2.0 * self.rate / 1000.0:
                    self.adjusting = 0
                if self.adjusting:
                    acc = 0
                    for i in range(F):
                        v = self.hist[self.hist_end - F + i]
                        acc += v if v >= 0 else -v
                    kmax = F // 4 if acc < 300 * F else F // 16
                    k = <int>fabs(err)
                    if k > kmax:
                        k = kmax
                    if err < 0:
                        n = F + k
                    else:
                        n = F - k
            self.cur_delay = self._now_s(now) - ref - self.play_ts
        he0 = self.hist_end
        self._produce(n)
        if k > 0:
            c = self.hist + he0
            Lx = F // 4
            if n > F:           # compress: drop k samples with a crossfade
                for i in range(Lx):
                    w = (i + 1.0) / (Lx + 1.0)
                    c[F - Lx + i] = _clip(c[F - Lx + i] * (1.0 - w) + c[F - Lx + k + i] * w)
            else:               # stretch: repeat k samples with a crossfade
                memcpy(self.tmp, c, n * sizeof(int16_t))
                P0 = F - k - Lx
                for i in range(Lx):
                    w = (i + 1.0) / (Lx + 1.0)
                    c[P0 + i] = _clip(self.tmp[P0 + i] * (1.0 - w) + self.tmp[P0 - k + i] * w)
                memcpy(c + P0 + Lx, self.tmp + P0 - k + Lx, k * sizeof(int16_t))
            self.hist_end = he0 + F
            self.st.time_scaled_samples += <uint64_t>k
        memcpy(out, self.hist + self.hist_end - self.dl - F, F * sizeof(int16_t))
        if self.flags & F_CONCEAL:
            self.st.concealed_frames += 1
            return K_CONCEALED
        if self.flags & F_AUDIO:
            self.st.audio_frames += 1
            return K_AUDIO
        if self.flags & F_CN:
            self.st.comfort_noise_frames += 1
            return K_COMFORT_NOISE
        self.st.silence_frames += 1
        return K_SILENCE

    # ------------------------------------------------------------ interim engine seam
    cdef bint dtmf_pop_c(self, JDtmfEvent* ev) noexcept nogil:
        cdef int i
        if self.dq_len <= 0:
            return False
        i = self.dq_head
        ev.code = self.dq_code[i]
        ev.duration = self.dq_dur[i]
        ev.ts = self.dq_ts[i]
        self.dq_head = (self.dq_head + 1) & 31
        self.dq_len -= 1
        return True

    cdef void rtcp_c(self, JRtcp* out, bint new_interval) noexcept nogil:
        cdef int64_t expected, lost, exp_int, rec_int, lost_int
        memset(out, 0, sizeof(JRtcp))
        if not self.have_stream:
            return
        out.have_source = True
        out.ssrc = self.ssrc
        out.ext_highest_seq = <uint32_t>self.max_seq16
        out.jitter = <uint32_t>self.jitter
        out.cumulative_lost = <int32_t>self.st.lost

    cdef const JStats* stats_c(self) noexcept nogil:
        return &self.st

    cdef int frame_samples_c(self) noexcept nogil:
        return self.frame

    cdef int engine_adopt(self) except -1:
        if self._adopted:
            raise RuntimeError("JitterBuffer is already owned by an Engine")
        self._adopted = True
        return 0

    cdef void engine_release(self) noexcept nogil:
        self._adopted = False

    cdef dict engine_stats(self):
        cdef uint64_t* v = <uint64_t*>&self.st
        cdef dict d = {}
        for i, name in enumerate(STAT_NAMES):
            d[name] = v[i]
        d["jitter_ms"] = self.jitter * 1000.0 / self.rate
        d["target_delay_ms"] = self.target * 1000.0 / self.rate
        d["current_delay_ms"] = self.cur_delay * 1000.0 / self.rate
        return d

    # ------------------------------------------------------------ Python API
    def push(self, datagram, int64_t arrival_ns) -> int:
        """Feed one received UDP payload (raw RTP) with its arrival time
        (monotonic clock, ns). Never raises for bad network input: the
        datagram is counted in ``stats()`` and dropped. Returns a
        ``RESULT_*`` code (0 = stored)."""
        cdef Buf b
        cdef int r
        if PyBytes_CheckExact(datagram):
            with cython.critical_section(self):
                r = self.push_c(<const uint8_t*>PyBytes_AS_STRING(datagram),
                                PyBytes_GET_SIZE(datagram), arrival_ns)
            return r
        get_input(datagram, &b, KIND_BYTES, b"JitterBuffer.push")
        try:
            with cython.critical_section(self):
                r = self.push_c(<const uint8_t*>b.buf, b.len, arrival_ns)
            return r
        finally:
            release(&b)

    def parse_header(self, datagram) -> tuple:
        """Classify ``datagram`` the way ``push`` does, without changing any
        state: ``(result, fields)`` where ``fields`` is None or a dict with
        seq, ts, ssrc, pt, marker, payload_offset, payload_len and kind
        ('media', 'dtmf', 'cn'). For tests and diagnostics."""
        cdef Buf b
        cdef JHdr h
        cdef int code
        get_input(datagram, &b, KIND_BYTES, b"JitterBuffer.parse_header")
        try:
            code = self._parse(<const uint8_t*>b.buf, b.len, &h)
        finally:
            release(&b)
        if code != R_OK:
            return code, None
        return code, {"seq": h.seq, "ts": h.ts, "ssrc": h.ssrc, "pt": h.pt, "marker": bool(h.marker),
                      "payload_offset": h.off, "payload_len": h.plen,
                      "kind": ("media", "dtmf", "cn")[h.kind]}

    def pull(self, int64_t now_ns):
        """Play out one frame at ``now_ns`` (the consumer's monotonic clock, ns).

        Returns ``(pcm, kind)``: ``frame_samples`` samples of s16le mono bytes and
        one of FRAME_AUDIO, FRAME_CONCEALED, FRAME_SILENCE, FRAME_COMFORT_NOISE."""
        cdef object res = PyBytes_FromStringAndSize(NULL, self.frame * 2)
        cdef int kind
        with cython.critical_section(self):
            kind = self.pull_c(<int16_t*>PyBytes_AS_STRING(res), now_ns)
        return res, kind

    def pull_into(self, out, int64_t now_ns) -> int:
        """Like :meth:`pull` but writes the frame into the writable buffer ``out``
        (at least ``2 * frame_samples`` bytes); returns the frame kind."""
        cdef Buf b
        cdef int kind
        get_output(out, &b, self.frame * 2, b"JitterBuffer.pull_into")
        with cython.critical_section(self):
            kind = self.pull_c(<int16_t*>b.buf, now_ns)
        release(&b)
        return kind

    @cython.critical_section
    def pop_dtmf(self) -> list:
        """Digits completed since the last call, oldest first, each reported once:
        a list of ``(digit, duration_samples, rtp_timestamp)``."""
        cdef list res = []
        cdef int i
        while self.dq_len > 0:
            i = self.dq_head
            res.append((_DIGITS[self.dq_code[i]], self.dq_dur[i], self.dq_ts[i]))
            self.dq_head = (self.dq_head + 1) & 31
            self.dq_len -= 1
        return res

    @cython.critical_section
    def stats(self) -> dict:
        """Counters (64-bit, monotonic) and the current delay figures (ms)."""
        cdef uint64_t* v = <uint64_t*>&self.st
        cdef dict d = {}
        for i, name in enumerate(STAT_NAMES):
            d[name] = v[i]
        d["jitter_ms"] = self.jitter * 1000.0 / self.rate
        d["target_delay_ms"] = self.target * 1000.0 / self.rate
        d["current_delay_ms"] = self.cur_delay * 1000.0 / self.rate
        return d


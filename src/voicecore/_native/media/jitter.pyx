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
from libc.string cimport memset
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_GET_SIZE

from voicecore._native._buffers cimport Buf, get_input, get_output, release, KIND_BYTES, KIND_S16
from voicecore._native.media._jitter.state cimport (
    JHdr, JSlot, SLOT_EMPTY, CODEC_NONE, CODEC_PCMU, CODEC_PCMA, MAX_DATAGRAM,
)
from voicecore._native.media._jitter.parse cimport jb_parse
from voicecore._native.media._jitter.delay cimport jb_delay_init
from voicecore._native.media._jitter.seq cimport jb_push
from voicecore._native.media._jitter.playout cimport jb_pull

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
        cdef int i, nbins
        cdef double* hgram
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
        memset(self._s.codec_of_pt, 0, sizeof(self._s.codec_of_pt))
        for pt, name in dict(payload_types).items():
            if not isinstance(pt, int) or not 0 <= pt <= 127:
                raise ValueError(f"payload type must be an int 0-127, got {pt!r}")
            key = str(name).lower()
            if key in ("pcmu", "ulaw", "mu-law", "g711u"):
                self._s.codec_of_pt[pt] = CODEC_PCMU
            elif key in ("pcma", "alaw", "a-law", "g711a"):
                self._s.codec_of_pt[pt] = CODEC_PCMA
            else:
                raise ValueError(f"payload type {pt}: unsupported codec {name!r} (use 'pcmu' or 'pcma')")
        self._s.dtmf_pt = -1 if dtmf_payload_type is None else int(dtmf_payload_type)
        self._s.cn_pt = -1 if cn_payload_type is None else int(cn_payload_type)
        for name, v in (("dtmf_payload_type", self._s.dtmf_pt), ("cn_payload_type", self._s.cn_pt)):
            if v != -1 and not 0 <= v <= 127:
                raise ValueError(f"{name} must be 0-127 or None, got {v}")
            if v != -1 and self._s.codec_of_pt[v] != CODEC_NONE:
                raise ValueError(f"{name} {v} is also an audio payload type")
        if self._s.dtmf_pt != -1 and self._s.dtmf_pt == self._s.cn_pt:
            raise ValueError("dtmf_payload_type and cn_payload_type must differ")

        self._s.rate = clock_rate
        self._s.r8 = clock_rate // 8000
        self._s.frame = clock_rate * frame_ms // 1000
        self._s.capacity = capacity
        self._s.mask = capacity - 1
        self._s.max_payload = min(MAX_DATAGRAM - 12, clock_rate // 5)
        self._s.dl = 30 * self._s.r8
        self._s.min_delay = min_delay_ms * clock_rate // 1000
        self._s.max_delay = max_delay_ms * clock_rate // 1000
        self._s.init_delay = int(initial_delay_ms) * clock_rate // 1000
        self._s.plc.fade_start = fade_start_ms * clock_rate // 1000
        self._s.plc.fade_end = silent_after_ms * clock_rate // 1000
        if not (0 <= blend_ms <= 200):
            raise ValueError(f"blend_ms must be 0-200, got {blend_ms}")
        if not (0.0 <= concealment_noise <= 1.0):
            raise ValueError(f"concealment_noise must be in [0, 1], got {concealment_noise}")
        self._s.plc.noise_frac = concealment_noise
        self._s.plc.voicing_min = 0.3
        self._s.plc.bl_max = blend_ms * clock_rate // 1000
        self._s.conceal_on = concealment
        self._s.cn_on = comfort_noise
        self._s.dtmf_timeout_ns = <int64_t>dtmf_timeout_ms * 1000000
        # history must cover the pitch search (390 * r8 + frame) and the 3-period
        # pitch buffer copied at the start of an erasure (3 * 160 * r8 samples)
        self._s.hist_keep = max(390 * self._s.r8 + self._s.frame, 480 * self._s.r8) + self._s.dl + 64
        self._s.hist_size = self._s.hist_keep + 8 * self._s.frame + 64

        nbins = max_delay_ms + 2
        self._s.slots = <JSlot*>malloc(capacity * sizeof(JSlot))
        self._s.pay = <uint8_t*>malloc(<size_t>capacity * self._s.max_payload)
        self._s.hist = <int16_t*>calloc(self._s.hist_size, sizeof(int16_t))
        self._s.tmp = <int16_t*>malloc((2 * self._s.frame + 64) * sizeof(int16_t))
        self._s.plc.pbuf = <int16_t*>malloc(160 * self._s.r8 * sizeof(int16_t) + 16)
        hgram = <double*>calloc(nbins, sizeof(double))
        self._s.cand_pay = <uint8_t*>malloc(MAX_DATAGRAM)
        self._s.plc.fbuf = <double*>malloc((3 * (160 * self._s.r8 + 16) + 1) * sizeof(double))
        self._s.plc.lpcsrc = <int16_t*>malloc((160 * self._s.r8 + 16) * sizeof(int16_t))
        if hgram != NULL:
            jb_delay_init(&self._s.d, hgram, nbins, self._s.init_delay)
        if (self._s.slots == NULL or self._s.pay == NULL or self._s.hist == NULL or self._s.tmp == NULL
                or self._s.plc.pbuf == NULL or hgram == NULL or self._s.cand_pay == NULL
                or self._s.plc.fbuf == NULL or self._s.plc.lpcsrc == NULL):
            raise MemoryError("JitterBuffer: cannot allocate buffers")
        for i in range(capacity):
            self._s.slots[i].seq = -1
            self._s.slots[i].state = SLOT_EMPTY
        self._s.hist_end = self._s.hist_keep
        self._s.in_pause = True
        self._s.cn_level = 127
        self._s.plc.rng = 0x9E3779B9u

    def __dealloc__(self):
        free(self._s.slots)
        free(self._s.pay)
        free(self._s.hist)
        free(self._s.tmp)
        free(self._s.plc.pbuf)
        free(self._s.d.hgram)
        free(self._s.cand_pay)
        free(self._s.plc.fbuf)
        free(self._s.plc.lpcsrc)

    # ------------------------------------------------------------ properties
    @property
    def clock_rate(self) -> int:
        """RTP clock and output sample rate (Hz)."""
        return self._s.rate

    @property
    def frame_samples(self) -> int:
        """Samples per pulled frame (s16le mono, so 2 bytes each)."""
        return self._s.frame

    @property
    def output_delay_samples(self) -> int:
        """Fixed look-back of the output (samples; 3.75 ms, G.711 Appendix I)."""
        return self._s.dl

    @property
    def target_delay_ms(self) -> float:
        """Current playout delay target (ms) above the fastest recent packet."""
        return self._s.d.target * 1000.0 / self._s.rate

    # ------------------------------------------------------------ engine API
    cdef int push_c(self, const uint8_t* data, Py_ssize_t n, int64_t arrival_ns) noexcept nogil:
        return jb_push(&self._s, data, n, arrival_ns)

    cdef int pull_c(self, int16_t* out, int64_t now_ns) noexcept nogil:
        return jb_pull(&self._s, out, now_ns)

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
            code = jb_parse(&self._s, <const uint8_t*>b.buf, b.len, &h)
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
        cdef object res = PyBytes_FromStringAndSize(NULL, self._s.frame * 2)
        cdef int kind
        with cython.critical_section(self):
            kind = self.pull_c(<int16_t*>PyBytes_AS_STRING(res), now_ns)
        return res, kind

    def pull_into(self, out, int64_t now_ns) -> int:
        """Like :meth:`pull` but writes the frame into the writable buffer ``out``
        (at least ``2 * frame_samples`` bytes); returns the frame kind."""
        cdef Buf b
        cdef int kind
        get_output(out, &b, self._s.frame * 2, b"JitterBuffer.pull_into")
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
        while self._s.dt.q_len > 0:
            i = self._s.dt.q_head
            res.append((_DIGITS[self._s.dt.q_code[i]], self._s.dt.q_dur[i], self._s.dt.q_ts[i]))
            self._s.dt.q_head = (self._s.dt.q_head + 1) & 31
            self._s.dt.q_len -= 1
        return res

    @cython.critical_section
    def stats(self) -> dict:
        """Counters (64-bit, monotonic) and the current delay figures (ms)."""
        cdef uint64_t* v = <uint64_t*>&self._s.st
        cdef dict d = {}
        for i, name in enumerate(STAT_NAMES):
            d[name] = v[i]
        d["jitter_ms"] = self._s.d.jitter * 1000.0 / self._s.rate
        d["target_delay_ms"] = self._s.d.target * 1000.0 / self._s.rate
        d["current_delay_ms"] = self._s.d.cur_delay * 1000.0 / self._s.rate
        return d


# cython: freethreading_compatible=True
"""RTP jitter buffer (G.711, L16) with G.711 Appendix I style packet loss concealment.

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

Internally everything runs in extended RTP timestamp units (64-bit), so
timestamp wrap, 10-60 ms senders and mid-call ptime changes keep the timeline
exact: the consumer's frame is cut out of whatever packets cover it.

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
from cpython.buffer cimport PyObject_CheckBuffer
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_GET_SIZE
from libc.stdint cimport int16_t, int64_t, uint8_t, uint64_t
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memset

import enum
from collections.abc import Mapping

from voicecore._native._buffers cimport Buf, get_input, get_output_fmt, release, KIND_BYTES, KIND_S16
from voicecore._native.media._jitter.state cimport (
    JHdr, JSlot, SLOT_EMPTY, CODEC_NONE, CODEC_PCMU, CODEC_PCMA, CODEC_L16, MAX_DATAGRAM, FR_CAP,
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


# Names of the JStats fields, in order (all monotonic counters but ``held``).
STAT_NAMES = tuple(_zero_stats())

_DEFAULTS = {
    "clock_rate": 8000, "frame_ms": 20, "payload_types": None, "dtmf_payload_type": 101,
    "cn_payload_type": 13, "min_delay_ms": 60, "max_delay_ms": 200, "initial_delay_ms": None,
    "capacity": 64, "concealment": True, "comfort_noise": True, "dtmf_timeout_ms": 250,
    "fade_start_ms": 10, "silent_after_ms": 60, "blend_ms": 60, "concealment_noise": 0.25,
}
_CODECS = {"pcmu": CODEC_PCMU, "ulaw": CODEC_PCMU, "mu-law": CODEC_PCMU, "g711u": CODEC_PCMU,
           "pcma": CODEC_PCMA, "alaw": CODEC_PCMA, "a-law": CODEC_PCMA, "g711a": CODEC_PCMA,
           "l16": CODEC_L16}


def _int_arg(dict kw, str name, unit):
    v = kw[name]
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"JitterBuffer: {name} must be an int ({unit}), got {type(v).__name__}")
    return v


def _pt_arg(dict kw, str name):
    v = kw[name]
    if v is None:
        return -1
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"JitterBuffer: {name} must be an int 0-127 (RTP payload type) or None, "
                        f"got {type(v).__name__}")
    if not 0 <= v <= 127:
        raise ValueError(f"JitterBuffer: {name} must be 0-127 (RTP payload type) or None, got {v}")
    return v


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


@cython.final
cdef class JitterBuffer:
    """Jitter buffer, playout clock and concealment for one inbound RTP stream.

    All arguments are keyword-only.

    Args:
        clock_rate: RTP clock and output sample rate in Hz: 8000 (G.711), 16000,
            24000, 32000, 40000 or 48000.
        frame_ms: consumer frame length in ms (5-60, whole samples); ``pull``
            returns ``clock_rate * frame_ms / 1000`` samples of s16le mono.
        payload_types: negotiated audio payload types, ``{pt: "pcmu"|"pcma"|"l16"}``
            (L16: RFC 3551 big-endian; default ``{0: "pcmu", 8: "pcma"}``).
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
        concealment: G.711 Appendix I style concealment (False: lost audio is
            replaced by silence, still flagged and counted as concealed).
        comfort_noise: play noise at the RFC 3389 level during CN pauses.
        dtmf_timeout_ms: an RFC 4733 event without an end packet is reported
            after this long without updates (1-60000 ms).
        fade_start_ms, silent_after_ms: concealment runs at full level for
            ``fade_start_ms`` of an erasure, then fades linearly to zero at
            ``silent_after_ms`` (0 <= fade_start < silent_after <= 1000 ms;
            G.711 Appendix I: 10 and 60 ms).
        blend_ms: when the packet after a gap is already buffered, the last
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
        if args:
            raise TypeError(f"JitterBuffer() takes keyword arguments only, got {len(args)} positional")
        for name in kwargs:
            if name not in _DEFAULTS:
                raise TypeError(f"JitterBuffer() got an unexpected keyword argument {name!r} "
                                f"(accepted: {', '.join(_DEFAULTS)})")
        kw = dict(_DEFAULTS)
        kw.update(kwargs)
        clock_rate = _int_arg(kw, "clock_rate", "Hz")
        if clock_rate < 8000 or clock_rate > 48000 or clock_rate % 8000:
            raise ValueError(f"JitterBuffer: clock_rate must be 8000, 16000, 24000, 32000, 40000 or 48000 (Hz), "
                             f"got {clock_rate}")
        frame_ms = _int_arg(kw, "frame_ms", "ms")
        if frame_ms < 5 or frame_ms > 60 or (clock_rate * frame_ms) % 1000:
            raise ValueError(f"JitterBuffer: frame_ms must be 5-60 (ms) and give whole samples at "
                             f"{clock_rate} Hz, got {frame_ms}")
        capacity = _int_arg(kw, "capacity", "packets")
        if capacity < 16 or capacity > 4096 or (capacity & (capacity - 1)):
            raise ValueError(f"JitterBuffer: capacity must be a power of two in 16-4096 (packets), got {capacity}")
        min_delay_ms = _int_arg(kw, "min_delay_ms", "ms")
        max_delay_ms = _int_arg(kw, "max_delay_ms", "ms")
        if min_delay_ms < 0 or max_delay_ms < min_delay_ms or max_delay_ms > 2000:
            raise ValueError(f"JitterBuffer: need 0 <= min_delay_ms <= max_delay_ms <= 2000 (ms), got "
                             f"min_delay_ms={min_delay_ms}, max_delay_ms={max_delay_ms}")
        if kw["initial_delay_ms"] is None:
            kw["initial_delay_ms"] = min_delay_ms
        init_ms = _int_arg(kw, "initial_delay_ms", "ms")
        if not (min_delay_ms <= init_ms <= max_delay_ms):
            raise ValueError(f"JitterBuffer: initial_delay_ms must lie in [min_delay_ms, max_delay_ms] = "
                             f"[{min_delay_ms}, {max_delay_ms}] (ms), got {init_ms}")
        fade_start_ms = _int_arg(kw, "fade_start_ms", "ms")
        silent_after_ms = _int_arg(kw, "silent_after_ms", "ms")
        if not (0 <= fade_start_ms < silent_after_ms <= 1000):
            raise ValueError(f"JitterBuffer: need 0 <= fade_start_ms < silent_after_ms <= 1000 (ms), got "
                             f"fade_start_ms={fade_start_ms}, silent_after_ms={silent_after_ms}")
        dtmf_timeout_ms = _int_arg(kw, "dtmf_timeout_ms", "ms")
        if not 1 <= dtmf_timeout_ms <= 60000:
            raise ValueError(f"JitterBuffer: dtmf_timeout_ms must be 1-60000 (ms), got {dtmf_timeout_ms}")
        blend_ms = _int_arg(kw, "blend_ms", "ms")
        if not 0 <= blend_ms <= 200:
            raise ValueError(f"JitterBuffer: blend_ms must be 0-200 (ms), got {blend_ms}")
        noise = kw["concealment_noise"]
        if isinstance(noise, bool) or not isinstance(noise, (int, float)):
            raise TypeError(f"JitterBuffer: concealment_noise must be a number 0-1, got {type(noise).__name__}")
        if not 0.0 <= noise <= 1.0:
            raise ValueError(f"JitterBuffer: concealment_noise must be in [0, 1] (fraction of the RMS), got {noise}")
        for name in ("concealment", "comfort_noise"):
            if not isinstance(kw[name], (bool, int)):
                raise TypeError(f"JitterBuffer: {name} must be a bool, got {type(kw[name]).__name__}")
        pts = {0: "pcmu", 8: "pcma"} if kw["payload_types"] is None else kw["payload_types"]
        if not isinstance(pts, Mapping):
            raise TypeError(f"JitterBuffer: payload_types must be a mapping {{pt: 'pcmu' | 'pcma' | 'l16'}}, "
                            f"got {type(pts).__name__}")
        memset(self._s.codec_of_pt, 0, sizeof(self._s.codec_of_pt))
        for pt, codec in pts.items():
            if isinstance(pt, bool) or not isinstance(pt, int):
                raise TypeError(f"JitterBuffer: payload_types keys must be ints 0-127 (RTP payload types), "
                                f"got {pt!r}")
            if not 0 <= pt <= 127:
                raise ValueError(f"JitterBuffer: payload_types keys must be 0-127 (RTP payload types), got {pt}")
            key = str(codec).lower()
            if key not in _CODECS:
                raise ValueError(f"JitterBuffer: payload_types[{pt}] = {codec!r}: unsupported codec "
                                 f"(use 'pcmu', 'pcma' or 'l16')")
            self._s.codec_of_pt[pt] = _CODECS[key]
        self._s.dtmf_pt = _pt_arg(kw, "dtmf_payload_type")
        self._s.cn_pt = _pt_arg(kw, "cn_payload_type")
        for name, v in (("dtmf_payload_type", self._s.dtmf_pt), ("cn_payload_type", self._s.cn_pt)):
            if v != -1 and self._s.codec_of_pt[v] != CODEC_NONE:
                raise ValueError(f"JitterBuffer: {name} {v} is also an audio payload type")
        if self._s.dtmf_pt != -1 and self._s.dtmf_pt == self._s.cn_pt:
            raise ValueError("JitterBuffer: dtmf_payload_type and cn_payload_type must differ")

        self._s.rate = clock_rate
        self._s.r8 = clock_rate // 8000
        self._s.frame = clock_rate * frame_ms // 1000
        self._s.capacity = capacity
        self._s.mask = capacity - 1
        width = 2 if CODEC_L16 in self._s.codec_of_pt else 1       # bytes per sample (L16: 2)
        self._s.max_payload = min(MAX_DATAGRAM - 12, width * clock_rate // 5)    # 200 ms
        self._s.dl = 30 * self._s.r8
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
        self._s.conceal_on = bool(kw["concealment"])
        self._s.cn_on = bool(kw["comfort_noise"])
        self._s.dtmf_timeout_ns = <int64_t>dtmf_timeout_ms * 1000000
        # the history kept across a shift covers what the concealment reads
        # before an erasure, plus the frame being produced and the look-back
        self._s.hist_keep = jb_plc_reach(self._s.r8) + self._s.frame + self._s.dl + 64
        self._s.hist_size = self._s.hist_keep + 8 * self._s.frame + 64

        nbins = max_delay_ms + 2
        self._s.slots = <JSlot*>malloc(capacity * sizeof(JSlot))
        self._s.pay = <uint8_t*>malloc(<size_t>capacity * self._s.max_payload)
        self._s.hist = <int16_t*>calloc(self._s.hist_size, sizeof(int16_t))
        self._s.tmp = <int16_t*>malloc((2 * self._s.frame + 64) * sizeof(int16_t))
        self._s.plc.pbuf = <int16_t*>malloc(160 * self._s.r8 * sizeof(int16_t) + 16)
        hgram = <double*>calloc(nbins, sizeof(double))
        self._s.cand_pay = <uint8_t*>malloc(MAX_DATAGRAM)
        self._s.fr.pay = <uint8_t*>malloc(<size_t>FR_CAP * self._s.max_payload)
        self._s.plc.fbuf = <int16_t*>malloc((160 * self._s.r8 + 16) * sizeof(int16_t))
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
        free(self._s.slots)
        free(self._s.pay)
        free(self._s.hist)
        free(self._s.tmp)
        free(self._s.plc.pbuf)
        free(self._s.d.hgram)
        free(self._s.cand_pay)
        free(self._s.fr.pay)
        free(self._s.plc.fbuf)

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
        """Current playout delay target (ms): the largest delay over the fastest
        recent packet at which a packet still plays whole."""
        if vc_load_acquire(&self._s.owner):
            _raise_owned("target_delay_ms")
        return self._s.d.target * 1000.0 / self._s.rate

    # ------------------------------------------------------------ engine API
    cdef int push_c(self, const uint8_t* data, Py_ssize_t n, int64_t arrival_ns) noexcept nogil:
        return jb_push(&self._s, data, n, arrival_ns)

    cdef int pull_c(self, int16_t* out, int64_t now_ns) noexcept nogil:
        return jb_pull(&self._s, out, now_ns)

    cdef int frame_samples_c(self) noexcept nogil:
        return self._s.frame

    cdef int clock_rate_c(self) noexcept nogil:
        return self._s.rate

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
            jb_rr_report(&self._s.rr, out, new_interval)
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
        Returns a :class:`PushResult` (an int; ``PushResult.OK`` = stored)."""
        cdef Buf b
        cdef int r = -1
        cdef int64_t t = _time_arg(arrival_ns, "JitterBuffer.push", "arrival_ns")
        if PyBytes_CheckExact(datagram):
            with cython.critical_section(self):
                if not vc_load_acquire(&self._s.owner):
                    r = jb_push(&self._s, <const uint8_t*>PyBytes_AS_STRING(datagram),
                                PyBytes_GET_SIZE(datagram), t)
        else:
            if not PyObject_CheckBuffer(datagram):
                raise TypeError(f"JitterBuffer.push: datagram must be a bytes-like object (raw RTP), "
                                f"got {type(datagram).__name__}")
            get_input(datagram, &b, KIND_BYTES, b"JitterBuffer.push: datagram")
            try:
                with cython.critical_section(self):
                    if not vc_load_acquire(&self._s.owner):
                        r = jb_push(&self._s, <const uint8_t*>b.buf, b.len, t)
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
            code = jb_parse(&self._s, <const uint8_t*>b.buf, b.len, &h)
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
                kind = jb_pull(&self._s, <int16_t*>PyBytes_AS_STRING(res), t)
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
                kind = jb_pull(&self._s, <int16_t*>b.buf, t)
        release(&b)
        if kind < 0:
            _raise_owned("pull_into")
        return _KIND[kind]

    def pop_dtmf(self) -> list:
        """Digits completed since the last call, oldest first, each reported once:
        a list of ``(digit, duration_samples, rtp_timestamp)`` with digit one of
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
        cdef dict d = st
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

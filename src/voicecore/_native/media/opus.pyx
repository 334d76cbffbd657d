# cython: freethreading_compatible=True
"""Opus (RFC 6716) through libopus's C API: mono encoder and decoder with
libopus's packet loss concealment and in-band FEC. See opus.pxd for the
nogil API the engine uses; this module adds the Python methods.

libopus is found by meson at build time (optional: ``-Dopus=enabled`` makes
it required, ``-Dopus=disabled`` leaves it out). A build without it still
imports: ``AVAILABLE`` is False and the constructors raise
``OpusUnavailableError``.
"""
from libc.stdint cimport int16_t, int32_t, uint8_t
from libc.stdlib cimport malloc, free
from libc.string cimport memset
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING

from voicecore._native._buffers cimport Buf, get_input, get_output_fmt, release, KIND_BYTES, KIND_S16
from voicecore._native.atomic cimport vc_init
from voicecore._native.media._owner cimport own_claim, own_unclaim, own_adopt, OWN_FREE

cdef extern from "vc_opus.h" nogil:
    int VC_OPUS_AVAILABLE
    int OPUS_OK, OPUS_BAD_ARG, OPUS_BUFFER_TOO_SMALL, OPUS_INVALID_PACKET, OPUS_UNIMPLEMENTED
    int OPUS_APPLICATION_VOIP, OPUS_APPLICATION_AUDIO, OPUS_APPLICATION_RESTRICTED_LOWDELAY
    const char* vc_opus_version()
    const char* vc_opus_strerror(int err)
    int vc_opus_decoder_size()
    int vc_opus_decoder_init(opus_decoder_t* d, int32_t rate)
    int vc_opus_decode(opus_decoder_t* d, const unsigned char* data, int32_t len, int16_t* pcm, int frame_size, int fec)
    int vc_opus_decoder_reset(opus_decoder_t* d)
    int vc_opus_packet_samples(const unsigned char* data, int32_t len, int32_t rate)
    int vc_opus_packet_parse(const unsigned char* data, int32_t len, const unsigned char** frames, int16_t* size)
    int vc_opus_encoder_size()
    int vc_opus_encoder_init(opus_encoder_t* e, int32_t rate, int application)
    int32_t vc_opus_encode(opus_encoder_t* e, const int16_t* pcm, int frame_size, unsigned char* out, int32_t max_bytes)
    int vc_opus_encoder_reset(opus_encoder_t* e)
    int vc_opus_set_bitrate(opus_encoder_t* e, int32_t v)
    int vc_opus_set_complexity(opus_encoder_t* e, int v)
    int vc_opus_set_inband_fec(opus_encoder_t* e, int v)
    int vc_opus_set_loss_perc(opus_encoder_t* e, int v)
    int vc_opus_set_dtx(opus_encoder_t* e, int v)
    int vc_opus_set_vbr(opus_encoder_t* e, int v)
    int vc_opus_set_signal_voice(opus_encoder_t* e)
    int vc_opus_get_lookahead(opus_encoder_t* e, int32_t* v)

#: True when voicecore was built with libopus.
AVAILABLE = bool(VC_OPUS_AVAILABLE)
#: libopus version string ("" when unavailable).
VERSION = vc_opus_version().decode() if VC_OPUS_AVAILABLE else ""
#: Sample rates the codec runs at (Hz).
SAMPLE_RATES = (8000, 12000, 16000, 24000, 48000)
#: RTP timestamp clock of Opus, whatever the audio rate (RFC 7587).
RTP_CLOCK_RATE = 48000
#: Largest packet duration (ms) and encoded size (bytes) of one call.
MAX_PACKET_MS = 120
MAX_PACKET_BYTES = OPUS_MAX_PACKET
#: Why Opus is unavailable (None when it is available).
UNAVAILABLE_REASON = None if VC_OPUS_AVAILABLE else (
    "Opus is unavailable: this voicecore was built without libopus "
    "(install libopus-dev / opus and rebuild, or install a wheel that bundles it)")


class OpusUnavailableError(RuntimeError):
    """voicecore was built without libopus."""


class OpusError(RuntimeError):
    """libopus refused a call; ``code`` is its (negative) error code."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


cdef int _check_available(str cls) except -1:
    if not VC_OPUS_AVAILABLE:
        raise OpusUnavailableError(f"{cls}: {UNAVAILABLE_REASON}")
    return 0


cdef int _check_rate(str cls, int rate) except -1:
    if rate not in (8000, 12000, 16000, 24000, 48000):
        raise ValueError(f"{cls}: sample_rate must be 8000, 12000, 16000, 24000 or 48000 (Hz), got {rate!r}")
    return 0


cdef object _err(str what, int code):
    return OpusError(f"{what}: {vc_opus_strerror(code).decode()} (libopus error {code})", code)


# ----------------------------------------------------------------- decoder
cdef class OpusDecoder:
    """Streaming Opus decoder: RTP payloads -> s16le mono PCM at ``sample_rate``.

    ``sample_rate``: 8000, 12000, 16000, 24000 or 48000 Hz (default 48000);
    any Opus packet decodes at any of them (libopus resamples), and stereo
    packets are mixed down. One object per received stream.
    """

    def __cinit__(self, int sample_rate=48000):
        _check_available("OpusDecoder")
        _check_rate("OpusDecoder", sample_rate)
        self.dec = <opus_decoder_t*>malloc(vc_opus_decoder_size())
        if self.dec == NULL:
            raise MemoryError("OpusDecoder: cannot allocate the decoder state")
        cdef int rc = vc_opus_decoder_init(self.dec, sample_rate)
        if rc != OPUS_OK:
            raise _err("OpusDecoder", rc)
        self.sample_rate = sample_rate
        self.last_samples = sample_rate // 50
        memset(&self.st, 0, sizeof(OpusDecStats))
        vc_init(&self._own, OWN_FREE)

    def __dealloc__(self):
        free(self.dec)
        self.dec = NULL

    # -------------------------------------------------------- nogil API
    cdef int decode_c(self, const uint8_t* data, Py_ssize_t n, int16_t* out, int max_samples) noexcept nogil:
        cdef int r
        if n <= 0 or n > 0x7FFFFFFF:
            self.st.invalid += 1
            return OPUS_INVALID_PACKET
        r = vc_opus_decode(self.dec, data, <int32_t>n, out, max_samples, 0)
        if r < 0:
            self.st.invalid += 1
            return r
        self.st.packets += 1
        self.st.samples += r
        self.last_samples = r
        return r

    cdef int _loss_ok(self, int samples) noexcept nogil:
        cdef int q = self.sample_rate // 400          # 2.5 ms
        return samples > 0 and samples % q == 0 and samples <= 48 * q

    cdef int plc_c(self, int16_t* out, int samples) noexcept nogil:
        cdef int r
        if not self._loss_ok(samples):
            return OPUS_BAD_ARG
        r = vc_opus_decode(self.dec, NULL, 0, out, samples, 0)
        if r > 0:
            self.st.plc_calls += 1
            self.st.plc_samples += r
        return r

    cdef int fec_c(self, const uint8_t* data, Py_ssize_t n, int16_t* out, int samples) noexcept nogil:
        cdef int r
        if not self._loss_ok(samples):
            return OPUS_BAD_ARG
        if n <= 0 or n > 0x7FFFFFFF:
            return self.plc_c(out, samples)
        r = vc_opus_decode(self.dec, data, <int32_t>n, out, samples, 1)
        if r > 0:
            self.st.fec_calls += 1
            self.st.fec_samples += r
        return r

    cdef int packet_samples_c(self, const uint8_t* data, Py_ssize_t n) noexcept nogil:
        if n <= 0 or n > 0x7FFFFFFF:
            return OPUS_INVALID_PACKET
        return vc_opus_packet_samples(data, <int32_t>n, self.sample_rate)

    cdef int packet_has_fec_c(self, const uint8_t* data, Py_ssize_t n) noexcept nogil:
        return _has_fec(data, n)

    cdef void reset_c(self) noexcept nogil:
        vc_opus_decoder_reset(self.dec)
        self.last_samples = self.sample_rate // 50

    cdef const OpusDecStats* stats_c(self) noexcept nogil:
        return &self.st

    cdef int engine_adopt(self) except -1:
        return own_adopt(&self._own, b"OpusDecoder")

    cdef void engine_release(self) noexcept nogil:
        own_unclaim(&self._own)

    # -------------------------------------------------------- Python API
    def decode(self, data) -> bytes:
        """Decode one Opus packet (an RTP payload); returns s16le PCM of the
        packet's duration at ``sample_rate``. Raises OpusError (code
        OPUS_INVALID_PACKET, -4) for a corrupt or empty packet."""
        cdef Buf src
        cdef int r
        cdef int cap = self.sample_rate * 3 // 25           # 120 ms
        result = PyBytes_FromStringAndSize(NULL, 2 * cap)
        cdef int16_t* pcm = <int16_t*>PyBytes_AS_STRING(result)
        get_input(data, &src, KIND_BYTES, b"OpusDecoder.decode")
        try:
            own_claim(&self._own, b"OpusDecoder", b"OpusDecoder.decode")
            try:
                with nogil:
                    r = self.decode_c(<const uint8_t*>src.buf, src.len, pcm, cap)
            finally:
                own_unclaim(&self._own)
        finally:
            release(&src)
        if r < 0:
            raise _err("OpusDecoder.decode", r)
        return result[: 2 * r]

    def conceal(self, int samples=-1) -> bytes:
        """Packet loss concealment: ``samples`` (default: the duration of the
        last packet) samples of libopus PLC, s16le. ``samples`` must be a
        multiple of 2.5 ms and at most 120 ms, else ValueError."""
        if samples == -1:
            samples = self.last_samples
        self._check_loss("OpusDecoder.conceal", samples)
        result = PyBytes_FromStringAndSize(NULL, 2 * samples)
        cdef int16_t* pcm = <int16_t*>PyBytes_AS_STRING(result)
        cdef int r
        own_claim(&self._own, b"OpusDecoder", b"OpusDecoder.conceal")
        try:
            with nogil:
                r = self.plc_c(pcm, samples)
        finally:
            own_unclaim(&self._own)
        if r < 0:
            raise _err("OpusDecoder.conceal", r)
        return result[: 2 * r]

    def decode_fec(self, next_packet, int samples=-1) -> bytes:
        """Recover ``samples`` lost samples (default: the duration of the last
        packet) from the in-band FEC of ``next_packet``, the packet received
        after the loss; decode ``next_packet`` itself afterwards with
        ``decode``. Without FEC in it, libopus conceals instead."""
        cdef Buf src
        cdef int r
        if samples == -1:
            samples = self.last_samples
        self._check_loss("OpusDecoder.decode_fec", samples)
        result = PyBytes_FromStringAndSize(NULL, 2 * samples)
        cdef int16_t* pcm = <int16_t*>PyBytes_AS_STRING(result)
        get_input(next_packet, &src, KIND_BYTES, b"OpusDecoder.decode_fec")
        try:
            own_claim(&self._own, b"OpusDecoder", b"OpusDecoder.decode_fec")
            try:
                with nogil:
                    r = self.fec_c(<const uint8_t*>src.buf, src.len, pcm, samples)
            finally:
                own_unclaim(&self._own)
        finally:
            release(&src)
        if r < 0:
            raise _err("OpusDecoder.decode_fec", r)
        return result[: 2 * r]

    def packet_samples(self, data) -> int:
        """Duration of an Opus packet in samples at ``sample_rate`` (no
        decoding). Raises OpusError for an invalid packet."""
        cdef Buf src
        get_input(data, &src, KIND_BYTES, b"OpusDecoder.packet_samples")
        try:
            r = self.packet_samples_c(<const uint8_t*>src.buf, src.len)
        finally:
            release(&src)
        if r < 0:
            raise _err("OpusDecoder.packet_samples", r)
        return r

    def reset(self) -> None:
        """Forget the stream (a new sender)."""
        own_claim(&self._own, b"OpusDecoder", b"OpusDecoder.reset")
        self.reset_c()
        own_unclaim(&self._own)

    def stats(self) -> dict:
        """Counters: packets, samples, invalid, plc_calls, plc_samples,
        fec_calls, fec_samples."""
        own_claim(&self._own, b"OpusDecoder", b"OpusDecoder.stats")
        d = dict(self.st)
        own_unclaim(&self._own)
        return d

    cdef int _check_loss(self, const char* what, int samples) except -1:
        if not self._loss_ok(samples):
            raise ValueError(f"{(<bytes>what).decode()}: samples must be a positive multiple of 2.5 ms "
                             f"({self.sample_rate // 400} samples at {self.sample_rate} Hz) up to 120 ms, got {samples}")
        return 0

    def __repr__(self):
        return f"OpusDecoder(sample_rate={self.sample_rate})"


cdef int _has_fec(const uint8_t* data, Py_ssize_t n) noexcept nogil:
    """The LBRR flag of the first SILK frame: after one voice-activity bit
    per 20 ms SILK frame comes the LBRR bit (RFC 6716 section 4.2.3; both
    are coded at probability 1/2, so they are the first bits of the frame)."""
    cdef const unsigned char* frames[48]
    cdef int16_t sizes[48]
    cdef int config, ms10, nsilk, r
    if n <= 0 or n > 0x7FFFFFFF:
        return OPUS_INVALID_PACKET
    config = data[0] >> 3
    if config >= 16:
        return 0                                   # CELT only: no LBRR
    r = vc_opus_packet_parse(data, <int32_t>n, frames, sizes)
    if r < 0:
        return r
    if r == 0 or sizes[0] <= 0:
        return 0
    if config < 12:
        ms10 = config & 3                          # SILK-only: 10, 20, 40, 60 ms
        ms10 = 6 if ms10 == 3 else (1 << ms10)
    else:
        ms10 = 1 + (config & 1)                    # hybrid: 10, 20 ms
    nsilk = 1 if ms10 <= 2 else ms10 // 2
    return (frames[0][0] >> (7 - nsilk)) & 1


# ----------------------------------------------------------------- encoder
_APPLICATIONS = {"voip": 2048, "audio": 2049, "restricted_lowdelay": 2051}


cdef class OpusEncoder:
    """Streaming Opus encoder: s16le mono PCM at ``sample_rate`` -> one Opus
    packet per call.

    ``sample_rate``: 8000, 12000, 16000, 24000 or 48000 Hz (default 48000).
    ``bitrate``: bit/s (500-512000; default 24000). ``application``: "voip"
    (default: speech-tuned), "audio" or "restricted_lowdelay".
    ``fec``: in-band FEC (LBRR) for the previous packet, used by a decoder
    that lost it; it costs bits and libopus adds it only when
    ``packet_loss_percent`` > 0. ``dtx``: discontinuous transmission
    (1-2 byte packets during silence). ``complexity``: 0-10 (default 9).
    """

    def __cinit__(self, int sample_rate=48000, int bitrate=24000, str application="voip", *,
                  bint fec=False, int packet_loss_percent=0, bint dtx=False, int complexity=9):
        cdef int32_t la = 0
        _check_available("OpusEncoder")
        _check_rate("OpusEncoder", sample_rate)
        if application not in _APPLICATIONS:
            raise ValueError(f"OpusEncoder: application must be 'voip', 'audio' or 'restricted_lowdelay', got {application!r}")
        if not 500 <= bitrate <= 512000:
            raise ValueError(f"OpusEncoder: bitrate must be 500-512000 bit/s, got {bitrate!r}")
        if not 0 <= packet_loss_percent <= 100:
            raise ValueError(f"OpusEncoder: packet_loss_percent must be 0-100, got {packet_loss_percent!r}")
        if not 0 <= complexity <= 10:
            raise ValueError(f"OpusEncoder: complexity must be 0-10, got {complexity!r}")
        self.enc = <opus_encoder_t*>malloc(vc_opus_encoder_size())
        if self.enc == NULL:
            raise MemoryError("OpusEncoder: cannot allocate the encoder state")
        rc = vc_opus_encoder_init(self.enc, sample_rate, _APPLICATIONS[application])
        if rc != OPUS_OK:
            raise _err("OpusEncoder", rc)
        self.sample_rate = sample_rate
        self._bitrate, self._fec, self._loss, self._dtx, self._complexity = bitrate, fec, packet_loss_percent, dtx, complexity
        self._apply()
        vc_opus_get_lookahead(self.enc, &la)
        self.lookahead = la
        memset(&self.st, 0, sizeof(OpusEncStats))
        vc_init(&self._own, OWN_FREE)

    def __dealloc__(self):
        free(self.enc)
        self.enc = NULL

    cdef int _apply(self) except -1:
        for rc in (vc_opus_set_bitrate(self.enc, self._bitrate), vc_opus_set_complexity(self.enc, self._complexity),
                   vc_opus_set_inband_fec(self.enc, self._fec), vc_opus_set_loss_perc(self.enc, self._loss),
                   vc_opus_set_dtx(self.enc, self._dtx), vc_opus_set_signal_voice(self.enc)):
            if rc != OPUS_OK:
                raise _err("OpusEncoder", rc)
        return 0

    # -------------------------------------------------------- nogil API
    cdef int encode_c(self, const int16_t* pcm, int n, uint8_t* out, int max_bytes) noexcept nogil:
        cdef int32_t r = vc_opus_encode(self.enc, pcm, n, out, max_bytes)
        if r < 0:
            self.st.errors += 1
            return r
        self.st.packets += 1
        self.st.bytes += r
        return r

    cdef int set_bitrate_c(self, int bits_per_second) noexcept nogil:
        cdef int r = vc_opus_set_bitrate(self.enc, bits_per_second)
        if r == OPUS_OK:
            self._bitrate = bits_per_second
        return r

    cdef int set_fec_c(self, bint on, int loss_percent) noexcept nogil:
        cdef int r = vc_opus_set_inband_fec(self.enc, on)
        if r == OPUS_OK:
            r = vc_opus_set_loss_perc(self.enc, loss_percent)
        if r == OPUS_OK:
            self._fec = on
            self._loss = loss_percent
        return r

    cdef void reset_c(self) noexcept nogil:
        vc_opus_encoder_reset(self.enc)

    cdef const OpusEncStats* stats_c(self) noexcept nogil:
        return &self.st

    cdef int engine_adopt(self) except -1:
        return own_adopt(&self._own, b"OpusEncoder")

    cdef void engine_release(self) noexcept nogil:
        own_unclaim(&self._own)

    # -------------------------------------------------------- Python API
    cdef int _frame(self, const char* what, Py_ssize_t nbytes) except -1:
        cdef Py_ssize_t n = nbytes >> 1
        cdef int q = self.sample_rate // 400
        if nbytes & 1 or n % q or (n // q) not in (1, 2, 4, 8, 16, 24, 32, 40, 48):
            raise ValueError(
                f"{(<bytes>what).decode()}: pcm must be one frame of 2.5, 5, 10, 20, 40, 60, 80, 100 or 120 ms "
                f"of s16le at {self.sample_rate} Hz (e.g. {8 * q} samples for 20 ms), got {nbytes} bytes")
        return <int>n

    def encode(self, pcm) -> bytes:
        """Encode one frame of s16le mono PCM (2.5-120 ms, see the class);
        returns the Opus packet (the RTP payload)."""
        cdef Buf src
        cdef uint8_t buf[OPUS_MAX_PACKET]
        cdef int r, n
        get_input(pcm, &src, KIND_BYTES | KIND_S16, b"OpusEncoder.encode")
        try:
            n = self._frame(b"OpusEncoder.encode", src.len)
            own_claim(&self._own, b"OpusEncoder", b"OpusEncoder.encode")
            with nogil:
                r = self.encode_c(<const int16_t*>src.buf, n, buf, OPUS_MAX_PACKET)
                own_unclaim(&self._own)
        finally:
            release(&src)
        if r < 0:
            raise _err("OpusEncoder.encode", r)
        return PyBytes_FromStringAndSize(<char*>buf, r)

    def encode_into(self, pcm, out) -> int:
        """Like ``encode`` but writes the packet into the writable buffer
        ``out`` and returns its length (OpusError OPUS_BUFFER_TOO_SMALL when
        it does not fit)."""
        cdef Buf src, dst
        cdef int r, n
        get_input(pcm, &src, KIND_BYTES | KIND_S16, b"OpusEncoder.encode_into")
        try:
            n = self._frame(b"OpusEncoder.encode_into", src.len)
            get_output_fmt(out, &dst, 0, KIND_BYTES, b"OpusEncoder.encode_into")
            try:
                own_claim(&self._own, b"OpusEncoder", b"OpusEncoder.encode_into")
                with nogil:
                    r = self.encode_c(<const int16_t*>src.buf, n, <uint8_t*>dst.buf,
                                      <int>min(dst.len, <Py_ssize_t>0x7FFFFFFF))
                    own_unclaim(&self._own)
            finally:
                release(&dst)
        finally:
            release(&src)
        if r < 0:
            raise _err("OpusEncoder.encode_into", r)
        return r

    @property
    def bitrate(self) -> int:
        """Target bit rate (bit/s)."""
        return self._bitrate

    @bitrate.setter
    def bitrate(self, int value):
        if not 500 <= value <= 512000:
            raise ValueError(f"OpusEncoder.bitrate: must be 500-512000 bit/s, got {value!r}")
        own_claim(&self._own, b"OpusEncoder", b"OpusEncoder.bitrate")
        r = self.set_bitrate_c(value)
        own_unclaim(&self._own)
        if r != OPUS_OK:
            raise _err("OpusEncoder.bitrate", r)

    @property
    def fec(self) -> bool:
        """In-band FEC enabled."""
        return bool(self._fec)

    @property
    def packet_loss_percent(self) -> int:
        """Expected loss rate (%) the FEC protects against."""
        return self._loss

    def set_fec(self, bint on, int packet_loss_percent) -> None:
        """Turn in-band FEC on/off and set the expected loss rate (0-100 %)."""
        if not 0 <= packet_loss_percent <= 100:
            raise ValueError(f"OpusEncoder.set_fec: packet_loss_percent must be 0-100, got {packet_loss_percent!r}")
        own_claim(&self._own, b"OpusEncoder", b"OpusEncoder.set_fec")
        r = self.set_fec_c(on, packet_loss_percent)
        own_unclaim(&self._own)
        if r != OPUS_OK:
            raise _err("OpusEncoder.set_fec", r)

    def reset(self) -> None:
        """Forget the stream (keeps the settings)."""
        own_claim(&self._own, b"OpusEncoder", b"OpusEncoder.reset")
        self.reset_c()
        own_unclaim(&self._own)

    def stats(self) -> dict:
        """Counters: packets, bytes, errors."""
        own_claim(&self._own, b"OpusEncoder", b"OpusEncoder.stats")
        d = dict(self.st)
        own_unclaim(&self._own)
        return d

    def __repr__(self):
        return f"OpusEncoder(sample_rate={self.sample_rate}, bitrate={self._bitrate})"


def packet_samples(data, int sample_rate=48000) -> int:
    """Duration (samples at ``sample_rate``) of an Opus packet, without a
    decoder. Raises OpusError for an invalid packet."""
    cdef Buf src
    _check_available("packet_samples")
    _check_rate("packet_samples", sample_rate)
    get_input(data, &src, KIND_BYTES, b"packet_samples")
    try:
        r = vc_opus_packet_samples(<const unsigned char*>src.buf, <int32_t>src.len, sample_rate) if src.len > 0 else OPUS_INVALID_PACKET
    finally:
        release(&src)
    if r < 0:
        raise _err("packet_samples", r)
    return r


def packet_has_fec(data) -> bool:
    """Whether an Opus packet carries in-band FEC for the packet before it.
    Raises OpusError for an invalid packet."""
    cdef Buf src
    _check_available("packet_has_fec")
    get_input(data, &src, KIND_BYTES, b"packet_has_fec")
    try:
        r = _has_fec(<const uint8_t*>src.buf, src.len)
    finally:
        release(&src)
    if r < 0:
        raise _err("packet_has_fec", r)
    return bool(r)

# cdef API of the Opus codec (RFC 6716, libopus) for other native modules (the
# audio I/O engine, the jitter buffer). Mono only.
#
# RTP (RFC 7587): payload type dynamic, the RTP clock is always 48,000 Hz
# whatever the audio rate, SDP says `opus/48000/2` (the /2 is mandatory even
# for mono). A packet holds 2.5 to 120 ms of audio (RTP ptime 10-60 ms in
# practice). voicecore decodes straight to the rate the engine wants (8, 12,
# 16, 24 or 48 kHz; libopus resamples internally), so samples of one packet =
# RTP timestamp delta * sample_rate / 48000.
#
# Creating an object (from Python, with the GIL) allocates and initializes the
# libopus state; nothing below allocates, raises or takes the GIL. Every call
# returns a sample (or byte) count >= 0 or a negative libopus error code
# (OPUS_BAD_ARG -1, OPUS_BUFFER_TOO_SMALL -2, OPUS_INTERNAL_ERROR -3,
# OPUS_INVALID_PACKET -4, OPUS_UNIMPLEMENTED -5): network data never makes it
# fail in any other way.
#
# Without libopus at build time the module still imports, AVAILABLE is False
# and the constructors raise OpusUnavailableError (so these methods are never
# reachable on a half-made object).
#
# Ownership rule: engine_adopt() (with the GIL) hands the object to an Engine;
# while adopted its Python methods raise RuntimeError; engine_release() (nogil)
# hands it back. Immutable properties (sample_rate, lookahead) keep working.
cimport cython
from libc.stdint cimport int16_t, int32_t, uint8_t, uint64_t
from voicecore._native.atomic cimport vc_u64

cdef extern from "vc_opus.h" nogil:
    ctypedef struct opus_encoder_t "OpusEncoder":
        pass
    ctypedef struct opus_decoder_t "OpusDecoder":
        pass

# Largest packet duration (120 ms at 48 kHz) in samples: a decode_c output
# buffer of OPUS_MAX_SAMPLES_48K * sample_rate / 48000 samples fits any packet.
cdef enum:
    OPUS_MAX_SAMPLES_48K = 5760
    # Largest encoded packet libopus can produce for one call (bytes).
    OPUS_MAX_PACKET = 3832


cdef struct OpusDecStats:
    uint64_t packets          # packets decoded
    uint64_t samples          # samples produced by decode_c
    uint64_t invalid          # packets rejected (corrupt, too long for out)
    uint64_t plc_calls        # plc_c calls that produced audio
    uint64_t plc_samples
    uint64_t fec_calls        # fec_c calls that produced audio
    uint64_t fec_samples


cdef struct OpusEncStats:
    uint64_t packets
    uint64_t bytes
    uint64_t errors


@cython.final
cdef class OpusDecoder:
    cdef opus_decoder_t* dec
    cdef OpusDecStats st
    cdef vc_u64 _own
    cdef readonly int sample_rate
    cdef int last_samples                # duration of the last decoded packet (samples)

    # Decode one packet (n > 0 bytes) into out (room for max_samples samples).
    # Returns the samples written (packet duration at sample_rate) or < 0.
    cdef int decode_c(self, const uint8_t* data, Py_ssize_t n, int16_t* out, int max_samples) noexcept nogil
    # Conceal `samples` lost samples (libopus PLC); `samples` must be a
    # multiple of 2.5 ms (sample_rate / 400) and at most 120 ms.
    # Returns samples or < 0.
    cdef int plc_c(self, int16_t* out, int samples) noexcept nogil
    # Recover `samples` lost samples from the in-band FEC (LBRR) carried by
    # the packet that follows the loss (data/n: that next packet, which must
    # then still be decoded normally with decode_c). When the packet carries
    # no FEC (or less than `samples`), libopus conceals the rest: the output
    # is always `samples` long. Same size rule as plc_c.
    cdef int fec_c(self, const uint8_t* data, Py_ssize_t n, int16_t* out, int samples) noexcept nogil
    # Duration of a packet at sample_rate (samples) without decoding, or < 0.
    cdef int packet_samples_c(self, const uint8_t* data, Py_ssize_t n) noexcept nogil
    # 1 when the packet carries in-band FEC for the packet before it, 0 when
    # not (CELT-only packets never do), < 0 when it is not a valid packet.
    cdef int packet_has_fec_c(self, const uint8_t* data, Py_ssize_t n) noexcept nogil
    cdef void reset_c(self) noexcept nogil
    cdef const OpusDecStats* stats_c(self) noexcept nogil
    cdef int engine_adopt(self) except -1
    cdef void engine_release(self) noexcept nogil
    # internal (declared here because Cython requires it)
    cdef int _loss_ok(self, int samples) noexcept nogil
    cdef int _check_loss(self, const char* what, int samples) except -1


@cython.final
cdef class OpusEncoder:
    cdef opus_encoder_t* enc
    cdef OpusEncStats st
    cdef vc_u64 _own
    cdef readonly int sample_rate
    cdef readonly int lookahead          # encoder delay (samples at sample_rate)
    cdef int _bitrate, _fec, _loss, _dtx, _complexity

    # Encode one frame of n samples (n * 1000 / sample_rate in 2.5, 5, 10, 20,
    # 40, 60, 80, 100, 120 ms) into out (max_bytes; OPUS_MAX_PACKET always
    # suffices, 1275 does for frames up to 20 ms). Returns bytes or < 0.
    # With DTX on, 1-2 byte packets mean "silence, need not be sent".
    cdef int encode_c(self, const int16_t* pcm, int n, uint8_t* out, int max_bytes) noexcept nogil
    cdef int set_bitrate_c(self, int bits_per_second) noexcept nogil
    # In-band FEC on/off and the loss rate (0-100 %) it should protect against
    # (libopus adds FEC only when the loss rate > 0 and the bitrate allows).
    cdef int set_fec_c(self, bint on, int loss_percent) noexcept nogil
    cdef void reset_c(self) noexcept nogil
    cdef const OpusEncStats* stats_c(self) noexcept nogil
    cdef int engine_adopt(self) except -1
    cdef void engine_release(self) noexcept nogil
    # internal
    cdef int _apply(self) except -1
    cdef int _frame(self, const char* what, Py_ssize_t nbytes) except -1

# cdef API of the G.722 codec (ITU-T G.722, SB-ADPCM) for other native modules
# (the audio I/O engine, the jitter buffer).
#
# Audio is 16,000 Hz s16 mono; one G.722 octet carries two samples. RTP
# (RFC 3551, payload type 9) nevertheless uses an 8,000 Hz timestamp clock:
# a 20 ms packet is 160 octets, 320 samples, and advances the RTP timestamp by
# 160. So octets == RTP timestamp units == samples / 2.
#
#     enc = G722Encoder(64000)        # from Python: validates, sets the state
#     n_oct = enc.encode_c(pcm, n, out)    # n samples (even) -> n/2 octets
#     dec = G722Decoder(64000)
#     n_smp = dec.decode_c(data, n_oct, pcm)  # n_oct octets -> 2*n_oct samples
#
# Nothing here allocates, raises or takes the GIL; the whole codec state is
# inside the object (two calls never share filter history). One object is one
# direction of one stream, driven by one thread at a time.
#
# Ownership rule: engine_adopt() (with the GIL) hands the object to an Engine;
# while adopted its Python methods raise RuntimeError; engine_release()
# (nogil) hands it back. Immutable properties (bit_rate, sample_rate) work.
cimport cython
from libc.stdint cimport int16_t, uint8_t
from voicecore._native.atomic cimport vc_u64


# The state of one sub-band ADPCM coder (ITU-T G.722 section 3 names in
# comments). Declared here only because Cython needs the object layout.
cdef struct G722Band:
    int s            # SL / SH: predicted signal
    int sp           # SPL: pole-section prediction
    int sz           # SZL: zero-section prediction
    int nb           # NBL / NBH: logarithmic quantizer scale factor
    int det          # DETL / DETH: quantizer scale factor
    int r[3]         # RLT0..2: reconstructed signal (delayed)
    int p[3]         # PLT0..2: partial reconstructed signal
    int a[3]         # AL1, AL2 (index 1, 2): pole coefficients
    int d[7]         # DLT0..6: quantized difference signal
    int b[7]         # BL1..6: zero coefficients


cdef struct G722State:
    G722Band band[2]  # 0: lower band (0-4 kHz), 1: higher band (4-8 kHz)
    int16_t x[24]     # QMF delay line, oldest first (16-bit samples)
    int mode          # 1: 64 kbit/s, 2: 56 kbit/s, 3: 48 kbit/s


@cython.final
cdef class G722Encoder:
    cdef G722State st
    cdef vc_u64 _own
    cdef readonly int bit_rate

    # Encode n samples (16 kHz s16; n even: an odd last sample is ignored)
    # into n // 2 octets at out; returns n // 2. At 56/48 kbit/s the 1/2
    # auxiliary-data bits of each octet are zero (G.722 section 1.4).
    cdef Py_ssize_t encode_c(self, const int16_t* pcm, Py_ssize_t n, uint8_t* out) noexcept nogil
    # Back to the initial state (a new stream).
    cdef void reset_c(self) noexcept nogil
    cdef int engine_adopt(self) except -1
    cdef void engine_release(self) noexcept nogil


@cython.final
cdef class G722Decoder:
    cdef G722State st
    cdef vc_u64 _own
    cdef readonly int bit_rate

    # Decode n octets into 2 * n samples (16 kHz s16) at out; returns 2 * n.
    # Every octet value is valid input (network data cannot make it fail).
    cdef Py_ssize_t decode_c(self, const uint8_t* data, Py_ssize_t n, int16_t* out) noexcept nogil
    cdef void reset_c(self) noexcept nogil
    cdef int engine_adopt(self) except -1
    cdef void engine_release(self) noexcept nogil

# cython: freethreading_compatible=True
"""ITU-T G.722 (7 kHz audio in 64 kbit/s, sub-band ADPCM): encoder and decoder.

Written from the ITU-T G.722 (1988) block descriptions: a 24-tap quadrature
mirror filter pair splits 16 kHz audio into two 8 kHz sub-bands; the lower band
is coded with 6-bit adaptive differential PCM (only the top 4 bits feed the
predictor, so 56 and 48 kbit/s decoders stay in step), the higher band with 2
bits. Tests check it bit-exact against two established implementations in the
same run (spandsp's, loaded from Debian's libspandsp, and the libg722 package
on PyPI), both of which pass the ITU-T test sequences.

Audio is s16 mono at 16,000 Hz; one octet per two samples. The RTP clock of
payload type 9 is 8,000 Hz (RFC 3551's historical quirk): RTP timestamp units
equal octets, not samples.

Modes: 64 kbit/s (all six lower-band bits are audio), 56 kbit/s (the lowest
bit of each octet is auxiliary data, ignored by the decoder and zero from the
encoder) and 48 kbit/s (the two lowest bits).
"""
from libc.stdint cimport int16_t, uint8_t
from libc.string cimport memset, memmove
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING

from voicecore._native._buffers cimport Buf, get_input, get_output_fmt, release, KIND_BYTES, KIND_S16
from voicecore._native.atomic cimport vc_init
from voicecore._native.media._owner cimport own_claim, own_unclaim, own_adopt, OWN_FREE

#: Audio sample rate of G.722 (Hz).
SAMPLE_RATE = 16000
#: RTP timestamp clock of G.722 (RFC 3551: 8000 although the audio is 16 kHz).
RTP_CLOCK_RATE = 8000
#: Static RTP payload type (RFC 3551).
PAYLOAD_TYPE = 9
#: Supported bit rates (bit/s).
BIT_RATES = (64000, 56000, 48000)

# Below this many samples the GIL is kept (the work is shorter than a
# release and re-acquire).
cdef Py_ssize_t _GIL_THRESHOLD = 64

# ----------------------------------------------------------------- tables
# Tables of ITU-T G.722 (values of the Recommendation).
# QMF coefficients h0, h2, ..., h22 (the filter is symmetric: h(23-i) = h(i)).
cdef int _H[12]
_H[:] = [3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11]

# QUANTL: decision levels (times DETL / 4096) for the 6-bit lower band.
cdef int _Q6[31]
_Q6[:] = [0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650,
          714, 786, 858, 940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195,
          2557, 2919, 0]
# QUANTL output codes for a negative / positive difference, by interval.
cdef int _ILN[31]
_ILN[:] = [0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16,
           15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4]
cdef int _ILP[31]
_ILP[:] = [0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44,
           43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32]
# Inverse quantizer outputs (QQ4, QQ5, QQ6 in the Recommendation, times 8).
cdef int _QM4[16]
_QM4[:] = [0, -20456, -12896, -8968, -6288, -4240, -2584, -1200,
           20456, 12896, 8968, 6288, 4240, 2584, 1200, 0]
cdef int _QM5[32]
_QM5[:] = [-280, -280, -23352, -17560, -14120, -11664, -9752, -8184,
           -6864, -5712, -4696, -3784, -2960, -2208, -1520, -880,
           23352, 17560, 14120, 11664, 9752, 8184, 6864, 5712,
           4696, 3784, 2960, 2208, 1520, 880, 280, -280]
cdef int _QM6[64]
_QM6[:] = [-136, -136, -136, -136, -24808, -21904, -19008, -16704,
           -14984, -13512, -12280, -11192, -10232, -9360, -8576, -7856,
           -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576,
           -3168, -2776, -2400, -2032, -1688, -1360, -1040, -728,
           24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192,
           10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456,
           4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032,
           1688, 1360, 1040, 728, 432, 136, -432, -136]
# LOGSCL: 4-bit code -> magnitude class -> log scale-factor increment.
cdef int _RL42[16]
_RL42[:] = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0]
cdef int _WL[8]
_WL[:] = [-60, -30, 58, 172, 334, 538, 1198, 3042]
# Higher band: QUANTH codes, INVQAH outputs, LOGSCH increments.
cdef int _IHN[3]
_IHN[:] = [0, 1, 0]
cdef int _IHP[3]
_IHP[:] = [0, 3, 2]
cdef int _QM2[4]
_QM2[:] = [-7408, -1616, 7408, 1616]
cdef int _RH2[4]
_RH2[:] = [2, 1, 2, 1]
cdef int _WH[3]
_WH[:] = [0, -214, 798]
# SCALEL / SCALEH: inverse log2 table (ILB).
cdef int _ILB[32]
_ILB[:] = [2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599,
           2656, 2714, 2774, 2834, 2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371,
           3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008]


# ----------------------------------------------------------------- blocks
cdef inline int _sat(int x) noexcept nogil:
    if x > 32767:
        return 32767
    if x < -32768:
        return -32768
    return x


cdef inline void _init_state(G722State* st, int mode) noexcept nogil:
    memset(st, 0, sizeof(G722State))
    st.band[0].det = 32
    st.band[1].det = 8
    st.mode = mode


cdef inline void _scale(G722Band* b, int nb, int bias) noexcept nogil:
    """LOGSCL/LOGSCH result ``nb`` -> SCALEL/SCALEH: the linear scale factor."""
    cdef int e = bias - (nb >> 11)
    cdef int m = _ILB[(nb >> 6) & 31]
    b.nb = nb
    b.det = (m << -e if e < 0 else m >> e) << 2


cdef inline void _log_low(G722Band* b, int ril) noexcept nogil:
    cdef int nb = ((b.nb * 127) >> 7) + _WL[_RL42[ril]]
    if nb < 0:
        nb = 0
    elif nb > 18432:
        nb = 18432
    _scale(b, nb, 8)


cdef inline void _log_high(G722Band* b, int ih) noexcept nogil:
    cdef int nb = ((b.nb * 127) >> 7) + _WH[_RH2[ih]]
    if nb < 0:
        nb = 0
    elif nb > 22528:
        nb = 22528
    _scale(b, nb, 10)


cdef inline void _adapt(G722Band* b, int dq) noexcept nogil:
    """Block 4: reconstruct, adapt the pole (UPPOL1/2) and zero (UPZERO)
    predictor coefficients, shift the delay lines and predict the next
    sample (FILTEP, FILTEZ, PREDIC). ``dq`` is the quantized difference."""
    cdef int i, t, a1, a2, lim, step, sd, acc
    cdef int r0 = _sat(b.s + dq)       # RECONS
    cdef int p0 = _sat(b.sz + dq)      # PARREC
    cdef int g0 = p0 >> 15             # signs of PLT0, PLT1, PLT2 (0 or -1)
    cdef int g1 = b.p[1] >> 15
    cdef int g2 = b.p[2] >> 15
    # UPPOL2
    t = _sat(b.a[1] * 4)                # (a negative a1 << 2 is undefined in C)
    if g0 == g1:
        t = -t
    if t > 32767:
        t = 32767
    a2 = (t >> 7) + (128 if g0 == g2 else -128) + ((b.a[2] * 32512) >> 15)
    if a2 > 12288:
        a2 = 12288
    elif a2 < -12288:
        a2 = -12288
    # UPPOL1
    a1 = _sat((192 if g0 == g1 else -192) + ((b.a[1] * 32640) >> 15))
    lim = _sat(15360 - a2)
    if a1 > lim:
        a1 = lim
    elif a1 < -lim:
        a1 = -lim
    # UPZERO, then DELAYA (the zero section walks from the oldest tap so the
    # difference history shifts in the same pass)
    step = 0 if dq == 0 else 128
    sd = dq >> 15
    for i in range(6, 0, -1):
        b.b[i] = _sat((step if (b.d[i] >> 15) == sd else -step) + ((b.b[i] * 32640) >> 15))
        b.d[i] = b.d[i - 1] if i > 1 else dq
    b.r[2] = b.r[1]
    b.r[1] = r0
    b.p[2] = b.p[1]
    b.p[1] = p0
    b.a[1] = a1
    b.a[2] = a2
    # FILTEP
    b.sp = _sat(((a1 * _sat(b.r[1] + b.r[1])) >> 15) + ((a2 * _sat(b.r[2] + b.r[2])) >> 15))
    # FILTEZ
    acc = 0
    for i in range(1, 7):
        acc += (b.b[i] * _sat(b.d[i] + b.d[i])) >> 15
    b.sz = _sat(acc)
    # PREDIC
    b.s = _sat(b.sp + b.sz)


cdef inline int _quant_low(int el, int det) noexcept nogil:
    """QUANTL: the 6-bit code of the lower-band difference ``el``."""
    cdef int m = el if el >= 0 else -(el + 1)
    # the interval is the smallest k in 1..29 with m < Q6[k]*det >> 12, else
    # 30; the levels grow with k, so it is 1 + the number of levels <= m
    # (counted without branches: the compiler vectorizes this loop)
    cdef int k, n = 1
    for k in range(1, 30):
        n += m >= ((_Q6[k] * det) >> 12)
    return _ILN[n] if el < 0 else _ILP[n]


cdef Py_ssize_t _encode(G722State* st, const int16_t* pcm, Py_ssize_t n, uint8_t* out) noexcept nogil:
    cdef Py_ssize_t j, k
    cdef int i, xa, xb, xl, xh, el, eh, il, ih, ril, m, dq
    cdef G722Band* lo = &st.band[0]
    cdef G722Band* hi = &st.band[1]
    cdef int16_t* x = st.x
    cdef uint8_t mask = 0xFF if st.mode == 1 else (0xFE if st.mode == 2 else 0xFC)
    k = n >> 1
    for j in range(k):
        # transmit QMF: two new samples in, one lower- and one higher-band
        # sample out (every other filter output is discarded)
        memmove(x, x + 2, 22 * sizeof(int16_t))
        x[22] = pcm[2 * j]
        x[23] = pcm[2 * j + 1]
        xa = 0
        xb = 0
        for i in range(12):
            xb += <int>x[2 * i] * _H[i]
            xa += <int>x[2 * i + 1] * _H[11 - i]
        xl = (xa + xb) >> 14
        xh = (xa - xb) >> 14
        # lower band: SUBTRA, QUANTL, INVQAL, LOGSCL, SCALEL, block 4
        el = _sat(xl - lo.s)
        il = _quant_low(el, lo.det)
        ril = il >> 2
        dq = (lo.det * _QM4[ril]) >> 15
        _log_low(lo, ril)
        _adapt(lo, dq)
        # higher band: SUBTRA, QUANTH, INVQAH, LOGSCH, SCALEH, block 4
        eh = _sat(xh - hi.s)
        m = eh if eh >= 0 else -(eh + 1)
        i = 2 if m >= ((564 * hi.det) >> 12) else 1
        ih = _IHN[i] if eh < 0 else _IHP[i]
        dq = (hi.det * _QM2[ih]) >> 15
        _log_high(hi, ih)
        _adapt(hi, dq)
        out[j] = <uint8_t>((ih << 6) | il) & mask
    return k


cdef Py_ssize_t _decode(G722State* st, const uint8_t* data, Py_ssize_t n, int16_t* out) noexcept nogil:
    cdef Py_ssize_t j
    cdef int i, code, il, ih, q, ril, rl, rh, dq, s0, s1
    cdef G722Band* lo = &st.band[0]
    cdef G722Band* hi = &st.band[1]
    cdef int16_t* x = st.x
    cdef int mode = st.mode
    for j in range(n):
        code = data[j]
        ih = code >> 6
        # INVQBL: the lower band's output uses all audio bits of the mode;
        # INVQAL (the predictor's input) only the top four
        if mode == 1:
            il = code & 0x3F
            q = _QM6[il]
            ril = il >> 2
        elif mode == 2:
            il = (code >> 1) & 0x1F
            q = _QM5[il]
            ril = il >> 1
        else:
            ril = (code >> 2) & 0x0F
            q = _QM4[ril]
        rl = lo.s + ((lo.det * q) >> 15)
        if rl > 16383:
            rl = 16383
        elif rl < -16384:
            rl = -16384
        dq = (lo.det * _QM4[ril]) >> 15
        _log_low(lo, ril)
        _adapt(lo, dq)
        # higher band: INVQAH, RECONS, LIMIT
        dq = (hi.det * _QM2[ih]) >> 15
        rh = hi.s + dq
        if rh > 16383:
            rh = 16383
        elif rh < -16384:
            rh = -16384
        _log_high(hi, ih)
        _adapt(hi, dq)
        # receive QMF: one pair of sub-band samples in, two samples out
        memmove(x, x + 2, 22 * sizeof(int16_t))
        x[22] = <int16_t>(rl + rh)         # |rl|, |rh| <= 16384: fits 16 bits
        x[23] = <int16_t>(rl - rh)
        s0 = 0
        s1 = 0
        for i in range(12):
            s1 += <int>x[2 * i] * _H[i]
            s0 += <int>x[2 * i + 1] * _H[11 - i]
        out[2 * j] = <int16_t>_sat(s0 >> 11)
        out[2 * j + 1] = <int16_t>_sat(s1 >> 11)
    return 2 * n


cdef int _mode_of(int bit_rate, str cls) except -1:
    if bit_rate == 64000:
        return 1
    if bit_rate == 56000:
        return 2
    if bit_rate == 48000:
        return 3
    raise ValueError(f"{cls}: bit_rate must be 64000, 56000 or 48000 (bit/s), got {bit_rate!r}")


# ----------------------------------------------------------------- classes
cdef class G722Encoder:
    """Streaming G.722 encoder: s16 mono 16 kHz PCM -> G.722 octets.

    ``bit_rate``: 64000 (default), 56000 or 48000 bit/s. At 56/48 kbit/s the
    auxiliary-data bits (the lowest 1/2 bits of each octet) are zero. Two
    samples make one octet; 20 ms (320 samples) make 160 octets, which is also
    the RTP timestamp increment (8 kHz RTP clock, RFC 3551).
    """

    def __cinit__(self, int bit_rate=64000):
        _init_state(&self.st, _mode_of(bit_rate, "G722Encoder"))
        self.bit_rate = bit_rate
        vc_init(&self._own, OWN_FREE)

    def __init__(self, int bit_rate=64000):
        pass   # everything happens in __cinit__; this gives the signature

    @property
    def sample_rate(self) -> int:
        """Audio sample rate in Hz (16000)."""
        return 16000

    cdef Py_ssize_t encode_c(self, const int16_t* pcm, Py_ssize_t n, uint8_t* out) noexcept nogil:
        return _encode(&self.st, pcm, n, out)

    cdef void reset_c(self) noexcept nogil:
        _init_state(&self.st, self.st.mode)

    cdef int engine_adopt(self) except -1:
        return own_adopt(&self._own, b"G722Encoder")

    cdef void engine_release(self) noexcept nogil:
        own_unclaim(&self._own)

    def encode(self, pcm, out=None):
        """Encode s16le mono 16 kHz PCM; returns ``len(pcm) // 4`` octets.

        ``pcm``: bytes-like s16le or an int16 array; the sample count must be
        even (two samples per octet), else ValueError. ``out``: optional
        writable buffer of at least that many bytes, filled and returned.
        The encoder keeps its state across calls (one stream).
        """
        cdef Buf src, dst
        cdef Py_ssize_t n, nout
        cdef object result
        dst.owned = False
        get_input(pcm, &src, KIND_BYTES | KIND_S16, b"G722Encoder.encode")
        try:
            if src.len & 3:
                raise ValueError("G722Encoder.encode: pcm must hold an even number of s16le samples "
                                 f"(a multiple of 4 bytes), got {src.len} bytes")
            n = src.len >> 1
            nout = n >> 1
            if out is None:
                result = PyBytes_FromStringAndSize(NULL, nout)
                dst.buf = PyBytes_AS_STRING(result)
            own_claim(&self._own, b"G722Encoder", b"G722Encoder.encode")
            try:
                if out is not None:
                    get_output_fmt(out, &dst, nout, KIND_BYTES, b"G722Encoder.encode")
                    result = out
                if n >= _GIL_THRESHOLD:
                    with nogil:
                        _encode(&self.st, <const int16_t*>src.buf, n, <uint8_t*>dst.buf)
                else:
                    _encode(&self.st, <const int16_t*>src.buf, n, <uint8_t*>dst.buf)
            finally:
                own_unclaim(&self._own)
                if out is not None:
                    release(&dst)
            return result
        finally:
            release(&src)

    def reset(self):
        """Forget the stream: back to the initial state."""
        own_claim(&self._own, b"G722Encoder", b"G722Encoder.reset")
        _init_state(&self.st, self.st.mode)
        own_unclaim(&self._own)

    def __repr__(self):
        return f"G722Encoder(bit_rate={self.bit_rate})"


cdef class G722Decoder:
    """Streaming G.722 decoder: octets -> s16 mono 16 kHz PCM (two samples
    per octet). ``bit_rate``: 64000 (default), 56000 or 48000 bit/s (which
    low bits of each octet are audio). Every octet value is valid input."""

    def __cinit__(self, int bit_rate=64000):
        _init_state(&self.st, _mode_of(bit_rate, "G722Decoder"))
        self.bit_rate = bit_rate
        vc_init(&self._own, OWN_FREE)

    def __init__(self, int bit_rate=64000):
        pass   # everything happens in __cinit__; this gives the signature

    @property
    def sample_rate(self) -> int:
        """Audio sample rate in Hz (16000)."""
        return 16000

    cdef Py_ssize_t decode_c(self, const uint8_t* data, Py_ssize_t n, int16_t* out) noexcept nogil:
        return _decode(&self.st, data, n, out)

    cdef void reset_c(self) noexcept nogil:
        _init_state(&self.st, self.st.mode)

    cdef int engine_adopt(self) except -1:
        return own_adopt(&self._own, b"G722Decoder")

    cdef void engine_release(self) noexcept nogil:
        own_unclaim(&self._own)

    def decode(self, data, out=None):
        """Decode G.722 octets; returns s16le PCM of ``2 * len(data)`` samples
        (``4 * len(data)`` bytes). ``out``: optional writable buffer (bytes or
        int16) of at least that size, filled and returned."""
        cdef Buf src, dst
        cdef Py_ssize_t n, nout
        cdef object result
        dst.owned = False
        get_input(data, &src, KIND_BYTES, b"G722Decoder.decode")
        try:
            n = src.len
            nout = 4 * n
            if out is None:
                result = PyBytes_FromStringAndSize(NULL, nout)
                dst.buf = PyBytes_AS_STRING(result)
            own_claim(&self._own, b"G722Decoder", b"G722Decoder.decode")
            try:
                if out is not None:
                    get_output_fmt(out, &dst, nout, KIND_BYTES | KIND_S16, b"G722Decoder.decode")
                    result = out
                if n >= _GIL_THRESHOLD:
                    with nogil:
                        _decode(&self.st, <const uint8_t*>src.buf, n, <int16_t*>dst.buf)
                else:
                    _decode(&self.st, <const uint8_t*>src.buf, n, <int16_t*>dst.buf)
            finally:
                own_unclaim(&self._own)
                if out is not None:
                    release(&dst)
            return result
        finally:
            release(&src)

    def reset(self):
        """Forget the stream: back to the initial state."""
        own_claim(&self._own, b"G722Decoder", b"G722Decoder.reset")
        _init_state(&self.st, self.st.mode)
        own_unclaim(&self._own)

    def __repr__(self):
        return f"G722Decoder(bit_rate={self.bit_rate})"

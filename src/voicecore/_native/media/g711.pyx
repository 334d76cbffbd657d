# cython: freethreading_compatible=True
"""G.711 mu-law and A-law, bit-exact with the stdlib ``audioop`` (Sun g711.c).

PCM is signed 16-bit little-endian mono (s16le); one G.711 code is one byte per
sample. Every function accepts any C-contiguous buffer (bytes, bytearray,
memoryview, numpy int16/uint8), can write into a caller-provided ``out=`` buffer
and releases the GIL while it converts (for inputs past a few hundred samples,
where dropping the GIL costs less than the work; see ``GIL_THRESHOLD``).

Encoding uses lookup tables built once at import from the g711.c algorithm:
16,384 entries for mu-law (audioop feeds the encoder ``sample >> 2``) and 8,192
for A-law (``sample >> 3``), so encode is one shift and one load per sample.
Decoding uses branch-free 16-bit arithmetic compiled for AVX2 and chosen at
run time on x86-64 CPUs that have it (``vc_g711.h``), else a 256-entry table.

The ITU-T G.191 reference mu-law encoder differs from Sun g711.c (and so from
audioop) on 508 negative inputs, each at a segment boundary where the two round
the 14-bit magnitude differently. voicecore follows audioop, as roomkit does.
"""
from libc.stdint cimport int16_t, uint8_t, int32_t
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING

from voicecore._native._buffers cimport Buf, get_input, get_output_fmt, release, KIND_BYTES, KIND_S16

cdef extern from "vc_g711.h" nogil:
    int vc_g711_have_simd() noexcept
    void vc_ulaw_decode_simd(const uint8_t* src, int16_t* dst, Py_ssize_t n) noexcept
    void vc_alaw_decode_simd(const uint8_t* src, int16_t* dst, Py_ssize_t n) noexcept
    int16_t vc_ulaw_decode1(uint8_t code) noexcept
    int16_t vc_alaw_decode1(uint8_t code) noexcept

# Decode with the AVX2 build of the branch-free kernels where the CPU has it
# (x86-64), otherwise with the 256-entry table. Set once at import.
# VOICECORE_G711_KERNEL=table forces the portable kernel (tests use it).
import os as _os
cdef bint _simd = vc_g711_have_simd() and _os.environ.get("VOICECORE_G711_KERNEL", "") != "table"
#: Which decode kernel this process uses: "avx2" or "table".
DECODE_KERNEL = "avx2" if _simd else "table"

#: Below this many samples the GIL is kept: the loop is shorter than a
#: release/re-acquire (numpy follows the same rule, NPY_BEGIN_THREADS_THRESHOLDED).
GIL_THRESHOLD = 1024
cdef Py_ssize_t _GIL_THRESHOLD = 1024

cdef uint8_t _ulaw_enc[16384]     # index: (sample >> 2) + 8192
cdef uint8_t _alaw_enc[8192]      # index: (sample >> 3) + 4096
cdef int16_t _ulaw_dec[256]
cdef int16_t _alaw_dec[256]
cdef uint8_t _u2a[256]
cdef uint8_t _a2u[256]

cdef int16_t _seg_uend[8]
cdef int16_t _seg_aend[8]
_seg_uend[:] = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF]
_seg_aend[:] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF]


cdef inline int _search(int val, const int16_t* table) noexcept nogil:
    cdef int i
    for i in range(8):
        if val <= table[i]:
            return i
    return 8


cdef uint8_t _st_14linear2ulaw(int pcm_val) noexcept nogil:
    # Sun g711.c as in CPython's audioop: 14-bit two's complement input.
    cdef int mask, seg
    if pcm_val < 0:
        pcm_val = -pcm_val
        mask = 0x7F
    else:
        mask = 0xFF
    if pcm_val > 8159:
        pcm_val = 8159
    pcm_val += 0x84 >> 2
    seg = _search(pcm_val, _seg_uend)
    if seg >= 8:
        return <uint8_t>(0x7F ^ mask)
    return <uint8_t>(((seg << 4) | ((pcm_val >> (seg + 1)) & 0xF)) ^ mask)


cdef uint8_t _st_linear2alaw(int pcm_val) noexcept nogil:
    # 13-bit two's complement input.
    cdef int mask, seg, aval
    if pcm_val >= 0:
        mask = 0xD5
    else:
        mask = 0x55
        pcm_val = -pcm_val - 1
    seg = _search(pcm_val, _seg_aend)
    if seg >= 8:
        return <uint8_t>(0x7F ^ mask)
    aval = seg << 4
    if seg < 2:
        aval |= (pcm_val >> 1) & 0xF
    else:
        aval |= (pcm_val >> seg) & 0xF
    return <uint8_t>(aval ^ mask)


cdef int16_t _st_ulaw2linear16(int u) noexcept nogil:
    cdef int t
    u = ~u
    t = ((u & 0x0F) << 3) + 0x84
    t <<= (u & 0x70) >> 4
    return <int16_t>((0x84 - t) if (u & 0x80) else (t - 0x84))


cdef int16_t _st_alaw2linear16(int a) noexcept nogil:
    cdef int t, seg
    a ^= 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t += 0x108
        t <<= seg - 1
    return <int16_t>(t if (a & 0x80) else -t)


cdef void _build_tables() noexcept nogil:
    cdef int i
    for i in range(16384):
        _ulaw_enc[i] = _st_14linear2ulaw(i - 8192)
    for i in range(8192):
        _alaw_enc[i] = _st_linear2alaw(i - 4096)
    for i in range(256):
        _ulaw_dec[i] = _st_ulaw2linear16(i)
        _alaw_dec[i] = _st_alaw2linear16(i)
    for i in range(256):
        _u2a[i] = _alaw_enc[(_ulaw_dec[i] >> 3) + 4096]
        _a2u[i] = _ulaw_enc[(_alaw_dec[i] >> 2) + 8192]

_build_tables()


# ---------------------------------------------------------------- cdef API
cdef void ulaw_encode(const int16_t* src, uint8_t* dst, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dst[i] = _ulaw_enc[(src[i] >> 2) + 8192]

cdef void alaw_encode(const int16_t* src, uint8_t* dst, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dst[i] = _alaw_enc[(src[i] >> 3) + 4096]

cdef void ulaw_decode(const uint8_t* src, int16_t* dst, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    if _simd:
        vc_ulaw_decode_simd(src, dst, n)
    else:
        for i in range(n):
            dst[i] = _ulaw_dec[src[i]]

cdef void alaw_decode(const uint8_t* src, int16_t* dst, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    if _simd:
        vc_alaw_decode_simd(src, dst, n)
    else:
        for i in range(n):
            dst[i] = _alaw_dec[src[i]]

cdef void ulaw_to_alaw(const uint8_t* src, uint8_t* dst, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dst[i] = _u2a[src[i]]

cdef void alaw_to_ulaw(const uint8_t* src, uint8_t* dst, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dst[i] = _a2u[src[i]]

cdef int16_t ulaw_decode_one(uint8_t code) noexcept nogil:
    return _ulaw_dec[code]

cdef int16_t alaw_decode_one(uint8_t code) noexcept nogil:
    return _alaw_dec[code]


# ---------------------------------------------------------------- Python API
cdef enum Op:
    OP_ULAW_ENC
    OP_ALAW_ENC
    OP_ULAW_DEC
    OP_ALAW_DEC
    OP_U2A
    OP_A2U


cdef void _run(Op op, const void* src, void* dst, Py_ssize_t n) noexcept nogil:
    if op == OP_ULAW_ENC:
        ulaw_encode(<const int16_t*>src, <uint8_t*>dst, n)
    elif op == OP_ALAW_ENC:
        alaw_encode(<const int16_t*>src, <uint8_t*>dst, n)
    elif op == OP_ULAW_DEC:
        ulaw_decode(<const uint8_t*>src, <int16_t*>dst, n)
    elif op == OP_ALAW_DEC:
        alaw_decode(<const uint8_t*>src, <int16_t*>dst, n)
    elif op == OP_U2A:
        ulaw_to_alaw(<const uint8_t*>src, <uint8_t*>dst, n)
    else:
        alaw_to_ulaw(<const uint8_t*>src, <uint8_t*>dst, n)


cdef object _convert(object data, object out, Op op, const char* what, const char* arg):
    """Shared driver: take the input, size and fill the output (new bytes or
    ``out=``), GIL released for long inputs. Encoders take s16 (2 bytes per
    sample), the others G.711 codes (1 byte); decoders write 2 bytes."""
    cdef Buf src, dst
    cdef Py_ssize_t n, nout
    cdef bint encoding = op == OP_ULAW_ENC or op == OP_ALAW_ENC
    cdef object result
    get_input(data, &src, (KIND_BYTES | KIND_S16) if encoding else KIND_BYTES, what, arg)
    try:
        if encoding:
            if src.len & 1:
                raise ValueError(f"{(<bytes>what).decode()}: {(<bytes>arg).decode()} must be s16le PCM "
                                 f"with an even byte count, got {src.len} bytes")
            n = src.len >> 1
        else:
            n = src.len
        nout = 2 * n if (op == OP_ULAW_DEC or op == OP_ALAW_DEC) else n
        if out is None:
            result = PyBytes_FromStringAndSize(NULL, nout)
            dst.buf = PyBytes_AS_STRING(result)
        else:
            get_output_fmt(out, &dst, nout, (KIND_BYTES | KIND_S16) if (op == OP_ULAW_DEC or op == OP_ALAW_DEC) else KIND_BYTES, what)
            result = out
        try:
            if n >= _GIL_THRESHOLD:
                with nogil:
                    _run(op, src.buf, dst.buf, n)
            else:
                _run(op, src.buf, dst.buf, n)
        finally:
            if out is not None:
                release(&dst)
        return result
    finally:
        release(&src)


def lin2ulaw(pcm, out=None):
    """Encode s16le mono PCM to mu-law: one byte per sample.

    ``pcm``: bytes-like s16le or an int16 array (even byte count, else
    ValueError). ``out``: optional writable buffer of at least ``len(pcm)//2``
    bytes; when given it is filled and returned, nothing is allocated.
    """
    return _convert(pcm, out, OP_ULAW_ENC, b"lin2ulaw", b"pcm")


def lin2alaw(pcm, out=None):
    """Encode s16le mono PCM to A-law: one byte per sample. See ``lin2ulaw``."""
    return _convert(pcm, out, OP_ALAW_ENC, b"lin2alaw", b"pcm")


def ulaw2lin(data, out=None):
    """Decode mu-law bytes to s16le mono PCM (two bytes per code).

    ``out``: optional writable buffer of at least ``2*len(data)`` bytes (for
    example an int16 numpy array); filled and returned.
    """
    return _convert(data, out, OP_ULAW_DEC, b"ulaw2lin", b"data")


def alaw2lin(data, out=None):
    """Decode A-law bytes to s16le mono PCM. See ``ulaw2lin``."""
    return _convert(data, out, OP_ALAW_DEC, b"alaw2lin", b"data")


def ulaw2alaw(data, out=None):
    """Transcode mu-law to A-law code by code: ``alaw_encode(ulaw_decode(x))``."""
    return _convert(data, out, OP_U2A, b"ulaw2alaw", b"data")


def alaw2ulaw(data, out=None):
    """Transcode A-law to mu-law code by code: ``ulaw_encode(alaw_decode(x))``."""
    return _convert(data, out, OP_A2U, b"alaw2ulaw", b"data")

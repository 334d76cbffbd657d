# Test-only: cimports the G.711 and PCM cdef APIs from the installed .pxd files
# and runs them without the GIL (tests/test_native_probes.py).
from libc.stdint cimport int16_t, uint8_t
from voicecore._native.media.g711 cimport ulaw_encode, ulaw_decode, alaw_encode, alaw_decode
from voicecore._native.media.pcm cimport s16_to_f32


def roundtrip_ulaw(const int16_t[::1] pcm):
    """Encode and decode mu-law inside ``with nogil``; returns the decoded samples."""
    cdef Py_ssize_t n = pcm.shape[0]
    cdef uint8_t[::1] codes = bytearray(n)
    out = bytearray(2 * n)
    cdef int16_t[::1] dec = memoryview(out).cast("h")
    with nogil:
        ulaw_encode(&pcm[0], &codes[0], n)
        ulaw_decode(&codes[0], &dec[0], n)
    return bytes(out)


def roundtrip_alaw(const int16_t[::1] pcm):
    cdef Py_ssize_t n = pcm.shape[0]
    cdef uint8_t[::1] codes = bytearray(n)
    out = bytearray(2 * n)
    cdef int16_t[::1] dec = memoryview(out).cast("h")
    with nogil:
        alaw_encode(&pcm[0], &codes[0], n)
        alaw_decode(&codes[0], &dec[0], n)
    return bytes(out)


def to_float(const int16_t[::1] pcm):
    cdef Py_ssize_t n = pcm.shape[0]
    out = bytearray(4 * n)
    cdef float[::1] f = memoryview(out).cast("f")
    with nogil:
        s16_to_f32(&pcm[0], &f[0], n)
    return bytes(out)

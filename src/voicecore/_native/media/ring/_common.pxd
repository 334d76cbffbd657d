# Helpers shared by the three rings (inline, compiled into each module that
# cimports them): wrapping copies, position arithmetic, argument checks, the
# bytearray fast path and the engine ownership bits. Not part of the engine's
# API (that is ring/__init__.pxd).
from libc.stdint cimport int16_t, int64_t, uint64_t
from libc.string cimport memcpy, memset
from cpython.long cimport PyLong_Check, PyLong_AsLongLongAndOverflow, PyLong_AsUnsignedLongLong
from cpython.bool cimport PyBool_Check
from cpython.bytearray cimport PyByteArray_CheckExact, PyByteArray_AS_STRING, PyByteArray_GET_SIZE

from voicecore._native.atomic cimport vc_u64, vc_load_acquire, vc_own_try, vc_own_drop
from voicecore._native._buffers cimport Buf, get_input, release, KIND_BYTES, KIND_S16

cdef enum:
    # Largest capacity (samples or frame slots): 2**30.
    VC_RING_MAX_CAPACITY = 1 << 30
    # Python-level copies at least this long release the GIL (a shorter memcpy
    # costs less than releasing and re-taking it).
    VC_RING_GIL_THRESHOLD = 16384
    # Owner bits of a ring (the engine's adoption rule, per side).
    OWN_PRODUCER = 1
    OWN_CONSUMER = 2


cdef inline bint is_pow2_capacity(uint64_t n) noexcept nogil:
    return n != 0 and n <= VC_RING_MAX_CAPACITY and (n & (n - 1)) == 0


cdef inline uint64_t min_u64(uint64_t a, uint64_t b) noexcept nogil:
    return a if a < b else b

cdef inline int64_t min_i64(int64_t a, int64_t b) noexcept nogil:
    return a if a < b else b

cdef inline int64_t max_i64(int64_t a, int64_t b) noexcept nogil:
    return a if a > b else b

cdef inline int64_t pos_diff(uint64_t a, uint64_t b) noexcept nogil:
    """a - b for wrapping 64-bit positions (valid while |a - b| < 2**63)."""
    return <int64_t>(a - b)


# Wrapping copies between a linear buffer and ring slots [pos, pos + n), n <= capacity.
cdef inline void copy_in(int16_t* ring, uint64_t mask, uint64_t pos,
                         const int16_t* src, uint64_t n) noexcept nogil:
    cdef uint64_t idx = pos & mask
    cdef uint64_t first = min_u64(n, mask + 1 - idx)
    memcpy(ring + idx, src, first * sizeof(int16_t))
    if n > first:
        memcpy(ring, src + first, (n - first) * sizeof(int16_t))

cdef inline void copy_out(const int16_t* ring, uint64_t mask, uint64_t pos,
                          int16_t* dst, uint64_t n) noexcept nogil:
    cdef uint64_t idx = pos & mask
    cdef uint64_t first = min_u64(n, mask + 1 - idx)
    memcpy(dst, ring + idx, first * sizeof(int16_t))
    if n > first:
        memcpy(dst + first, ring, (n - first) * sizeof(int16_t))

cdef inline void zero_ring(int16_t* ring, uint64_t mask, uint64_t pos, uint64_t n) noexcept nogil:
    cdef uint64_t idx = pos & mask
    cdef uint64_t first = min_u64(n, mask + 1 - idx)
    memset(ring + idx, 0, first * sizeof(int16_t))
    if n > first:
        memset(ring, 0, (n - first) * sizeof(int16_t))


# ----------------------------------------------------------------- arguments
cdef inline uint64_t check_capacity(object capacity, str what, str arg) except 0:
    if isinstance(capacity, bool) or not isinstance(capacity, int):
        raise TypeError(f"{what}: {arg} must be an int, got {type(capacity).__name__}")
    if not (0 < capacity <= VC_RING_MAX_CAPACITY) or (capacity & (capacity - 1)):
        raise ValueError(
            f"{what}: {arg} must be a power of two between 1 and {VC_RING_MAX_CAPACITY}, got {capacity} "
            "(voicecore.ring.next_power_of_two rounds up)")
    return <uint64_t>capacity


cdef inline int check_uint(object value, str what, str arg, int bits, uint64_t* out) except -1:
    """``out[0]`` = an int in [0, 2**bits), bits <= 64: TypeError for other
    types (bool included), ValueError out of range. A few ns on the fast path
    (no exception machinery, no temporary ints, no PyErr_Occurred check)."""
    cdef int overflow = 0
    cdef long long v
    if not PyLong_Check(value) or PyBool_Check(value):
        raise TypeError(f"{what}: {arg} must be an int, got {type(value).__name__}")
    v = PyLong_AsLongLongAndOverflow(value, &overflow)
    if overflow == 0 and v >= 0 and (bits >= 63 or v < ((<long long>1) << bits)):
        out[0] = <uint64_t>v
        return 0
    if overflow > 0 and bits == 64 and value < (1 << 64):
        out[0] = <uint64_t>PyLong_AsUnsignedLongLong(value)
        return 0
    raise ValueError(f"{what}: {arg} must be in 0..2**{bits}-1, got {value}")


cdef inline int check_ns(object value, str what, str arg, int64_t* out) except -1:
    """``out[0]`` = monotonic nanoseconds: an int in the signed 64-bit range."""
    cdef int overflow = 0
    cdef long long v
    if not PyLong_Check(value) or PyBool_Check(value):
        raise TypeError(f"{what}: {arg} must be an int (monotonic ns), got {type(value).__name__}")
    v = PyLong_AsLongLongAndOverflow(value, &overflow)
    if overflow:
        raise ValueError(f"{what}: {arg} must be in -2**63..2**63-1 ns, got {value}")
    out[0] = <int64_t>v
    return 0


cdef inline double check_ms(object value, str what, str arg, double hi) except? -1.0:
    """Milliseconds: an int or float in 0..hi."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what}: {arg} must be a number (ms), got {type(value).__name__}")
    if not (0.0 <= value <= hi):
        raise ValueError(f"{what}: {arg} must be 0..{hi:g} ms, got {value}")
    return <double>value


cdef inline int get_s16_in(object obj, Buf* b, const char* what, const char* arg) except -1:
    """s16 samples in: bytes-like with an even byte count, or an int16 array."""
    get_input(obj, b, KIND_BYTES | KIND_S16, what, arg)
    if b.len & 1:
        n = b.len
        release(b)
        raise ValueError(f"{(<bytes>what).decode()}: {(<bytes>arg).decode()} must be s16 PCM "
                         f"with an even byte count, got {n} bytes")
    return 0


cdef extern from *:
    """
    #include <errno.h>
    /* Cython turns `errno = x` inside a function into a local variable. */
    static inline void vc_set_errno(int e) { errno = e; }
    #ifdef Py_GIL_DISABLED
    #define VC_GIL_DISABLED 1
    #else
    #define VC_GIL_DISABLED 0
    #endif
    """
    int VC_GIL_DISABLED
    void vc_set_errno(int e) noexcept nogil


cdef inline int16_t* bytearray_out(object out, Py_ssize_t* nbytes) noexcept:
    """Fast path for an exact bytearray ``out`` (no buffer export): only for
    copies done while holding the GIL, which keeps it from being resized.
    On free-threaded builds nothing stops another thread from resizing it, so
    the fast path is off there and the buffer is exported (pinned) instead.
    NULL for anything else (then use ``_buffers.get_s16_output``)."""
    if not VC_GIL_DISABLED and PyByteArray_CheckExact(out):
        nbytes[0] = PyByteArray_GET_SIZE(out)
        if not (nbytes[0] & 1) and (nbytes[0] >> 1) < <Py_ssize_t>VC_RING_GIL_THRESHOLD:
            return <int16_t*>PyByteArray_AS_STRING(out)
    return NULL


# ----------------------------------------------------------------- ownership
cdef inline int side_free(vc_u64* owner, uint64_t bit, const char* what) except -1:
    """Raise if the engine owns this side (one atomic load when it does not)."""
    if vc_load_acquire(owner) & bit:
        _raise_owned(what, bit)
    return 0


cdef inline int _raise_owned(const char* what, uint64_t bit) except -1:
    w = (<bytes>what).decode()
    cls = w.split(".")[0]
    side = "producer" if bit == OWN_PRODUCER else "consumer"
    raise RuntimeError(f"{w}: the {side} side of this {cls} is owned by an Engine's I/O thread "
                       f"(use the other side from Python, or read its figures from stats())")


cdef inline int adopt_sides(vc_u64* owner, uint64_t bits, const char* cls) except -1:
    cdef uint64_t seen = vc_own_try(owner, bits, bits)
    if seen & bits:
        side = ("producer and consumer sides" if (seen & bits) == (OWN_PRODUCER | OWN_CONSUMER)
                else "producer side" if seen & bits & OWN_PRODUCER else "consumer side")
        raise RuntimeError(f"{(<bytes>cls).decode()}: the {side} already adopted by an Engine")
    return 0


cdef inline void release_sides(vc_u64* owner, uint64_t bits) noexcept nogil:
    vc_own_drop(owner, bits)

# Shared inline helpers (compiled into each module that cimports them) for the
# ownership rule of engine-usable objects (see /work docs: engine seams):
#
#   state 0  free: Python methods may run (one at a time)
#   state 1  a Python method is running on some thread (claimed for its call)
#   state 2  adopted by an Engine: its I/O thread drives the object through
#            the cdef nogil API; every Python method that touches mutable
#            state raises RuntimeError until engine_release().
#
# One atomic word per object (vc_u64); a claim is a compare-and-swap, so two
# Python threads (free-threaded builds) never run one codec state at once.
from libc.stdint cimport uint64_t
from voicecore._native.atomic cimport vc_u64, vc_init, vc_cas_acq_rel, vc_store_release

cdef enum:
    OWN_FREE = 0
    OWN_PYTHON = 1
    OWN_ENGINE = 2


cdef inline int own_claim(vc_u64* flag, const char* cls, const char* what) except -1:
    """Claim the object for one Python call (``what`` names the method)."""
    cdef uint64_t expected = OWN_FREE
    if vc_cas_acq_rel(flag, &expected, OWN_PYTHON):
        return 0
    if expected == OWN_ENGINE:
        raise RuntimeError(
            f"{(<bytes>what).decode()}: this {(<bytes>cls).decode()} is owned by an Engine's I/O thread "
            "(use the session's stats(); create another object for Python-side work)")
    raise RuntimeError(
        f"{(<bytes>what).decode()}: this {(<bytes>cls).decode()} is in use by another thread "
        "(one object is one stream; create one per thread)")


cdef inline void own_unclaim(vc_u64* flag) noexcept nogil:
    vc_store_release(flag, OWN_FREE)


cdef inline int own_adopt(vc_u64* flag, const char* cls) except -1:
    cdef uint64_t expected = OWN_FREE
    if vc_cas_acq_rel(flag, &expected, OWN_ENGINE):
        return 0
    if expected == OWN_ENGINE:
        raise RuntimeError(f"{(<bytes>cls).decode()} is already owned by an Engine")
    raise RuntimeError(f"{(<bytes>cls).decode()} is in use by a Python thread; adopt it when idle")


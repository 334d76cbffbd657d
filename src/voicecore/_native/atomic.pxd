# C11 atomics (vc_atomic.h) for every native module: ring positions, claims,
# ownership flags and single-writer statistics live in a vc_u64 and are
# touched only through these wrappers, each named after its memory order.
#
#     from voicecore._native.atomic cimport vc_u64, vc_init, vc_load_acquire, vc_store_release
#
# Ownership rule for objects the audio I/O engine drives (documented in each
# component's .pxd): one vc_u64 of owner bits per object. vc_own_try(word,
# bits, excl) sets `bits` unless one of `excl` is set and returns the word it
# saw (success when `seen & excl == 0`); vc_own_drop(word, bits) clears them.
#
# Claimed pointers (vc_ptr_claim / vc_ptr_release): the slot holds the pointer
# itself, so taking it and marking it busy is one atomic step; 0 means closed,
# VC_PTR_BUSY that another thread holds it.
from libc.stdint cimport uint64_t

cdef extern from "vc_atomic.h" nogil:
    ctypedef struct vc_u64:
        pass
    const uint64_t VC_PTR_BUSY
    void vc_init(vc_u64* a, uint64_t x)
    uint64_t vc_load_relaxed(vc_u64* a)
    uint64_t vc_load_acquire(vc_u64* a)
    uint64_t vc_load_seq_cst(vc_u64* a)
    void vc_store_relaxed(vc_u64* a, uint64_t x)
    void vc_store_release(vc_u64* a, uint64_t x)
    void vc_store_seq_cst(vc_u64* a, uint64_t x)
    bint vc_cas_acq_rel(vc_u64* a, uint64_t* expected, uint64_t desired)
    bint vc_cas_seq_cst(vc_u64* a, uint64_t* expected, uint64_t desired)
    uint64_t vc_exchange_seq_cst(vc_u64* a, uint64_t x)
    uint64_t vc_fetch_or(vc_u64* a, uint64_t bits)
    uint64_t vc_fetch_and(vc_u64* a, uint64_t bits)
    void vc_stat_add(vc_u64* a, uint64_t x)
    uint64_t vc_own_try(vc_u64* a, uint64_t bits, uint64_t excl)
    void vc_own_drop(vc_u64* a, uint64_t bits)
    uint64_t vc_ptr_claim(vc_u64* slot)
    void vc_ptr_release(vc_u64* slot, uint64_t p)
    void vc_fence_acquire()
    void vc_fence_release()
    void vc_fence_seq_cst()
    void vc_cpu_relax()

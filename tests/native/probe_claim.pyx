# Test-only (tests/test_sherpa.py): the claimed-pointer protocol every sherpa
# stream uses (vc_ptr_claim / vc_ptr_release from the installed atomic.pxd),
# raced from two native pthreads: a user that claims the pointer and checks
# the object behind it, and a closer that claims it, poisons the object
# ("frees" it) and later installs a fresh one. With the pointer taken out in
# the claim itself, the user never holds a poisoned object. The old shape of
# sherpa's stream claim (read the pointer, then claim a separate busy flag)
# is kept here as `read_then_claim` so the test shows the race it had.
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memset
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

from voicecore._native.atomic cimport (
    vc_u64, vc_init, vc_load_relaxed, vc_load_acquire, vc_store_relaxed, vc_store_release,
    vc_cas_acq_rel, vc_ptr_claim, vc_ptr_release, VC_PTR_BUSY,
)

cdef extern from "<pthread.h>" nogil:
    ctypedef struct pthread_t:
        pass
    ctypedef void* (*pthread_start_fn)(void*) noexcept nogil
    int pthread_create(pthread_t* thread, const void* attr, pthread_start_fn start, void* arg)
    int pthread_join(pthread_t thread, void** retval)

cdef enum:
    LIVE = 0x11
    DEAD = 0xDD
    N_OBJ = 8

cdef struct obj:
    vc_u64 state                 # LIVE or DEAD (atomic: the user reads it while the closer writes)
    char _pad[56]

cdef struct ctx:
    int old_shape
    int64_t t_end
    vc_u64 slot                  # new shape: the pointer itself (0 closed, VC_PTR_BUSY in use)
    vc_u64 ptr                   # old shape: the pointer ...
    vc_u64 busy                  # ... and a separate claim flag
    vc_u64 stop
    vc_u64 uses
    vc_u64 bad                   # the user held a poisoned (freed) object
    vc_u64 closes
    obj objs[N_OBJ]

cdef inline int64_t _now() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <int64_t>ts.tv_sec * 1000000000 + ts.tv_nsec

cdef inline void _use(ctx* x, obj* o) noexcept nogil:
    cdef int i
    for i in range(4):
        if vc_load_acquire(&o.state) != LIVE:
            vc_store_relaxed(&x.bad, vc_load_relaxed(&x.bad) + 1)
            return
    vc_store_relaxed(&x.uses, vc_load_relaxed(&x.uses) + 1)

cdef void* _user(void* arg) noexcept nogil:
    cdef ctx* x = <ctx*>arg
    cdef uint64_t p, expected
    while not vc_load_acquire(&x.stop):
        if x.old_shape:
            p = vc_load_acquire(&x.ptr)                 # read first ...
            expected = 0
            if not vc_cas_acq_rel(&x.busy, &expected, 1):   # ... then claim
                continue
            if p != 0:
                _use(x, <obj*>p)
            vc_store_release(&x.busy, 0)
        else:
            p = vc_ptr_claim(&x.slot)                   # take it out and claim, one step
            if p == 0 or p == VC_PTR_BUSY:
                continue
            _use(x, <obj*>p)
            vc_ptr_release(&x.slot, p)
    return NULL

cdef void* _closer(void* arg) noexcept nogil:
    cdef ctx* x = <ctx*>arg
    cdef uint64_t p, expected, k = 0
    cdef obj* fresh
    while _now() < x.t_end:
        if x.old_shape:
            expected = 0
            if not vc_cas_acq_rel(&x.busy, &expected, 1):
                continue
            p = vc_load_relaxed(&x.ptr)
            if p != 0:
                vc_store_release(&(<obj*>p).state, DEAD)   # close(): free the stream
                vc_store_release(&x.ptr, 0)
            vc_store_release(&x.busy, 0)
        else:
            p = vc_ptr_claim(&x.slot)
            if p == VC_PTR_BUSY or p == 0:
                continue
            vc_store_release(&(<obj*>p).state, DEAD)
            vc_ptr_release(&x.slot, 0)
        vc_store_relaxed(&x.closes, vc_load_relaxed(&x.closes) + 1)
        # a new stream (test harness only: sherpa never reopens one)
        k += 1
        fresh = &x.objs[k % N_OBJ]
        vc_store_release(&fresh.state, LIVE)
        if x.old_shape:
            expected = 0
            while not vc_cas_acq_rel(&x.busy, &expected, 1):
                expected = 0
            vc_store_release(&x.ptr, <uint64_t>fresh)
            vc_store_release(&x.busy, 0)
        else:
            vc_ptr_release(&x.slot, <uint64_t>fresh)   # slot was 0: nobody holds it
    vc_store_release(&x.stop, 1)
    return NULL


def race(str shape, double seconds=0.5):
    """Run the user and the closer for ``seconds``; returns (uses, bad, closes)."""
    cdef ctx x
    cdef pthread_t tu, tc
    memset(&x, 0, sizeof(ctx))
    x.old_shape = shape == "read_then_claim"
    x.t_end = _now() + <int64_t>(seconds * 1e9)
    vc_store_release(&x.objs[0].state, LIVE)
    vc_init(&x.slot, <uint64_t>&x.objs[0])
    vc_init(&x.ptr, <uint64_t>&x.objs[0])
    with nogil:
        pthread_create(&tu, NULL, _user, &x)
        pthread_create(&tc, NULL, _closer, &x)
        pthread_join(tc, NULL)
        pthread_join(tu, NULL)
    return (vc_load_relaxed(&x.uses), vc_load_relaxed(&x.bad), vc_load_relaxed(&x.closes))

/* C11 atomics for voicecore's native modules (declared for Cython in atomic.pxd).
 *
 * Cython has no C11 atomics of its own (libcpp.atomic needs C++), so shared
 * 64-bit words (ring positions, claims, ownership flags, statistics) are kept
 * in vc_u64 and touched only through these wrappers. Each wrapper names its
 * memory order; the modules say which side uses which order and why
 * (media/ring/ for the rings).
 */
#ifndef VOICECORE_VC_ATOMIC_H
#define VOICECORE_VC_ATOMIC_H

#include <stdint.h>
#include <stdatomic.h>

#define VC_CACHELINE 64

typedef struct { _Atomic uint64_t v; } vc_u64;

static inline void vc_init(vc_u64 *a, uint64_t x) { atomic_init(&a->v, x); }

static inline uint64_t vc_load_relaxed(vc_u64 *a) { return atomic_load_explicit(&a->v, memory_order_relaxed); }
static inline uint64_t vc_load_acquire(vc_u64 *a) { return atomic_load_explicit(&a->v, memory_order_acquire); }
static inline uint64_t vc_load_seq_cst(vc_u64 *a) { return atomic_load_explicit(&a->v, memory_order_seq_cst); }

static inline void vc_store_relaxed(vc_u64 *a, uint64_t x) { atomic_store_explicit(&a->v, x, memory_order_relaxed); }
static inline void vc_store_release(vc_u64 *a, uint64_t x) { atomic_store_explicit(&a->v, x, memory_order_release); }
static inline void vc_store_seq_cst(vc_u64 *a, uint64_t x) { atomic_store_explicit(&a->v, x, memory_order_seq_cst); }

/* Strong compare-and-swap, acq_rel on success, acquire on failure. On failure
 * *expected receives the current value. Returns 1 when the swap happened. */
static inline int vc_cas_acq_rel(vc_u64 *a, uint64_t *expected, uint64_t desired) {
    return atomic_compare_exchange_strong_explicit(&a->v, expected, desired,
                                                   memory_order_acq_rel, memory_order_acquire);
}
/* The same, sequentially consistent (used where a Dekker-style store/load
 * pair must not be reordered: the wake-up protocol of the frame queue). */
static inline int vc_cas_seq_cst(vc_u64 *a, uint64_t *expected, uint64_t desired) {
    return atomic_compare_exchange_strong_explicit(&a->v, expected, desired,
                                                   memory_order_seq_cst, memory_order_seq_cst);
}

static inline uint64_t vc_exchange_seq_cst(vc_u64 *a, uint64_t x) {
    return atomic_exchange_explicit(&a->v, x, memory_order_seq_cst);
}

/* A single-writer statistic: the owner increments with a relaxed
 * load + store (no locked instruction), anyone may read it relaxed. */
static inline void vc_stat_add(vc_u64 *a, uint64_t x) {
    atomic_store_explicit(&a->v, atomic_load_explicit(&a->v, memory_order_relaxed) + x,
                          memory_order_relaxed);
}

/* Atomic read-modify-write of bits (acq_rel): returns the previous value. */
static inline uint64_t vc_fetch_or(vc_u64 *a, uint64_t bits) {
    return atomic_fetch_or_explicit(&a->v, bits, memory_order_acq_rel);
}
static inline uint64_t vc_fetch_and(vc_u64 *a, uint64_t bits) {
    return atomic_fetch_and_explicit(&a->v, bits, memory_order_acq_rel);
}

/* ---- ownership flags (the engine's adoption rule, see atomic.pxd) ----
 * One word per object; each bit is one owner (an engine side or a running
 * Python call). vc_own_try sets `bits` only when none of `excl` is set and
 * returns the word it saw (0 in `excl` bits means success); vc_own_drop
 * clears `bits`. */
static inline uint64_t vc_own_try(vc_u64 *a, uint64_t bits, uint64_t excl) {
    uint64_t cur = atomic_load_explicit(&a->v, memory_order_relaxed);
    while (!(cur & excl)) {
        if (atomic_compare_exchange_weak_explicit(&a->v, &cur, cur | bits,
                                                  memory_order_acq_rel, memory_order_relaxed))
            return cur;
    }
    return cur;
}
static inline void vc_own_drop(vc_u64 *a, uint64_t bits) {
    atomic_fetch_and_explicit(&a->v, ~bits, memory_order_acq_rel);
}

/* ---- a pointer that only its claimer may use ----
 * The slot holds the pointer itself (0 once closed, VC_PTR_BUSY while one
 * thread uses it). vc_ptr_claim takes the pointer out in the same atomic step
 * that marks the slot busy, so nobody can hold a pointer that a concurrent
 * close has freed: there is no "read, then claim" window. Returns the pointer,
 * 0 (closed) or VC_PTR_BUSY (another thread holds it). vc_ptr_release puts the
 * pointer back (or 0 to close it for good). */
#define VC_PTR_BUSY ((uint64_t)1)
static inline uint64_t vc_ptr_claim(vc_u64 *slot) {
    uint64_t p = atomic_load_explicit(&slot->v, memory_order_acquire);
    for (;;) {
        if (p == 0 || p == VC_PTR_BUSY) return p;
        if (atomic_compare_exchange_weak_explicit(&slot->v, &p, VC_PTR_BUSY,
                                                  memory_order_acq_rel, memory_order_acquire))
            return p;
    }
}
static inline void vc_ptr_release(vc_u64 *slot, uint64_t p) {
    atomic_store_explicit(&slot->v, p, memory_order_release);
}

static inline void vc_fence_acquire(void) { atomic_thread_fence(memory_order_acquire); }
static inline void vc_fence_release(void) { atomic_thread_fence(memory_order_release); }
static inline void vc_fence_seq_cst(void) { atomic_thread_fence(memory_order_seq_cst); }

/* Spin-wait hint for busy loops (test harnesses). */
static inline void vc_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif /* VOICECORE_VC_ATOMIC_H */

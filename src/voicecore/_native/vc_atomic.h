/* C11 atomics for voicecore's lock-free rings (ring.pyx).
 *
 * Cython has no C11 atomics of its own (libcpp.atomic needs C++), so the rings
 * keep their shared positions in vc_u64 and touch them only through these
 * wrappers. Each wrapper names its memory order; see ring.pyx for which
 * side of which ring uses which order and why.
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

static inline void vc_fence_acquire(void) { atomic_thread_fence(memory_order_acquire); }
static inline void vc_fence_release(void) { atomic_thread_fence(memory_order_release); }
static inline void vc_fence_seq_cst(void) { atomic_thread_fence(memory_order_seq_cst); }

/* Spin-wait hint for busy loops (stress harness only). */
static inline void vc_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif /* VOICECORE_VC_ATOMIC_H */

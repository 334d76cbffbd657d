/* Per-call buffers on transparent huge pages.
 *
 * An engine walks every call's jitter buffer and session state once per
 * 20 ms; with 4 KiB pages each call costs about ten TLB misses per tick (its
 * session, slots, the payload slot read and the one written, the history,
 * the delay histogram ...), and with 1,000 calls none of them stays in the
 * TLB. These blocks come instead from 32 MiB chunks advised MADV_HUGEPAGE
 * (2 MiB pages: a thousand calls fit in the TLB), carved with a bump pointer;
 * a freed block goes to a free list of its size (rounded to 64 bytes) and is
 * reused by the next block of that size, so the memory is bounded by the
 * peak number of calls. Chunks are not returned to the system.
 *
 * Blocks are 64-byte aligned and carry a 64-byte header (size class, origin).
 * Falls back to the C allocator (same header) for blocks over 4 MiB, when
 * more than VC_HM_CLASSES sizes are in use, when mmap fails, under
 * AddressSanitizer (so it still sees every overflow), on systems without
 * MADV_HUGEPAGE, and when VOICECORE_HUGEPAGES=0 is set in the environment
 * (read once, at the first allocation). vc_hm_alloc / vc_hm_calloc /
 * vc_hm_free are thread-safe (a mutex; they are not on any per-packet path).
 *
 * Header-only: each extension module that includes it has its own arena.
 */
#ifndef VC_HUGEMEM_H
#define VC_HUGEMEM_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define VC_HM_NO_ARENA 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VC_HM_NO_ARENA 1
#endif
#endif
#if !defined(__linux__) || !defined(MADV_HUGEPAGE)
#define VC_HM_NO_ARENA 1
#endif

#define VC_HM_CHUNK ((size_t)32 << 20)
#define VC_HM_PAGE ((size_t)2 << 20)
#define VC_HM_HDR 64
#define VC_HM_MAX ((size_t)4 << 20)
#define VC_HM_CLASSES 64
#define VC_HM_MAGIC_ARENA 0x48756765u   /* "Huge" */
#define VC_HM_MAGIC_HEAP 0x48656170u    /* "Heap" */

typedef struct {
    void *next;          /* free-list link while the block is free */
    uint32_t magic;
    int32_t cls;         /* size class (arena blocks) */
} vc_hm_hdr;

typedef struct {
    pthread_mutex_t mu;
    int state;           /* 0 not decided yet, 1 arena, -1 C allocator */
    char *cur, *end;     /* bump range of the current chunk */
    size_t size[VC_HM_CLASSES];
    void *free_[VC_HM_CLASSES];
    int nclasses;
    uint64_t chunks, arena_blocks, heap_blocks;
} vc_hm_t;

static vc_hm_t vc_hm = {PTHREAD_MUTEX_INITIALIZER, 0, NULL, NULL, {0}, {NULL}, 0, 0, 0, 0};

/* Write a zero byte into every 4 KiB page of [p, p + n) (and the last byte)
 * so that its pages are mapped now, by the thread that allocates, and not at
 * their first use by the audio I/O thread: a first touch there is a page
 * fault in the middle of a tick (a zeroed page; a zeroed 2 MiB page with
 * transparent huge pages). Only for memory that is zero (fresh from calloc
 * or mmap, whose pages are often not mapped yet) or whose contents do not
 * matter (fresh from malloc): a write alone, since a read first would map
 * the shared zero page and then fault again on the write. */
static inline void vc_prefault(void *p, size_t n) {
    volatile char *c = (volatile char *)p;
    size_t i;
    if (p == NULL || n == 0) return;
    for (i = 0; i < n; i += 4096) c[i] = 0;
    c[n - 1] = 0;
}

/* the arena's figures: chunks mapped, blocks now live in it and in the C allocator */
static inline void vc_hm_stats(uint64_t *chunks, uint64_t *arena_blocks, uint64_t *heap_blocks) {
    pthread_mutex_lock(&vc_hm.mu);
    *chunks = vc_hm.chunks;
    *arena_blocks = vc_hm.arena_blocks;
    *heap_blocks = vc_hm.heap_blocks;
    pthread_mutex_unlock(&vc_hm.mu);
}

static inline void *vc_hm__heap(size_t n, int zero) {
    void *raw = NULL;
    vc_hm_hdr *h;
    if (n > SIZE_MAX - VC_HM_HDR || posix_memalign(&raw, 64, n + VC_HM_HDR) != 0) return NULL;
    if (zero) memset((char *)raw + VC_HM_HDR, 0, n);
    else vc_prefault((char *)raw + VC_HM_HDR, n);
    h = (vc_hm_hdr *)raw;
    h->next = NULL;
    h->magic = VC_HM_MAGIC_HEAP;
    h->cls = -1;
    pthread_mutex_lock(&vc_hm.mu);
    vc_hm.heap_blocks++;
    pthread_mutex_unlock(&vc_hm.mu);
    return (char *)raw + VC_HM_HDR;
}

#ifndef VC_HM_NO_ARENA
/* a new chunk (vc_hm.mu held); 0 on success */
static inline int vc_hm__chunk(void) {
    size_t len = VC_HM_CHUNK + VC_HM_PAGE;
    char *p = (char *)mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *a;
    if (p == (char *)MAP_FAILED) return -1;
    a = (char *)(((uintptr_t)p + VC_HM_PAGE - 1) & ~(uintptr_t)(VC_HM_PAGE - 1));
    /* keep only the aligned chunk */
    if (a > p) munmap(p, (size_t)(a - p));
    if (a + VC_HM_CHUNK < p + len) munmap(a + VC_HM_CHUNK, (size_t)(p + len - (a + VC_HM_CHUNK)));
    (void)madvise(a, VC_HM_CHUNK, MADV_HUGEPAGE);   /* a hint: 4 KiB pages if refused */
    vc_hm.cur = a;
    vc_hm.end = a + VC_HM_CHUNK;
    vc_hm.chunks++;
    return 0;
}
#endif

/* n bytes, 64-byte aligned; zeroed if ``zero``. NULL when out of memory. */
static inline void *vc_hm_alloc2(size_t n, int zero) {
#ifdef VC_HM_NO_ARENA
    return vc_hm__heap(n, zero);
#else
    size_t sz;
    int k;
    char *raw;
    vc_hm_hdr *h;
    int state = __atomic_load_n(&vc_hm.state, __ATOMIC_ACQUIRE);
    if (state == 0) {
        const char *e = getenv("VOICECORE_HUGEPAGES");
        state = (e != NULL && strcmp(e, "0") == 0) ? -1 : 1;
        __atomic_store_n(&vc_hm.state, state, __ATOMIC_RELEASE);
    }
    if (state < 0 || n == 0 || n > VC_HM_MAX) return vc_hm__heap(n, zero);
    sz = (n + 63) & ~(size_t)63;
    pthread_mutex_lock(&vc_hm.mu);
    for (k = 0; k < vc_hm.nclasses && vc_hm.size[k] != sz; k++) {
    }
    if (k == vc_hm.nclasses) {
        if (k == VC_HM_CLASSES) {
            pthread_mutex_unlock(&vc_hm.mu);
            return vc_hm__heap(n, zero);
        }
        vc_hm.size[k] = sz;
        vc_hm.free_[k] = NULL;
        vc_hm.nclasses++;
    }
    if (vc_hm.free_[k] != NULL) {
        h = (vc_hm_hdr *)vc_hm.free_[k];
        vc_hm.free_[k] = h->next;
        vc_hm.arena_blocks++;
        pthread_mutex_unlock(&vc_hm.mu);
        h->next = NULL;
        if (zero) memset((char *)h + VC_HM_HDR, 0, sz);   /* a reused block */
        return (char *)h + VC_HM_HDR;
    }
    if (vc_hm.cur == NULL || (size_t)(vc_hm.end - vc_hm.cur) < sz + VC_HM_HDR) {
        if (vc_hm__chunk() != 0) {
            pthread_mutex_unlock(&vc_hm.mu);
            return vc_hm__heap(n, zero);
        }
    }
    raw = vc_hm.cur;                 /* never used: zero from mmap */
    vc_hm.cur += sz + VC_HM_HDR;
    vc_hm.arena_blocks++;
    pthread_mutex_unlock(&vc_hm.mu);
    vc_prefault(raw + VC_HM_HDR, sz);   /* pages nobody touched yet: here, not in the audio thread */
    h = (vc_hm_hdr *)raw;
    h->next = NULL;
    h->magic = VC_HM_MAGIC_ARENA;
    h->cls = k;
    return raw + VC_HM_HDR;
#endif
}

static inline void *vc_hm_alloc(size_t n) { return vc_hm_alloc2(n, 0); }

static inline void *vc_hm_calloc(size_t count, size_t size) {
    if (size != 0 && count > SIZE_MAX / size) return NULL;
    return vc_hm_alloc2(count * size, 1);
}

/* frees a block of vc_hm_alloc / vc_hm_calloc (NULL: nothing) */
static inline void vc_hm_free(void *p) {
    vc_hm_hdr *h;
    if (p == NULL) return;
    h = (vc_hm_hdr *)((char *)p - VC_HM_HDR);
    if (h->magic == VC_HM_MAGIC_ARENA) {
        pthread_mutex_lock(&vc_hm.mu);
        h->next = vc_hm.free_[h->cls];
        vc_hm.free_[h->cls] = h;
        vc_hm.arena_blocks--;
        pthread_mutex_unlock(&vc_hm.mu);
    } else {
        pthread_mutex_lock(&vc_hm.mu);
        vc_hm.heap_blocks--;
        pthread_mutex_unlock(&vc_hm.mu);
        free(h);
    }
}

#endif

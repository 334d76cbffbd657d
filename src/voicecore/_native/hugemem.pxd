# Per-call buffers on transparent huge pages (vc_hugemem.h): blocks for the
# state an engine walks every tick (jitter buffers, sessions). Free a block of
# vc_hm_alloc / vc_hm_calloc with vc_hm_free only. Thread-safe, not for a
# per-packet path (a mutex).
from libc.stdint cimport uint64_t

cdef extern from "vc_hugemem.h" nogil:
    void* vc_hm_alloc(size_t n)
    void* vc_hm_calloc(size_t count, size_t size)
    void vc_hm_free(void* p)
    # map the pages of zeroed (or don't-care) memory now, not in the audio thread
    void vc_prefault(void* p, size_t n)
    void vc_hm_stats(uint64_t* chunks, uint64_t* arena_blocks, uint64_t* heap_blocks)

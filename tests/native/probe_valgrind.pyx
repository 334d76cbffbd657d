# Test-only (tests/test_valgrind.py): known memory errors in a module that is
# not voicecore, so the test can show that the valgrind helper counts errors
# by their culprit frame (this file's module), and nothing else.
from libc.stdlib cimport malloc, free

cdef extern from *:
    """
    static void *volatile probe_kept = 0;   /* volatile: every store happens */
    """
    void* probe_kept


def read_past_the_end() -> int:
    cdef unsigned char* p = <unsigned char*>malloc(16)
    cdef int i
    for i in range(16):
        p[i] = <unsigned char>i
    cdef int v = (<volatile unsigned char*>p)[16]   # one past the block: "Invalid read of size 1"
    free(p)
    return v


def leak(int n) -> None:
    """Drop the only pointer to a block: "definitely lost"."""
    global probe_kept
    probe_kept = malloc(n)
    probe_kept = malloc(n)

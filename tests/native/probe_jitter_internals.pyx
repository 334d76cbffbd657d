# Test-only: runs the jitter buffer's concealment (the cdef inline code of
# voicecore/_native/media/_jitter/plc.pxd, compiled into this module) on a
# history whose first sample sits right after an inaccessible guard page, in
# the worst case: an erasure that starts just after the history was shifted
# (exactly hist_keep samples of history before it). Any read before the
# history faults (SIGSEGV), so tests/test_jitter_review.py runs it in a
# subprocess and checks that it exits cleanly.
from libc.stdint cimport int16_t, int64_t, uint8_t
from libc.string cimport memcpy
from posix.mman cimport mmap, munmap, mprotect, PROT_NONE, PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_ANONYMOUS, MAP_FAILED
from posix.unistd cimport sysconf, _SC_PAGESIZE
from voicecore._native.media.jitter cimport JitterBuffer
from voicecore._native.media._jitter.state cimport JBState, JSlot, SLOT_MEDIA, CODEC_PCMU
from voicecore._native.media._jitter.plc cimport jb_conceal, jb_end_ola, jb_plc_reach


def reach(int r8) -> int:
    """Samples of history the concealment declares it reads before an erasure."""
    return jb_plc_reach(r8)


def conceal_after_guard(JitterBuffer jb, const int16_t[::1] history, const uint8_t[::1] next_packet, int frames):
    """Copy the last ``hist_keep`` samples of ``history`` to just after a guard
    page, then conceal ``frames`` frames from there (the packet after the gap,
    ``next_packet``, is known from the second frame on, so the two-sided blend
    and the next packet's pitch search run too) and overlap-add into a frame
    of it. Returns the samples produced."""
    cdef JBState st = jb._s[0]               # a copy: the object's own history is untouched
    cdef long page = sysconf(_SC_PAGESIZE)
    cdef size_t nbytes = ((st.hist_size * sizeof(int16_t) + page - 1) // page) * page
    cdef char* base
    cdef int16_t* hist
    cdef JSlot fut
    cdef int f, i, keep = st.hist_keep, F = st.frame
    if history.shape[0] < keep or next_packet.shape[0] > st.max_payload or frames * F + 2 * F > st.hist_size - keep:
        raise ValueError("history too short, packet too long or too many frames")
    base = <char*>mmap(NULL, page + nbytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    if <void*>base == MAP_FAILED:
        raise MemoryError()
    try:
        if mprotect(base, page, PROT_NONE) != 0:
            raise OSError("mprotect failed")
        hist = <int16_t*>(base + page)
        memcpy(hist, &history[history.shape[0] - keep], keep * sizeof(int16_t))
        st.hist = hist
        st.hist_end = keep
        st.plc.active = False
        memcpy(st.pay, &next_packet[0], next_packet.shape[0])
        fut.seq = 0
        fut.ts = 0
        fut.ns = next_packet.shape[0]
        fut.state = SLOT_MEDIA
        fut.codec = CODEC_PCMU
        for f in range(frames):
            with nogil:
                jb_conceal(&st, F, &fut if f > 0 else NULL, (frames - f) * F)
            st.hist_end += F
        for i in range(F):
            hist[st.hist_end + i] = history[i]
        st.plc.end_left = st.plc.end_len = 40 * st.r8
        with nogil:
            jb_end_ola(&st.plc, hist + st.hist_end, F, st.r8)
        st.hist_end += F
        return [hist[i] for i in range(keep, st.hist_end)]
    finally:
        munmap(base, page + nbytes)

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


def hot_lines() -> dict:
    """The 64-byte lines of JBState (its start is 64-byte aligned: an arena
    block) holding the fields one push and one pull of an established PCMU
    stream read or write (state.pxd's layout note): {line: [fields]}."""
    cdef JBState s
    cdef char* b = <char*>&s
    cdef dict out = {}
    cdef size_t o
    fields = {
        "st.frames_out": (<size_t>&s.st.frames_out, 8), "st.audio_frames": (<size_t>&s.st.audio_frames, 8),
        "st.received": (<size_t>&s.st.received, 8),
        "tsn": (<size_t>&s.tsn, 16), "slots": (<size_t>&s.slots, 8), "pay": (<size_t>&s.pay, 8),
        "hist": (<size_t>&s.hist, 8), "max_ext": (<size_t>&s.max_ext, 8), "ref_ext_ts": (<size_t>&s.ref_ext_ts, 8),
        "max_arrival": (<size_t>&s.max_arrival, 8), "max_media_ts": (<size_t>&s.max_media_ts, 8),
        "media_end": (<size_t>&s.media_end, 8), "last_own_ns": (<size_t>&s.last_own_ns, 8),
        "t0_ns": (<size_t>&s.t0_ns, 8), "read_seq": (<size_t>&s.read_seq, 16), "d": (<size_t>&s.d, sizeof(s.d)),
        "rr.received": (<size_t>&s.rr.received, 8), "rr.jitter": (<size_t>&s.rr.jitter, 16),
        "rr.valid": (<size_t>&s.rr.valid, 4), "rr.have_transit": (<size_t>&s.rr.have_transit, 4),
        "rr.max_seq": (<size_t>&s.rr.max_seq, 2),
        "rate": (<size_t>&s.rate, 4), "frame": (<size_t>&s.frame, 4), "capacity": (<size_t>&s.capacity, 4),
        "mask": (<size_t>&s.mask, 4), "max_payload": (<size_t>&s.max_payload, 4), "dl": (<size_t>&s.dl, 4),
        "scodec": (<size_t>&s.scodec, 4), "dtmf_pt": (<size_t>&s.dtmf_pt, 4), "cn_pt": (<size_t>&s.cn_pt, 4),
        "max_delay": (<size_t>&s.max_delay, 4), "hist_size": (<size_t>&s.hist_size, 4),
        "ssrc": (<size_t>&s.ssrc, 4), "ref_ts32": (<size_t>&s.ref_ts32, 4), "pkt_ns": (<size_t>&s.pkt_ns, 4),
        "hist_end": (<size_t>&s.hist_end, 4), "adjusting": (<size_t>&s.adjusting, 4), "flags": (<size_t>&s.flags, 4),
        "played_ts": (<size_t>&s.played_ts, 4), "have_stream": (<size_t>&s.have_stream, 4),
        "cand_valid": (<size_t>&s.cand_valid, 4), "in_pause": (<size_t>&s.in_pause, 4),
        "lost_flag": (<size_t>&s.lost_flag, 4), "cn_pause": (<size_t>&s.cn_pause, 4),
        "have_played": (<size_t>&s.have_played, 4), "max_seq16": (<size_t>&s.max_seq16, 2),
        "codec_of_pt[0]": (<size_t>&s.codec_of_pt[0], 1), "codec_of_pt[8]": (<size_t>&s.codec_of_pt[8], 1),
        "fr.n": (<size_t>&s.fr.n, 4), "dt.active": (<size_t>&s.dt.active, 4), "dt.q_tail": (<size_t>&s.dt.q_tail, 8),
        "dt.q_head": (<size_t>&s.dt.q_head, 8), "plc.active": (<size_t>&s.plc.active, 4),
        "plc.end_left": (<size_t>&s.plc.end_left, 4),
    }
    for name, (p, n) in fields.items():
        o = <size_t>p - <size_t>b
        for line in range(o // 64, (o + n - 1) // 64 + 1):
            out.setdefault(line, []).append(name)
    return out

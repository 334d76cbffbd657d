# Sequencing and probation: where a parsed packet belongs on the stream's
# timeline (RFC 3550 A.1 with MAX_DROPOUT / MAX_MISORDER and 16-bit cycles,
# plus a timestamp-consistency check), the 2-packet probation that starts a
# stream, restarts it or switches SSRC, and storing accepted packets.
from libc.math cimport fabs, llround
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy
from voicecore._native.media._jitter.types cimport (
    R_OK, R_HELD, R_DUPLICATE, R_LATE, R_MALFORMED, R_OVERSIZE, R_UNKNOWN_PT, R_FOREIGN,
    R_FOREIGN_SSRC, R_DISCARDED, R_MALFORMED_DTMF,
)
from voicecore._native.media._jitter.state cimport (
    JBState, JHdr, JSlot, SLOT_EMPTY, SLOT_MEDIA, SLOT_NONMEDIA, SLOT_PLAYED, KIND_MEDIA, KIND_DTMF,
    KIND_CN, CAND_LATE, MAX_DROPOUT, MAX_MISORDER, JUMP_CHECK, MAX_DATAGRAM, PROBATION_NS,
    CAND_PRIORITY_NS,
)
from voicecore._native.media._jitter.parse cimport jb_parse
from voicecore._native.media._jitter.delay cimport jb_now_s, jb_ref, jb_timing
from voicecore._native.media._jitter.dtmf cimport jb_dtmf, jb_dtmf_timeout


cdef inline bint jb_consistent(const JBState* s, uint32_t ts, int64_t now) noexcept nogil:
    """Does the timestamp advance since the newest packet match the time
    elapsed since it arrived (burst loss, DTX, jitter up to the maximum
    delay + 60 ms), rather than a stray or a timestamp discontinuity?"""
    cdef int64_t ext_ts = s.ref_ext_ts + <int32_t>(ts - s.ref_ts32)
    cdef double dts_ns = <double>(ext_ts - s.max_media_ts) * 1e9 / s.rate
    cdef double darr = <double>(now - s.max_arrival)
    cdef double tol = (s.max_delay * 1e9 / s.rate) + 60e6
    return fabs(dts_ns - darr) <= tol


cdef inline bint jb_pair_paced(const JBState* s, uint32_t ssrc, uint32_t ts, int kind, int64_t now) noexcept nogil:
    """Do the probation candidate and this packet form a plausible stream? Their
    timestamps must advance with their arrival times (within the maximum delay +
    60 ms). For a re-anchoring of the established SSRC (timestamp rebase, hold
    and resume) the pair must also arrive at pace (arrival gap >= half the
    timestamp gap): packets released in a burst after a network freeze are
    late on the existing timeline, not a new one."""
    cdef double dts, darr
    if kind != KIND_MEDIA or (s.cand_marker >> 4) != KIND_MEDIA:
        return True
    dts = <double>(<int32_t>(ts - s.cand_ts)) * 1e9 / s.rate
    darr = <double>(now - s.cand_arrival)
    if fabs(dts - darr) > s.max_delay * 1e9 / s.rate + 60e6:
        return False
    if s.have_stream and ssrc == s.ssrc and darr < 0.5 * dts:
        return False
    return True


cdef inline void jb_drop_candidate(JBState* s) noexcept nogil:
    """Count the probation candidate that is being dropped: another SSRC ->
    foreign_ssrc; a packet of the stream's own sequence window that was already
    behind the playout position when it arrived (a burst after a network
    freeze, flagged CAND_LATE when held) -> late; otherwise (a stray) ->
    discarded."""
    s.cand_valid = False
    if s.have_stream and s.cand_ssrc != s.ssrc:
        s.st.foreign_ssrc += 1
    elif s.cand_marker & CAND_LATE:
        s.st.late += 1
    else:
        s.st.discarded += 1


cdef inline void jb_overflow(JBState* s, int64_t ext) noexcept nogil:
    """A packet beyond the window: drop the oldest slots to make room."""
    cdef int64_t new_read = ext - s.capacity + 1, q, stop
    cdef JSlot* sl
    stop = new_read
    if stop > s.read_seq + s.capacity:
        stop = s.read_seq + s.capacity
    q = s.read_seq
    while q < stop:
        sl = &s.slots[q & s.mask]
        if sl.seq == q and (sl.state == SLOT_MEDIA or sl.state == SLOT_NONMEDIA):
            sl.state = SLOT_PLAYED
            s.st.discarded += 1
        else:
            s.st.lost += 1
        q += 1
    if new_read > stop:
        s.st.lost += <uint64_t>(new_read - stop)
    s.read_seq = new_read
    s.lost_flag = True
    s.in_pause = False


cdef inline int jb_accept(JBState* s, int64_t ext, uint16_t seq, uint32_t ts, int kind, int codec,
                          const uint8_t* p, int plen, int64_t now) noexcept nogil:
    """Store a packet of the established stream at extended sequence ``ext``."""
    cdef int64_t ext_ts = s.ref_ext_ts + <int32_t>(ts - s.ref_ts32)
    cdef JSlot* sl = &s.slots[ext & s.mask]
    cdef bint dup = sl.seq == ext and sl.state != SLOT_EMPTY
    if kind == KIND_DTMF:
        if plen < 4:
            s.st.malformed_dtmf += 1
        elif not dup:
            jb_dtmf(s, p, ts, now)
    if dup:
        s.st.duplicates += 1
        return R_DUPLICATE
    if ext > s.max_ext:
        s.max_ext = ext
        s.max_seq16 = seq
        if <int32_t>(ts - s.ref_ts32) > 0:
            s.ref_ext_ts = ext_ts
            s.ref_ts32 = ts
    else:
        s.st.reordered += 1
    s.last_accept_ns = now
    if kind == KIND_MEDIA:
        if plen > 0:
            s.pkt_ns = plen
        jb_timing(s, ext_ts, now)
        if ext_ts >= s.max_media_ts:
            s.max_media_ts = ext_ts
            s.max_arrival = now
    if ext < s.read_seq or (kind == KIND_MEDIA and ext_ts + plen <= s.play_ts):
        s.st.late += 1
        return R_LATE
    if ext >= s.read_seq + s.capacity:
        jb_overflow(s, ext)
        sl = &s.slots[ext & s.mask]
    sl.seq = ext
    sl.ts = ext_ts
    sl.kind = <uint8_t>kind
    sl.codec = <uint8_t>codec
    if kind == KIND_MEDIA and plen > 0:
        sl.state = SLOT_MEDIA
        sl.ns = plen
        memcpy(s.pay + (ext & s.mask) * s.max_payload, p, plen)
    else:
        sl.state = SLOT_NONMEDIA       # DTMF, CN, or an empty / padding-only packet
        sl.ns = 0
        if kind == KIND_CN:
            s.st.cn_frames += 1
            sl.cn_level = p[0] & 0x7F if plen >= 1 else 127
    s.st.received += 1
    if kind == KIND_DTMF and plen < 4:
        return R_MALFORMED_DTMF
    return R_OK


cdef inline int jb_candidate(JBState* s, uint32_t ssrc, uint16_t seq, uint32_t ts, int marker, int kind,
                             int codec, const uint8_t* p, int plen, int64_t now) noexcept nogil:
    """A packet that is not (yet) part of the established stream: with the
    held candidate it may complete a probation pair (start, restart, SSRC
    switch); otherwise it becomes the candidate."""
    cdef int64_t ext, mapped
    if (s.cand_valid and ssrc == s.cand_ssrc and seq == <uint16_t>(s.cand_seq + 1)
            and now - s.cand_arrival <= PROBATION_NS
            and (not s.have_stream or ssrc == s.ssrc or s.last_accept_ns < s.cand_arrival)
            and jb_pair_paced(s, ssrc, ts, kind, now)):
        # Two sequential packets: (re)synchronise on the new stream.
        if s.have_stream:
            if ssrc != s.ssrc:
                s.st.ssrc_switches += 1
            else:
                s.st.sequence_restarts += 1
            ext = s.max_ext + 1
            if s.d.have_transit:
                mapped = llround(jb_now_s(s, s.cand_arrival) - jb_ref(&s.d))
            else:
                mapped = s.max_media_ts
            if mapped < s.max_media_ts + s.pkt_ns:
                mapped = s.max_media_ts + s.pkt_ns    # never over the newest packet
        else:
            s.have_stream = True
            s.t0_ns = s.cand_arrival
            s.d.win_start = s.cand_arrival
            ext = 1 << 20
            mapped = (<int64_t>1 << 33) + s.cand_ts
            s.read_seq = ext
            s.play_ts = mapped
            s.max_media_ts = mapped
            s.in_pause = True
        s.ssrc = ssrc
        s.max_ext = ext - 1
        s.max_seq16 = <uint16_t>(s.cand_seq - 1)
        s.ref_ext_ts = mapped
        s.ref_ts32 = s.cand_ts
        s.max_arrival = s.cand_arrival
        s.cand_valid = False
        jb_accept(s, ext, s.cand_seq, s.cand_ts, s.cand_marker >> 4, s.cand_pt,
                  s.cand_pay, s.cand_len, s.cand_arrival)
        return jb_accept(s, ext + 1, seq, ts, kind, codec, p, plen, now)
    if s.cand_valid and ssrc != s.cand_ssrc and now - s.cand_arrival < CAND_PRIORITY_NS:
        # another source is already on probation: first come keeps priority
        # briefly, so two interleaved SSRCs cannot keep resetting each other
        if s.have_stream and ssrc == s.ssrc:
            s.st.discarded += 1
            return R_DISCARDED
        s.st.foreign_ssrc += 1
        return R_FOREIGN_SSRC
    # not (yet) acceptable: hold it as the new probation candidate
    if s.cand_valid:
        jb_drop_candidate(s)
    s.cand_valid = True
    s.cand_ssrc = ssrc
    s.cand_seq = seq
    s.cand_ts = ts
    s.cand_arrival = now
    s.cand_marker = <uint8_t>((kind << 4) | marker)
    s.cand_pt = <uint8_t>codec
    if plen > MAX_DATAGRAM:
        plen = MAX_DATAGRAM
    memcpy(s.cand_pay, p, plen)
    s.cand_len = plen
    if s.have_stream and ssrc != s.ssrc:
        return R_FOREIGN_SSRC
    return R_HELD


cdef inline int jb_push(JBState* s, const uint8_t* d, Py_ssize_t n, int64_t now) noexcept nogil:
    """One datagram: parse, place on the timeline, store. Returns an R_* code."""
    cdef JHdr h
    cdef uint32_t udelta
    cdef int code
    cdef double off_ns, tol_ns
    if s.dt.active:
        jb_dtmf_timeout(s, now)
    code = jb_parse(s, d, n, &h)
    if code != R_OK:
        if code == R_MALFORMED:
            s.st.malformed += 1
        elif code == R_FOREIGN:
            s.st.foreign += 1
        elif code == R_OVERSIZE:
            s.st.oversize += 1
        else:
            s.st.unknown_pt += 1
        return code
    if s.have_stream and h.ssrc == s.ssrc:
        udelta = <uint16_t>(h.seq - s.max_seq16)
        if udelta < <uint32_t>MAX_DROPOUT:
            # A forward packet whose timestamp disagrees with its arrival time
            # (relative to the newest packet) by more than the maximum delay
            # plus a margin is either a stray or a timestamp discontinuity
            # (rebase, hold and resume): probation, and only 2 sequential
            # packets re-map the timeline. Small gaps of audio / CN are checked
            # too (a stray with seq +1..+8); DTMF timestamps name the event
            # start, so they are checked only past JUMP_CHECK.
            if (udelta != 0 and (udelta > <uint32_t>JUMP_CHECK or h.kind != KIND_DTMF)
                    and not jb_consistent(s, h.ts, now)):
                # already behind the playout position: counted late if it
                # never validates (a burst released after a network freeze)
                if (h.kind == KIND_MEDIA and s.ref_ext_ts + <int32_t>(h.ts - s.ref_ts32)
                        + h.plen <= s.play_ts):
                    h.marker |= CAND_LATE
                return jb_candidate(s, h.ssrc, h.seq, h.ts, h.marker, h.kind, h.codec, d + h.off, h.plen, now)
            return jb_accept(s, s.max_ext + udelta, h.seq, h.ts, h.kind, h.codec, d + h.off, h.plen, now)
        elif udelta <= <uint32_t>(65536 - MAX_MISORDER):
            return jb_candidate(s, h.ssrc, h.seq, h.ts, h.marker, h.kind, h.codec, d + h.off, h.plen, now)
        if h.kind != KIND_DTMF:
            # reordered: a timestamp far outside the timeline never reaches the
            # delay estimate (too old: late; in the future: a stray)
            off_ns = (<double>(<int32_t>(h.ts - s.ref_ts32) + s.ref_ext_ts - s.max_media_ts)
                      * 1e9 / s.rate - <double>(now - s.max_arrival))
            tol_ns = s.max_delay * 1e9 / s.rate + 60e6
            if off_ns < -tol_ns:
                s.st.late += 1
                return R_LATE
            if off_ns > tol_ns:
                s.st.discarded += 1
                return R_DISCARDED
        return jb_accept(s, s.max_ext - <int64_t>(65536 - udelta), h.seq, h.ts, h.kind, h.codec,
                         d + h.off, h.plen, now)
    return jb_candidate(s, h.ssrc, h.seq, h.ts, h.marker, h.kind, h.codec, d + h.off, h.plen, now)

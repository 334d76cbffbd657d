# Sequencing and probation: where a parsed packet belongs on the stream's
# timeline (RFC 3550 A.1 with MAX_DROPOUT / MAX_MISORDER and 16-bit cycles,
# plus a timestamp-consistency check), the 2-packet probation that starts or
# restarts a stream, the takeover by another SSRC once the established one has
# stopped, storing accepted packets, and the outcome counters (one per push).
from libc.math cimport fabs
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy
from voicecore._native.media._jitter.types cimport (
    R_OK, R_HELD, R_DUPLICATE, R_LATE, R_MALFORMED, R_OVERSIZE, R_UNKNOWN_PT, R_FOREIGN,
    R_FOREIGN_SSRC, R_DISCARDED, R_MALFORMED_DTMF,
)
from voicecore._native.media._jitter.state cimport (
    JBState, JHdr, JSlot, SLOT_EMPTY, SLOT_MEDIA, SLOT_NONMEDIA, SLOT_PLAYED, KIND_MEDIA, KIND_DTMF,
    KIND_CN, CAND_LATE, MAX_DROPOUT, MAX_MISORDER, JUMP_CHECK, MAX_DATAGRAM, PROBATION_NS,
    CAND_PRIORITY_NS, INTRUDER_QUIET_NS, FR_CAP, N_INTRUDERS, JForeign,
)
from voicecore._native.media._jitter.rtcp cimport jb_rr_init, jb_rr_update, jb_rr_reset_jitter
from voicecore._native.media._jitter.parse cimport jb_parse
from voicecore._native.media._jitter.delay cimport jb_now_s, jb_ref, jb_timing
from voicecore._native.media._jitter.dtmf cimport jb_dtmf, jb_dtmf_timeout
from voicecore._native.media._jitter.codec cimport jb_samples, jb_ts_delta
from voicecore._native.media._jitter.arith cimport jb_elapsed, jb_tl_round


cdef inline bint jb_consistent(const JBState* s, uint32_t ts, int64_t now) noexcept nogil:
    """Does the timestamp advance since the newest packet match the time
    elapsed since it arrived (burst loss, DTX, jitter up to the maximum
    delay + 60 ms), rather than a stray or a timestamp discontinuity?"""
    cdef int64_t ext_ts = s.ref_ext_ts + jb_ts_delta(s, <int32_t>(ts - s.ref_ts32))
    cdef double dts_ns = <double>(ext_ts - s.max_media_ts) * 1e9 / s.rate
    cdef double darr = <double>jb_elapsed(now, s.max_arrival)
    cdef double tol = (s.max_delay * 1e9 / s.rate) + 60e6
    return fabs(dts_ns - darr) <= tol


cdef inline void jb_count(JBState* s, int r) noexcept nogil:
    """Increment the outcome counter that push result ``r`` names (R_HELD is
    the ``held`` gauge, kept by the probation code)."""
    if r == R_OK:
        s.st.received += 1
    elif r == R_DUPLICATE:
        s.st.duplicates += 1
    elif r == R_LATE:
        s.st.late += 1
    elif r == R_MALFORMED:
        s.st.malformed += 1
    elif r == R_OVERSIZE:
        s.st.oversize += 1
    elif r == R_UNKNOWN_PT:
        s.st.unknown_pt += 1
    elif r == R_FOREIGN:
        s.st.foreign += 1
    elif r == R_FOREIGN_SSRC:
        s.st.foreign_ssrc += 1
    elif r == R_DISCARDED:
        s.st.discarded += 1
    elif r == R_MALFORMED_DTMF:
        s.st.malformed_dtmf += 1


cdef inline bint jb_ts_paced(const JBState* s, uint32_t ts0, int64_t arr0, uint32_t ts, int64_t now) noexcept nogil:
    """Do two packets' timestamps advance with their arrival times (within the
    maximum delay + 60 ms)?"""
    cdef double dts = <double>(<int32_t>(ts - ts0)) * 1e9 / s.rtp_rate
    return fabs(dts - <double>jb_elapsed(now, arr0)) <= s.max_delay * 1e9 / s.rate + 60e6


cdef inline bint jb_pair_paced(const JBState* s, uint32_t ssrc, uint32_t ts, int kind, int64_t now) noexcept nogil:
    """Do the probation candidate and this packet form a plausible stream? Their
    timestamps must advance with their arrival times. For a re-anchoring of the
    established SSRC (timestamp rebase, hold and resume) the pair must also
    arrive at pace (arrival gap >= half the timestamp gap): packets released in
    a burst after a network freeze are late on the existing timeline, not a new
    one."""
    cdef double dts, darr
    if kind != KIND_MEDIA or (s.cand_marker >> 4) != KIND_MEDIA:
        return True
    if not jb_ts_paced(s, s.cand_ts, s.cand_arrival, ts, now):
        return False
    dts = <double>(<int32_t>(ts - s.cand_ts)) * 1e9 / s.rtp_rate
    darr = <double>jb_elapsed(now, s.cand_arrival)
    if s.have_stream and ssrc == s.ssrc and darr < 0.5 * dts:
        return False
    return True


cdef inline void jb_drop_candidate(JBState* s) noexcept nogil:
    """Probation ends without validation: the held packet moves from ``held``
    to ``late`` when it was already behind the playout position on arrival (a
    burst after a network freeze, flagged CAND_LATE) or to ``discarded`` (a
    stray)."""
    s.cand_valid = False
    s.st.held = 0
    if s.cand_marker & CAND_LATE:
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
            s.st.window_overflow += 1      # stored (counted in received), never played
        else:
            s.st.lost += 1
        q += 1
    if new_read > stop:
        s.st.lost += <uint64_t>(new_read - stop)
    s.read_seq = new_read
    s.lost_flag = True
    s.in_pause = False


cdef inline int jb_accept(JBState* s, int64_t ext, uint16_t seq, uint32_t ts, int kind, int codec,
                          const uint8_t* p, int plen, int64_t now, bint rr) noexcept nogil:
    """Store a packet of the established stream at extended sequence ``ext``.
    Returns R_OK, R_DUPLICATE, R_LATE or R_MALFORMED_DTMF; the caller counts
    the outcome. ``rr``: the packet counts for the RTCP figures (A.1)."""
    cdef int64_t ext_ts = s.ref_ext_ts + jb_ts_delta(s, <int32_t>(ts - s.ref_ts32))
    cdef JSlot* sl = &s.slots[ext & s.mask]
    cdef bint dup = sl.seq == ext and sl.state != SLOT_EMPTY
    cdef int ns = jb_samples(s, codec, p, plen) if kind == KIND_MEDIA else 0   # samples (timeline)
    if rr:
        jb_rr_update(&s.rr, seq)
    if dup:
        return R_DUPLICATE
    if kind == KIND_DTMF and plen >= 4:
        jb_dtmf(s, p, ts, now)
    if ext > s.max_ext:
        s.max_ext = ext
        s.max_seq16 = seq
        if <int32_t>(ts - s.ref_ts32) > 0:
            s.ref_ext_ts = ext_ts
            s.ref_ts32 = ts
    else:
        s.st.reordered += 1
    if kind == KIND_MEDIA:
        if ns > 0:
            s.pkt_ns = ns
        jb_timing(s, ext_ts, now)
        if ext_ts >= s.max_media_ts:
            s.max_media_ts = ext_ts
            s.max_arrival = now
        if ext_ts + ns > s.media_end:
            s.media_end = ext_ts + ns
    if ext < s.read_seq or (kind == KIND_MEDIA and ns > 0 and ext_ts + ns <= s.play_ts):
        return R_LATE
    if kind == KIND_MEDIA and ns > 0 and ext_ts < s.play_ts:
        s.st.late_partial += 1          # its start was already concealed: played from the middle
    if ext >= s.read_seq + s.capacity:
        jb_overflow(s, ext)
        sl = &s.slots[ext & s.mask]
    sl.seq = ext
    sl.ts = ext_ts
    sl.kind = <uint8_t>kind
    sl.codec = <uint8_t>codec
    if kind == KIND_MEDIA and ns > 0:
        sl.state = SLOT_MEDIA
        sl.ns = ns
        sl.plen = plen
        memcpy(s.pay + (ext & s.mask) * s.max_payload, p, plen)
    else:
        sl.state = SLOT_NONMEDIA       # DTMF, CN, or an empty / padding-only packet
        sl.ns = 0
        if kind == KIND_CN:
            s.st.cn_frames += 1
            sl.cn_level = p[0] & 0x7F if plen >= 1 else 127
    if kind == KIND_DTMF and plen < 4:
        return R_MALFORMED_DTMF
    return R_OK


cdef inline void jb_own(JBState* s, int64_t now, bint advanced) noexcept nogil:
    """A packet of the established SSRC inside its sequence window arrived:
    the stream is alive. A foreign SSRC whose run of packets is interleaved
    with two or more of ours that advance the stream is remembered as an
    intruder: it may take over only after INTRUDER_QUIET_NS of silence."""
    cdef JForeign* f = &s.fr
    cdef int i
    s.last_own_ns = now
    if advanced and f.n > 0:
        f.own_since += 1
        if f.own_since == 2:
            for i in range(f.n_intruders):
                if f.intruders[i] == f.ssrc:
                    return
            f.intruders[f.n_intruders % N_INTRUDERS] = f.ssrc
            if f.n_intruders < N_INTRUDERS:
                f.n_intruders += 1


cdef inline void jb_start_source(JBState* s, uint32_t ssrc, uint16_t seq, uint32_t ts, int64_t arrival,
                                 int64_t mapped) noexcept nogil:
    """Anchor a (new) source: its packet ``seq`` / ``ts`` arrived at ``arrival``
    and plays at extended timestamp ``mapped``, right after what is buffered."""
    s.ssrc = ssrc
    s.max_seq16 = <uint16_t>(seq - 1)
    s.ref_ext_ts = mapped
    s.ref_ts32 = ts
    s.max_arrival = arrival
    s.last_own_ns = arrival


cdef inline int64_t jb_map_arrival(JBState* s, int64_t arrival) noexcept nogil:
    """Where a new timeline's first packet goes: at the delay of the fastest
    recent packet, never over the audio already buffered."""
    cdef int64_t mapped
    if s.d.have_transit:
        mapped = jb_tl_round(jb_now_s(s, arrival) - jb_ref(&s.d))
    else:
        mapped = s.max_media_ts
    if mapped < s.media_end:
        mapped = s.media_end
    return mapped


cdef inline int jb_candidate(JBState* s, uint32_t ssrc, uint16_t seq, uint32_t ts, int marker, int kind,
                             int codec, const uint8_t* p, int plen, int64_t now) noexcept nogil:
    """A packet of the established SSRC off its timeline (a stray, or the start
    of a restart), or any packet before a stream exists: with the held
    candidate it may complete a probation pair (start or restart); otherwise
    it becomes the candidate (R_HELD)."""
    cdef int64_t mapped
    cdef int code
    cdef uint16_t gap
    if (s.cand_valid and ssrc == s.cand_ssrc and seq == <uint16_t>(s.cand_seq + 1)
            and jb_elapsed(now, s.cand_arrival) <= PROBATION_NS
            and jb_pair_paced(s, ssrc, ts, kind, now)):
        # Two sequential packets: (re)synchronise on them.
        s.cand_valid = False
        s.st.held = 0
        if s.have_stream:
            s.st.sequence_restarts += 1
            mapped = jb_map_arrival(s, s.cand_arrival)
            # RTCP (A.1): a jump re-initialises the source on the second packet
            gap = <uint16_t>(s.cand_seq - s.rr.max_seq)
            if s.rr.valid and gap >= MAX_DROPOUT and gap <= 65536 - MAX_MISORDER:
                s.rr.valid = False
        else:
            s.have_stream = True
            s.t0_ns = s.cand_arrival
            s.d.win_start = s.cand_arrival
            mapped = (<int64_t>1 << 33) + s.cand_ts
            s.read_seq = 1 << 20
            s.max_ext = s.read_seq - 1
            s.play_ts = mapped
            s.max_media_ts = mapped
            s.media_end = mapped
            s.in_pause = True
        jb_start_source(s, ssrc, s.cand_seq, s.cand_ts, s.cand_arrival, mapped)
        code = jb_accept(s, s.max_ext + 1, s.cand_seq, s.cand_ts, s.cand_marker >> 4, s.cand_pt,
                         s.cand_pay, s.cand_len, s.cand_arrival, s.rr.valid)
        jb_count(s, code)                 # the held packet's outcome
        if not s.rr.valid:
            jb_rr_init(&s.rr, seq)
            code = jb_accept(s, s.max_ext + 1, seq, ts, kind, codec, p, plen, now, False)
        else:
            code = jb_accept(s, s.max_ext + 1, seq, ts, kind, codec, p, plen, now, True)
        jb_count(s, code)
        return code
    if not s.have_stream and s.cand_valid and ssrc != s.cand_ssrc and jb_elapsed(now, s.cand_arrival) < CAND_PRIORITY_NS:
        # another source is already on probation: first come keeps priority
        # briefly, so two interleaved SSRCs cannot keep resetting each other
        s.st.foreign_ssrc += 1
        return R_FOREIGN_SSRC
    # not (yet) acceptable: hold it as the new probation candidate
    if s.cand_valid:
        jb_drop_candidate(s)
    s.cand_valid = True
    s.st.held = 1
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
    return R_HELD


cdef inline bint jb_takeover_ready(const JBState* s, int64_t now, int horizon) noexcept nogil:
    """May the kept foreign SSRC take the stream over now? It must have two or
    more sequential packets, the newest of them recent (it is still sending),
    the established stream must have nothing left to play within ``horizon``
    samples (it stopped, or went quiet for longer than the playout delay),
    and an SSRC seen interleaved with the stream must also wait until the
    stream has been silent for INTRUDER_QUIET_NS."""
    cdef const JForeign* f = &s.fr
    cdef int i
    if f.n < 2:
        return False
    if jb_elapsed(now, f.arrival[(f.head + f.n - 1) % FR_CAP]) > CAND_PRIORITY_NS:
        return False
    if s.media_end > s.play_ts + horizon:
        return False
    for i in range(f.n_intruders):
        if f.intruders[i] == f.ssrc:
            return jb_elapsed(now, s.last_own_ns) >= INTRUDER_QUIET_NS
    return True


cdef inline int jb_takeover(JBState* s, int64_t now, bint tail_is_push) noexcept nogil:
    """The kept foreign SSRC becomes the stream: its packets (in sequence
    order, whatever order they arrived in) are stored from where the old
    stream's audio ends, at the delay of the fastest of them, never earlier.
    They were counted in foreign_ssrc on arrival; those stored count in
    takeover_packets, except the newest when it is the packet being pushed
    (the push counts its outcome). Returns that packet's accept result."""
    cdef JForeign* f = &s.fr
    cdef int i, k, d, dmin = 0, d2 = 0x7FFF, kmin = f.head, code = R_OK
    cdef int64_t mapped, m, e0
    cdef double ref = jb_ref(&s.d)
    for i in range(f.n):                      # lowest and second-lowest sequence number
        k = (f.head + i) % FR_CAP
        d = <int16_t>(f.seq[k] - f.seq[f.head])
        if d < dmin:
            d2 = dmin
            dmin = d
            kmin = k
        elif d != dmin and d < d2:
            d2 = d
    if s.d.have_transit:                      # the fastest packet places the timeline
        mapped = 0x7FFFFFFFFFFFFFFF
        for i in range(f.n):
            k = (f.head + i) % FR_CAP
            m = jb_tl_round(jb_now_s(s, f.arrival[k]) - ref) - jb_ts_delta(s, <int32_t>(f.ts[k] - f.ts[kmin]))
            if m < mapped:
                mapped = m
        if mapped < s.media_end:
            mapped = s.media_end
    else:
        mapped = jb_map_arrival(s, f.arrival[kmin])
    s.st.ssrc_switches += 1
    if s.cand_valid:
        jb_drop_candidate(s)          # a stray of the old SSRC
    e0 = s.max_ext + 1 - dmin         # extended sequence number of the offset-0 packet
    s.cx.reset_seq = s.max_ext + 1    # another sender: a stateful decoder starts afresh there
    jb_start_source(s, f.ssrc, f.seq[kmin], f.ts[kmin], f.arrival[kmin], mapped)
    jb_rr_reset_jitter(&s.rr)
    jb_rr_init(&s.rr, <uint16_t>(f.seq[f.head] + d2))   # A.1: a new source counts from its second packet
    for i in range(f.n):
        k = (f.head + i) % FR_CAP
        d = <int16_t>(f.seq[k] - f.seq[f.head])
        code = jb_accept(s, e0 + d, f.seq[k], f.ts[k], f.info[k] >> 4, f.codec[k],
                         f.pay + k * s.max_payload, f.len[k], f.arrival[k], d > d2)
        if i == f.n - 1 and tail_is_push:
            jb_count(s, code)
        elif code == R_OK:
            s.st.takeover_packets += 1
    for i in range(f.n_intruders):
        if f.intruders[i] == f.ssrc:            # it is the stream now
            f.n_intruders -= 1
            f.intruders[i] = f.intruders[f.n_intruders]
            break
    f.n = 0
    f.own_since = 0
    return code


cdef inline int jb_foreign(JBState* s, const JHdr* h, const uint8_t* p, int64_t now) noexcept nogil:
    """A packet of another SSRC while a stream is established: counted in
    foreign_ssrc and kept (the newest packets of one SSRC within 16 sequence
    numbers of each other, timestamps consistent with their arrival) in case
    the established stream has stopped and this SSRC takes over."""
    cdef JForeign* f = &s.fr
    cdef int i, k, d, tail = (f.head + f.n - 1) % FR_CAP, plen = h.plen
    cdef bint fits = False
    if f.n > 0 and h.ssrc == f.ssrc and jb_elapsed(now, f.arrival[tail]) <= PROBATION_NS:
        d = <int16_t>(h.seq - f.seq[tail])
        fits = (-FR_CAP < d < FR_CAP and d != 0
                and (h.kind != KIND_MEDIA or (f.info[tail] >> 4) != KIND_MEDIA
                     or jb_ts_paced(s, f.ts[tail], f.arrival[tail], h.ts, now)))
        for i in range(f.n):
            if fits and f.seq[(f.head + i) % FR_CAP] == h.seq:
                s.st.foreign_ssrc += 1        # a duplicate of a kept packet
                return R_FOREIGN_SSRC
    if fits:
        if f.n == FR_CAP:
            f.head = (f.head + 1) % FR_CAP
            f.n -= 1
    elif f.n > 0 and h.ssrc != f.ssrc and jb_elapsed(now, f.arrival[tail]) < CAND_PRIORITY_NS:
        # another foreign SSRC is being kept: first come keeps priority briefly
        s.st.foreign_ssrc += 1
        return R_FOREIGN_SSRC
    else:
        f.n = 0
        f.head = 0
        f.own_since = 0
        f.ssrc = h.ssrc
    k = (f.head + f.n) % FR_CAP
    f.seq[k] = h.seq
    f.ts[k] = h.ts
    f.arrival[k] = now
    f.info[k] = <uint8_t>((h.kind << 4) | h.marker)
    f.codec[k] = <uint8_t>h.codec
    if plen > s.max_payload:
        plen = s.max_payload             # DTMF / CN payloads: only their first bytes matter
    memcpy(f.pay + k * s.max_payload, p, plen)
    f.len[k] = plen
    f.n += 1
    if jb_takeover_ready(s, now, 0):
        return jb_takeover(s, now, True)
    s.st.foreign_ssrc += 1
    return R_FOREIGN_SSRC


cdef inline int jb_push(JBState* s, const uint8_t* d, Py_ssize_t n, int64_t now) noexcept nogil:
    """One datagram: parse, place on the timeline, store. Returns an R_* code
    and has incremented exactly the outcome counter it names."""
    cdef JHdr h
    cdef uint32_t udelta
    cdef int code
    cdef double off_ns, tol_ns
    if s.dt.active:
        jb_dtmf_timeout(s, now)
    code = jb_parse(s, d, n, &h)
    if code != R_OK:
        jb_count(s, code)
        return code
    if not s.have_stream:
        return jb_candidate(s, h.ssrc, h.seq, h.ts, h.marker, h.kind, h.codec, d + h.off, h.plen, now)
    if h.ssrc != s.ssrc:
        return jb_foreign(s, &h, d + h.off, now)
    udelta = <uint16_t>(h.seq - s.max_seq16)
    if udelta < <uint32_t>MAX_DROPOUT:
        # A forward packet whose timestamp disagrees with its arrival time
        # (relative to the newest packet) by more than the maximum delay plus a
        # margin is either a stray or a timestamp discontinuity (rebase, hold
        # and resume): probation, and only 2 sequential packets re-map the
        # timeline. Small gaps of audio / CN are checked too (a stray with seq
        # +1..+8); DTMF timestamps name the event start, so they are checked
        # only past JUMP_CHECK.
        if (udelta != 0 and (udelta > <uint32_t>JUMP_CHECK or h.kind != KIND_DTMF)
                and not jb_consistent(s, h.ts, now)):
            # already behind the playout position: counted late if it never
            # validates (a burst released after a network freeze)
            if (h.kind == KIND_MEDIA and s.ref_ext_ts + jb_ts_delta(s, <int32_t>(h.ts - s.ref_ts32))
                    + jb_samples(s, h.codec, d + h.off, h.plen) <= s.play_ts):
                h.marker |= CAND_LATE
            return jb_candidate(s, h.ssrc, h.seq, h.ts, h.marker, h.kind, h.codec, d + h.off, h.plen, now)
        code = jb_accept(s, s.max_ext + udelta, h.seq, h.ts, h.kind, h.codec, d + h.off, h.plen, now, True)
        jb_own(s, now, udelta != 0)
        jb_count(s, code)
        return code
    if udelta <= <uint32_t>(65536 - MAX_MISORDER):
        return jb_candidate(s, h.ssrc, h.seq, h.ts, h.marker, h.kind, h.codec, d + h.off, h.plen, now)
    # reordered
    if h.kind != KIND_DTMF:
        # a timestamp far outside the timeline never reaches the delay
        # estimate (too old: late; in the future: a stray)
        off_ns = (<double>(jb_ts_delta(s, <int32_t>(h.ts - s.ref_ts32)) + s.ref_ext_ts - s.max_media_ts)
                  * 1e9 / s.rate - <double>jb_elapsed(now, s.max_arrival))
        tol_ns = s.max_delay * 1e9 / s.rate + 60e6
        if off_ns < -tol_ns:
            jb_rr_update(&s.rr, h.seq)
            jb_own(s, now, False)
            jb_count(s, R_LATE)
            return R_LATE
        if off_ns > tol_ns:
            jb_count(s, R_DISCARDED)
            return R_DISCARDED
    code = jb_accept(s, s.max_ext - <int64_t>(65536 - udelta), h.seq, h.ts, h.kind, h.codec,
                     d + h.off, h.plen, now, True)
    jb_own(s, now, False)
    jb_count(s, code)
    return code

# Playout: one frame per pull at the adaptive delay. Walks the slots in
# sequence order, decodes the packets that cover the frame (stateful codecs
# through decode.pxd), conceals what is missing (plc.pxd, or libopus for
# Opus), fills pauses with silence or comfort noise, and time-scales (a
# few samples per frame) to move towards the delay target.
from libc.math cimport fabs, pow as cpow
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset, memmove
from voicecore._native.media._jitter.codec cimport jb_rtp_ts
from voicecore._native.media._jitter.arith cimport jb_elapsed, jb_tl_round
from voicecore._native.media._jitter.decode cimport jb_cut, jb_opus_conceal, jb_g722_track
from voicecore._native.media._jitter.types cimport K_AUDIO, K_CONCEALED, K_SILENCE, K_COMFORT_NOISE
from voicecore._native.media._jitter.state cimport (
    JBState, JPlc, JSlot, SLOT_MEDIA, SLOT_NONMEDIA, SLOT_PLAYED, KIND_CN, CODEC_PCMA, CODEC_OPUS, CODEC_G722,
    F_AUDIO, F_CONCEAL, F_SILENCE, F_CN, QUIET_MEAN_ABS_C, PROBATION_NS,
)
from voicecore._native.media._jitter.delay cimport jb_now_s, jb_ref
from voicecore._native.media._jitter.dtmf cimport jb_dtmf_timeout
from voicecore._native.media._jitter.seq cimport jb_drop_candidate, jb_takeover_ready, jb_takeover
from voicecore._native.media._jitter.plc cimport jb_clip, jb_conceal, jb_end_ola


cdef inline void jb_fill_silence(JBState* s, int m) noexcept nogil:
    """Silence, or RFC 3389 comfort noise at the signalled level during a CN pause."""
    cdef int16_t* dst = s.hist + s.hist_end
    cdef int i
    cdef double amp
    cdef int32_t a
    cdef JPlc* c = &s.plc
    c.active = False
    c.end_left = 0
    if s.cn_pause and s.cn_on and s.cn_level < 90:
        amp = 32767.0 * cpow(10.0, -s.cn_level / 20.0) * 1.7320508
        a = <int32_t>amp
        if a < 1:
            a = 1
        elif a > 32767:
            a = 32767        # levels 0-4 -dBov: saturate, never wrap in the int16 cast
        for i in range(m):
            c.rng ^= c.rng << 13
            c.rng ^= c.rng >> 17
            c.rng ^= c.rng << 5
            dst[i] = <int16_t>(<int32_t>(c.rng % <uint32_t>(2 * a + 1)) - a)
        s.flags |= F_CN
    else:
        memset(dst, 0, m * sizeof(int16_t))
        s.flags |= F_SILENCE


cdef inline void jb_conceal_any(JBState* s, int m, JSlot* fut, int64_t gap) noexcept nogil:
    """Concealment of ``m`` samples: libopus for Opus, ours otherwise (G.722:
    the decoder's state follows it)."""
    cdef bint start = not s.plc.active
    if s.scodec == CODEC_OPUS:
        jb_opus_conceal(s, m, fut, gap)
        return
    jb_conceal(s, m, fut, gap)
    if s.scodec == CODEC_G722 and s.conceal_on:
        jb_g722_track(s, s.hist + s.hist_end, m, start)


cdef inline bint jb_quiet(const JBState* s) noexcept nogil:
    """Was the last 10 ms of playout below about -50 dBFS (mean |x| < 100)?"""
    cdef int i, n = 80 * s.r8
    cdef int64_t acc = 0
    cdef int v
    for i in range(n):
        v = s.hist[s.hist_end - n + i]
        acc += v if v >= 0 else -v
    return acc < QUIET_MEAN_ABS_C * n


cdef inline int64_t jb_advance(JBState* s) noexcept nogil:
    """Move the read pointer past played and non-media slots, and past
    missing slots whose successor is already due. Returns the next present
    slot after a missing one (or -1)."""
    cdef JSlot* sl
    cdef int64_t j, lim
    while s.read_seq <= s.max_ext:
        sl = &s.slots[s.read_seq & s.mask]
        if sl.seq == s.read_seq:
            if sl.state == SLOT_MEDIA:
                if sl.ts + sl.ns <= s.play_ts:
                    sl.state = SLOT_PLAYED
                    s.read_seq += 1
                    continue
                return -1
            if sl.state == SLOT_NONMEDIA:
                sl.state = SLOT_PLAYED
                s.read_seq += 1
                s.in_pause = True
                s.lost_flag = False
                if sl.kind == KIND_CN:
                    s.cn_pause = True
                    s.cn_level = sl.cn_level
                continue
            if sl.state == SLOT_PLAYED:
                s.read_seq += 1
                continue
        # missing: skip it once a later packet is due
        lim = s.read_seq + s.capacity - 1
        if lim > s.max_ext:
            lim = s.max_ext
        j = s.read_seq + 1
        while j <= lim:
            sl = &s.slots[j & s.mask]
            if sl.seq == j and (sl.state == SLOT_MEDIA or sl.state == SLOT_NONMEDIA):
                break
            j += 1
        if j > lim:
            return -1
        if sl.ts <= s.play_ts:
            s.st.lost += <uint64_t>(j - s.read_seq)
            s.read_seq = j
            s.lost_flag = True
            s.in_pause = False
            s.cn_pause = False
            continue
        return j
    return -1


cdef inline void jb_produce(JBState* s, int n) noexcept nogil:
    """Append ``n`` samples of the playout stream at ``play_ts`` to the history."""
    cdef JSlot* sl
    cdef int64_t nxt, off
    cdef int m
    cdef JPlc* c = &s.plc
    while n > 0:
        nxt = jb_advance(s)
        if s.read_seq <= s.max_ext:
            sl = &s.slots[s.read_seq & s.mask]
            if sl.seq == s.read_seq and sl.state == SLOT_MEDIA:
                if sl.ts <= s.play_ts:
                    off = s.play_ts - sl.ts
                    m = <int>(sl.ns - off)
                    if m > n:
                        m = n
                    if not jb_cut(s, sl, off, s.hist + s.hist_end, m):
                        s.flags |= F_CONCEAL         # an Opus packet that did not decode
                        s.st.concealed_samples += <uint64_t>m
                    if s.scodec == CODEC_OPUS:
                        c.active = False             # libopus joins its concealment itself
                    if c.active and c.joined:
                        c.active = False       # two-sided interpolation already joined
                    if c.active:
                        c.active = False
                        c.end_len = c.L + 32 * s.r8 * ((c.ck + 80 * s.r8 - 1) // (80 * s.r8) - 1)
                        if c.end_len > 80 * s.r8:
                            c.end_len = 80 * s.r8
                        c.end_left = c.end_len
                    if c.end_left > 0:
                        jb_end_ola(c, s.hist + s.hist_end, m, s.r8)
                    s.in_pause = False
                    s.lost_flag = False
                    s.cn_pause = False
                    s.flags |= F_AUDIO
                else:
                    m = <int>(sl.ts - s.play_ts) if sl.ts - s.play_ts < n else n
                    if s.lost_flag:
                        jb_conceal_any(s, m, sl, sl.ts - s.play_ts)
                    else:
                        s.in_pause = True     # timestamp jump without loss: DTX
                        jb_fill_silence(s, m)
                s.play_ts += m
                s.hist_end += m
                n -= m
                continue
            m = n
            if nxt >= 0:
                sl = &s.slots[nxt & s.mask]
                if sl.ts - s.play_ts < m:
                    m = <int>(sl.ts - s.play_ts)
                jb_conceal_any(s, m, sl if sl.state == SLOT_MEDIA else NULL, sl.ts - s.play_ts)
            else:
                jb_conceal_any(s, m, NULL, 0)
        elif s.in_pause or (not c.active and jb_quiet(s)):
            # Nothing buffered after quiet audio: most likely a DTX pause
            # (VAD hangover), so silence rather than concealment; after loud
            # audio it is probably loss. The pause is confirmed (and the
            # delay re-evaluated) when the next talkspurt arrives.
            m = n
            jb_fill_silence(s, m)
        else:
            m = n
            jb_conceal_any(s, m, NULL, 0)
        s.play_ts += m
        s.hist_end += m
        n -= m


cdef inline int jb_pull(JBState* s, int16_t* out, int64_t now) noexcept nogil:
    """Play out one frame (``s.frame`` samples into ``out``); returns a K_* code."""
    cdef int F = s.frame, n, k, kmax, i, he0, Lx, P0, v
    cdef double ideal, err, w, ref
    cdef int64_t tgt
    cdef int64_t acc
    cdef JSlot* sl
    cdef int16_t* c
    if s.dt.active:
        jb_dtmf_timeout(s, now)
    s.st.frames_out += 1
    if s.cand_valid and jb_elapsed(now, s.cand_arrival) > PROBATION_NS:
        jb_drop_candidate(s)            # probation expired: the held packet is dropped
    if not s.have_stream:
        memset(out, 0, F * sizeof(int16_t))
        s.st.silence_frames += 1
        return K_SILENCE
    if s.hist_end + 2 * F + 16 > s.hist_size:
        memmove(s.hist, s.hist + s.hist_end - s.hist_keep, s.hist_keep * sizeof(int16_t))
        s.hist_end = s.hist_keep
    s.flags = 0
    n = F
    k = 0
    jb_advance(s)
    if s.fr.n >= 2 and jb_takeover_ready(s, now, F):
        jb_takeover(s, now, False)      # the stream stopped; another SSRC continues it
        jb_advance(s)
    if s.d.have_transit:
        # The frame produced now ends at ``ideal + F``: a packet whose delay
        # over the fastest recent one is at most the target has arrived before
        # any of its samples is produced, whatever the pull phase.
        ref = jb_ref(&s.d)
        ideal = jb_now_s(s, now) - ref - s.d.target - F
        if s.in_pause:
            s.adjusting = 0
            if s.read_seq <= s.max_ext:
                sl = &s.slots[s.read_seq & s.mask]
                if sl.seq == s.read_seq and sl.state == SLOT_MEDIA and sl.ts >= s.play_ts:
                    tgt = jb_tl_round(ideal)
                    s.play_ts = tgt if tgt < sl.ts else sl.ts
            else:
                s.play_ts = jb_tl_round(ideal)
        else:
            err = <double>s.play_ts - ideal
            if s.adjusting == 0 and fabs(err) > 10.0 * s.rate / 1000.0:
                s.adjusting = 1
            elif s.adjusting and fabs(err) < 2.0 * s.rate / 1000.0:
                s.adjusting = 0
            if s.adjusting:
                acc = 0
                for i in range(F):
                    v = s.hist[s.hist_end - F + i]
                    acc += v if v >= 0 else -v
                kmax = F // 4 if acc < 300 * F else F // 16
                if fabs(err) < kmax:       # clamped before the cast (err may be far outside int)
                    k = <int>fabs(err)
                else:
                    k = kmax
                if err < 0:
                    n = F + k
                else:
                    n = F - k
        s.d.cur_delay = jb_now_s(s, now) - ref - s.play_ts - F
    he0 = s.hist_end
    jb_produce(s, n)
    if k > 0:
        c = s.hist + he0
        Lx = F // 4
        if n > F:           # compress: drop k samples with a crossfade
            for i in range(Lx):
                w = (i + 1.0) / (Lx + 1.0)
                c[F - Lx + i] = jb_clip(c[F - Lx + i] * (1.0 - w) + c[F - Lx + k + i] * w)
        else:               # stretch: repeat k samples with a crossfade
            memcpy(s.tmp, c, n * sizeof(int16_t))
            P0 = F - k - Lx
            for i in range(Lx):
                w = (i + 1.0) / (Lx + 1.0)
                c[P0 + i] = jb_clip(s.tmp[P0 + i] * (1.0 - w) + s.tmp[P0 - k + i] * w)
            memcpy(c + P0 + Lx, s.tmp + P0 - k + Lx, k * sizeof(int16_t))
        s.hist_end = he0 + F
        s.st.time_scaled_samples += <uint64_t>k
    memcpy(out, s.hist + s.hist_end - s.dl - F, F * sizeof(int16_t))
    s.played_ts = s.ref_ts32 + jb_rtp_ts(s, s.play_ts - s.dl - F - s.ref_ext_ts)
    s.have_played = True
    if s.flags & F_CONCEAL:
        s.st.concealed_frames += 1
        return K_CONCEALED
    if s.flags & F_AUDIO:
        s.st.audio_frames += 1
        return K_AUDIO
    if s.flags & F_CN:
        s.st.comfort_noise_frames += 1
        return K_COMFORT_NOISE
    s.st.silence_frames += 1
    return K_SILENCE

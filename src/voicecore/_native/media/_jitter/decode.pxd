# Stateful decoders in the playout (G.722, Opus). The decoder sees the stream
# in sequence order: when the playout first touches a packet it is decoded
# whole into the decode cache (JCodec.buf) and the frame is cut from there,
# so a packet played from the middle (its start was late) or cut over two
# frames is decoded once, in order.
#
# G.722: losses are concealed on the decoded history by plc.pxd like G.711;
# its look-ahead at the packet after a gap (jb_future) decodes with a copy
# of the decoder state (jb_dec_ahead), so the real decode is not disturbed.
# Over a loss the decoder's ADPCM state follows our concealment
# (jb_g722_track: the concealed audio is encoded from the decoder's state and
# the codes decoded), so the packet after the gap starts from a state near the
# sender's rather than one frozen before the loss (PESQ WB +0.1 at 5-10 %
# random loss on beckett, see tests/test_jitter_codecs_pesq.py).
#
# Opus: losses are filled by libopus itself (jb_opus_conceal): its in-band
# FEC when exactly one packet is missing and the next one is buffered and
# carries FEC for it (recovered audio, counted in fec_recovered_samples),
# else its PLC. libopus synthesises in multiples of 2.5 ms; what a frame does
# not use yet waits in JCodec.lbuf. libopus's PLC attenuates by itself (on
# speech here: -2.7 dB after 40 ms, -18 dB after 80 ms, a noise floor near
# -33 dB from 100 ms on), so it plays unmodified for the first 180 ms of an
# erasure, fades to zero by 200 ms (OPUS_PLC_END_MS), and libopus is not
# called after that (silence until the next packet). Fading it like our
# concealment (to zero at silent_after_ms = 60 ms) cost 0.05-0.1 PESQ WB on
# bursts. A 20 ms PLC call costs less than a 20 ms decode (about 25 vs 37 us
# at 48 kHz here), so a concealing call is never the expensive one.
#
# A new sender (SSRC takeover, seq.pxd) resets the decoder before its first
# packet (JCodec.reset_seq).
from libc.stdint cimport int16_t, int64_t, uint8_t, uint64_t
from libc.string cimport memcpy, memset
from voicecore._native.media.g722 cimport G722Decoder, G722Encoder, G722State
from voicecore._native.media.opus cimport OpusDecoder
from voicecore._native.media._jitter.state cimport (
    JBState, JCodec, JPlc, JSlot, SLOT_MEDIA, CODEC_NONE, CODEC_G722, CODEC_OPUS, F_CONCEAL,
)
from voicecore._native.media._jitter.codec cimport jb_decode


cdef inline bint jb_reset_due(const JCodec* x, int64_t seq) noexcept nogil:
    """Does a new source start between the last packet decoded and ``seq``?"""
    return x.last < x.reset_seq <= seq


cdef inline void jb_dec_packet(JBState* s, const JSlot* sl) noexcept nogil:
    """Decode the whole packet of ``sl`` into the decode cache."""
    cdef JCodec* x = &s.cx
    cdef const uint8_t* p = s.pay + (sl.seq & s.mask) * s.max_payload
    cdef int r
    if x.tracked:
        x.tracked = False
        if sl.seq == x.last + 1:
            # nothing was lost: the packet concealed was late (played from
            # the middle), so its decode continues from the state before
            (<G722Decoder>x.dec).st = x.saved
    if jb_reset_due(x, sl.seq):
        if s.scodec == CODEC_G722:
            (<G722Decoder>x.dec).reset_c()
        else:
            (<OpusDecoder>x.dec).reset_c()
    x.last = sl.seq
    x.seq = sl.seq
    x.n = sl.ns
    x.bad = False
    x.ln = 0                         # loss audio synthesised ahead is stale now
    if s.scodec == CODEC_G722:
        (<G722Decoder>x.dec).decode_c(p, sl.plen, x.buf)
        return
    r = (<OpusDecoder>x.dec).decode_c(p, sl.plen, x.buf, x.cap)
    if r != sl.ns:
        # valid framing but a corrupt inside: libopus's concealment for its duration
        x.bad = True
        if r >= 0 or (<OpusDecoder>x.dec).plc_c(x.buf, sl.ns) != sl.ns:
            memset(x.buf, 0, sl.ns * sizeof(int16_t))


cdef inline bint jb_cut(JBState* s, const JSlot* sl, int64_t off, int16_t* dst, int m) noexcept nogil:
    """Samples ``off`` .. ``off + m`` of the packet in ``sl`` into ``dst``.
    Returns 0 when they are concealment (an Opus packet that did not decode)."""
    if s.scodec == CODEC_NONE:
        jb_decode(sl.codec, s.pay + (sl.seq & s.mask) * s.max_payload, off, dst, m)
        return True
    if s.cx.seq != sl.seq:
        jb_dec_packet(s, sl)
    memcpy(dst, s.cx.buf + off, m * sizeof(int16_t))
    return not s.cx.bad


cdef inline void jb_dec_ahead(JBState* s, const JSlot* sl, int16_t* dst, int m) noexcept nogil:
    """The first ``m`` samples of a packet not played yet (``dst`` has room
    for m + 1), leaving the decoder as it was: G.722 decodes with a copy of
    its state (a fresh state when a new source starts there)."""
    cdef const uint8_t* p = s.pay + (sl.seq & s.mask) * s.max_payload
    cdef G722State keep
    if s.scodec == CODEC_G722:
        keep = (<G722Decoder>s.cx.dec).st
        if jb_reset_due(&s.cx, sl.seq):
            (<G722Decoder>s.cx.dec).reset_c()
        (<G722Decoder>s.cx.dec).decode_c(p, (m + 1) >> 1, dst)
        (<G722Decoder>s.cx.dec).st = keep
    else:
        jb_decode(sl.codec, p, 0, dst, m)


cdef inline bint jb_fec_ok(JBState* s, const JSlot* fut, int64_t gap) noexcept nogil:
    """Can the next packet's in-band FEC fill the whole gap? It must follow
    the single missing packet, have that packet's duration (the FEC covers
    one frame of the next packet's size) and carry FEC."""
    cdef JCodec* x = &s.cx
    if not x.fec_on or fut == NULL or fut.state != SLOT_MEDIA or fut.seq != s.read_seq + 1:
        return False
    if gap != fut.ns or gap % x.q != 0 or gap > x.cap or jb_reset_due(x, fut.seq):
        return False
    return (<OpusDecoder>x.dec).packet_has_fec_c(s.pay + (fut.seq & s.mask) * s.max_payload, fut.plen) == 1


cdef inline void jb_opus_conceal(JBState* s, int m, const JSlot* fut, int64_t gap) noexcept nogil:
    """``m`` samples for missing Opus audio at the end of the history (at
    ``play_ts``): the next packet's FEC or libopus's PLC, faded to silence
    at OPUS_PLC_END_MS; silence when concealment is off. ``fut``: the
    next buffered packet, ``gap`` samples ahead (or NULL)."""
    cdef JCodec* x = &s.cx
    cdef JPlc* c = &s.plc
    cdef int16_t* dst = s.hist + s.hist_end
    cdef int done = 0, k, r, i, e
    cdef int64_t pos = s.play_ts
    cdef double inv
    if not c.active:                 # an erasure starts
        c.active = True
        c.end_left = 0
        x.lk = 0
        x.stopped = not s.conceal_on
        x.ln = 0
        s.st.concealment_events += 1
        if s.conceal_on and jb_fec_ok(s, fut, gap):
            r = (<OpusDecoder>x.dec).fec_c(s.pay + (fut.seq & s.mask) * s.max_payload, fut.plen,
                                           x.lbuf, <int>gap)
            if r == gap:
                x.lts = pos
                x.ln = r
                x.lo = 0
                x.lfec = True
    s.flags |= F_CONCEAL
    s.st.concealed_samples += <uint64_t>m
    while done < m:
        if x.ln > 0 and x.lts == pos:
            k = x.ln if x.ln < m - done else m - done
            memcpy(dst + done, x.lbuf + x.lo, k * sizeof(int16_t))
            if x.lfec:
                s.st.fec_recovered_samples += <uint64_t>k
            elif x.lk + k > x.fade0:     # the fade to silence (never over FEC audio)
                inv = 1.0 / (x.fend - x.fade0)
                for i in range(k):
                    e = x.lk + i
                    if e >= x.fend:
                        dst[done + i] = 0
                    elif e > x.fade0:
                        dst[done + i] = <int16_t>(dst[done + i] * ((x.fend - e) * inv))
            x.lo += k
            x.ln -= k
            x.lts += k
            done += k
            pos += k
            x.lk += k
            continue
        x.ln = 0
        if x.stopped or x.lk >= x.fend:
            x.stopped = True             # silence until the next packet decodes
            memset(dst + done, 0, (m - done) * sizeof(int16_t))
            x.lk += m - done
            return
        k = (m - done + x.q - 1) // x.q * x.q
        if k > x.cap:
            k = x.cap
        r = (<OpusDecoder>x.dec).plc_c(x.lbuf, k)
        if r <= 0:
            x.stopped = True
            continue
        x.lts = pos
        x.ln = r
        x.lo = 0
        x.lfec = False


cdef inline void jb_g722_track(JBState* s, const int16_t* pcm, int m, bint start) noexcept nogil:
    """Let the G.722 decoder's ADPCM state follow ``m`` concealed samples:
    they are encoded by an encoder whose sub-band state starts as the
    decoder's (``start``: the first samples of an erasure; its QMF input
    history is the audio just before) and the codes are decoded (output
    discarded), so the packet after the gap is decoded from a state that
    has followed the concealment rather than one frozen before the loss.
    When no packet was lost after all (the one concealed arrives late and is
    played from the middle), jb_dec_packet restores the state from before."""
    cdef JCodec* x = &s.cx
    cdef uint8_t codes[128]
    cdef int16_t pair[2]
    cdef int i = 0, k
    if start:
        if not x.tracked:
            x.saved = (<G722Decoder>x.dec).st
            x.tracked = True
        (<G722Encoder>x.enc).st.band[0] = (<G722Decoder>x.dec).st.band[0]
        (<G722Encoder>x.enc).st.band[1] = (<G722Decoder>x.dec).st.band[1]
        (<G722Encoder>x.enc).st.mode = (<G722Decoder>x.dec).st.mode
        memcpy((<G722Encoder>x.enc).st.x, pcm - 24, 24 * sizeof(int16_t))
        x.has_pend = False
    if x.has_pend and m > 0:
        pair[0] = x.pend
        pair[1] = pcm[0]
        (<G722Encoder>x.enc).encode_c(pair, 2, codes)
        (<G722Decoder>x.dec).decode_c(codes, 1, x.lbuf)
        x.has_pend = False
        i = 1
    while m - i >= 2:
        k = (m - i) >> 1
        if k > 128:
            k = 128
        (<G722Encoder>x.enc).encode_c(pcm + i, 2 * k, codes)
        (<G722Decoder>x.dec).decode_c(codes, k, x.lbuf)
        i += 2 * k
    if i < m:
        x.pend = pcm[i]
        x.has_pend = True

# cython: freethreading_compatible=True
"""One engine tick for one session (runs on the engine's I/O thread, no GIL).

Inbound: the jitter buffer plays out exactly one frame (audio, concealment,
comfort noise or silence), optionally resampled to the session's output rate,
into the engine's frame queue; completed DTMF digits become events.

Outbound: one frame of the session's clock is due per tick. It is cut from the
session's outbound ring (python writes s16le at the response's own rate;
rate marks switch the resampler at exact ring positions, end marks close a
response), resampled to the clock rate, encoded, packetised and sent. The RTP
timestamp is the session's tick counter times the frame size, so it runs
continuously across chunks and jumps over pauses by the time that passed; the
first packet of every talkspurt carries the marker bit. Queued RFC 4733 digits
take the place of audio while they play. The sent samples go to the AEC
reference ring with their send time and, when python listens, to the played
queue.
"""
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset, strlen

from voicecore._native.atomic cimport vc_load_acquire, vc_load_relaxed, vc_store_release, vc_stat_add
from voicecore._native.media.ring cimport (
    sring_readable, sring_consumer_pos, sring_read, aec_write, fq_push, fq_slot, fq_commit, vc_sring, vc_fqueue,
)
from voicecore._native.media.g711 cimport ulaw_encode, alaw_encode
from voicecore._native.media.jitter cimport JitterBuffer, JDtmfEvent, JRtcp
from voicecore._native.media.resample cimport Resampler
from voicecore._native.media.g722 cimport G722Encoder
from voicecore._native.media.opus cimport OpusEncoder
from voicecore._native.media.srtp cimport (
    SRTPSession, SRTP_E_AUTH, SRTP_E_REPLAY, SRTP_E_REPLAY_OLD, SRTP_E_TOO_SHORT, SRTP_E_PARSE,
    SRTP_E_BAD_PARAM,
)
from voicecore._native.engine.core cimport (
    Core, Sess, Seg, F_DELIVER, F_PLAYED, F_DELIVER_EARLY, F_MUTED, F_IDLE_SILENCE, F_IDLE_CN,
    OC_PCMU, OC_PCMA, OC_L16, OC_G722, OC_OPUS,
    EV_DTMF, EV_INACTIVE, EV_PLAYED, EV_DTMF_SENT, EV_BYE, EV_RTCP, EV_ERROR, E_SEND, E_RTCP_SEND,
    N_SEG, N_DTMF_OUT, sockaddr_storage, socklen_t,
)
from voicecore._native.engine.queues cimport ev_post, hist_add, frame_tag
from voicecore._native.engine.rtcp cimport (
    RtcpOut, RtcpIn, rtcp_build, rtcp_parse, ntp_now, ntp_mid32, RTCP_OK,
)

cdef extern from "vc_io.h" nogil:
    int vc_sendto(int fd, const void* buf, size_t n, const sockaddr_storage* to, socklen_t tolen)

cdef enum:
    END_FLAG = 1 << 15          # played-frame flag: last frame of a response


cdef inline uint32_t _rand(Sess* s) noexcept nogil:
    s.rng ^= s.rng << 13
    s.rng ^= s.rng >> 17
    s.rng ^= s.rng << 5
    return s.rng


# ====================================================================== inbound
cdef inline void _inbound(Core* c, Sess* s, int64_t deadline) noexcept nogil:
    cdef int kind, n
    cdef int16_t* data
    cdef int16_t* slot = NULL
    cdef vc_fqueue* q = c.fq[s.queue]
    cdef JDtmfEvent dt
    # Played out straight into the frame queue's next slot when the frame goes
    # there as it is (no resampling, the queue's frame size, room in the
    # queue); the slot is published only if the frame is delivered.
    if s.in_rs == NULL and (s.tflags & F_DELIVER) and <uint64_t>s.frame_in == q.frame_samples:
        slot = fq_slot(q)
    data = slot if slot != NULL else s.in_buf
    kind = (<JitterBuffer>s.jb).pull_c(data, deadline)
    while (<JitterBuffer>s.jb).dtmf_pop_c(&dt):
        ev_post(c, s, EV_DTMF, dt.code, dt.duration, dt.ts)
    if not s.have_media:
        if (<JitterBuffer>s.jb).stats_c().received == 0:
            if not (s.tflags & F_DELIVER_EARLY):
                return
        else:
            s.have_media = True
    if not (s.tflags & F_DELIVER):
        s.frames_out += 1
        return
    if s.tflags & F_MUTED:
        memset(data, 0, s.frame_in * sizeof(int16_t))
    n = s.frame_in
    if slot != NULL:
        fq_commit(q, frame_tag(s), s.frames_out, <uint32_t>kind | (<uint32_t>n << 16))
    else:
        if s.in_rs != NULL:
            n = <int>(<Resampler>s.in_rs).run_s16(s.in_buf, s.frame_in, s.in_rs_buf)
            data = s.in_rs_buf
        if fq_push(q, data, frame_tag(s), s.frames_out, <uint32_t>kind | (<uint32_t>n << 16)):
            s.st.consumer_overflow += 1
            c.st.frame_overflow += 1
    s.frames_out += 1
    s.st.frames_delivered += 1
    c.produced = True


# ====================================================================== outbound
cdef inline int64_t _ring_pos(vc_sring* r) noexcept nogil:
    """Consumer position after applying a pending flush."""
    return <int64_t>sring_consumer_pos(r)


cdef void _drain_rs(Sess* s) noexcept nogil:
    """Append the current resampler's tail (its look-ahead) to the stage."""
    if s.cur_rs != NULL:
        s.stage_n += <int32_t>(<Resampler>s.cur_rs).flush_s16(s.stage + s.stage_n)


cdef bint _apply_marks(Core* c, Sess* s, int64_t pos, bint flushing) noexcept nogil:
    """Apply every mark at or before ring position ``pos``. A mark passed by a
    flush (``flushing``, or pos beyond it) ends its response as interrupted.
    Returns True when an end mark was reached exactly by reading (the
    response is complete: stop filling)."""
    cdef uint64_t r = vc_load_relaxed(&s.seg_r), w = vc_load_acquire(&s.seg_w)
    cdef Seg* m
    while r != w:
        m = &s.seg[r & (N_SEG - 1)]
        if <int64_t>m.pos > pos:
            break
        if m.rate > 0:
            # rate switch: the old resampler's tail belongs to the old audio
            if <int64_t>m.pos == pos and not flushing:
                _drain_rs(s)
            elif s.cur_rs != NULL:
                (<Resampler>s.cur_rs).clear()
            s.cur_rate = m.rate
            s.cur_rs = m.rs
            if s.cur_rs != NULL:
                (<Resampler>s.cur_rs).clear()
        else:
            # end of a response (rate == -token)
            if <int64_t>m.pos == pos and not flushing:
                _drain_rs(s)
                s.end_pos = <int64_t>m.pos
                s.end_token = -m.rate
                r += 1
                vc_store_release(&s.seg_r, r)
                return True
            # flushed past it: interrupted
            ev_post(c, s, EV_PLAYED, -m.rate, <int64_t>s.resp_samples, 1)
            s.resp_samples = 0
            vc_stat_add(&s.end_done, 1)
        r += 1
        vc_store_release(&s.seg_r, r)
    return False


cdef void _fill(Core* c, Sess* s) noexcept nogil:
    """Cut up to one clock frame from the outbound ring into the stage. A
    response that ends exactly on the frame's last sample is closed here too,
    so that frame is the one marked last."""
    cdef int32_t F = s.frame_in
    cdef int64_t pos, limit, avail
    cdef uint64_t r, w
    cdef int64_t k, need
    while s.end_pos < 0:
        pos = _ring_pos(s.out_ring)
        if s.stage_n >= F:
            _apply_marks(c, s, pos, False)        # an end (or rate switch) right at the boundary
            return
        if _apply_marks(c, s, pos, False):
            return
        avail = <int64_t>sring_readable(s.out_ring)
        r = vc_load_relaxed(&s.seg_r)
        w = vc_load_acquire(&s.seg_w)
        if r != w:
            limit = <int64_t>s.seg[r & (N_SEG - 1)].pos - pos
            if limit < avail:
                avail = limit
        if avail <= 0:
            return
        need = F - s.stage_n
        if s.cur_rs == NULL:
            k = need if need < avail else avail
            sring_read(s.out_ring, s.stage + s.stage_n, <uint64_t>k)
            s.stage_n += <int32_t>k
        else:
            k = (need * s.cur_rate + s.clock_rate - 1) // s.clock_rate + 1
            if k > avail:
                k = avail
            if k > s.tmp_cap:
                k = s.tmp_cap
            sring_read(s.out_ring, s.tmp, <uint64_t>k)
            s.stage_n += <int32_t>(<Resampler>s.cur_rs).run_s16(s.tmp, k, s.stage + s.stage_n)


cdef inline void _header(Sess* s, bint marker, int pt, uint32_t ts) noexcept nogil:
    cdef uint8_t* p = s.pkt
    p[0] = 0x80
    p[1] = <uint8_t>((0x80 if marker else 0) | pt)
    p[2] = <uint8_t>(s.seq >> 8)
    p[3] = <uint8_t>s.seq
    p[4] = <uint8_t>(ts >> 24)
    p[5] = <uint8_t>(ts >> 16)
    p[6] = <uint8_t>(ts >> 8)
    p[7] = <uint8_t>ts
    p[8] = <uint8_t>(s.ssrc >> 24)
    p[9] = <uint8_t>(s.ssrc >> 16)
    p[10] = <uint8_t>(s.ssrc >> 8)
    p[11] = <uint8_t>s.ssrc
    s.seq = <uint16_t>(s.seq + 1)


cdef inline bint _send(Core* c, Sess* s, int n, int64_t deadline) noexcept nogil:
    cdef int r, k
    cdef int plain = n
    if s.srtp != NULL:
        k = (<SRTPSession>s.srtp).protect_rtp_c(s.pkt, n, s.pkt_cap)
        if k < 0:
            s.st.srtp_protect_fail += 1
            return False
        n = k
    r = vc_sendto(s.fd, s.pkt, n, &s.remote, s.remote_len)
    if r != 0:
        s.st.send_errors += 1
        if s.st.send_errors == 1 or (s.st.send_errors & 1023) == 0:
            ev_post(c, s, EV_ERROR, -r, E_SEND, 0)
        return False
    s.st.packets_sent += 1
    s.st.octets_sent += <uint64_t>(plain - 12)
    return True


cdef int _encode(Sess* s, const int16_t* x, uint8_t* pay) noexcept nogil:
    """One frame (frame_in samples at the audio rate) into the payload; returns its bytes."""
    cdef int32_t F = s.frame_in, i
    cdef uint16_t v
    if s.codec == OC_PCMU:
        ulaw_encode(x, pay, F)
        return F
    if s.codec == OC_PCMA:
        alaw_encode(x, pay, F)
        return F
    if s.codec == OC_G722:
        return <int>(<G722Encoder>s.enc).encode_c(x, F, pay)          # 2 samples per octet
    if s.codec == OC_OPUS:
        i = (<OpusEncoder>s.enc).encode_c(x, F, pay, s.pkt_cap - 12 - 160)
        if i < 0:
            s.st.encode_errors += 1
            return 0
        return i
    for i in range(F):                                                    # L16: big-endian
        v = <uint16_t>x[i]
        pay[2 * i] = <uint8_t>(v >> 8)
        pay[2 * i + 1] = <uint8_t>v
    return 2 * F


cdef void _send_audio(Core* c, Sess* s, const int16_t* x, uint32_t ts, int64_t deadline,
                      int64_t now, bint last) noexcept nogil:
    cdef int32_t F = s.frame_in, i
    cdef uint8_t* pay = s.pkt + 12
    cdef uint16_t v
    cdef int64_t late
    _header(s, not s.talking or s.need_marker, s.pt, ts)
    i = _encode(s, x, pay)
    s.talking = True
    s.need_marker = False
    _send(c, s, 12 + i, deadline)
    late = now - deadline
    if late < 0:
        late = 0
    hist_add(&c.send_late, <uint64_t>late)
    if <uint64_t>late > s.st.pacer_max_behind_ns:
        s.st.pacer_max_behind_ns = <uint64_t>late
    s.st.frames_sent += 1
    s.resp_samples += <uint64_t>F
    if s.aec != NULL:
        aec_write(s.aec, x, <uint64_t>F, now, ts)
    if s.tflags & F_PLAYED:
        if fq_push(c.played, x, frame_tag(s), <uint64_t>now,
                   (<uint32_t>F << 16) | (END_FLAG if last else 0)):
            s.st.played_overflow += 1
            c.st.played_overflow += 1
        c.produced = True


cdef bint _dtmf_tick(Core* c, Sess* s, uint32_t ts, int64_t deadline) noexcept nogil:
    """Send this tick's RFC 4733 packet if a digit is playing or queued."""
    cdef uint8_t* pay = s.pkt + 12
    cdef int32_t dur
    cdef bint end
    if not s.dt_active:
        if s.dq_len == 0:
            return False
        s.dt_active = True
        s.dt_code = s.dq[s.dq_head].code
        s.dt_volume = s.dq[s.dq_head].volume
        s.dt_total = s.dq[s.dq_head].duration_ms * s.rtp_clock // 1000
        if s.dt_total < s.ts_step:
            s.dt_total = s.ts_step
        s.dq_head = (s.dq_head + 1) % N_DTMF_OUT
        s.dq_len -= 1
        s.dt_ts = ts
        s.dt_elapsed = 0
        s.dt_end_sent = 0
        _header(s, True, s.dtmf_pt, ts)
    else:
        _header(s, False, s.dtmf_pt, s.dt_ts)
    s.dt_elapsed += s.ts_step
    dur = s.dt_elapsed if s.dt_elapsed < s.dt_total else s.dt_total
    end = s.dt_elapsed >= s.dt_total
    pay[0] = <uint8_t>s.dt_code
    pay[1] = <uint8_t>((0x80 if end else 0) | (s.dt_volume & 0x3F))
    pay[2] = <uint8_t>(dur >> 8)
    pay[3] = <uint8_t>dur
    _send(c, s, 16, deadline)
    if end:
        s.dt_end_sent += 1
        if s.dt_end_sent >= 3:        # the end packet three times (RFC 4733 2.5.1.4)
            s.dt_active = False
            s.st.dtmf_sent += 1
            s.need_marker = True
            ev_post(c, s, EV_DTMF_SENT, s.dt_code, 0, 0)
    return True


cdef inline bint _idle(Sess* s) noexcept nogil:
    """Nothing queued, nothing in flight: the common case of a listening call."""
    cdef vc_sring* r = s.out_ring
    return (not s.talking and s.stage_n == 0 and s.end_pos < 0 and not s.dt_active and s.dq_len == 0
            and vc_load_acquire(&r.write_pos) == vc_load_relaxed(&r.read_pos)
            and vc_load_acquire(&s.seg_w) == vc_load_relaxed(&s.seg_r))


cdef void _idle_packet(Core* c, Sess* s, int64_t deadline, int64_t now) noexcept nogil:
    """Keep the peer's RTP timer alive while nothing is queued: encoded
    silence every period (F_IDLE_SILENCE), or an RFC 3389 comfort-noise packet
    every 500 ms (F_IDLE_CN). Not recorded as played audio."""
    cdef int32_t F = s.frame_in, i
    cdef uint32_t ts = s.ts_base + <uint32_t>(s.ticks * <uint64_t>s.ts_step)
    cdef uint8_t* pay = s.pkt + 12
    if s.tflags & F_IDLE_SILENCE:
        _header(s, False, s.pt, ts)
        memset(s.tmp, 0, F * sizeof(int16_t))
        _send(c, s, 12 + _encode(s, s.tmp, pay), deadline)
    elif now >= s.next_idle_ns:
        _header(s, False, s.cn_pt, ts)
        pay[0] = 127                      # -127 dBov: the silence we would have sent
        _send(c, s, 13, deadline)
        s.next_idle_ns = now + 500000000


cdef inline void _outbound(Core* c, Sess* s, int64_t deadline, int64_t now) noexcept nogil:
    cdef int32_t F = s.frame_in
    cdef uint32_t ts
    cdef bint last
    if s.out_ring == NULL:
        return
    if _idle(s):
        if s.tflags & (F_IDLE_SILENCE | F_IDLE_CN):
            _idle_packet(c, s, deadline, now)
        return
    s.next_idle_ns = 0                    # the next pause starts with a CN packet at once
    ts = s.ts_base + <uint32_t>(s.ticks * <uint64_t>s.ts_step)
    if (s.dt_active or s.dq_len) and _dtmf_tick(c, s, ts, deadline):
        return
    _fill(c, s)
    if s.stage_n >= F or (s.end_pos >= 0 and s.stage_n > 0):
        if s.stage_n < F:
            memset(s.stage + s.stage_n, 0, (F - s.stage_n) * sizeof(int16_t))
            s.stage_n = F
        last = s.end_pos >= 0 and s.stage_n == F
        _send_audio(c, s, s.stage, ts, deadline, now, last)
        s.stage_n -= F
        if s.stage_n > 0:
            memmove_(s.stage, s.stage + F, s.stage_n)
        if last:
            _end_response(c, s, 0)
    elif s.end_pos >= 0:
        _end_response(c, s, 0)           # an empty response
    elif s.talking:
        # the writer is behind: a pause; the next packet starts a new talkspurt
        s.talking = False
        s.st.pacer_underruns += 1


cdef inline void memmove_(int16_t* dst, const int16_t* src, int32_t n) noexcept nogil:
    cdef int32_t i
    for i in range(n):
        dst[i] = src[i]


cdef void _end_response(Core* c, Sess* s, int interrupted) noexcept nogil:
    ev_post(c, s, EV_PLAYED, s.end_token, <int64_t>s.resp_samples, interrupted)
    s.resp_samples = 0
    s.end_pos = -1
    s.talking = False
    vc_stat_add(&s.end_done, 1)


cdef void flush_out(Core* c, Sess* s) noexcept nogil:
    """Interrupt: drop the stage and every queued sample up to python's flush
    request; responses cut short are reported as interrupted."""
    cdef int64_t pos
    if s.out_ring == NULL:
        return
    s.stage_n = 0
    if s.cur_rs != NULL:
        (<Resampler>s.cur_rs).clear()
    if s.end_pos >= 0:
        _end_response(c, s, 1)
    pos = _ring_pos(s.out_ring)
    _apply_marks(c, s, pos, True)        # every mark up to the flush point: interrupted
    s.talking = False


# ====================================================================== RTCP
cdef void srtp_failed(Sess* s, int code) noexcept nogil:
    """Count an SRTP/SRTCP packet that did not authenticate (dropped)."""
    if code == SRTP_E_AUTH:
        s.st.srtp_auth_fail += 1
    elif code == SRTP_E_REPLAY or code == SRTP_E_REPLAY_OLD:
        s.st.srtp_replay += 1
    elif code == SRTP_E_TOO_SHORT or code == SRTP_E_PARSE or code == SRTP_E_BAD_PARAM:
        s.st.srtp_malformed += 1
    else:
        s.st.srtp_other += 1


cdef void send_rtcp(Core* c, Sess* s, int64_t now, bint bye) noexcept nogil:
    cdef RtcpOut r
    cdef JRtcp j
    cdef int n, fd, err
    cdef int64_t dl
    memset(&r, 0, sizeof(RtcpOut))
    r.ssrc = s.ssrc
    r.cname = s.cname
    r.bye = bye
    r.sender = s.st.packets_sent != s.rtp_packets_at_rtcp
    s.rtp_packets_at_rtcp = s.st.packets_sent
    if r.sender:
        r.ntp = ntp_now()
        r.rtp_ts = s.ts_base + <uint32_t>(s.ticks * <uint64_t>s.ts_step)
        r.packets = <uint32_t>s.st.packets_sent
        r.octets = <uint32_t>s.st.octets_sent
    if s.jb != NULL:
        (<JitterBuffer>s.jb).rtcp_c(&j, True)
        if j.have_source:
            r.have_block = True
            r.block.ssrc = j.ssrc
            r.block.fraction_lost = j.fraction_lost
            r.block.cumulative_lost = j.cumulative_lost
            r.block.ext_highest_seq = j.ext_highest_seq
            r.block.jitter = j.jitter
            if s.rr_lsr != 0:
                r.block.lsr = s.rr_lsr
                dl = (now - s.rr_lsr_arrival_ns) * 65536 // 1000000000
                r.block.dlsr = <uint32_t>dl if dl > 0 else 0
    n = rtcp_build(c.pbuf, 1400, &r)
    if n <= 0:
        return
    if s.srtp != NULL:
        n = (<SRTPSession>s.srtp).protect_rtcp_c(c.pbuf, n, 1600)
        if n < 0:
            s.st.srtp_protect_fail += 1
            return
    fd = s.rtcp_fd if s.rtcp_fd >= 0 else s.fd
    err = vc_sendto(fd, c.pbuf, n, &s.remote_rtcp, s.remote_rtcp_len)
    if err != 0:
        s.st.send_errors += 1
        return
    s.st.rtcp_sent += 1


cdef void on_rtcp(Core* c, Sess* s, const uint8_t* d, Py_ssize_t n, int64_t now) noexcept nogil:
    cdef RtcpIn r
    cdef uint32_t a, rtt
    cdef int k
    if s.srtp != NULL:
        k = (<SRTPSession>s.srtp).unprotect_rtcp_c(<uint8_t*>d, <int>n)
        if k < 0:
            srtp_failed(s, k)
            return
        n = k
    s.st.rtcp_received += 1
    if rtcp_parse(d, n, s.ssrc, &r) != RTCP_OK:
        s.st.rtcp_malformed += 1
        return
    if r.have_sr:
        s.rr_lsr = r.sr_lsr
        s.rr_lsr_arrival_ns = now
    if r.have_block:
        s.st.peer_fraction_lost = r.block.fraction_lost
        s.st.peer_cumulative_lost = r.block.cumulative_lost
        s.st.peer_jitter = r.block.jitter
        if r.block.lsr != 0:
            a = ntp_mid32(ntp_now())
            rtt = a - r.block.lsr - r.block.dlsr
            if rtt < 0x80000000u:
                s.st.rtt_us = <uint64_t>rtt * 1000000 // 65536
    if r.bye:
        ev_post(c, s, EV_BYE, 0, 0, 0)


# ====================================================================== the tick
cdef void session_tick(Core* c, Sess* s, int64_t deadline, int64_t now, uint64_t period) noexcept nogil:
    cdef int64_t idle
    if not s.p0_set:
        s.p0 = period
        s.p0_set = True
    s.ticks = period - s.p0           # skipped ticks still advance the RTP clock
    if s.jb != NULL:
        _inbound(c, s, deadline)
    if s.inactivity_ns > 0:
        idle = now - s.last_rx_ns
        if idle > s.inactivity_ns and not s.inactive:
            s.inactive = True
            ev_post(c, s, EV_INACTIVE, idle // 1000000, 0, 0)
    _outbound(c, s, deadline, now)
    if s.rtcp_on and now >= s.next_rtcp_ns:
        send_rtcp(c, s, now, False)
        # RFC 3550 6.3.1: randomised over [0.5, 1.5] x the interval
        s.next_rtcp_ns = now + <int64_t>(s.rtcp_interval_s * 1e9 * (0.5 + (_rand(s) & 0xFFFF) / 65536.0))

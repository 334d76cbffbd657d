# cython: freethreading_compatible=True
"""RTCP for the audio I/O engine (RFC 3550 section 6).

``rtcp_build`` writes one compound packet: a sender report (when the session
sent RTP since its last report) or a receiver report, with at most one report
block (the one remote source of a call), then SDES with the CNAME, then an
optional BYE. ``rtcp_parse`` validates a received compound packet the way
RFC 3550 Appendix A.2 describes (version 2 on every packet, padding only on
the last, lengths adding up to the datagram; the first packet an SR or RR,
or any single packet as RFC 5506 reduced-size RTCP allows) and extracts what
a call needs: the SR's NTP time (for LSR/DLSR), the report block about our
own SSRC (loss, jitter, LSR, DLSR -> round-trip time) and BYE.

Both run without the GIL and never raise: a malformed packet gives a status
code, counted by the engine as ``rtcp_malformed``. The Python functions
below wrap them for tests and fuzzing.
"""
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy, strlen, memset
from posix.time cimport clock_gettime, timespec, CLOCK_REALTIME

from voicecore._native._buffers cimport Buf, get_input, release, KIND_BYTES

cdef enum:
    PT_SR = 200
    PT_RR = 201
    PT_SDES = 202
    PT_BYE = 203

# seconds from 1900-01-01 (NTP era 0) to 1970-01-01
cdef uint64_t NTP_UNIX_OFFSET = 2208988800ULL


cdef uint64_t ntp_now() noexcept nogil:
    """The wall clock as a 64-bit NTP timestamp (32.32 fixed point)."""
    cdef timespec t
    clock_gettime(CLOCK_REALTIME, &t)
    return ((<uint64_t>t.tv_sec + NTP_UNIX_OFFSET) << 32) | ((<uint64_t>t.tv_nsec << 32) // 1000000000ULL)


cdef inline void _put16(uint8_t* p, uint32_t v) noexcept nogil:
    p[0] = <uint8_t>(v >> 8)
    p[1] = <uint8_t>v

cdef inline void _put32(uint8_t* p, uint32_t v) noexcept nogil:
    p[0] = <uint8_t>(v >> 24)
    p[1] = <uint8_t>(v >> 16)
    p[2] = <uint8_t>(v >> 8)
    p[3] = <uint8_t>v

cdef inline uint32_t _get32(const uint8_t* p) noexcept nogil:
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | p[3]


cdef int _block(uint8_t* p, const RtcpReportBlock* b) noexcept nogil:
    cdef int32_t lost = b.cumulative_lost
    if lost > 0x7FFFFF:
        lost = 0x7FFFFF
    elif lost < -0x800000:
        lost = -0x800000
    _put32(p, b.ssrc)
    _put32(p + 4, (<uint32_t>b.fraction_lost << 24) | (<uint32_t>lost & 0xFFFFFF))
    _put32(p + 8, b.ext_highest_seq)
    _put32(p + 12, b.jitter)
    _put32(p + 16, b.lsr)
    _put32(p + 20, b.dlsr)
    return 24


cdef int rtcp_build(uint8_t* buf, int cap, const RtcpOut* r) noexcept nogil:
    """Write the compound report into ``buf`` (``cap`` bytes, >= 120 for a
    63-byte CNAME); returns its length, or 0 if it does not fit."""
    cdef int n = 0, start, words, clen, items
    cdef int rc = 1 if r.have_block else 0
    cdef size_t cl = strlen(r.cname) if r.cname != NULL else 0
    if cl > 255:
        cl = 255
    clen = <int>cl
    # SR: 28 + 24*rc, RR: 8 + 24*rc, SDES: 8 + 2 + clen + 1..4, BYE: 8
    if 28 + 24 + 12 + clen + 4 + 8 > cap:
        return 0
    start = n
    buf[n] = <uint8_t>(0x80 | rc)
    buf[n + 1] = PT_SR if r.sender else PT_RR
    _put32(buf + n + 4, r.ssrc)
    n += 8
    if r.sender:
        _put32(buf + n, <uint32_t>(r.ntp >> 32))
        _put32(buf + n + 4, <uint32_t>r.ntp)
        _put32(buf + n + 8, r.rtp_ts)
        _put32(buf + n + 12, r.packets)
        _put32(buf + n + 16, r.octets)
        n += 20
    if rc:
        n += _block(buf + n, &r.block)
    _put16(buf + start + 2, <uint32_t>((n - start) // 4 - 1))
    # SDES: one chunk, CNAME item, END item, padded to 32 bits
    start = n
    buf[n] = 0x81
    buf[n + 1] = PT_SDES
    _put32(buf + n + 4, r.ssrc)
    n += 8
    buf[n] = 1
    buf[n + 1] = <uint8_t>clen
    if clen:
        memcpy(buf + n + 2, r.cname, clen)
    n += 2 + clen
    buf[n] = 0
    n += 1
    while n % 4:
        buf[n] = 0
        n += 1
    _put16(buf + start + 2, <uint32_t>((n - start) // 4 - 1))
    if r.bye:
        buf[n] = 0x81
        buf[n + 1] = PT_BYE
        _put16(buf + n + 2, 1)
        _put32(buf + n + 4, r.ssrc)
        n += 8
    return n


cdef void _read_block(const uint8_t* p, RtcpReportBlock* b) noexcept nogil:
    cdef uint32_t w = _get32(p + 4)
    b.ssrc = _get32(p)
    b.fraction_lost = <uint8_t>(w >> 24)
    b.cumulative_lost = <int32_t>(w << 8) >> 8           # sign-extend 24 bits
    b.ext_highest_seq = _get32(p + 8)
    b.jitter = _get32(p + 12)
    b.lsr = _get32(p + 16)
    b.dlsr = _get32(p + 20)


cdef int rtcp_parse(const uint8_t* d, Py_ssize_t n, uint32_t our_ssrc, RtcpIn* out) noexcept nogil:
    """Validate and read a compound RTCP packet; returns RTCP_OK or an error
    code (also left in ``out.status``). Nothing is read past ``n``."""
    cdef Py_ssize_t off = 0, plen, body
    cdef int pt, count, i, k = 0
    cdef bint pad
    cdef const uint8_t* p
    memset(out, 0, sizeof(RtcpIn))
    if n < 8:
        out.status = RTCP_SHORT
        return RTCP_SHORT
    while off < n:
        if n - off < 4:
            out.status = RTCP_SHORT
            return RTCP_SHORT
        p = d + off
        if (p[0] >> 6) != 2:
            out.status = RTCP_VERSION
            return RTCP_VERSION
        pad = (p[0] & 0x20) != 0
        count = p[0] & 0x1F
        pt = p[1]
        plen = 4 * ((<Py_ssize_t>p[2] << 8 | p[3]) + 1)
        if plen > n - off:
            out.status = RTCP_SHORT
            return RTCP_SHORT
        if k == 0 and pt != PT_SR and pt != PT_RR and plen != n:
            out.status = RTCP_FIRST       # compound packets start with SR or RR
            return RTCP_FIRST
        body = plen
        if pad:
            if off + plen != n or p[plen - 1] == 0 or p[plen - 1] > plen - 4:
                out.status = RTCP_PADDING
                return RTCP_PADDING
            body = plen - p[plen - 1]
        if pt == PT_SR:
            if body < 28 + 24 * count:
                out.status = RTCP_LENGTH
                return RTCP_LENGTH
            out.have_sr = True
            out.sr_ssrc = _get32(p + 4)
            out.sr_lsr = (_get32(p + 8) << 16) | (_get32(p + 12) >> 16)
            for i in range(count):
                if _get32(p + 28 + 24 * i) == our_ssrc:
                    out.have_block = True
                    _read_block(p + 28 + 24 * i, &out.block)
        elif pt == PT_RR:
            if body < 8 + 24 * count:
                out.status = RTCP_LENGTH
                return RTCP_LENGTH
            for i in range(count):
                if _get32(p + 8 + 24 * i) == our_ssrc:
                    out.have_block = True
                    _read_block(p + 8 + 24 * i, &out.block)
        elif pt == PT_BYE:
            if body < 4 + 4 * count:
                out.status = RTCP_LENGTH
                return RTCP_LENGTH
            out.bye = True
        off += plen
        k += 1
    out.packets = k
    out.status = RTCP_OK
    return RTCP_OK


# ---------------------------------------------------------------- Python (tests, fuzzing)
STATUS_NAMES = {RTCP_OK: "ok", RTCP_SHORT: "short", RTCP_VERSION: "version",
                RTCP_PADDING: "padding", RTCP_FIRST: "first", RTCP_LENGTH: "length"}


def parse(data, int our_ssrc=0) -> dict:
    """Parse a compound RTCP datagram the way the engine does. Returns a dict:
    ``status`` ('ok' or the reason it was rejected), ``packets``, ``sr_ssrc``
    and ``sr_lsr`` when an SR was present, ``block`` (dict) when a report
    block about ``our_ssrc`` was present, ``bye``."""
    cdef Buf b
    cdef RtcpIn r
    get_input(data, &b, KIND_BYTES, b"rtcp.parse")
    try:
        with nogil:
            rtcp_parse(<const uint8_t*>b.buf, b.len, <uint32_t>our_ssrc, &r)
    finally:
        release(&b)
    res = {"status": STATUS_NAMES[r.status], "packets": r.packets, "bye": bool(r.bye)}
    if r.have_sr:
        res["sr_ssrc"] = r.sr_ssrc
        res["sr_lsr"] = r.sr_lsr
    if r.have_block:
        res["block"] = _block_dict(&r.block)
    return res


cdef dict _block_dict(const RtcpReportBlock* b):
    return {"ssrc": b.ssrc, "fraction_lost": b.fraction_lost, "cumulative_lost": b.cumulative_lost,
            "ext_highest_seq": b.ext_highest_seq, "jitter": b.jitter, "lsr": b.lsr, "dlsr": b.dlsr}


def build(*, int ssrc, bint sender=False, uint64_t ntp=0, uint32_t rtp_ts=0, uint32_t packets=0,
          uint32_t octets=0, dict block=None, str cname="voicecore", bint bye=False) -> bytes:
    """Build the compound report the engine sends (for tests)."""
    cdef RtcpOut r
    cdef uint8_t buf[512]
    cdef bytes cn = cname.encode()[:255]
    memset(&r, 0, sizeof(RtcpOut))
    r.ssrc = <uint32_t>ssrc
    r.sender = sender
    r.ntp = ntp
    r.rtp_ts = rtp_ts
    r.packets = packets
    r.octets = octets
    r.cname = cn
    r.bye = bye
    if block is not None:
        r.have_block = True
        r.block.ssrc = block.get("ssrc", 0)
        r.block.fraction_lost = block.get("fraction_lost", 0)
        r.block.cumulative_lost = block.get("cumulative_lost", 0)
        r.block.ext_highest_seq = block.get("ext_highest_seq", 0)
        r.block.jitter = block.get("jitter", 0)
        r.block.lsr = block.get("lsr", 0)
        r.block.dlsr = block.get("dlsr", 0)
    cdef int n = rtcp_build(buf, 512, &r)
    return (<char*>buf)[:n]

# cdef API of SDES-keyed SRTP/SRTCP (RFC 3711, keys from RFC 4568 a=crypto
# lines) through libsrtp2, for the audio I/O engine.
#
# One SRTPSession is one call: an outbound context keyed with our key (the one
# we put in our a=crypto line) and an inbound context keyed with the peer's.
# Everything runs in place in the caller's buffer:
#
#     n = s.protect_rtp_c(buf, len, cap)      # RTP -> SRTP; cap - len >= SRTP_MAX_OVERHEAD
#     n = s.unprotect_rtp_c(buf, len)         # SRTP -> RTP (authenticated, replay-checked)
#     n = s.protect_rtcp_c(buf, len, cap)     # RTCP -> SRTCP
#     n = s.unprotect_rtcp_c(buf, len)        # SRTCP -> RTCP
#
# Each returns the new length (> 0) or a negative SRTP_E_* code below; a
# failed unprotect is already counted in stats_c() (auth_fail, replay,
# malformed, other_fail) and the buffer's content is then undefined: drop the
# datagram before the jitter buffer, address learning and latching.
# Nothing here raises or takes the GIL. libsrtp allocates only when a packet
# of a new SSRC first authenticates (it clones the SSRC template into a stream
# for it): once per SSRC, never per packet.
#
# Ownership rule: engine_adopt() (with the GIL) hands the object to an Engine;
# while adopted its Python methods raise RuntimeError; engine_release() (nogil)
# hands it back. Immutable properties (suite, ...) keep working.
cimport cython
from libc.stdint cimport uint8_t, uint64_t
from voicecore._native.atomic cimport vc_u64

cdef extern from "vc_srtp.h" nogil:
    ctypedef void* vc_srtp_t

# Result codes (negative): libsrtp's srtp_err_status_t negated, plus ours.
cdef enum:
    SRTP_OK = 0
    SRTP_E_FAIL = -1
    SRTP_E_BAD_PARAM = -2
    SRTP_E_AUTH = -7              # authentication failed (tampered, wrong key)
    SRTP_E_CIPHER = -8
    SRTP_E_REPLAY = -9            # replayed: index already seen
    SRTP_E_REPLAY_OLD = -10       # replayed: index older than the window
    SRTP_E_NO_CTX = -13
    SRTP_E_KEY_EXPIRED = -15
    SRTP_E_PARSE = -21
    SRTP_E_BAD_MKI = -25
    SRTP_E_TOO_SHORT = -100       # shorter than an RTP (12) / RTCP (8) header
    SRTP_E_NO_ROOM = -101         # protect: cap - len < SRTP_MAX_OVERHEAD
    SRTP_E_UNAVAILABLE = -102     # built without libsrtp2
    # Room protect may need past the packet (tag 16 + MKI 128 + SRTCP index 4).
    SRTP_MAX_OVERHEAD = 148


cdef struct SRTPStats:
    uint64_t rtp_protected
    uint64_t rtp_unprotected
    uint64_t rtcp_protected
    uint64_t rtcp_unprotected
    uint64_t auth_fail            # SRTP_E_AUTH (RTP and RTCP)
    uint64_t replay               # SRTP_E_REPLAY + SRTP_E_REPLAY_OLD
    uint64_t malformed            # SRTP_E_TOO_SHORT, SRTP_E_PARSE, SRTP_E_BAD_PARAM on input
    uint64_t other_fail           # any other unprotect failure
    uint64_t protect_fail         # protect refused (no room, key expired, ...)


@cython.final
cdef class SRTPSession:
    cdef vc_srtp_t tx             # outbound context (local key)
    cdef vc_srtp_t rx             # inbound context (remote key)
    cdef int tx_mki, rx_mki       # 1 when that key has an MKI in the packets
    cdef int _last                # result of the last Python-level call
    cdef SRTPStats st
    cdef vc_u64 _own
    cdef readonly str suite
    cdef readonly int replay_window

    cdef int protect_rtp_c(self, uint8_t* buf, int length, int cap) noexcept nogil
    cdef int unprotect_rtp_c(self, uint8_t* buf, int length) noexcept nogil
    cdef int protect_rtcp_c(self, uint8_t* buf, int length, int cap) noexcept nogil
    cdef int unprotect_rtcp_c(self, uint8_t* buf, int length) noexcept nogil
    cdef const SRTPStats* stats_c(self) noexcept nogil
    cdef int engine_adopt(self) except -1
    cdef void engine_release(self) noexcept nogil
    # internal (declared here because Cython requires it)
    cdef object _run(self, object data, int op, const char* what)

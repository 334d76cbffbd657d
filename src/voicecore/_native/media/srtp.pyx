# cython: freethreading_compatible=True
"""SDES-SRTP (RFC 3711 / RFC 4568) through libsrtp2's C API: protect and
unprotect RTP and RTCP in place, with libsrtp's replay protection. See
srtp.pxd for the nogil API the engine uses; this module adds the Python
methods. Key material comes from the a=crypto lines (parsed in
``voicecore.media.srtp``).

libsrtp2 is linked at build time (meson ``dependency('libsrtp2')``, optional:
``-Dsrtp=enabled`` makes it required, ``-Dsrtp=disabled`` leaves it out). A
build without it still imports: ``AVAILABLE`` is False and ``SRTPSession``
raises ``SRTPUnavailableError``.
"""
from libc.stdint cimport uint8_t
from libc.string cimport memset, memcpy
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from cpython.bytearray cimport PyByteArray_FromStringAndSize, PyByteArray_AS_STRING

from voicecore._native._buffers cimport Buf, get_input, release, KIND_BYTES
from voicecore._native.atomic cimport vc_init
from voicecore._native.media._owner cimport own_claim, own_unclaim, own_adopt, OWN_FREE

cdef extern from "vc_srtp.h" nogil:
    int VC_SRTP_AVAILABLE
    int VC_SRTP_MAX_OVERHEAD
    int VC_SRTP_AES_CM_128_HMAC_SHA1_80, VC_SRTP_AES_CM_128_HMAC_SHA1_32
    int VC_SRTP_AEAD_AES_128_GCM, VC_SRTP_AEAD_AES_256_GCM
    int VC_SRTP_AES_256_CM_HMAC_SHA1_80, VC_SRTP_AES_256_CM_HMAC_SHA1_32
    const char* vc_srtp_version()
    int vc_srtp_global_init()
    int vc_srtp_key_len(int suite)
    int vc_srtp_create(vc_srtp_t* out, int suite, const uint8_t* key, int key_len,
                       const uint8_t* mki, int mki_len, int inbound, unsigned long window, int allow_repeat_tx)
    void vc_srtp_free(vc_srtp_t s)
    int vc_srtp_protect(vc_srtp_t s, uint8_t* buf, int len, int cap, int use_mki)
    int vc_srtp_unprotect(vc_srtp_t s, uint8_t* buf, int len, int use_mki)
    int vc_srtp_protect_rtcp(vc_srtp_t s, uint8_t* buf, int len, int cap, int use_mki)
    int vc_srtp_unprotect_rtcp(vc_srtp_t s, uint8_t* buf, int len, int use_mki)

assert VC_SRTP_MAX_OVERHEAD == SRTP_MAX_OVERHEAD

#: True when voicecore was built with libsrtp2.
AVAILABLE = bool(VC_SRTP_AVAILABLE)
#: libsrtp version string ("" when unavailable).
VERSION = vc_srtp_version().decode() if VC_SRTP_AVAILABLE else ""
#: Why SRTP is unavailable (None when it is available).
UNAVAILABLE_REASON = None if VC_SRTP_AVAILABLE else (
    "SRTP is unavailable: this voicecore was built without libsrtp2 "
    "(install libsrtp2-dev and rebuild, or install a wheel that bundles it)")
#: Crypto suites (RFC 4568 / RFC 6188 / RFC 7714 names) -> master key + salt length (bytes).
SUITES = {
    "AES_CM_128_HMAC_SHA1_80": 30,
    "AES_CM_128_HMAC_SHA1_32": 30,
    "AEAD_AES_128_GCM": 28,
    "AEAD_AES_256_GCM": 44,
    "AES_256_CM_HMAC_SHA1_80": 46,
    "AES_256_CM_HMAC_SHA1_32": 46,
}
cdef dict _SUITE_IDS = {
    "AES_CM_128_HMAC_SHA1_80": VC_SRTP_AES_CM_128_HMAC_SHA1_80,
    "AES_CM_128_HMAC_SHA1_32": VC_SRTP_AES_CM_128_HMAC_SHA1_32,
    "AEAD_AES_128_GCM": VC_SRTP_AEAD_AES_128_GCM,
    "AEAD_AES_256_GCM": VC_SRTP_AEAD_AES_256_GCM,
    "AES_256_CM_HMAC_SHA1_80": VC_SRTP_AES_256_CM_HMAC_SHA1_80,
    "AES_256_CM_HMAC_SHA1_32": VC_SRTP_AES_256_CM_HMAC_SHA1_32,
}
#: Extra bytes protect may append (tag + MKI + SRTCP index): leave this much
#: room after a packet handed to the nogil protect calls.
MAX_OVERHEAD = SRTP_MAX_OVERHEAD
#: Result codes of the nogil calls (and of ``SRTPSession.last_result``).
RESULTS = {
    SRTP_OK: "ok", SRTP_E_FAIL: "fail", SRTP_E_BAD_PARAM: "bad_param", SRTP_E_AUTH: "auth_fail",
    SRTP_E_CIPHER: "cipher_fail", SRTP_E_REPLAY: "replay", SRTP_E_REPLAY_OLD: "replay_old",
    SRTP_E_NO_CTX: "no_ctx", SRTP_E_KEY_EXPIRED: "key_expired", SRTP_E_PARSE: "parse_error",
    SRTP_E_BAD_MKI: "bad_mki", SRTP_E_TOO_SHORT: "too_short", SRTP_E_NO_ROOM: "no_room",
    SRTP_E_UNAVAILABLE: "unavailable",
}

if VC_SRTP_AVAILABLE:
    _rc = vc_srtp_global_init()
    if _rc != 0:
        raise ImportError(f"voicecore._native.media.srtp: srtp_init() failed ({RESULTS.get(_rc, _rc)})")


class SRTPUnavailableError(RuntimeError):
    """voicecore was built without libsrtp2."""


class SRTPError(RuntimeError):
    """An SRTP call failed; ``code`` is the result code, ``reason`` its name."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code
        self.reason = RESULTS.get(code, "error")


cdef inline void _count(SRTPStats* st, int r) noexcept nogil:
    if r == SRTP_E_AUTH:
        st.auth_fail += 1
    elif r == SRTP_E_REPLAY or r == SRTP_E_REPLAY_OLD:
        st.replay += 1
    elif r == SRTP_E_TOO_SHORT or r == SRTP_E_PARSE or r == SRTP_E_BAD_PARAM:
        st.malformed += 1
    else:
        st.other_fail += 1


cdef class SRTPSession:
    """SRTP for one call: ``protect``/``protect_rtcp`` with our key,
    ``unprotect``/``unprotect_rtcp`` with the peer's.

    ``suite``: one of ``SUITES`` (``AES_CM_128_HMAC_SHA1_80`` and ``_32``,
    ``AEAD_AES_128_GCM``, ...). ``local_key`` / ``remote_key``: master key
    followed by master salt, ``SUITES[suite]`` bytes each (the decoded
    ``inline:`` key of our and the peer's a=crypto line). ``local_mki`` /
    ``remote_mki``: the MKI bytes when that a=crypto line has one (RFC 4568
    ``|1:4`` -> ``(1).to_bytes(4, "big")``). ``replay_window``: packets
    (64-32768, default 128) of libsrtp's replay window.
    """

    def __cinit__(self, str suite, local_key, remote_key, *, local_mki=None, remote_mki=None,
                  int replay_window=128):
        cdef int sid, klen, r
        cdef bytes lk, rk, lm, rm
        self.tx = NULL
        self.rx = NULL
        if not VC_SRTP_AVAILABLE:
            raise SRTPUnavailableError(f"SRTPSession: {UNAVAILABLE_REASON}")
        if suite not in _SUITE_IDS:
            raise ValueError(f"SRTPSession: unknown suite {suite!r}; expected one of {', '.join(SUITES)}")
        sid = _SUITE_IDS[suite]
        klen = vc_srtp_key_len(sid)
        lk = _key_bytes(local_key, "local_key", klen, suite)
        rk = _key_bytes(remote_key, "remote_key", klen, suite)
        lm = _mki_bytes(local_mki, "local_mki")
        rm = _mki_bytes(remote_mki, "remote_mki")
        if not 64 <= replay_window <= 32768:
            raise ValueError(f"SRTPSession: replay_window must be 64-32768 packets, got {replay_window!r}")
        r = vc_srtp_create(&self.tx, sid, <const uint8_t*>PyBytes_AS_STRING(lk), klen,
                           <const uint8_t*>PyBytes_AS_STRING(lm), <int>len(lm), 0, replay_window, 0)
        if r != 0:
            raise SRTPError(f"SRTPSession: cannot create the outbound context ({RESULTS.get(r, r)})", r)
        r = vc_srtp_create(&self.rx, sid, <const uint8_t*>PyBytes_AS_STRING(rk), klen,
                           <const uint8_t*>PyBytes_AS_STRING(rm), <int>len(rm), 1, replay_window, 0)
        if r != 0:
            raise SRTPError(f"SRTPSession: cannot create the inbound context ({RESULTS.get(r, r)})", r)
        self.tx_mki = len(lm) > 0
        self.rx_mki = len(rm) > 0
        self.suite = suite
        self.replay_window = replay_window
        self._last = 0
        memset(&self.st, 0, sizeof(SRTPStats))
        vc_init(&self._own, OWN_FREE)

    def __dealloc__(self):
        vc_srtp_free(self.tx)
        vc_srtp_free(self.rx)
        self.tx = NULL
        self.rx = NULL

    # -------------------------------------------------------- nogil API
    cdef int protect_rtp_c(self, uint8_t* buf, int length, int cap) noexcept nogil:
        cdef int r = vc_srtp_protect(self.tx, buf, length, cap, self.tx_mki)
        if r > 0:
            self.st.rtp_protected += 1
        else:
            self.st.protect_fail += 1
        return r

    cdef int unprotect_rtp_c(self, uint8_t* buf, int length) noexcept nogil:
        cdef int r = vc_srtp_unprotect(self.rx, buf, length, self.rx_mki)
        if r > 0:
            self.st.rtp_unprotected += 1
        else:
            _count(&self.st, r)
        return r

    cdef int protect_rtcp_c(self, uint8_t* buf, int length, int cap) noexcept nogil:
        cdef int r = vc_srtp_protect_rtcp(self.tx, buf, length, cap, self.tx_mki)
        if r > 0:
            self.st.rtcp_protected += 1
        else:
            self.st.protect_fail += 1
        return r

    cdef int unprotect_rtcp_c(self, uint8_t* buf, int length) noexcept nogil:
        cdef int r = vc_srtp_unprotect_rtcp(self.rx, buf, length, self.rx_mki)
        if r > 0:
            self.st.rtcp_unprotected += 1
        else:
            _count(&self.st, r)
        return r

    cdef const SRTPStats* stats_c(self) noexcept nogil:
        return &self.st

    cdef int engine_adopt(self) except -1:
        return own_adopt(&self._own, b"SRTPSession")

    cdef void engine_release(self) noexcept nogil:
        own_unclaim(&self._own)

    # -------------------------------------------------------- Python API
    cdef object _run(self, object data, int op, const char* what):
        """op 0 protect, 1 unprotect, 2 protect_rtcp, 3 unprotect_rtcp."""
        cdef Buf src
        cdef int n, r
        cdef uint8_t* p
        get_input(data, &src, KIND_BYTES, what)
        try:
            if src.len > 65535:
                raise ValueError(f"{(<bytes>what).decode()}: packet of {src.len} bytes is longer than 65535")
            n = <int>src.len
            work = PyByteArray_FromStringAndSize(NULL, n + SRTP_MAX_OVERHEAD)
            p = <uint8_t*>PyByteArray_AS_STRING(work)
            if n:
                memcpy(p, src.buf, n)
        finally:
            release(&src)
        own_claim(&self._own, b"SRTPSession", what)
        try:
            with nogil:
                if op == 0:
                    r = self.protect_rtp_c(p, n, n + SRTP_MAX_OVERHEAD)
                elif op == 1:
                    r = self.unprotect_rtp_c(p, n)
                elif op == 2:
                    r = self.protect_rtcp_c(p, n, n + SRTP_MAX_OVERHEAD)
                else:
                    r = self.unprotect_rtcp_c(p, n)
            self._last = r if r < 0 else 0
        finally:
            own_unclaim(&self._own)
        if r < 0:
            if op == 0 or op == 2:
                raise SRTPError(f"{(<bytes>what).decode()}: {RESULTS.get(r, r)}", r)
            return None
        return PyBytes_FromStringAndSize(<char*>p, r)

    def protect(self, rtp) -> bytes:
        """RTP packet -> SRTP packet (our key). Raises SRTPError when the
        packet is not RTP (shorter than 12 bytes) or the key is exhausted."""
        return self._run(rtp, 0, b"SRTPSession.protect")

    def unprotect(self, srtp):
        """SRTP packet -> RTP packet (the peer's key), or None when it is
        dropped: failed authentication, replay, malformed. The reason is in
        ``last_result`` and counted in ``stats()``; never raises for bad
        packets."""
        return self._run(srtp, 1, b"SRTPSession.unprotect")

    def protect_rtcp(self, rtcp) -> bytes:
        """RTCP compound packet -> SRTCP (our key; encrypted, index + E flag)."""
        return self._run(rtcp, 2, b"SRTPSession.protect_rtcp")

    def unprotect_rtcp(self, srtcp):
        """SRTCP packet -> RTCP, or None when dropped (see ``unprotect``)."""
        return self._run(srtcp, 3, b"SRTPSession.unprotect_rtcp")

    @property
    def last_result(self) -> str:
        """Result of the last Python-level call: "ok", "auth_fail", "replay",
        "replay_old", "too_short", ... (see ``RESULTS``)."""
        return RESULTS.get(self._last, str(self._last))

    def stats(self) -> dict:
        """Counters: rtp_protected, rtp_unprotected, rtcp_protected,
        rtcp_unprotected, auth_fail, replay, malformed, other_fail,
        protect_fail."""
        own_claim(&self._own, b"SRTPSession", b"SRTPSession.stats")
        d = dict(self.st)
        own_unclaim(&self._own)
        return d

    def __repr__(self):
        return f"SRTPSession({self.suite!r})"


cdef bytes _key_bytes(object key, str name, int klen, str suite):
    cdef Buf b
    get_input(key, &b, KIND_BYTES, b"SRTPSession")
    try:
        out = PyBytes_FromStringAndSize(b.buf, b.len)
    finally:
        release(&b)
    if len(out) != klen:
        raise ValueError(f"SRTPSession: {name} must be {klen} bytes (master key + salt) for {suite}, got {len(out)}")
    return out


cdef bytes _mki_bytes(object mki, str name):
    cdef Buf b
    if mki is None:
        return b""
    get_input(mki, &b, KIND_BYTES, b"SRTPSession")
    try:
        out = PyBytes_FromStringAndSize(b.buf, b.len)
    finally:
        release(&b)
    if not 1 <= len(out) <= 128:
        raise ValueError(f"SRTPSession: {name} must be 1-128 bytes, got {len(out)}")
    return out

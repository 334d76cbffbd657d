"""SDES-SRTP: interop with pylibsrtp (an independent libsrtp build) both ways
for RTP and RTCP, rejection codes for tampered, replayed, wrong-key and short
packets, MKI, and RFC 4568 a=crypto parsing."""

from __future__ import annotations

import base64
import os
import struct

import pytest

from codec_refs import pylibsrtp_or_skip
from voicecore.media import srtp

pytestmark = pytest.mark.skipif(not srtp.AVAILABLE, reason=str(srtp.UNAVAILABLE_REASON))

# suite -> the pylibsrtp profile attribute of the same protection
PROFILES = {
    "AES_CM_128_HMAC_SHA1_80": "SRTP_PROFILE_AES128_CM_SHA1_80",
    "AES_CM_128_HMAC_SHA1_32": "SRTP_PROFILE_AES128_CM_SHA1_32",
    "AEAD_AES_128_GCM": "SRTP_PROFILE_AEAD_AES_128_GCM",
    "AEAD_AES_256_GCM": "SRTP_PROFILE_AEAD_AES_256_GCM",
}
TAG = {"AES_CM_128_HMAC_SHA1_80": 10, "AES_CM_128_HMAC_SHA1_32": 4, "AEAD_AES_128_GCM": 16,
       "AEAD_AES_256_GCM": 16, "AES_256_CM_HMAC_SHA1_80": 10, "AES_256_CM_HMAC_SHA1_32": 4}


def rtp(seq: int, ts: int = 0, ssrc: int = 0x11223344, payload: bytes | None = None, pt: int = 0) -> bytes:
    if payload is None:
        payload = bytes((seq + i) & 0xFF for i in range(160))
    return struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload


def rtcp_sr(ssrc: int = 0x11223344, n: int = 0) -> bytes:
    body = struct.pack("!IIIII", ssrc, 0x83AA7E80 + n, 0, 160 * n, n) + struct.pack("!I", 160 * n)
    return struct.pack("!BBH", 0x80, 200, len(body) // 4) + body


def pair(suite: str):
    """(ours, peer_in, peer_out, keys): ours protects with key a (peer_in
    unprotects with a) and unprotects with key b (peer_out protects with b)."""
    lib = pylibsrtp_or_skip()
    profile = getattr(lib.Policy, PROFILES[suite])
    a, b = os.urandom(srtp.SUITES[suite]), os.urandom(srtp.SUITES[suite])
    ours = srtp.SRTPSession(suite, a, b)
    peer_in = lib.Session(lib.Policy(key=a, ssrc_type=lib.Policy.SSRC_ANY_INBOUND, srtp_profile=profile))
    peer_out = lib.Session(lib.Policy(key=b, ssrc_type=lib.Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile))
    return ours, peer_in, peer_out, (a, b)


@pytest.mark.parametrize("suite", sorted(PROFILES))
def test_rtp_interop_both_ways_across_the_sequence_wrap(suite):
    ours, peer_in, peer_out, _ = pair(suite)
    for i in range(300):
        seq = 65400 + i                               # wraps: the rollover counter must follow
        p = rtp(seq, 160 * i)
        sp = ours.protect(p)
        assert len(sp) == len(p) + TAG[suite]
        assert sp[12:] != p[12:]                      # encrypted
        assert peer_in.unprotect(sp) == p
        q = rtp(seq, 160 * i, ssrc=0x55667788)
        assert ours.unprotect(peer_out.protect(q)) == q
    st = ours.stats()
    assert st["rtp_protected"] == 300 and st["rtp_unprotected"] == 300
    assert st["auth_fail"] == st["replay"] == st["malformed"] == 0


@pytest.mark.parametrize("suite", sorted(PROFILES))
def test_rtcp_interop_both_ways(suite):
    ours, peer_in, peer_out, _ = pair(suite)
    for n in range(20):
        r = rtcp_sr(n=n)
        s = ours.protect_rtcp(r)
        assert s[8:len(r)] != r[8:]                   # SRTCP encrypts past the first 8 bytes
        assert peer_in.unprotect_rtcp(s) == r
        assert ours.unprotect_rtcp(peer_out.protect_rtcp(r)) == r
    st = ours.stats()
    assert st["rtcp_protected"] == 20 and st["rtcp_unprotected"] == 20


@pytest.mark.parametrize("suite", sorted(PROFILES))
def test_tampered_packets_fail_authentication(suite):
    ours, _, peer_out, _ = pair(suite)
    good = peer_out.protect(rtp(1))
    for where in (1, 3, 8, 12, 40, len(good) - 1):   # header, payload, tag
        bad = bytearray(good)
        bad[where] ^= 0x01
        assert ours.unprotect(bytes(bad)) is None
        assert ours.last_result == "auth_fail"
    assert ours.unprotect(good[:-1]) is None          # truncated tag
    assert ours.unprotect(good) == rtp(1)             # the real one still passes
    assert ours.last_result == "ok"
    r = bytearray(peer_out.protect_rtcp(rtcp_sr()))
    r[10] ^= 0x80
    assert ours.unprotect_rtcp(bytes(r)) is None and ours.last_result == "auth_fail"
    assert ours.stats()["auth_fail"] == 8


@pytest.mark.parametrize("suite", sorted(PROFILES))
def test_replays_are_rejected(suite):
    ours, _, peer_out, _ = pair(suite)
    pk = [peer_out.protect(rtp(1000 + i)) for i in range(300)]
    assert ours.unprotect(pk[0]) == rtp(1000)
    assert ours.unprotect(pk[0]) is None and ours.last_result == "replay"
    assert ours.unprotect(pk[299]) == rtp(1299)
    assert ours.unprotect(pk[250]) == rtp(1250)        # reordered inside the 128-packet window: fine
    assert ours.unprotect(pk[250]) is None and ours.last_result == "replay"
    assert ours.unprotect(pk[100]) is None and ours.last_result == "replay_old"   # behind the window
    rc = [peer_out.protect_rtcp(rtcp_sr(n=n)) for n in range(3)]
    assert ours.unprotect_rtcp(rc[1]) is not None
    assert ours.unprotect_rtcp(rc[1]) is None and ours.last_result == "replay"
    st = ours.stats()
    assert st["replay"] == 4 and st["auth_fail"] == 0


@pytest.mark.parametrize("suite", sorted(srtp.SUITES))
def test_wrong_key_and_short_packets(suite):
    k = srtp.SUITES[suite]
    sender = srtp.SRTPSession(suite, os.urandom(k), os.urandom(k))
    receiver = srtp.SRTPSession(suite, os.urandom(k), os.urandom(k))   # expects another key
    assert receiver.unprotect(sender.protect(rtp(5))) is None
    assert receiver.last_result == "auth_fail"
    assert receiver.unprotect_rtcp(sender.protect_rtcp(rtcp_sr())) is None
    assert receiver.last_result == "auth_fail"
    assert receiver.unprotect(b"\x80\x00\x00") is None and receiver.last_result == "too_short"
    assert receiver.unprotect_rtcp(b"\x80\xc8") is None and receiver.last_result == "too_short"
    assert receiver.stats()["malformed"] == 2 and receiver.stats()["auth_fail"] == 2
    with pytest.raises(srtp.SRTPError, match="SRTPSession.protect: too_short") as e:
        sender.protect(b"\x80\x00")
    assert e.value.reason == "too_short"
    # each suite talks to itself (voicecore <-> voicecore), including the
    # AES-256 suites that pylibsrtp's profiles do not cover
    a, b = os.urandom(k), os.urandom(k)
    x, y = srtp.SRTPSession(suite, a, b), srtp.SRTPSession(suite, b, a)
    assert len(x.protect(rtp(9))) == len(rtp(9)) + TAG[suite]
    assert y.unprotect(x.protect(rtp(10))) == rtp(10)
    assert x.unprotect_rtcp(y.protect_rtcp(rtcp_sr())) == rtcp_sr()


def test_mki_is_on_the_wire_and_checked():
    k = srtp.SUITES["AES_CM_128_HMAC_SHA1_80"]
    a, b = os.urandom(k), os.urandom(k)
    mki = (1).to_bytes(4, "big")
    x = srtp.SRTPSession("AES_CM_128_HMAC_SHA1_80", a, b, local_mki=mki)
    y = srtp.SRTPSession("AES_CM_128_HMAC_SHA1_80", b, a, remote_mki=mki)
    p = rtp(1)
    s = x.protect(p)
    assert len(s) == len(p) + 4 + 10 and s[len(p) : len(p) + 4] == mki
    assert y.unprotect(s) == p
    z = srtp.SRTPSession("AES_CM_128_HMAC_SHA1_80", b, a, remote_mki=(2).to_bytes(4, "big"))
    assert z.unprotect(x.protect(rtp(2))) is None and z.last_result == "bad_mki"


def test_session_from_sdes_lines_interoperates():
    lib = pylibsrtp_or_skip()
    offer = srtp.generate_crypto(1, "AES_CM_128_HMAC_SHA1_32").to_sdp()
    theirs, ours = srtp.answer_crypto([offer])
    assert (ours.tag, ours.suite) == (1, "AES_CM_128_HMAC_SHA1_32") and ours.key != theirs.key
    s = srtp.session_from_sdes(ours, theirs)
    prof = lib.Policy.SRTP_PROFILE_AES128_CM_SHA1_32
    peer_out = lib.Session(lib.Policy(key=theirs.key, ssrc_type=lib.Policy.SSRC_ANY_OUTBOUND, srtp_profile=prof))
    peer_in = lib.Session(lib.Policy(key=srtp.parse_crypto(ours.to_sdp()).key,
                                     ssrc_type=lib.Policy.SSRC_ANY_INBOUND, srtp_profile=prof))
    assert s.unprotect(peer_out.protect(rtp(3))) == rtp(3)
    assert peer_in.unprotect(s.protect(rtp(4))) == rtp(4)


def test_parse_crypto_rfc4568_examples_and_variants():
    key = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
    a = srtp.parse_crypto(f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}|2^20|1:4")
    assert (a.tag, a.suite, a.lifetime, a.mki, a.mki_length) == (1, "AES_CM_128_HMAC_SHA1_80", 1 << 20, 1, 4)
    assert a.key == base64.b64decode(key) and a.mki_bytes == b"\x00\x00\x00\x01"
    assert a.to_sdp() == f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}|2^20|1:4"
    b = srtp.parse_crypto(f"crypto:7 AES_CM_128_HMAC_SHA1_32 inline:{key}|1048576 WSH=256 KDR=0")
    assert b.lifetime == 1 << 20 and b.mki is None and b.replay_window == 256
    c = srtp.parse_crypto("a=crypto:2 AEAD_AES_128_GCM inline:" + base64.b64encode(bytes(28)).decode().rstrip("="))
    assert c.key == bytes(28)                          # unpadded base64 accepted
    assert srtp.parse_crypto(c.to_sdp()) == c


@pytest.mark.parametrize("line, message", [
    ("a=crypto:1 F8_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR", "unsupported crypto suite"),
    ("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA", "needs a 30-byte key"),
    ("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:!!!notbase64!!!", "not base64"),
    ("a=crypto:1 AES_CM_128_HMAC_SHA1_80 uri:http://x", "key method must be 'inline'"),
    ("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4;"
     "inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|2^20|2:4", "several keys"),
    ("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR UNENCRYPTED_SRTP",
     "UNENCRYPTED_SRTP is not supported"),
    ("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR KDR=24", "only KDR=0"),
    ("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|1:999", "malformed MKI"),
    ("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^x", "malformed lifetime"),
    ("a=rtpmap:0 PCMU/8000", "not an RFC 4568 crypto attribute"),
])
def test_parse_crypto_refuses_with_a_clear_message(line, message):
    with pytest.raises(ValueError, match=f"parse_crypto: .*{message}"):
        srtp.parse_crypto(line)


def test_answer_crypto_skips_what_it_cannot_use():
    offered = [
        "a=crypto:1 AES_CM_256_HMAC_SHA1_80 inline:" + base64.b64encode(bytes(46)).decode(),
        "a=crypto:2 AEAD_AES_256_GCM inline:" + base64.b64encode(bytes(44)).decode(),
        "a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:" + base64.b64encode(bytes(30)).decode(),
    ]
    theirs, ours = srtp.answer_crypto(offered, suites=["AES_CM_128_HMAC_SHA1_80"])
    assert theirs.tag == ours.tag == 3
    theirs, ours = srtp.answer_crypto(offered)
    assert ours.suite == "AEAD_AES_256_GCM" and len(ours.key) == 44
    with pytest.raises(ValueError, match="answer_crypto: no usable crypto attribute"):
        srtp.answer_crypto(offered[:1])


def test_bad_arguments_name_the_class():
    with pytest.raises(ValueError, match="SRTPSession: unknown suite"):
        srtp.SRTPSession("NULL_HMAC", bytes(30), bytes(30))
    with pytest.raises(ValueError, match="SRTPSession: local_key must be 30 bytes"):
        srtp.SRTPSession("AES_CM_128_HMAC_SHA1_80", bytes(16), bytes(30))
    with pytest.raises(ValueError, match="SRTPSession: replay_window"):
        srtp.SRTPSession("AES_CM_128_HMAC_SHA1_80", bytes(30), bytes(30), replay_window=8)
    with pytest.raises(ValueError, match="SRTPSession: local_mki must be 1-128 bytes"):
        srtp.SRTPSession("AES_CM_128_HMAC_SHA1_80", bytes(30), bytes(30), local_mki=b"")
    with pytest.raises(ValueError, match="session_from_sdes: suites differ"):
        srtp.session_from_sdes(srtp.generate_crypto(1), srtp.generate_crypto(1, "AEAD_AES_128_GCM"))
    with pytest.raises(ValueError, match="generate_crypto: unsupported"):
        srtp.generate_crypto(1, "X")
    srtp.require()

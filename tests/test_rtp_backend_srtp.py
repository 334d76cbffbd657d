"""SDES-SRTP through RTPVoiceBackend against an independent implementation:
the far end is pylibsrtp (PyPI; its wheel bundles its own libsrtp build) on
raw sockets, for AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32 and
AEAD_AES_128_GCM.

The far end offers an ``a=crypto`` line written by hand, the backend's side
answers with :func:`voicecore.media.srtp.answer_crypto`, and the far end
reads our key out of our answer line by hand (no voicecore code on the far
end). Then, in one call: speech both ways (SRTP), RTCP both ways (SRTCP: our
sender reports decrypt with pylibsrtp's ``unprotect_rtcp``; the far end's
receiver report, protected by pylibsrtp, reaches our statistics), and
tampered, replayed and wrong-key packets (RTP and RTCP) dropped and counted
in ``srtp_auth_fail`` / ``srtp_replay``, never reaching the jitter buffer.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import struct
import sys
import time

import numpy as np
import pytest

from codec_refs import pylibsrtp_or_skip
from engine_support import RawPeer, find_exact, rtp, speech, tone

from voicecore import codec
from voicecore.media import srtp

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the engine is Linux-only"),
    pytest.mark.skipif(not srtp.AVAILABLE, reason=str(srtp.UNAVAILABLE_REASON)),
]

# RFC 4568 / RFC 7714 suite -> (pylibsrtp profile, master key + salt bytes, RTP tag bytes)
SUITES = {
    "AES_CM_128_HMAC_SHA1_80": ("SRTP_PROFILE_AES128_CM_SHA1_80", 30, 10),
    "AES_CM_128_HMAC_SHA1_32": ("SRTP_PROFILE_AES128_CM_SHA1_32", 30, 4),
    "AEAD_AES_128_GCM": ("SRTP_PROFILE_AEAD_AES_128_GCM", 28, 16),
}


@pytest.fixture
async def engine():
    from voicecore.engine import AudioEngine

    eng = AudioEngine()
    eng.start()
    yield eng
    await eng.aclose()


class FarEnd:
    """pylibsrtp on the far end of the call: protects with its own key,
    unprotects with the key of our answer."""

    def __init__(self, lib, suite: str) -> None:
        profile_name, key_len, self.tag = SUITES[suite]
        self.lib = lib
        self.profile = getattr(lib.Policy, profile_name)
        self.key = os.urandom(key_len)
        self.offer = f"a=crypto:1 {suite} inline:{base64.b64encode(self.key).decode()}"
        self.tx = lib.Session(lib.Policy(key=self.key, ssrc_type=lib.Policy.SSRC_ANY_OUTBOUND,
                                         srtp_profile=self.profile))

    def accept(self, answer: str) -> None:
        m = re.match(r"^a=crypto:1 (\S+) inline:([A-Za-z0-9+/=]+)(?:\|\S*)?(?:\s.*)?$", answer)
        assert m is not None, answer
        key = base64.b64decode(m.group(2))
        assert len(key) == len(self.key)
        self.rx = self.lib.Session(self.lib.Policy(key=key, ssrc_type=self.lib.Policy.SSRC_ANY_INBOUND,
                                                   srtp_profile=self.profile))

    def stranger(self):
        """A sender with the right suite but a key nobody negotiated."""
        return self.lib.Session(self.lib.Policy(key=os.urandom(len(self.key)),
                                                ssrc_type=self.lib.Policy.SSRC_ANY_OUTBOUND,
                                                srtp_profile=self.profile))


def _receiver_report(ssrc: int, about: int, fraction_lost: int, cumulative_lost: int) -> bytes:
    """RFC 3550 RR with one report block (written here, not with voicecore's RTCP code)."""
    block = struct.pack("!IIIIII", about, (fraction_lost << 24) | cumulative_lost, 1000, 80, 0, 0)
    return struct.pack("!BBHI", 0x81, 201, 7, ssrc) + block


def _flip(data: bytes, where: int) -> bytes:
    b = bytearray(data)
    b[where] ^= 0x01
    return bytes(b)


@pytest.mark.parametrize("suite", sorted(SUITES))
async def test_srtp_interop_with_pylibsrtp_both_ways(engine, suite):
    from voicecore.backends.rtp import RTPVoiceBackend

    lib = pylibsrtp_or_skip()
    far = FarEnd(lib, suite)
    theirs, ours = srtp.answer_crypto([far.offer])           # the backend's side of the negotiation
    assert theirs.key == far.key and ours.suite == suite and ours.tag == 1
    far.accept(ours.to_sdp())

    rtp_peer, rtcp_peer = RawPeer.pair()
    try:
        b = RTPVoiceBackend(local_addr=("127.0.0.1", 0), remote_addr=rtp_peer.addr, engine=engine,
                            rtcp_interval=0.25)
        s = await b.connect("r", "p", "c", metadata={"srtp": (ours.to_sdp(), far.offer)})
        es = b._calls[s.id].es
        dest = tuple(s.metadata["local_addr"])
        dest_rtcp = (dest[0], es.rtcp_socket.getsockname()[1])
        frames = []
        b.on_audio_received(lambda sess, f: frames.append(f))
        x = speech(8000, 1.2)
        if x is None:
            x = tone(440, 1.2)
        x = x[: len(x) // 160 * 160]
        plain = [rtp(3000 + i, 160 * i, 0xFA4, codec.lin2ulaw(x[160 * i: 160 * (i + 1)].tobytes()),
                     marker=i == 0) for i in range(len(x) // 160)]
        pk = [far.tx.protect(p) for p in plain]
        assert all(len(p) == len(q) + far.tag for p, q in zip(pk, plain))
        stranger = far.stranger()
        bad = {
            10: [_flip(pk[11], 20),                     # tampered payload of a packet not yet seen: auth
                 stranger.protect(plain[12]),           # right suite, wrong key: auth
                 pk[10]],                               # replayed at once: replay
            40: [pk[3]],                                # replayed much later (still in the window): replay
        }
        loop = asyncio.get_running_loop()

        async def inbound() -> None:
            t0 = loop.time()
            for i, p in enumerate(pk):
                await asyncio.sleep(max(0.0, t0 + 0.02 * i - loop.time()))
                rtp_peer.send(p, dest)
                for q in bad.get(i, ()):
                    rtp_peer.send(q, dest)

        async def outbound() -> None:
            await b.send_audio(s, x.tobytes())
            assert await b.wait_playback(s)

        await asyncio.gather(inbound(), outbound())
        # SRTCP: wait for one of our sender reports, then answer it with a protected RR
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and not rtcp_peer.rtcp():
            await asyncio.sleep(0.05)
        out_rtp = rtp_peer.rtp(0)
        assert out_rtp, "no RTP from the backend"
        our_ssrc = out_rtp[0].ssrc
        rr = far.tx.protect_rtcp(_receiver_report(0xFA4, our_ssrc, 64, 9))
        rtcp_peer.send(_flip(rr, 9), dest_rtcp)           # tampered SRTCP: auth
        rtcp_peer.send(stranger.protect_rtcp(_receiver_report(0xFA4, our_ssrc, 128, 99)), dest_rtcp)  # wrong key
        rtcp_peer.send(rr, dest_rtcp)                       # the real one
        rtcp_peer.send(rr, dest_rtcp)                       # replayed: replay
        await asyncio.sleep(0.3)
        st = b.session_stats(s)
        await b.close()
        await asyncio.sleep(0.1)
        our_rtcp = [p.data for p in rtcp_peer.rtcp()]
    finally:
        rtp_peer.close()
        rtcp_peer.close()

    # inbound: every good packet in once, the bad ones counted and dropped before the jitter buffer
    assert st["received"] == len(pk) and st["duplicates"] == 0
    # RTP: 2 failing authentication, 2 replays; RTCP: 2 failing authentication, 1 replay
    assert st["srtp_auth_fail"] == 4 and st["srtp_replay"] == 3, {k: v for k, v in st.items() if "srtp" in k}
    assert st["srtp_malformed"] == st["srtp_other"] == st["srtp_protect_fail"] == 0
    got = np.frombuffer(b"".join(f.data for f in frames), np.int16)
    expect = np.frombuffer(codec.ulaw2lin(codec.lin2ulaw(x.tobytes())), np.int16)
    assert find_exact(got, expect[:-320]) >= 0                 # decrypted bit-exact, nothing corrupted got in
    # outbound RTP: pylibsrtp authenticates and decrypts every packet
    assert len(out_rtp) == len(x) // 160
    dec = [far.rx.unprotect(p.data) for p in out_rtp]
    assert all(p.payload != d[12:] for p, d in zip(out_rtp, dec))       # it was encrypted on the wire
    assert b"".join(d[12:] for d in dec) == codec.lin2ulaw(x.tobytes())
    # SRTCP both ways: our reports (SR ... and the BYE at close) decrypt; the far end's RR was read
    assert our_rtcp
    reports = [far.rx.unprotect_rtcp(p) for p in our_rtcp]
    assert all(r[1] in (200, 201) and struct.unpack("!I", r[4:8])[0] == our_ssrc for r in reports)
    assert any(r[1] == 200 for r in reports)
    assert any(203 in _rtcp_types(r) for r in reports)          # BYE, protected too
    assert st["rtcp_received"] == 1
    assert st["peer_fraction_lost"] == 0.25 and st["peer_cumulative_lost"] == 9


def _rtcp_types(pkt: bytes) -> list[int]:
    """Packet types of a compound RTCP packet."""
    out, i = [], 0
    while i + 4 <= len(pkt):
        out.append(pkt[i + 1])
        i += 4 * (struct.unpack("!H", pkt[i + 2: i + 4])[0] + 1)
    return out


def test_wrong_suite_in_the_answer_is_refused():
    """An answer whose suite differs from the offer's cannot build a session."""
    a = srtp.generate_crypto(1, "AES_CM_128_HMAC_SHA1_80")
    b = srtp.generate_crypto(1, "AES_CM_128_HMAC_SHA1_32")
    with pytest.raises(ValueError, match="session_from_sdes: suites differ"):
        srtp.session_from_sdes(a, b)

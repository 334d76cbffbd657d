"""Interop with an independent RTP stack: aiortp's RTPSession (0.8) as the far
end of voicecore's RTPVoiceBackend, both directions, PCMU and PCMA, with real
speech, DTMF both ways and RTCP.

aiortp's A-law is sign-inverted against ITU-T G.711 (and audioop): decoded the
G.711 way, its code for x is the negated G.711 value of x for 65,409 of the
65,536 inputs (and never the G.711 value itself). voicecore follows G.711, so an
aiortp A-law stream arrives here, bit-exact (``codec.alaw2lin`` of the bytes
aiortp sent), as the negated speech; the test checks both. aiortp's mu-law
encoder differs from G.711 on 381 inputs (no effect on bit-exactness here).
"""

from __future__ import annotations

import asyncio
import logging
import sys

import numpy as np
import pytest

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the engine is Linux-only"),
]

aiortp = pytest.importorskip("aiortp")

from engine_support import find_exact, speech  # noqa: E402

from voicecore import codec  # noqa: E402

CODECS = {0: (codec.lin2ulaw, codec.ulaw2lin), 8: (codec.lin2alaw, codec.alaw2lin)}


@pytest.fixture
async def engine():
    from voicecore.engine import AudioEngine

    eng = AudioEngine()
    eng.start()
    yield eng
    await eng.aclose()


@pytest.fixture
def clip():
    x = speech(8000, 3.0)
    if x is None:
        pytest.skip("speech clips not fetched (python -m voicecore.models fetch)")
    return x


async def _pair(engine, pt):
    """voicecore backend + aiortp session pointed at each other."""
    from voicecore.backends.rtp import RTPVoiceBackend

    b = RTPVoiceBackend(local_addr=("127.0.0.1", 0), payload_type=pt, engine=engine, rtcp_interval=0.3)
    # aiortp binds first (OS port); voicecore connects to it; then aiortp learns voicecore's port
    sess_rtp = await aiortp.RTPSession.create(
        local_addr=("127.0.0.1", 0), remote_addr=("127.0.0.1", 9), payload_type=pt,
        clock_rate=8000, rtcp_interval=0.3,
    )
    a_port = sess_rtp._rtp_transport._transport.get_extra_info("sockname")[1]
    a_rtcp = sess_rtp._rtcp_transport._transport.get_extra_info("sockname")[1]
    from voicecore.engine.session import open_udp_pair  # noqa: F401

    s = await b.connect("r", "p", "c", metadata={"remote_addr": ("127.0.0.1", a_port)})
    es = b._calls[s.id].es
    es.set_remote(("127.0.0.1", a_port), ("127.0.0.1", a_rtcp))
    vc_port = s.metadata["local_addr"][1]
    sess_rtp._remote_addr = ("127.0.0.1", vc_port)
    sess_rtp._remote_rtcp_addr = ("127.0.0.1", es.rtcp_socket.getsockname()[1])
    return b, s, sess_rtp


@pytest.mark.parametrize("pt", [0, 8])
async def test_aiortp_to_voicecore_bit_exact(engine, clip, pt):
    b, s, peer = await _pair(engine, pt)
    frames = []
    b.on_audio_received(lambda sess, f: frames.append(f))
    sent = []
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for i in range(len(clip) // 160):
        chunk = clip[160 * i: 160 * (i + 1)].tobytes()
        sent.append(peer.codec.encode(chunk))
        peer.send_audio_pcm_auto(chunk)             # aiortp does not pace: we do
        await asyncio.sleep(max(0.0, t0 + (i + 1) * 0.02 - loop.time()))
    await asyncio.sleep(0.3)
    await peer.close()
    await b.close()
    got = np.frombuffer(b"".join(f.data for f in frames), np.int16)
    payload = b"".join(sent)
    expect = np.frombuffer(CODECS[pt][1](payload), np.int16)   # G.711 decoding of aiortp's bytes
    assert find_exact(got, expect[:-160]) >= 0
    # polarity: aiortp's A-law carries the negated speech (see the module docstring)
    n = min(len(expect), len(clip))
    corr = np.corrcoef(expect[:n].astype(float), clip[:n].astype(float))[0, 1]
    assert (corr < -0.99) if pt == 8 else (corr > 0.99)


@pytest.mark.parametrize("pt", [0, 8])
async def test_voicecore_to_aiortp_decodes(engine, clip, pt):
    b, s, peer = await _pair(engine, pt)
    got = []
    peer.on_audio = lambda pcm, ts: got.append(pcm)
    await b.send_audio(s, clip.tobytes())
    assert await b.wait_playback(s)
    await asyncio.sleep(0.2)
    await peer.close()
    await b.close()
    # what aiortp decodes is its own decoding of exactly G.711(clip)
    enc = CODECS[pt][0](clip.tobytes())
    expect = np.frombuffer(peer.codec.decode(enc), np.int16)
    rx = np.frombuffer(b"".join(got), np.int16)
    assert len(rx) >= len(expect) - 4 * 160            # aiortp never delivers its last frames
    assert find_exact(expect, rx[: len(rx) // 2]) >= 0


async def test_dtmf_both_ways_and_rtcp_understood(engine, caplog):
    b, s, peer = await _pair(engine, 0)
    vc_digits, ai_digits, rr = [], [], []
    b.on_dtmf_received(lambda sess, ev: vc_digits.append((ev.digit, ev.duration_ms)))
    peer.on_dtmf = lambda digit, dur: ai_digits.append((digit, dur))
    peer.on_receiver_report = rr.append
    caplog.set_level(logging.WARNING, logger="aiortp")
    # keep media flowing both ways so RTCP has something to report
    x = (3000 * np.sin(2 * np.pi * 300 * np.arange(8000) / 8000)).astype(np.int16)
    await b.send_audio(s, x.tobytes())
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for i in range(50):
        peer.send_audio_pcm_auto(x[160 * i: 160 * (i + 1)].tobytes())
        if i == 10:
            peer.send_dtmf("9", 120)
        await asyncio.sleep(max(0.0, t0 + (i + 1) * 0.02 - loop.time()))
    await b.wait_playback(s)
    b.send_dtmf(s, "4", 100)
    await asyncio.sleep(0.8)
    st = b.session_stats(s)
    await peer.close()
    await b.close()
    assert [d for d, _ in vc_digits] == ["9"]
    assert [d for d, _ in ai_digits] == ["4"]
    assert not [r for r in caplog.records if "RTCP" in r.getMessage()]   # aiortp parsed every report
    assert peer._last_sr_ntp is not None                                 # our sender report
    assert rr and rr[-1].ssrc == peer._ssrc                              # our report block about it
    assert st["rtcp_received"] >= 1 and st["rtcp_malformed"] == 0        # and we parsed aiortp's

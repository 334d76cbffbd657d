"""``voicecore.compat.aiortp.RTPSession``: aiortp 0.8's API on the engine,
against a real aiortp ``RTPSession`` on loopback (real speech, PCMU/PCMA,
DTMF both ways, pacing), plus what differs on purpose (timeline delivery and
its pause after ``deliver_idle_s``, the inactivity watchdog, strict source)."""

from __future__ import annotations

import asyncio
import inspect
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the engine is Linux-only")

aiortp = pytest.importorskip("aiortp")
import aiortp.session  # noqa: E402

from engine_support import RawPeer, find_exact, open_fds, rtp, speech  # noqa: E402

from voicecore import codec  # noqa: E402
from voicecore.compat.aiortp import NativeCodec, RTPSession  # noqa: E402

#: the real aiortp class, whatever install() does later in the process
AiortpSession = aiortp.session.RTPSession
DECODE = {0: codec.ulaw2lin, 8: codec.alaw2lin}
ENCODE = {0: codec.lin2ulaw, 8: codec.lin2alaw}


@pytest.fixture
async def engine():
    from voicecore.engine import AudioEngine

    eng = AudioEngine()
    eng.start()
    yield eng
    await eng.aclose()


@pytest.fixture
def clip():
    x = speech(8000, 1.5)
    if x is None:
        pytest.skip("speech clips not fetched (python -m voicecore.models fetch)")
    return x


async def _pair(engine, pt=0, **kw):
    """voicecore's RTPSession and a real aiortp one pointed at each other."""
    peer = await AiortpSession.create(local_addr=("127.0.0.1", 0), remote_addr=("127.0.0.1", 9),
                                      payload_type=pt, rtcp_interval=0.5)
    p_rtp = peer._rtp_transport._transport.get_extra_info("sockname")[1]
    vc = await RTPSession.create(("127.0.0.1", 0), ("127.0.0.1", p_rtp), pt, engine=engine,
                                 rtcp_interval=0.5, **kw)
    p_rtcp = peer._rtcp_transport._transport.get_extra_info("sockname")[1]
    vc.engine_session.set_remote(("127.0.0.1", p_rtp), ("127.0.0.1", p_rtcp))
    peer._remote_addr = vc.local_addr
    peer._remote_rtcp_addr = ("127.0.0.1", vc.engine_session.rtcp_socket.getsockname()[1])
    return vc, peer


def _exact_stretch(rx: np.ndarray, expect: np.ndarray, n: int = 2000) -> bool:
    """Some 0.25 s stretch of ``expect`` arrived sample for sample (on a loaded
    machine a packet of the Python sender may miss its playout deadline and be
    concealed, as it should, so not every stretch must)."""
    return any(find_exact(rx, expect[i:i + n]) >= 0 for i in range(500, len(expect) - n, n))


async def _paced(peer, pcm: np.ndarray, dtmf_at: int | None = None, digit: str = "7") -> None:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for i in range(len(pcm) // 160):
        peer.send_audio_pcm_auto(pcm[160 * i: 160 * (i + 1)].tobytes())
        if i == dtmf_at:
            peer.send_dtmf(digit, 120)
        await asyncio.sleep(max(0.0, t0 + (i + 1) * 0.02 - loop.time()))


def test_signatures_are_aiortps():
    """create() takes aiortp 0.8's parameters, in its order, with its defaults."""
    ours = list(inspect.signature(RTPSession.create).parameters.values())
    theirs = list(inspect.signature(AiortpSession.create).parameters.values())
    assert [(p.name, p.default) for p in ours[: len(theirs)]] == [(p.name, p.default) for p in theirs]
    assert all(p.kind is p.KEYWORD_ONLY for p in ours[len(theirs):])     # voicecore's extras
    ours_i = [(p.name, p.default) for p in inspect.signature(RTPSession.__init__).parameters.values()]
    theirs_i = [(p.name, p.default) for p in inspect.signature(AiortpSession.__init__).parameters.values()]
    assert ours_i == theirs_i
    for name in ("on_audio", "on_dtmf", "send_audio", "send_audio_auto", "send_audio_pcm",
                 "send_audio_pcm_auto", "send_dtmf", "drain", "codec", "stats", "update_remote", "close"):
        assert hasattr(RTPSession, name) or name.startswith("on_"), name


@pytest.mark.parametrize("pt", [0, 8])
async def test_aiortp_to_voicecore_bit_exact(engine, clip, pt):
    vc, peer = await _pair(engine, pt)
    got, stamps = [], []
    vc.on_audio = lambda pcm, ts: (got.append(pcm), stamps.append(ts))
    await _paced(peer, clip)
    await asyncio.sleep(0.3)
    await peer.close()
    await vc.close()
    rx = np.frombuffer(b"".join(got), np.int16)
    expect = np.frombuffer(DECODE[pt](peer.codec.encode(clip.tobytes())), np.int16)
    assert _exact_stretch(rx, expect)                        # sample for sample
    assert all(len(p) == 320 for p in got)                  # one 20 ms frame per call
    assert np.all(np.diff(stamps) == 160)                   # the playout timeline, clock units


@pytest.mark.parametrize("pt", [0, 8])
async def test_voicecore_to_aiortp_paced(engine, clip, pt):
    vc, peer = await _pair(engine, pt)
    got, arrival = [], []
    loop = asyncio.get_running_loop()
    peer.on_audio = lambda pcm, ts: (got.append(pcm), arrival.append(loop.time()))
    for i in range(len(clip) // 160):                      # the whole clip at once, as aiortp users do
        assert vc.send_audio_pcm(clip[160 * i: 160 * (i + 1)].tobytes(), 12345) is None
    t0 = loop.time()
    await asyncio.wait_for(vc.drain(), 10)
    took = loop.time() - t0
    await asyncio.sleep(0.2)
    st = vc.stats
    await peer.close()
    await vc.close()
    expect = np.frombuffer(peer.codec.decode(ENCODE[pt](clip.tobytes())), np.int16)
    rx = np.frombuffer(b"".join(got), np.int16)
    assert find_exact(expect, rx[: len(rx) // 2]) >= 0
    assert st["packets_sent"] == len(clip) // 160 and st["out_overflow_samples"] == 0
    # paced by the engine, not a burst: 3 s of audio takes about 3 s to leave
    assert took > 0.8 * len(clip) / 8000
    assert arrival[-1] - arrival[0] > 0.8 * len(clip) / 8000


HAVE_AIORTP_G722 = 9 in __import__("aiortp.codecs", fromlist=["_registry"])._registry


def _g722_decodable() -> bool:
    from voicecore.compat.aiortp import decodable

    return decodable("g722")


@pytest.mark.skipif(not HAVE_AIORTP_G722, reason="aiortp's G.722 needs the G722 package (test extra)")
@pytest.mark.skipif(not _g722_decodable(), reason="this build's jitter buffer does not decode G.722")
async def test_g722_both_ways_with_aiortp():
    """G.722 (16 kHz audio on the 8 kHz RTP clock): aiortp's libg722 stream
    arrives sample for sample as 16 kHz frames, ours decodes at aiortp, and a
    DTMF digit's duration stays in RTP clock units.

    aiortp 0.8 stamps G.722 at 16 kHz (320 per 20 ms packet, its
    ``samples_per_frame``); RFC 3551 (4.5.2) and desk phones / PBXs use the
    8 kHz clock (160), as voicecore does. The aiortp peer is set to the RFC's
    step here; README lists the difference."""
    from aiortp.codecs import get_codec

    from voicecore.engine import AudioEngine

    x16 = speech(16000, 1.5)
    if x16 is None:
        pytest.skip("speech clips not fetched")
    engine = AudioEngine()
    engine.start()
    vc, peer = await _pair(engine, 9)
    assert peer._sender.timestamp_increment == 320          # aiortp's 16 kHz stamping (see above)
    peer._sender.timestamp_increment = 160                  # RFC 3551: G.722's RTP clock is 8 kHz
    try:
        assert vc.codec.sample_rate == 16000 and peer.codec.sample_rate == 16000
        got, back, digits = [], [], []
        vc.on_audio = lambda pcm, ts: got.append((pcm, ts))
        vc.on_dtmf = lambda d, dur: digits.append((d, dur))
        peer.on_audio = lambda pcm, ts: back.append(pcm)
        vc.send_audio_pcm(x16[:16000].tobytes(), 0)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for i in range(len(x16) // 320):
            peer.send_audio_pcm_auto(x16[320 * i: 320 * (i + 1)].tobytes())
            if i == 40:
                peer.send_dtmf("3", 120)
            await asyncio.sleep(max(0.0, t0 + (i + 1) * 0.02 - loop.time()))
        await asyncio.sleep(0.4)
    finally:
        await peer.close()
        await vc.close()
        await engine.aclose()
    assert all(len(p) == 640 for p, _ in got)                 # 20 ms at 16 kHz
    assert np.all(np.diff([t for _, t in got]) == 160)        # the 8 kHz RTP clock
    ref = get_codec(9)                                        # a fresh libg722 coder pair
    chunks = [x16[320 * i: 320 * (i + 1)].tobytes() for i in range(len(x16) // 320)]
    sent = [ref.encode(c) for c in chunks]
    from voicecore.media.g722 import G722Decoder

    dec = G722Decoder()
    expect = np.frombuffer(b"".join(dec.decode(b) for b in sent), np.int16)
    rx = np.frombuffer(b"".join(p for p, _ in got), np.int16)
    assert _exact_stretch(rx, expect, 4000)
    assert [d for d, _ in digits] == ["3"] and 0.8 * 960 <= digits[0][1] <= 2 * 960   # ~120 ms at 8 kHz
    heard = np.frombuffer(b"".join(back), np.int16).astype(np.float64)
    assert len(heard) >= 0.8 * 16000 and np.abs(heard).mean() > 100     # our G.722 decodes there


async def test_dtmf_both_ways_in_clock_units(engine, clip):
    vc, peer = await _pair(engine, 0)
    vc_digits, ai_digits = [], []
    vc.on_dtmf = lambda d, dur: vc_digits.append((d, dur))
    peer.on_dtmf = lambda d, dur: ai_digits.append((d, dur))
    vc.send_dtmf("4", 100)
    await _paced(peer, clip, dtmf_at=10, digit="9")
    await asyncio.sleep(0.5)
    await peer.close()
    await vc.close()
    assert [d for d, _ in vc_digits] == ["9"]               # once per digit
    assert vc_digits[0][1] >= 120 * 8 * 0.8                 # RTP clock units, as aiortp reports
    assert [d for d, _ in ai_digits] == ["4"]


async def test_stats_have_aiortps_keys(engine, clip):
    vc, peer = await _pair(engine, 0)
    vc.on_audio = lambda pcm, ts: None
    vc.send_audio_pcm(clip[:8000].tobytes(), 0)
    await _paced(peer, clip)
    await asyncio.sleep(1.0)
    st = vc.stats
    await peer.close()
    await vc.close()
    for k in ("ssrc", "packets_sent", "octets_sent", "packets_received", "packets_lost", "jitter",
              "concealed_frames", "remote_fraction_lost", "remote_packets_lost", "remote_jitter"):
        assert k in st, k
    n = len(clip) // 160
    assert st["packets_received"] == st["received"] >= n - 3       # (a late packet is not "received")
    assert st["packets_lost"] == st["lost"] and st["jitter"] == round(st["jitter_ms"] * 8)
    assert st["packets_sent"] == 50 and st["octets_sent"] == 50 * 160
    assert st["remote_packets_lost"] == st["peer_cumulative_lost"]
    assert st["remote_fraction_lost"] == round(st["peer_fraction_lost"] * 256) & 0xFF
    assert st["remote_jitter"] == round(st["peer_jitter_ms"] * 8)
    assert "foreign_source" in st and "concealed_samples" in st     # voicecore's names as well


async def test_explicit_ssrc_is_used(engine):
    peer = RawPeer()
    vc = await RTPSession.create(("127.0.0.1", 0), peer.addr, 0, ssrc=0xDEADBEEF, engine=engine)
    vc.send_audio_pcm(b"\x00\x00" * 800, 0)
    await vc.drain()
    await asyncio.sleep(0.05)
    await vc.close()
    peer.close()
    assert {p.ssrc for p in peer.rtp(0)} == {0xDEADBEEF} and vc.stats["ssrc"] == 0xDEADBEEF


async def test_frames_pause_after_deliver_idle_and_resume(engine):
    peer = RawPeer()
    vc = await RTPSession.create(("127.0.0.1", 0), peer.addr, 0, engine=engine, deliver_idle_s=0.3,
                                 inactivity_timeout=0.6)
    n, idle, active = [0], [], []
    vc.on_audio = lambda pcm, ts: n.__setitem__(0, n[0] + 1)
    vc.on_inactive = idle.append
    vc.on_active = lambda: active.append(True)
    dst = vc.local_addr
    for i in range(25):                                    # 0.5 s of media
        peer.send(rtp(i, i * 160, 77, b"\xff" * 160), dst)
        await asyncio.sleep(0.02)
    await asyncio.sleep(1.0)                               # silent past both thresholds
    paused_at = n[0]
    await asyncio.sleep(0.3)
    assert n[0] == paused_at                               # no frames while the peer is silent
    assert 25 + 10 <= paused_at <= 25 + 30                 # timeline frames for ~0.3 s, then pause
    assert len(idle) == 1 and 0.55 <= idle[0] <= 1.0      # the watchdog, once
    for i in range(25, 40):
        peer.send(rtp(i, i * 160, 77, b"\xff" * 160), dst)
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)
    await vc.close()
    peer.close()
    assert active == [True] and n[0] > paused_at + 10     # resumed


async def test_strict_source_and_update_remote(engine):
    a, b = RawPeer(), RawPeer()
    vc = await RTPSession.create(("127.0.0.1", 0), a.addr, 0, engine=engine)
    got = []
    vc.on_audio = lambda pcm, ts: got.append(pcm)
    dst = vc.local_addr
    for i in range(10):
        b.send(rtp(i, i * 160, 5, b"\x00" * 160), dst)     # not the negotiated peer
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)
    assert got == [] and vc.stats["foreign_source"] == 10
    vc.update_remote(b.addr)                                # re-INVITE: b is the peer now
    await asyncio.sleep(0.05)
    for i in range(10, 30):
        b.send(rtp(i, i * 160, 5, b"\x00" * 160), dst)
        await asyncio.sleep(0.02)
    vc.send_audio_pcm(b"\x00\x00" * 320, 0)
    await vc.drain()
    await asyncio.sleep(0.2)
    await vc.close()
    a.close()
    b.close()
    assert got and len(b.rtp(0)) == 2 and not a.rtp(0)


async def test_unsupported_payload_type_is_a_clear_error(engine):
    with pytest.raises(ValueError, match=r"RTPSession.create: payload type 18 \(G.729\)"):
        await RTPSession.create(("127.0.0.1", 0), ("127.0.0.1", 9), 18, engine=engine)
    with pytest.raises(ValueError, match=r"RTPSession.create: codec 'speex'"):
        await RTPSession.create(("127.0.0.1", 0), ("127.0.0.1", 9), 97, codec=type("C", (), {"name": "speex"})(),
                                engine=engine)
    from voicecore.compat.aiortp import decodable

    if not decodable("g722"):                                 # sent already, decoded later (issue 14)
        with pytest.raises(ValueError, match=r"RTPSession.create: G722 \(payload type 9\) is sent but not yet decoded"):
            await RTPSession.create(("127.0.0.1", 0), ("127.0.0.1", 9), 9, engine=engine)
    with pytest.raises(ValueError, match="RTPSession: clock_rate"):
        RTPSession(0, clock_rate=11025)


def test_native_codec_is_g711_and_l16():
    x = (np.arange(-32768, 32768, 7)).astype(np.int16).tobytes()
    u = NativeCodec("pcmu", 0)
    a = NativeCodec("pcma", 8)
    l16 = NativeCodec("l16", 11)
    assert (u.name, u.sample_rate, u.samples_per_frame) == ("PCMU", 8000, 160)
    assert u.encode(x) == codec.lin2ulaw(x) and u.decode(u.encode(x)) == codec.ulaw2lin(codec.lin2ulaw(x))
    assert a.encode(x) == codec.lin2alaw(x) and a.name == "PCMA"
    assert l16.encode(x) == np.frombuffer(x, "<i2").astype(">i2").tobytes() and l16.decode(l16.encode(x)) == x
    assert u.conceal(160) is None
    g = NativeCodec("g722", 9)
    assert (g.name, g.sample_rate, g.samples_per_frame) == ("G722", 16000, 320)
    from voicecore.media.g722 import G722Codec

    y = np.frombuffer(x, np.int16)[:3200].tobytes()
    assert g.encode(y) == G722Codec().encode(y)             # streaming state per object


async def test_close_releases_sockets_and_is_idempotent(engine):
    base = open_fds()
    for _ in range(20):
        vc = await RTPSession.create(("127.0.0.1", 0), ("127.0.0.1", 9), 0, engine=engine)
        await vc.close()
        await vc.close()
    assert open_fds() <= base                                 # (<=: earlier tests may be collected meanwhile)
    assert vc.stats["packets_sent"] == 0                     # final stats stay readable


async def test_aiosipua_callsession_runs_on_voicecore_after_install(engine, clip):
    """aiosipua's own CallSession, unchanged, after voicecore.install()."""
    pytest.importorskip("aiosipua")
    import voicecore
    from aiosipua import rtp_bridge
    from aiosipua.sdp import parse_sdp

    peer = await AiortpSession.create(local_addr=("127.0.0.1", 0), remote_addr=("127.0.0.1", 9), payload_type=0)
    p_rtp = peer._rtp_transport._transport.get_extra_info("sockname")[1]
    offer = parse_sdp(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {p_rtp} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    )
    voicecore.install()
    try:
        cs = rtp_bridge.CallSession(local_ip="127.0.0.1", rtp_port=0, offer=offer)
        await cs.start()
    finally:
        voicecore.uninstall()
    assert isinstance(cs.rtp_session, RTPSession) and cs.codec_sample_rate == 8000
    got = []
    cs.on_audio = lambda pcm, ts: got.append(pcm)
    peer._remote_addr = cs.rtp_session.local_addr
    await _paced(peer, clip)
    await asyncio.sleep(0.3)
    st = cs.stats
    await cs.close()
    await peer.close()
    rx = np.frombuffer(b"".join(got), np.int16)
    expect = np.frombuffer(codec.ulaw2lin(peer.codec.encode(clip.tobytes())), np.int16)
    assert _exact_stretch(rx, expect), st                    # sample for sample

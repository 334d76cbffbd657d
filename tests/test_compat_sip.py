"""roomkit's ``SIPVoiceBackend`` under ``voicecore.install()``, in process, on
loopback: the native bridge (``voicecore.compat.aiosipua.CallSession``) and
the backend methods moved onto the engine (pacing, playback callbacks,
dead-call watchdogs), called by a second, unmodified roomkit SIP backend on
aiortp (the far end). The real-phone test with baresip is test_sip_call.py."""

from __future__ import annotations

import asyncio
import sys
from types import SimpleNamespace

import numpy as np
import pytest

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the engine is Linux-only"),
    pytest.mark.roomkit,
]

pytest.importorskip("roomkit")
pytest.importorskip("aiosipua")
aiortp = pytest.importorskip("aiortp")
import aiortp.session  # noqa: E402
from aiosipua import rtp_bridge  # noqa: E402
from aiosipua.sdp import parse_sdp  # noqa: E402
from aiosipua.sdp_negotiate import SdpNegotiationError  # noqa: E402
from roomkit.voice.audio_frame import AudioFrame as RoomkitFrame  # noqa: E402
from roomkit.voice.backends.sip import SIPVoiceBackend  # noqa: E402
from roomkit.voice.base import AudioChunk  # noqa: E402

import voicecore  # noqa: E402
from engine_support import find_exact, open_fds, speech  # noqa: E402
from voicecore import codec  # noqa: E402
from voicecore.compat.aiosipua import CallSession  # noqa: E402

AiortpSession = aiortp.session.RTPSession


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _offer(port: int, pts: str = "9 0 8 101") -> object:
    lines = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
             f"m=audio {port} RTP/AVP {pts}", "a=rtpmap:9 G722/8000", "a=rtpmap:0 PCMU/8000",
             "a=rtpmap:18 G729/8000",
             "a=rtpmap:8 PCMA/8000", "a=rtpmap:101 telephone-event/8000", "a=ptime:30", ""]
    return parse_sdp("\r\n".join(lines))


def test_negotiation_keeps_to_what_the_engine_carries():
    from voicecore.compat.aiortp import decodable

    cs = CallSession("127.0.0.1", 40000, _offer(5000), supported_codecs=[9, 0, 8])
    # G.722 offered first: wideband once the engine decodes it, else PCMU
    assert cs.chosen_payload_type == (9 if decodable("g722") else 0)
    audio = cs.sdp_answer.audio
    assert audio.attributes["ptime"] == ["20"]               # the engine's period
    assert cs.remote_addr == ("127.0.0.1", 5000)
    cs = CallSession("127.0.0.1", 40000, _offer(5000, "18 0 101"), supported_codecs=[18, 0, 8])
    assert cs.chosen_payload_type == 0                        # G.729 offered first, not carried: skipped
    with pytest.raises(SdpNegotiationError, match="voicecore"):
        CallSession("127.0.0.1", 40000, _offer(5000, "18"), supported_codecs=[18])
    with pytest.raises(SdpNegotiationError):
        CallSession("127.0.0.1", 40000, _offer(5000, "18 101"), supported_codecs=[9, 0, 8])


@pytest.fixture
async def pair(monkeypatch, request):
    """(agent, caller): the agent is a SIPVoiceBackend created under
    voicecore.install(); the caller is roomkit's own, on the real aiortp.
    ``@pytest.mark.timeouts(inactivity, establishment)`` sets the agent's watchdogs."""
    from voicecore.engine import get_engine

    marker = request.node.get_closest_marker("timeouts")
    inactivity, establishment = marker.args if marker else (30.0, 60.0)
    monkeypatch.setattr(rtp_bridge, "_import_aiortp", lambda: SimpleNamespace(RTPSession=AiortpSession))
    voicecore.install()
    get_engine()                                               # the loop's engine: its fds stay
    base = open_fds()
    agent = SIPVoiceBackend(local_sip_addr=("127.0.0.1", free_port()), local_rtp_ip="127.0.0.1",
                            rtp_port_start=43000, rtp_port_end=43200,
                            rtp_inactivity_timeout=inactivity, rtp_establishment_timeout=establishment)
    caller = SIPVoiceBackend(local_sip_addr=("127.0.0.1", free_port()), local_rtp_ip="127.0.0.1",
                             rtp_port_start=44000, rtp_port_end=44200)
    caller._rtp_bridge = rtp_bridge                            # roomkit's own bridge on aiortp
    await agent.start()
    await caller.start()
    try:
        yield agent, caller
    finally:
        await caller.close()
        await agent.close()
        voicecore.uninstall()
        await asyncio.sleep(0.1)
        assert open_fds() <= base                              # every socket of both backends closed


async def _call(agent, caller):
    calls, gone = [], []
    agent.on_call(calls.append)
    agent.on_call_disconnected(gone.append)
    port = agent._transport.local_addr[1]
    cs = await caller.dial(f"sip:agent@127.0.0.1:{port}", "sip:caller@127.0.0.1", ("127.0.0.1", port),
                           timeout=5)
    for _ in range(250):                                      # bounded: 5 s (a loaded machine)
        if calls:
            break
        await asyncio.sleep(0.02)
    assert calls, "the agent never got the call"
    return calls[0], cs, gone


async def test_call_on_the_engine_both_ways(pair):
    agent, caller = pair
    clip = speech(8000, 2.0)
    if clip is None:
        pytest.skip("speech clips not fetched")
    got, played, digits, back = [], [], [], []
    agent.on_audio_received(lambda s, f: got.append(f))
    agent.on_audio_played(lambda s, f: played.append(f))
    agent.on_dtmf_received(lambda s, e: digits.append((e.digit, e.duration_ms)))
    caller.on_audio_received(lambda s, f: back.append(f.data))
    sa, sc, gone = await _call(agent, caller)
    state = agent._session_states[sa.id]
    assert isinstance(state.call_session, CallSession) and state.pacer is None

    # caller -> agent: roomkit's pacer + aiortp send; the engine plays it out
    await caller.send_audio(sc, clip.tobytes())
    caller.end_of_response(sc)
    await caller.wait_playback(sc)
    caller.send_dtmf(sc, "5", 160)
    await asyncio.sleep(0.6)
    assert all(type(f) is RoomkitFrame and len(f.data) == 320 and f.sample_rate == 8000 for f in got)
    assert {f.metadata["frame_kind"] for f in got} <= {"audio", "concealed", "silence", "comfort_noise"}
    rx = np.frombuffer(b"".join(f.data for f in got), np.int16)
    from aiortp.codecs import PcmuCodec

    expect = np.frombuffer(codec.ulaw2lin(PcmuCodec().encode(clip.tobytes())), np.int16)
    # sample for sample, what aiortp encoded (some 0.25 s stretch: on a loaded machine
    # a packet may miss its playout deadline and be concealed, as it should)
    assert any(find_exact(rx, expect[i:i + 2000]) >= 0 for i in range(1000, len(expect) - 2000, 2000))
    assert [d for d, _ in digits] == ["5"] and 100 <= digits[0][1] <= 250

    # agent -> caller: 16 kHz chunks (the engine resamples), paced, played frames reported
    x = (6000 * np.sin(2 * np.pi * 500 * np.arange(16000) / 16000)).astype(np.int16).tobytes()

    async def chunks():
        for i in range(0, len(x), 3200):
            yield AudioChunk(data=x[i:i + 3200], sample_rate=16000)

    loop = asyncio.get_running_loop()
    t0 = loop.time()
    task = asyncio.ensure_future(agent.send_audio(sa, chunks()))
    await asyncio.sleep(0.3)
    assert agent.is_playing(sa)
    await task                                              # returns once the response has left
    took = loop.time() - t0
    assert 0.9 <= took <= 2.0 and not agent.is_playing(sa)
    assert await agent.wait_playback(sa)
    await asyncio.sleep(0.3)
    audio = [f for f in played if f.data]
    assert 50 <= len(audio) <= 51 and all(f.metadata["played_bytes"] == 320 for f in audio)  # + resampler tail
    assert [f.metadata["playback_ended"] for f in played if not f.data] == [True]
    assert not played[-1].data and played[-1].metadata["playback_ended"]
    assert sum(len(b) for b in back) >= 0.9 * 16000         # ~1 s reached the caller at 8 kHz

    # barge-in: cancel within a tick, the end reported once
    played.clear()
    task = asyncio.ensure_future(agent.send_audio(sa, chunks()))
    await asyncio.sleep(0.3)
    assert await agent.cancel_audio(sa)
    await asyncio.wait_for(task, 1.0)
    assert not agent.is_playing(sa)
    n = len([f for f in played if f.data])
    await asyncio.sleep(0.2)
    assert len([f for f in played if f.data]) <= n + 1 and 10 <= n <= 25
    assert [f.metadata["playback_ended"] for f in played if not f.data] == [True]

    # send_audio_sync + end_of_response (audio bridges): paced too, wait_playback until it left
    t0 = loop.time()
    x8 = np.frombuffer(x, np.int16)[::2].tobytes()             # the 1 s tone at 8 kHz
    agent.send_audio_sync(sa, AudioChunk(data=x8, sample_rate=8000))
    agent.end_of_response(sa)
    assert agent.is_playing(sa)
    assert await agent.wait_playback(sa)
    assert loop.time() - t0 >= 0.9 and not agent.is_playing(sa)     # 1 s of audio, not a burst

    # hang-up from the caller: the agent's session and sockets are released
    stats = state.call_session.stats
    await caller.disconnect(sc)
    for _ in range(100):
        if gone:
            break
        await asyncio.sleep(0.02)
    assert [s.id for s in gone] == [sa.id] and sa.id not in agent._session_states
    assert state.call_session.closed and state.audio_stats.inbound_packets == stats["received"]


@pytest.mark.timeouts(0.6, 0.8)
async def test_dead_call_never_established(pair):
    agent, caller = pair
    gone = []
    agent.on_client_disconnected(gone.append)
    fds = open_fds()
    sa, sc, _ = await _call(agent, caller)                   # the caller never sends RTP
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for _ in range(100):
        if gone:
            break
        await asyncio.sleep(0.05)
    assert gone and gone[0].metadata["disconnect_reason"] == "media_not_established"
    assert 0.6 <= loop.time() - t0 <= 2.0                    # rtp_establishment_timeout=0.8 s
    await asyncio.sleep(0.2)
    assert sa.id not in agent._session_states
    assert open_fds() <= fds + 2                             # agent's RTP/RTCP closed (caller's live)


@pytest.mark.timeouts(0.6, 0.8)
async def test_dead_call_media_lost(pair):
    agent, caller = pair
    gone = []
    agent.on_client_disconnected(gone.append)
    sa, sc, _ = await _call(agent, caller)
    await caller.send_audio(sc, b"\x10\x00" * 16000)         # 2 s, paced by roomkit's pacer
    await asyncio.sleep(0.5)
    assert not gone
    cs_state = caller._session_states[sc.id]
    await cs_state.call_session.close()                      # the caller's media dies mid-stream, no BYE
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for _ in range(100):
        if gone:
            break
        await asyncio.sleep(0.05)
    assert gone and gone[0].metadata["disconnect_reason"] == "media_lost"
    assert 0.5 <= loop.time() - t0 <= 2.0                    # rtp_inactivity_timeout=0.6 s


async def test_backend_created_before_install_keeps_roomkits_path(monkeypatch):
    monkeypatch.setattr(rtp_bridge, "_import_aiortp", lambda: SimpleNamespace(RTPSession=AiortpSession))
    old = SIPVoiceBackend(local_sip_addr=("127.0.0.1", free_port()), local_rtp_ip="127.0.0.1",
                          rtp_port_start=45000, rtp_port_end=45100)
    caller = SIPVoiceBackend(local_sip_addr=("127.0.0.1", free_port()), local_rtp_ip="127.0.0.1",
                             rtp_port_start=45200, rtp_port_end=45300)
    voicecore.install()
    caller._rtp_bridge = rtp_bridge
    got = []
    old.on_audio_received(lambda s, f: got.append(f))
    await old.start()
    await caller.start()
    try:
        sa, sc, _ = await _call(old, caller)
        state = old._session_states[sa.id]
        assert not isinstance(state.call_session, CallSession)
        await old.send_audio(sa, b"\x00\x01" * 1600)          # roomkit's pacer, unchanged
        assert state.pacer is not None and old.is_playing(sa)
        caller.send_audio_sync(sc, AudioChunk(data=b"\x10\x00" * 800, sample_rate=8000))
        await asyncio.sleep(0.3)
        assert got and all(type(f) is RoomkitFrame for f in got)
    finally:
        await caller.close()
        await old.close()
        voicecore.uninstall()

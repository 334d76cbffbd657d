"""Drop-in: one scenario run against roomkit's RTPVoiceBackend (on aiortp) and
voicecore's, with a raw UDP peer; the same results where roomkit is right, and
the documented differences asserted as such. Then roomkit's own RoomKit +
VoiceChannel + Agent running a call on voicecore's backend."""

from __future__ import annotations

import asyncio
import inspect
import sys
import time

import numpy as np
import pytest
from vc_support import requires_roomkit

pytestmark = [
    requires_roomkit,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the engine is Linux-only"),
]

from engine_support import RawPeer, rtp, tone  # noqa: E402

from voicecore import codec  # noqa: E402


async def _scenario(backend_cls, base, events_mod, peer: RawPeer, **extra) -> dict:
    res: dict = {}
    b = backend_cls(local_addr=("127.0.0.1", 0), remote_addr=peer.addr, payload_type=0, clock_rate=8000,
                    dtmf_payload_type=101, rtcp_interval=5.0, **extra)
    res["name"] = b.name
    res["caps"] = b.capabilities.value
    ready = []
    b.on_session_ready(ready.append)
    frames, digits = [], []
    b.on_audio_received(lambda s, f: frames.append(f))
    b.on_dtmf_received(lambda s, e: digits.append((e.digit, round(e.duration_ms))))
    s = await b.connect("room", "alice", "voice", metadata={"k": "v"})
    res["ready"] = ready == [s]
    res["meta_keys"] = sorted(s.metadata)
    res["state"] = str(s.state)
    local = s.metadata.get("local_addr")
    if local is None:        # roomkit does not expose the bound port: ask aiortp
        rs = b._rtp_sessions[s.id]
        local = rs._rtp_transport._transport.get_extra_info("sockname")[:2]
    # inbound: 1 s of a 440 Hz tone, paced, then one DTMF digit
    x = tone(440, 1.0)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    pkts = [rtp(10 + i, 1000 + 160 * i, 0x77, codec.lin2ulaw(x[160 * i:160 * (i + 1)].tobytes()),
                marker=i == 0) for i in range(50)]
    for j in range(6):
        dur = 160 * (j + 1) if j < 4 else 640
        pkts.append(rtp(60 + j, 9000, 0x77, bytes([3, (0x80 if j >= 3 else 0) | 10, dur >> 8, dur & 255]),
                        pt=101, marker=j == 0))
    for i, p in enumerate(pkts):
        await asyncio.sleep(max(0.0, t0 + i * 0.02 - loop.time()))
        peer.send(p, tuple(local))
    await asyncio.sleep(0.4)
    audio = [f for f in frames if len(f.data) == 320 and np.abs(np.frombuffer(f.data, np.int16)).max() > 1000]
    res["frame_format"] = sorted({(f.sample_rate, f.channels, f.sample_width, len(f.data)) for f in frames})
    res["audio_frames"] = len(audio)
    y = np.frombuffer(b"".join(f.data for f in audio), np.int16).astype(float)
    res["tone_hz"] = round(float(np.argmax(np.abs(np.fft.rfft(y[:4000]))) * 8000 / 4000))
    res["digits"] = digits
    # outbound: 0.5 s as bytes, then a DTMF digit
    out = tone(300, 0.5)
    await b.send_audio(s, out.tobytes())
    await b.wait_playback(s)
    await asyncio.sleep(0.7)
    b.send_dtmf(s, "8", 100)
    await asyncio.sleep(0.5)
    media = peer.rtp(0)
    res["sent_packets"] = len(media)
    res["sent_payload_exact"] = b"".join(p.payload for p in media) == codec.lin2ulaw(out.tobytes())
    res["sent_span_ms"] = (media[-1].t_ns - media[0].t_ns) / 1e6 if media else 0
    ev = peer.rtp(101)
    res["dtmf_out"] = sorted({p.payload[0] for p in ev})
    res["cancel_idle"] = await b.cancel_audio(s)
    res["playing_after"] = b.is_playing(s)
    await b.disconnect(s)
    res["state_after"] = str(s.state)
    res["sessions_after"] = b.list_sessions("room")
    await b.close()
    return res


async def test_same_scenario_same_results_where_roomkit_is_right():
    from roomkit.voice import base as rk_base, events as rk_events
    from roomkit.voice.backends.rtp import RTPVoiceBackend as RK

    from voicecore import base as vc_base, events as vc_events
    from voicecore.backends.rtp import RTPVoiceBackend as VC
    from voicecore.engine import AudioEngine

    peer = RawPeer()
    try:
        rk = await _scenario(RK, rk_base, rk_events, peer)
    finally:
        peer.close()
    peer = RawPeer()
    eng = AudioEngine()
    eng.start()
    try:
        vc = await _scenario(VC, vc_base, vc_events, peer, engine=eng)
    finally:
        peer.close()
        await eng.aclose()
    same = ["name", "caps", "ready", "state", "frame_format", "tone_hz", "digits", "sent_packets",
            "sent_payload_exact", "dtmf_out", "cancel_idle", "playing_after", "state_after",
            "sessions_after"]
    assert {k: vc[k] for k in same} == {k: rk[k] for k in same}
    assert vc["name"] == "RTP" and vc["digits"] == [("3", 80)] and vc["sent_payload_exact"]
    # voicecore adds the bound address to the metadata
    assert vc["meta_keys"] == sorted(rk["meta_keys"] + ["local_addr"])
    # differences where roomkit is wrong (README, "Differences from roomkit"):
    assert vc["audio_frames"] >= 49 > rk["audio_frames"]       # roomkit never plays the last 4 frames
    assert vc["sent_span_ms"] > 400 > rk["sent_span_ms"]       # roomkit does not pace outbound audio


def test_constructor_and_public_methods_match_roomkit():
    from roomkit.voice.backends.rtp import RTPVoiceBackend as RK

    from voicecore.backends.rtp import RTPVoiceBackend as VC

    rk_params = inspect.signature(RK.__init__).parameters
    vc_params = inspect.signature(VC.__init__).parameters
    for name, p in rk_params.items():
        assert name in vc_params, name
        assert vc_params[name].default == p.default, name
        assert vc_params[name].kind == p.kind, name
    public = [n for n in dir(RK) if not n.startswith("_")]
    for n in public:
        assert hasattr(VC, n), n
        a, b = getattr(RK, n), getattr(VC, n)
        if callable(a) and not isinstance(a, type):
            assert list(inspect.signature(b).parameters) == list(inspect.signature(a).parameters), n


async def test_roomkit_voice_channel_runs_a_call_on_voicecore_backend():
    from roomkit import HookTrigger, RoomKit
    from roomkit.channels.agent import Agent
    from roomkit.channels.voice import VoiceChannel
    from roomkit.providers.ai.mock import MockAIProvider
    from roomkit.voice.pipeline import AudioPipelineConfig, EnergyVADProvider
    from roomkit.voice.testing import VoiceTrace

    from voicecore.backends.rtp import RTPVoiceBackend
    from voicecore.engine import AudioEngine
    from voicecore.stt.mock import MockSTTProvider
    from voicecore.tts.mock import MockTTSProvider

    eng = AudioEngine()
    eng.start()
    peer = RawPeer()
    backend = RTPVoiceBackend(local_addr=("127.0.0.1", 0), engine=eng)
    stt = MockSTTProvider(["hello there"])
    tts = MockTTSProvider()
    kit = RoomKit()
    vad = EnergyVADProvider(silence_threshold_ms=200, min_speech_duration_ms=60)
    voice = VoiceChannel("voice", stt=stt, tts=tts, backend=backend, pipeline=AudioPipelineConfig(vad=vad))
    kit.register_channel(voice)
    kit.register_channel(Agent("agent", provider=MockAIProvider(["Hi caller"]), auto_greet=False))
    trace = VoiceTrace(kit)
    try:
        room = await kit.create_room()
        await kit.attach_channel(room.id, "voice")
        await kit.attach_channel(room.id, "agent")
        session = await kit.join(room.id, "voice", participant_id="alice",
                                 metadata={"remote_addr": peer.addr})
        dest = tuple(session.metadata["local_addr"])
        loud = tone(440, 0.3)
        pcm = np.concatenate([np.zeros(800, np.int16), loud, np.zeros(4000, np.int16)])
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for i in range(len(pcm) // 160):
            await asyncio.sleep(max(0.0, t0 + i * 0.02 - loop.time()))
            peer.send(rtp(i, 160 * i, 0x1, codec.lin2ulaw(pcm[160 * i:160 * (i + 1)].tobytes()),
                          marker=i == 0), dest)
        heard = await trace.wait_for(HookTrigger.ON_TRANSCRIPTION, timeout=5)
        await trace.wait_for(HookTrigger.AFTER_TTS, timeout=5)
        deadline = time.monotonic() + 3
        while not peer.rtp(0) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert heard.payload.text == "hello there"
        assert tts.calls and tts.calls[0]["text"] == "Hi caller"
        assert peer.rtp(0), "the agent's TTS reply left as RTP"
        assert stt.calls and all(getattr(a, "sample_rate", 8000) in (8000, 16000) for a in stt.calls)
    finally:
        trace.close()
        await kit.close()
        peer.close()
        await eng.aclose()


def test_rtp_backend_is_exported_like_roomkit():
    import voicecore
    import voicecore.backends

    from voicecore.backends.rtp import RTPVoiceBackend

    assert voicecore.backends.RTPVoiceBackend is RTPVoiceBackend
    assert voicecore.RTPVoiceBackend is RTPVoiceBackend


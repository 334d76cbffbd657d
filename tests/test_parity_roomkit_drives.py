"""Drop-in parity with ``roomkit.voice``: voicecore objects through roomkit's
own code (EnergyVADProvider, MockVoiceBackend both ways, and a whole RoomKit +
VoiceChannel + Agent round trip)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

roomkit = pytest.importorskip("roomkit")

from parity_support import Impl, _both, _roomkit_impl, _run, _voicecore_impl  # noqa: E402

pytestmark = pytest.mark.roomkit

# ---- duck typing: voicecore objects through roomkit code paths


def _tone_frame(cls: type, loud: bool) -> Any:
    import numpy as np

    t = np.arange(320) / 16000.0
    amp = 8000 if loud else 20
    pcm = (amp * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()
    return cls(data=pcm, sample_rate=16000)


def test_voicecore_frame_through_roomkit_vad():
    from roomkit.voice.audio_frame import AudioFrame as RKFrame
    from roomkit.voice.pipeline.vad.energy import EnergyVADProvider

    from voicecore.audio_frame import AudioFrame as VCFrame

    pattern = [False] * 5 + [True] * 20 + [False] * 40
    results = {}
    for cls in (RKFrame, VCFrame):
        vad = EnergyVADProvider(silence_threshold_ms=300, min_speech_duration_ms=100)
        events = []
        for i, loud in enumerate(pattern):
            ev = vad.process(_tone_frame(cls, loud), "stream")
            if ev is not None:
                events.append((i, ev.type.value, len(ev.audio_bytes or b"")))
        results[cls.__module__] = events
    rk, vc = results.values()
    assert vc == rk
    assert [e[1] for e in vc] == ["speech_start", "speech_end"]


@_run
async def _cross_backend_scenario(impl: Impl) -> Any:
    """roomkit's MockVoiceBackend fed voicecore chunks/frames, and the reverse."""
    other = _voicecore_impl() if impl.name == "roomkit" else _roomkit_impl()
    backend = impl.backend_mock.MockVoiceBackend()
    got: list[Any] = []
    backend.on_audio_received(lambda s, f: got.append((f.data, f.sample_rate, f.sample_width)))
    session = await backend.connect("r", "p", "c")
    await backend.simulate_audio_received(session, other.audio_frame.AudioFrame(b"\x05\x00", 8000))

    async def chunks():
        yield other.base.AudioChunk(data=b"ab")
        yield other.base.AudioChunk(data=b"cd", is_final=True)

    await backend.send_audio(session, chunks())
    backend.send_audio_sync(session, other.base.AudioChunk(data=b"ef"))
    impl.base.require_pcm16(other.base.AudioChunk(data=b""), "x")
    stt = impl.stt_mock.MockSTTProvider()
    r = await stt.transcribe(other.audio_frame.AudioFrame(b"\x00\x00"))
    return got, [a for _, a in backend.sent_audio], r.text


def test_cross_implementation_duck_typing():
    _both(_cross_backend_scenario)
    assert _cross_backend_scenario(_roomkit_impl())[:2] == (
        [(b"\x05\x00", 8000, 2)], [b"abcd", b"ef"],
    )  # fmt: skip


async def _voice_channel_round_trip(impl: Impl) -> Any:
    """roomkit's RoomKit + VoiceChannel + Agent driving *impl*'s backend, STT, TTS and frames."""
    import numpy as np
    from roomkit import HookTrigger, RoomKit
    from roomkit.channels.agent import Agent
    from roomkit.channels.voice import VoiceChannel
    from roomkit.providers.ai.mock import MockAIProvider
    from roomkit.voice.pipeline import AudioPipelineConfig, EnergyVADProvider
    from roomkit.voice.testing import VoiceTrace

    backend = impl.backend_mock.MockVoiceBackend(capabilities=impl.base.VoiceCapability.INTERRUPTION)
    stt = impl.stt_mock.MockSTTProvider(["hello there"])
    tts = impl.tts_mock.MockTTSProvider()
    kit = RoomKit()
    vad = EnergyVADProvider(silence_threshold_ms=200, min_speech_duration_ms=60)
    voice = VoiceChannel("voice", stt=stt, tts=tts, backend=backend,
                         pipeline=AudioPipelineConfig(vad=vad))  # fmt: skip
    kit.register_channel(voice)
    kit.register_channel(Agent("agent", provider=MockAIProvider(["Hi caller"]), auto_greet=False))
    trace = VoiceTrace(kit)
    try:
        room = await kit.create_room()
        await kit.attach_channel(room.id, "voice")
        await kit.attach_channel(room.id, "agent")
        session = await kit.join(room.id, "voice", participant_id="alice")
        t = np.arange(320) / 16000.0
        loud = (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()
        quiet = bytes(640)
        for pcm in [quiet] * 5 + [loud] * 10 + [quiet] * 20:  # 20 ms frames at 16 kHz
            await backend.simulate_audio_received(session, impl.audio_frame.AudioFrame(pcm))
        heard = await trace.wait_for(HookTrigger.ON_TRANSCRIPTION, timeout=5)
        await trace.wait_for(HookTrigger.AFTER_TTS, timeout=5)
        for _ in range(200):
            if backend.sent_audio:
                break
            await asyncio.sleep(0.01)
        return {
            "transcript": heard.payload.text,
            "hooks": [h.value for h in trace.sequence()],
            "stt_input": [(type(a).__name__, len(a.data), a.sample_rate) for a in stt.calls],
            "tts_calls": tts.calls,
            "sent_audio": [(sid == session.id, audio) for sid, audio in backend.sent_audio],
            "session_state": str(session.state),
        }
    finally:
        trace.close()
        await kit.close()


def test_roomkit_voice_channel_drives_voicecore_objects():
    rk = asyncio.run(_voice_channel_round_trip(_roomkit_impl()))
    vc = asyncio.run(_voice_channel_round_trip(_voicecore_impl()))
    assert vc == rk
    assert vc["transcript"] == "hello there"
    assert vc["hooks"][-4:] == ["on_speech_end", "on_transcription", "before_tts", "after_tts"]
    assert vc["tts_calls"] == [{"text": "Hi caller", "voice": "mock-voice"}]
    assert vc["sent_audio"] == [(True, b"mock-audio-Hi\x00mock-audio-caller\x00")]

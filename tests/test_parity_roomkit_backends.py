"""Drop-in parity with ``roomkit.voice``: the backends (MockVoiceBackend,
VoiceBackend's defaults, PlaybackErrors), the same scenarios run against both
packages."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

roomkit = pytest.importorskip("roomkit")

from parity_support import Impl, _both, _err, _run, _voicecore_impl, impl  # noqa: E402, F401 - impl is a fixture

pytestmark = pytest.mark.roomkit

# ---- mock backend


def _norm_calls(backend: Any, ids: dict[str, str]) -> list[Any]:
    def norm(v: Any) -> Any:
        return ids.get(v, v) if isinstance(v, str) else v

    return [(c.method, {k: norm(v) for k, v in c.args.items()}) for c in backend.calls]


@_run
async def _mock_backend_scenario(impl: Impl) -> Any:
    cap = impl.base.VoiceCapability
    backend = impl.backend_mock.MockVoiceBackend(capabilities=cap.INTERRUPTION | cap.BARGE_IN)
    events: list[Any] = []

    async def on_ready_async(session):
        events.append(("ready_async", session.participant_id))

    backend.on_session_ready(lambda session: events.append(("ready", session.participant_id)))
    backend.on_session_ready(on_ready_async)
    backend.on_audio_received(lambda session, frame: events.append(("audio", frame.data)))

    async def on_audio_async(session, frame):
        events.append(("audio_async", len(frame.data)))

    backend.on_audio_received(on_audio_async)
    backend.on_barge_in(lambda session: events.append(("barge", session.participant_id)))
    backend.on_client_disconnected(lambda session: events.append(("gone", session.participant_id)))

    s1 = await backend.connect("room-1", "alice", "voice-1", metadata={"k": 1})
    await asyncio.sleep(0)  # the async ready callback is scheduled, not awaited
    s2 = await backend.connect("room-1", "bob", "voice-1")
    s3 = await backend.connect("room-2", "carol", "voice-2")
    await asyncio.sleep(0)
    ids = {s1.id: "S1", s2.id: "S2", s3.id: "S3"}
    assert len(ids) == 3 and all(len(i) == 32 for i in ids)

    frame = impl.audio_frame.AudioFrame(data=b"\x01\x00\x02\x00")
    await backend.simulate_audio_received(s1, frame)
    await backend.simulate_barge_in(s2)
    await backend.simulate_session_ready(s3)
    await backend.simulate_client_disconnected(s3)

    async def chunks():
        yield impl.base.AudioChunk(data=b"ab")
        yield impl.base.AudioChunk(data=b"cd", is_final=True)

    await backend.send_audio(s1, b"raw")
    await backend.send_audio(s2, chunks())
    backend.send_audio_sync(s3, impl.base.AudioChunk(data=b"xyz"))
    backend.send_dtmf(s1, "5")
    backend.send_dtmf(s1, "#", duration_ms=250)
    await backend.send_transcription(s2, "hello")
    await backend.send_transcription(s2, "hi there", role="assistant")

    playing = [backend.is_playing(s1)]
    backend.start_playing(s1)
    playing.append(backend.is_playing(s1))
    cancelled = [await backend.cancel_audio(s1), await backend.cancel_audio(s1)]
    backend.start_playing(s2)
    backend.stop_playing(s2)
    playing.append(backend.is_playing(s2))
    backend.start_playing(s3)

    listed = sorted(ids[s.id] for s in backend.list_sessions("room-1"))
    await backend.disconnect(s1)
    after = backend.get_session(s1.id)
    disconnect_view = (
        str(s1.state), str(after.state), after is s1, after.metadata, after.created_at == s1.created_at,
    )  # fmt: skip
    await backend.disconnect(impl.base.VoiceSession("nope", "r", "p", "c"))
    ids["nope"] = "NOPE"
    missing = backend.get_session("nope")
    await backend.close()
    closed = (backend.get_session(s2.id), backend.list_sessions("room-1"), backend.is_playing(s3))

    return {
        "name": backend.name,
        "capabilities": backend.capabilities.value,
        "flags": (backend.auto_connect, backend.feeds_aec_reference,
                  backend.supports_playback_callback, backend.audio_received_callback),  # fmt: skip
        "session": (s1.state.value, s1.room_id, s1.participant_id, s1.channel_id, s1.metadata,
                    s2.metadata, s1.provider_session_id),  # fmt: skip
        "events": events,
        "sent_audio": [(ids[i], a) for i, a in backend.sent_audio],
        "sent_dtmf": [(ids[i], d, ms) for i, d, ms in backend.sent_dtmf],
        "sent_transcriptions": [(ids[i], t, r) for i, t, r in backend.sent_transcriptions],
        "playing": playing,
        "cancelled": cancelled,
        "listed": listed,
        "disconnect": disconnect_view,
        "missing": missing,
        "closed": closed,
        "calls": _norm_calls(backend, ids),
    }


def test_mock_backend_same_transcript():
    _both(_mock_backend_scenario)


def test_mock_backend_expected(impl):
    out = _mock_backend_scenario(impl)
    assert out["events"][:2] == [("ready", "alice"), ("ready_async", "alice")]
    assert ("audio", b"\x01\x00\x02\x00") in out["events"] and ("audio_async", 4) in out["events"]
    assert ("barge", "bob") in out["events"] and ("gone", "carol") in out["events"]
    assert out["sent_audio"] == [("S1", b"raw"), ("S2", b"abcd"), ("S3", b"xyz")]
    assert out["sent_dtmf"] == [("S1", "5", 160), ("S1", "#", 250)]
    assert out["sent_transcriptions"] == [("S2", "hello", "user"), ("S2", "hi there", "assistant")]
    assert out["playing"] == [False, True, False]
    assert out["cancelled"] == [True, False]
    assert out["listed"] == ["S1", "S2"]
    assert out["disconnect"] == ("active", "ended", False, {"k": 1}, True)
    assert out["closed"] == (None, [], False)
    assert [m for m, _ in out["calls"]][:8] == [
        "on_session_ready", "on_session_ready", "on_audio_received", "on_audio_received",
        "on_barge_in", "on_client_disconnected", "connect", "connect",
    ]  # fmt: skip
    assert ("send_audio_sync", {"session_id": "S3", "size": 3}) in out["calls"]
    assert ("cancel_audio", {"session_id": "S1", "was_playing": True}) in out["calls"]
    assert out["calls"][-1] == ("close", {})


# ---- VoiceBackend defaults


def _minimal_backend(impl: Impl) -> Any:
    class Minimal(impl.backend_base.VoiceBackend):
        def __init__(self) -> None:
            self.interrupted: list[str] = []
            self.sent: list[bytes] = []

        @property
        def name(self) -> str:
            return "minimal"

        async def disconnect(self, session):
            pass

        async def send_audio(self, session, audio):
            self.sent.append(audio)

        def interrupt(self, session):
            self.interrupted.append(session.id)

    return Minimal()


@_run
async def _backend_defaults_scenario(impl: Impl) -> Any:
    b = _minimal_backend(impl)
    s = impl.base.VoiceSession("sid", "r", "p", "c")
    out: list[Any] = [
        b.auto_connect, b.capabilities.value, b.feeds_aec_reference, b.supports_playback_callback,
        b.audio_received_callback, b.get_session("sid"), b.list_sessions("r"), b.is_playing(s),
        b.on_audio_received(print), b.on_audio_played(print), b.on_client_disconnected(print),
        b.on_session_ready(print), b.on_barge_in(print), b.on_speaker_change(print),
        b.set_trace_emitter(print), b.set_input_muted(s, True), b.set_input_gated(s, True),
        b.end_of_response(s), await b.close(), await b.send_transcription(s, "x"),
        await b.wait_playback(s),
    ]  # fmt: skip
    b._audio_received_callback = print
    out.append(b.audio_received_callback is print)
    out.append(await b.cancel_audio(s))
    out.append(list(b.interrupted))
    for coro_fn in (lambda: b.connect("r", "p", "c"), lambda: b.accept(s, object())):
        try:
            await coro_fn()
        except NotImplementedError as exc:
            out.append(str(exc))
    out.append(_err(lambda: b.send_dtmf(s, "1")))
    b.send_audio_sync(s, impl.base.AudioChunk(data=b"zz"))
    await asyncio.sleep(0)
    out.append(list(b.sent))
    with pytest.raises(TypeError):
        impl.backend_base.VoiceBackend()
    return out


def test_backend_defaults_same():
    _both(_backend_defaults_scenario)


def test_backend_defaults_expected(impl):
    out = _backend_defaults_scenario(impl)
    assert out[-1] == [b"zz"]
    assert out[-2] == ("NotImplementedError", "minimal does not support send_dtmf()")
    assert "minimal does not implement connect()" in out
    assert "minimal does not implement accept()" in out


def test_send_audio_sync_without_loop_warns(impl, caplog):
    b = _minimal_backend(impl)
    s = impl.base.VoiceSession("sid", "r", "p", "c")
    with caplog.at_level(logging.WARNING):
        b.send_audio_sync(s, impl.base.AudioChunk(data=b"zz"))
    assert b.sent == []
    assert [r.getMessage() for r in caplog.records] == ["send_audio_sync: no event loop for session sid"]


# ---- PlaybackErrors


@_run
async def _playback_errors_scenario(impl: Impl) -> Any:
    log = logging.getLogger(f"parity.{impl.name}")
    out: list[Any] = []

    async def failing_stream():
        yield impl.base.AudioChunk(data=b"aa")
        raise RuntimeError("tts broke")

    async def good_stream():
        yield impl.base.AudioChunk(data=b"bb")

    # 1. The stream fails, the backend catches it on the way: still re-raised.
    try:
        with impl.backend_base.PlaybackErrors(log, "send to %s", "s1") as pb:
            try:
                async for _ in pb.watch(failing_stream()):
                    pass
            except RuntimeError:
                raise OSError("socket closed") from None
    except Exception as exc:  # noqa: BLE001
        out.append(("raised", type(exc).__name__, str(exc)))
    # 2. The backend's own error: logged and absorbed.
    with impl.backend_base.PlaybackErrors(log, "send to %s", "s2") as pb:
        async for _ in pb.watch(good_stream()):
            raise OSError("transport down")
    out.append("absorbed")
    # 3. Cancellation passes through.
    try:
        with impl.backend_base.PlaybackErrors(log, "send to %s", "s3"):
            raise asyncio.CancelledError
    except asyncio.CancelledError:
        out.append("cancelled")
    # 4. No error at all.
    with impl.backend_base.PlaybackErrors(log, "x") as pb:
        got = [c.data async for c in pb.watch(good_stream())]
    out.append(got)
    return out


def test_playback_errors_same(caplog):
    with caplog.at_level(logging.ERROR):
        _both(_playback_errors_scenario)
    msgs = [(r.name.split(".")[-1], r.getMessage()) for r in caplog.records]
    assert msgs == [("roomkit", "send to s2"), ("voicecore", "send to s2")]
    out = _playback_errors_scenario(_voicecore_impl())
    assert out == [("raised", "RuntimeError", "tts broke"), "absorbed", "cancelled", [b"bb"]]

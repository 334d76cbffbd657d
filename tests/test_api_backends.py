"""VoiceBackend defaults, PlaybackErrors and MockVoiceBackend (voicecore alone).

Async code runs through ``asyncio.run`` so these tests need no pytest plugin.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from voicecore import (
    AudioChunk,
    AudioFrame,
    MockVoiceBackend,
    MockVoiceCall,
    PlaybackErrors,
    VoiceBackend,
    VoiceCapability,
    VoiceSession,
    VoiceSessionState,
)


def run(coro):
    return asyncio.run(coro)


class Minimal(VoiceBackend):
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.interrupted: list[str] = []

    @property
    def name(self) -> str:
        return "minimal"

    async def disconnect(self, session: VoiceSession) -> None:
        pass

    async def send_audio(self, session, audio) -> None:
        self.sent.append(audio)

    def interrupt(self, session: VoiceSession) -> None:
        self.interrupted.append(session.id)


S = VoiceSession(id="sid", room_id="r", participant_id="p", channel_id="c")


def test_abstract_surface():
    assert VoiceBackend.__abstractmethods__ == {"name", "disconnect", "send_audio"}
    with pytest.raises(TypeError):
        VoiceBackend()


def test_backend_defaults():
    b = Minimal()
    assert (b.auto_connect, b.feeds_aec_reference, b.supports_playback_callback) == (False, False, False)
    assert b.capabilities is VoiceCapability.NONE
    assert b.audio_received_callback is None
    b._audio_received_callback = print
    assert b.audio_received_callback is print
    assert b.get_session("sid") is None and b.list_sessions("r") == []
    assert b.is_playing(S) is False
    for register in (b.on_audio_received, b.on_audio_played, b.on_client_disconnected, b.on_aec_tap):
        assert register(print) is None
    with pytest.raises(NotImplementedError, match=r"^minimal does not support send_dtmf\(\)$"):
        b.send_dtmf(S, "1")
    with pytest.raises(NotImplementedError, match=r"^minimal does not implement connect\(\)$"):
        run(b.connect("r", "p", "c"))
    with pytest.raises(NotImplementedError, match=r"^minimal does not implement accept\(\)$"):
        run(b.accept(S, object()))
    assert run(b.cancel_audio(S)) is True
    assert b.interrupted == ["sid"]
    assert run(b.wait_playback(S)) is True


def test_send_audio_sync_default_schedules_send_audio():
    b = Minimal()

    async def main():
        b.send_audio_sync(S, AudioChunk(b"\x01\x02"))
        assert b.sent == []  # scheduled, not run inline
        await asyncio.sleep(0)
        return list(b.sent)

    assert run(main()) == [b"\x01\x02"]


def test_send_audio_sync_without_loop_logs(caplog):
    b = Minimal()
    with caplog.at_level(logging.WARNING, logger="voicecore"):
        b.send_audio_sync(S, AudioChunk(b"\x01\x02"))
    assert [r.getMessage() for r in caplog.records] == ["send_audio_sync: no event loop for session sid"]
    assert b.sent == []


def test_wait_playback_polls_is_playing():
    class Playing(Minimal):
        polls = 0

        def is_playing(self, session):
            self.polls += 1
            return self.polls < 3

    b = Playing()
    assert run(b.wait_playback(S)) is True
    assert b.polls == 3


# ---- PlaybackErrors


async def _chunks(*payloads: bytes, fail: Exception | None = None):
    for p in payloads:
        yield AudioChunk(p)
    if fail is not None:
        raise fail


def test_playback_errors_reraises_stream_failure_even_if_backend_wrapped_it(caplog):
    log = logging.getLogger("voicecore.test")

    async def main():
        with PlaybackErrors(log, "sending to %s", "s1") as pb:
            try:
                async for _ in pb.watch(_chunks(b"a", fail=RuntimeError("tts died"))):
                    pass
            except RuntimeError:
                raise OSError("wrapped") from None

    with pytest.raises(RuntimeError, match="tts died"):
        run(main())
    assert caplog.records == []


def test_playback_errors_absorbs_and_logs_backend_error(caplog):
    log = logging.getLogger("voicecore.test")

    async def main():
        seen = []
        with PlaybackErrors(log, "sending to %s", "s1") as pb:
            async for chunk in pb.watch(_chunks(b"a", b"b")):
                seen.append(chunk.data)
                raise OSError("socket gone")
        return seen

    with caplog.at_level(logging.ERROR, logger="voicecore.test"):
        assert run(main()) == [b"a"]
    assert [(r.getMessage(), r.exc_info[0]) for r in caplog.records] == [("sending to s1", OSError)]


def test_playback_errors_passes_cancellation_and_clean_exit():
    log = logging.getLogger("voicecore.test")
    with pytest.raises(asyncio.CancelledError):
        with PlaybackErrors(log, "x"):
            raise asyncio.CancelledError
    with PlaybackErrors(log, "x") as pb:
        pass
    assert pb.__exit__(None, None, None) is False
    with pytest.raises(KeyboardInterrupt):  # not an Exception: never absorbed
        with PlaybackErrors(log, "x"):
            raise KeyboardInterrupt


def test_playback_errors_absorbs_without_watch(caplog):
    log = logging.getLogger("voicecore.test")
    with caplog.at_level(logging.ERROR, logger="voicecore.test"):
        with PlaybackErrors(log, "oops %d", 7):
            raise ValueError("backend bug")
    assert [r.getMessage() for r in caplog.records] == ["oops 7"]


# ---- MockVoiceBackend


def test_mock_backend_full_flow():
    async def main():
        backend = MockVoiceBackend(capabilities=VoiceCapability.INTERRUPTION | VoiceCapability.BARGE_IN)
        log: list[tuple] = []

        async def ready_async(session):
            log.append(("ready_async", session.participant_id))

        backend.on_session_ready(lambda s: log.append(("ready", s.participant_id)))
        backend.on_session_ready(ready_async)
        backend.on_audio_received(lambda s, f: log.append(("audio", f.data)))
        backend.on_barge_in(lambda s: log.append(("barge", s.participant_id)))
        backend.on_client_disconnected(lambda s: log.append(("gone", s.participant_id)))

        a = await backend.connect("room", "alice", "voice", metadata={"sip": "x"})
        assert log == [("ready", "alice")]  # the async one is scheduled, not awaited
        await asyncio.sleep(0)
        assert log[-1] == ("ready_async", "alice")
        b = await backend.connect("room", "bob", "voice")
        c = await backend.connect("other", "carol", "voice")
        assert a.state is VoiceSessionState.ACTIVE and a.metadata == {"sip": "x"} and b.metadata == {}
        assert len({a.id, b.id, c.id}) == 3 and all(len(x.id) == 32 for x in (a, b, c))
        assert backend.get_session(b.id) is b
        assert [s.participant_id for s in backend.list_sessions("room")] == ["alice", "bob"]

        await backend.simulate_audio_received(a, AudioFrame(b"\x01\x00"))
        await backend.simulate_barge_in(b)
        await backend.simulate_client_disconnected(c)
        await backend.simulate_session_ready(c)
        assert log[-5:] == [  # simulate_session_ready awaits async callbacks
            ("audio", b"\x01\x00"), ("barge", "bob"), ("gone", "carol"), ("ready", "carol"),
            ("ready_async", "carol"),
        ]  # fmt: skip

        await backend.send_audio(a, b"\x00\x01")
        await backend.send_audio(b, _chunks(b"ab", b"cd"))
        backend.send_audio_sync(c, AudioChunk(b"xyz1"))
        backend.send_dtmf(a, "7")
        backend.send_dtmf(a, "*", 400)
        await backend.send_transcription(b, "hello")
        await backend.send_transcription(b, "answer", role="assistant")
        assert backend.sent_audio == [(a.id, b"\x00\x01"), (b.id, b"abcd"), (c.id, b"xyz1")]
        assert backend.sent_dtmf == [(a.id, "7", 160), (a.id, "*", 400)]
        assert backend.sent_transcriptions == [(b.id, "hello", "user"), (b.id, "answer", "assistant")]

        assert backend.is_playing(a) is False
        assert await backend.cancel_audio(a) is False
        backend.start_playing(a)
        assert backend.is_playing(a) is True
        assert await backend.cancel_audio(a) is True
        assert backend.is_playing(a) is False
        backend.start_playing(b)
        backend.stop_playing(b)
        assert backend.is_playing(b) is False

        await backend.disconnect(a)
        ended = backend.get_session(a.id)
        assert ended is not a and ended.state is VoiceSessionState.ENDED
        assert a.state is VoiceSessionState.ACTIVE  # the caller's object is not touched
        assert (ended.created_at, ended.metadata, ended.room_id) == (a.created_at, a.metadata, "room")

        backend.start_playing(c)
        await backend.close()
        assert backend.get_session(b.id) is None and backend.is_playing(c) is False

        methods = [call.method for call in backend.calls]
        assert methods == [
            "on_session_ready", "on_session_ready", "on_audio_received", "on_barge_in",
            "on_client_disconnected", "connect", "connect", "connect", "send_audio", "send_audio",
            "send_audio_sync", "send_dtmf", "send_dtmf", "send_transcription", "send_transcription",
            "cancel_audio", "cancel_audio", "disconnect", "close",
        ]  # fmt: skip
        assert backend.calls[5] == MockVoiceCall(
            "connect",
            {"room_id": "room", "participant_id": "alice", "channel_id": "voice", "metadata": {"sip": "x"}},
        )
        assert backend.calls[6].args["metadata"] is None
        assert backend.calls[10].args == {"session_id": c.id, "size": 4}
        assert backend.calls[12].args == {"session_id": a.id, "digit": "*", "duration_ms": 400}
        assert backend.calls[14].args == {"session_id": b.id, "text": "answer", "role": "assistant"}
        assert [backend.calls[i].args["was_playing"] for i in (15, 16)] == [False, True]
        assert backend.calls[-1] == MockVoiceCall("close", {})
        assert backend.name == "MockVoiceBackend"
        assert backend.capabilities == VoiceCapability.INTERRUPTION | VoiceCapability.BARGE_IN

    run(main())


def test_mock_backend_defaults_and_unknown_disconnect():
    backend = MockVoiceBackend()
    assert backend.capabilities is VoiceCapability.NONE
    ghost = VoiceSession(id="ghost", room_id="r", participant_id="p", channel_id="c")
    run(backend.disconnect(ghost))
    assert backend.get_session("ghost") is None
    assert backend.calls == [MockVoiceCall("disconnect", {"session_id": "ghost"})]
    assert MockVoiceCall("x").args == {}

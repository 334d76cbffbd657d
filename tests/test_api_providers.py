"""STT/TTS provider ABCs and mocks, and the event types (voicecore alone)."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import UTC

import pytest

from voicecore import (
    AudioChunk,
    AudioContent,
    AudioFrame,
    BargeInEvent,
    DTMFDetectedEvent,
    DTMFEvent,
    MockSTTProvider,
    MockTTSProvider,
    PartialTranscriptionEvent,
    STTProvider,
    TranscriptionEvent,
    TranscriptionResult,
    TTSCancelledEvent,
    TTSProvider,
    VADAudioLevelEvent,
    VADSilenceEvent,
    VoiceSession,
)
from voicecore.stt.base import diarizes, keeps_stream
from voicecore.tts.base import DialogueTurn, TTSContext, TTSContextLevel, VoiceInfo


def run(coro):
    return asyncio.run(coro)


async def _stream(*payloads: bytes, rate: int = 16000):
    for p in payloads:
        yield AudioChunk(p, sample_rate=rate)


async def _collect(agen):
    return [item async for item in agen]


# ---- STT


def test_stt_abc_defaults():
    assert STTProvider.__abstractmethods__ == {"transcribe"}

    class Echo(STTProvider):
        async def transcribe(self, audio, *, language=None):
            return TranscriptionResult(text=f"{len(audio.data)}@{audio.sample_rate}:{language}",
                                       confidence=0.9, language="xx", words=[{"w": 1}],
                                       is_final=False)  # fmt: skip

    e = Echo()
    assert (e.name, e.supports_streaming, e.supports_language_override, e.supports_diarization,
            e.keeps_stream_across_turns) == ("Echo", False, False, False, False)  # fmt: skip
    results = run(_collect(e.transcribe_stream(_stream(b"ab", b"cdef", rate=8000), language="fr")))
    assert [(r.text, r.is_final, r.confidence, r.language, r.words) for r in results] == [
        ("6@8000:fr", True, 0.9, "xx", []),
    ]
    empty = run(_collect(e.transcribe_stream(_stream())))
    assert [r.text for r in empty] == ["0@16000:None"]
    assert run(e.warmup()) is None and run(e.close()) is None


def test_stt_default_stream_keeps_old_signature_working():
    class Old(STTProvider):
        async def transcribe(self, audio):  # written before language= existed
            return TranscriptionResult(text="old")

    assert [r.text for r in run(_collect(Old().transcribe_stream(_stream(b"ab"))))] == ["old"]
    with pytest.raises(TypeError, match="language"):
        run(_collect(Old().transcribe_stream(_stream(b"ab"), language="en")))


def test_diarizes_and_keeps_stream_require_explicit_true():
    class D:
        supports_diarization = True

    class K:
        keeps_stream_across_turns = True

    class Truthy:
        supports_diarization = 1
        keeps_stream_across_turns = "yes"

    assert (diarizes(D()), keeps_stream(D())) == (True, True)
    assert (diarizes(K()), keeps_stream(K())) == (False, True)
    assert (diarizes(Truthy()), keeps_stream(Truthy())) == (False, False)
    assert (diarizes(object()), keeps_stream(MockSTTProvider())) == (False, False)


def test_mock_stt_cycles_and_records():
    stt = MockSTTProvider()
    frame = AudioFrame(b"\x00\x00")
    texts = [run(stt.transcribe(frame)).text for _ in range(3)]
    assert texts == ["Hello", "How can I help you?", "Hello"]
    assert stt.calls == [frame, frame, frame] and stt.languages_requested == [None] * 3
    assert (stt.supports_streaming, stt.supports_language_override) == (False, True)
    assert MockSTTProvider([]).transcripts == ["Hello", "How can I help you?"]

    stt = MockSTTProvider(["a", "b", "c"], streaming=True, languages=["en", None])
    assert stt.supports_streaming is True
    got = [(r.text, r.language, r.is_final) for r in run(_collect(stt.transcribe_stream(
        _stream(b"12", b"34"), language="de")))]  # fmt: skip
    assert got == [("a", "en", True)]
    assert [c.data for c in stt.calls] == [b"12", b"34"]
    more = [run(stt.transcribe(AudioChunk(b""), language="fr")) for _ in range(3)]
    assert [(r.text, r.language) for r in more] == [("b", None), ("c", "en"), ("a", None)]
    assert stt.languages_requested == ["de", "fr", "fr", "fr"]


# ---- TTS


def test_tts_abc_defaults():
    assert TTSProvider.__abstractmethods__ == {"synthesize"}

    class Bare(TTSProvider):
        async def synthesize(self, text, *, voice=None):
            return AudioContent(url="https://x")

    b = Bare()
    assert (b.name, b.default_voice, b.max_dialogue_speakers, b.supports_streaming_input) == (
        "Bare", None, 0, False,
    )  # fmt: skip
    assert b.context_level is TTSContextLevel.NONE
    assert Bare.available_voices() == [] and run(b.list_voices()) == []
    assert b.release_context("c") is None
    with pytest.raises(NotImplementedError, match=r"^Bare does not support streaming synthesis\. Use synthesize\(\) instead\.$"):
        run(_collect(b.synthesize_stream("x")))
    with pytest.raises(NotImplementedError, match=r"^Bare does not support streaming text input\.$"):
        run(_collect(b.synthesize_stream_input(_aiter(["x"]))))
    with pytest.raises(NotImplementedError, match=r"^Bare does not synthesize dialogue$"):
        run(b.synthesize_dialogue([DialogueTurn(speaker="a", text="hi")], {"a": "v"}))


async def _aiter(items):
    for item in items:
        yield item


class Duo(TTSProvider):
    @property
    def max_dialogue_speakers(self) -> int:
        return 2

    @classmethod
    def available_voices(cls):
        return [VoiceInfo(id="fr1", name="Anne", language="fr-CA", gender="female"),
                VoiceInfo(id="fr2", name="Bob", language="fr", gender="Male", description="Calm, low"),
                VoiceInfo(id="en1", language="en-US"), VoiceInfo(id="x")]  # fmt: skip

    async def synthesize(self, text, *, voice=None):
        raise AssertionError


@pytest.mark.parametrize(
    ("filters", "ids"),
    [({}, ["fr1", "fr2", "en1", "x"]), ({"language": "fr"}, ["fr1", "fr2"]),
     ({"language": "FR-ca"}, ["fr1"]), ({"language": "f"}, []), ({"gender": "male"}, ["fr2"]),
     ({"query": "CALM"}, ["fr2"]), ({"query": "ann", "language": "fr"}, ["fr1"])],
)  # fmt: skip
def test_list_voices_filters(filters, ids):
    assert [v.id for v in run(Duo().list_voices(**filters))] == ids


@pytest.mark.parametrize(
    ("turns", "voices", "error"),
    [
        ([], {}, (ValueError, "a dialogue needs at least one turn")),
        ([("a", "hi")], {}, (ValueError, "speaker 'a' has no voice in the voices map")),
        ([("a", "1"), ("b", "2"), ("c", "3")], {"a": 1, "b": 2, "c": 3},
         (ValueError, "Duo voices at most 2 speakers per dialogue, these turns name 3")),
        ([("a", "1"), ("b", "2"), ("a", "3")], {"a": 1, "b": 2},
         (NotImplementedError, "Duo announces dialogue but does not implement synthesize_dialogue")),
    ],
)  # fmt: skip
def test_dialogue_validation(turns, voices, error):
    with pytest.raises(error[0]) as info:
        run(Duo().synthesize_dialogue([DialogueTurn(speaker=s, text=t) for s, t in turns], voices))
    assert str(info.value) == error[1]


def test_mock_tts():
    tts = MockTTSProvider()
    content = run(tts.synthesize("Hello there"))
    assert isinstance(content, AudioContent)
    assert re.fullmatch(r"https://mock\.test/audio/[0-9a-f]{32}\.mp3", content.url)
    assert (content.mime_type, content.transcript, content.duration_seconds) == (
        "audio/mpeg", "Hello there", pytest.approx(0.55),
    )  # fmt: skip
    assert run(tts.synthesize("x")).url != content.url
    ctx = TTSContext(context_id="s1", turns=(), next_turn_id="t1")
    chunks = run(_collect(tts.synthesize_stream("one four", voice="v9", context=ctx)))
    assert [(c.data, c.sample_rate, c.is_final) for c in chunks] == [
        (b"mock-audio-one", 16000, False),
        (b"mock-audio-four\x00", 16000, True),  # padded to whole s16le samples
    ]
    assert all(len(c.data) % 2 == 0 for c in chunks)
    assert tts.calls == [{"text": "Hello there", "voice": "mock-voice"},
                         {"text": "x", "voice": "mock-voice"},
                         {"text": "one four", "voice": "v9"}]  # fmt: skip
    assert tts.contexts == [ctx]
    tts.release_context("s1")
    assert tts.released == ["s1"]
    assert (tts.default_voice, tts.context_level) == ("mock-voice", TTSContextLevel.NONE)
    other = MockTTSProvider("alto", context_level=TTSContextLevel.AUDIO)
    assert (other.default_voice, other.context_level.value) == ("alto", "audio")
    assert [m.value for m in TTSContextLevel] == ["none", "self", "text", "audio"]


# ---- events


def test_events():
    s = VoiceSession(id="i", room_id="r", participant_id="p", channel_id="c")
    e = BargeInEvent(s, "hello", 120)
    assert (e.session, e.interrupted_text, e.audio_position_ms) == (s, "hello", 120)
    assert e.timestamp.tzinfo is UTC
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.audio_position_ms = 0
    assert TTSCancelledEvent(s, "explicit", "t", 0).reason == "explicit"
    t = TranscriptionEvent(s, "hi")
    assert (t.language, t.speaker, t.speaker_epoch, t.sender_name, t.participant_id) == (None,) * 5
    p = PartialTranscriptionEvent(s, "h", 0.4, False)
    assert (p.role, p.language) == ("user", None)
    assert VADSilenceEvent(s, 250).silence_duration_ms == 250
    lvl = VADAudioLevelEvent(s, -12.5, True)
    assert (lvl.level_db, lvl.is_speech) == (-12.5, True)
    assert DTMFDetectedEvent(s, "9", 80.0).redacted_digit == "9"
    assert DTMFDetectedEvent(s, "9", 80.0, redacted_digit="*").redacted_digit == "*"
    d = DTMFEvent("#", 100.0)
    assert (d.digit, d.duration_ms, d.confidence) == ("#", 100.0, 1.0)
    d.confidence = 0.5  # not frozen (a pipeline result)
    names = [f.name for f in dataclasses.fields(TranscriptionEvent)]
    assert names == ["session", "text", "language", "timestamp", "speaker", "speaker_epoch",
                     "sender_name", "participant_id"]  # fmt: skip

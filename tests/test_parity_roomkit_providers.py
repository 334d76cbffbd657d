"""Drop-in parity with ``roomkit.voice``: the STT and TTS provider ABCs and
mocks, the same scenarios run against both packages."""

from __future__ import annotations

import re
import types
from typing import Any

import pytest

roomkit = pytest.importorskip("roomkit")

from parity_support import Impl, _both, _run, impl  # noqa: E402, F401 - impl is a fixture

pytestmark = pytest.mark.roomkit

# ---- STT


@_run
async def _stt_scenario(impl: Impl) -> Any:
    mock = impl.stt_mock.MockSTTProvider
    out: list[Any] = []
    stt = mock()
    frame = impl.audio_frame.AudioFrame(data=b"\x00\x00")
    chunk = impl.base.AudioChunk(data=b"\x01\x00", sample_rate=8000)
    for audio, lang in [(frame, None), (chunk, "fr"), (frame, None)]:
        r = await stt.transcribe(audio, language=lang)
        out.append((r.text, r.language, r.is_final, r.confidence))
    out.append((stt.name, stt.supports_streaming, stt.supports_language_override,
                stt.supports_diarization, stt.keeps_stream_across_turns,
                stt.languages_requested, len(stt.calls), stt.calls[1] is chunk))  # fmt: skip

    stt2 = mock(["a", "b", "c"], streaming=True, languages=["en", None])

    async def stream():
        yield impl.base.AudioChunk(data=b"\x01\x00", sample_rate=8000)
        yield impl.base.AudioChunk(data=b"\x02\x00", sample_rate=8000)

    results = [(r.text, r.language) async for r in stt2.transcribe_stream(stream(), language="de")]
    out.append((results, stt2.supports_streaming, list(stt2.languages_requested),
                [c.data for c in stt2.calls]))  # fmt: skip
    for _ in range(3):
        r = await stt2.transcribe(frame)
        out.append((r.text, r.language))
    out.append(mock([]).transcripts)

    # Default transcribe_stream of the ABC, on an old-signature subclass.
    class OldStyle(impl.stt_base.STTProvider):
        def __init__(self) -> None:
            self.seen: list[Any] = []

        async def transcribe(self, audio):  # no language parameter
            self.seen.append((audio.data, audio.sample_rate))
            return impl.base.TranscriptionResult(text="old", confidence=0.5, language="en",
                                                 words=[{"w": 1}])  # fmt: skip

    old = OldStyle()
    got = [(r.text, r.is_final, r.confidence, r.language, r.words)
           async for r in old.transcribe_stream(stream())]  # fmt: skip
    async def empty():
        return
        yield

    got += [(r.text,) async for r in old.transcribe_stream(empty())]
    out.append((got, old.seen, old.name))
    try:
        [r async for r in old.transcribe_stream(stream(), language="fr")]
    except TypeError as exc:
        out.append(("TypeError", "language" in str(exc)))
    out.append(await old.warmup())
    out.append(await old.close())
    fake_diar = types.SimpleNamespace(supports_diarization=True)
    fake_keep = types.SimpleNamespace(keeps_stream_across_turns=True)
    truthy = types.SimpleNamespace(supports_diarization=1)
    out.append([(impl.stt_base.diarizes(o), impl.stt_base.keeps_stream(o))
                for o in (old, fake_diar, fake_keep, truthy, object())])  # fmt: skip
    return out


def test_stt_same():
    _both(_stt_scenario)


def test_stt_expected(impl):
    out = _stt_scenario(impl)
    assert out[:3] == [("Hello", None, True, None), ("How can I help you?", None, True, None),
                       ("Hello", None, True, None)]  # fmt: skip
    assert out[4] == ([("a", "en")], True, ["de"], [b"\x01\x00", b"\x02\x00"])
    assert out[5:8] == [("b", None), ("c", "en"), ("a", None)]


# ---- TTS


@_run
async def _tts_scenario(impl: Impl) -> Any:
    level = impl.TTSContextLevel
    tts = impl.tts_mock.MockTTSProvider()
    out: list[Any] = []
    content = await tts.synthesize("Hello world")
    out.append((bool(re.fullmatch(r"https://mock\.test/audio/[0-9a-f]{32}\.mp3", content.url)),
                content.mime_type, content.transcript, content.duration_seconds, content.type))  # fmt: skip
    await tts.synthesize("x", voice="v2")
    chunks = [(c.data, c.sample_rate, c.is_final, c.format, c.channels)
              async for c in tts.synthesize_stream("Hi there you", context=None)]  # fmt: skip
    out.append(chunks)
    out.append([c async for c in tts.synthesize_stream("")])
    out.append((tts.calls, tts.contexts, tts.default_voice, tts.context_level.value, tts.name,
                tts.max_dialogue_speakers, tts.supports_streaming_input))  # fmt: skip
    tts.release_context("ctx-1")
    out.append(tts.released)
    tts2 = impl.tts_mock.MockTTSProvider("v", context_level=level.TEXT)
    out.append((tts2.default_voice, str(tts2.context_level)))

    # Defaults of the ABC.
    class Bare(impl.tts_base.TTSProvider):
        async def synthesize(self, text, *, voice=None):
            raise AssertionError

    bare = Bare()
    for agen in (bare.synthesize_stream("x"), bare.synthesize_stream_input(_aiter(["x"]))):
        try:
            await agen.__anext__()
        except NotImplementedError as exc:
            out.append(str(exc))
    turn = impl.DialogueTurn(speaker="a", text="hi")
    for voices in ({}, {"a": "v"}):
        try:
            await bare.synthesize_dialogue([turn], voices)
        except Exception as exc:  # noqa: BLE001
            out.append((type(exc).__name__, str(exc)))

    class Dialogue(Bare):
        @property
        def max_dialogue_speakers(self):
            return 1

        @classmethod
        def available_voices(cls):
            info = impl.VoiceInfo
            return [info(id="a", name="Anna", language="fr-CA", gender="female"),
                    info(id="b", name="Bob", language="fr", gender="male", description="Calm"),
                    info(id="c", language="en-US")]  # fmt: skip

    d = Dialogue()
    two = [turn, impl.DialogueTurn(speaker="b", text="yo")]
    for turns, voices in (([], {}), ([turn], {}), (two, {"a": "1", "b": "2"}), ([turn], {"a": "1"})):
        try:
            await d.synthesize_dialogue(turns, voices)
        except Exception as exc:  # noqa: BLE001
            out.append((type(exc).__name__, str(exc)))
    for kw in ({}, {"language": "fr"}, {"language": "FR-ca"}, {"language": "f"},
               {"gender": "MALE"}, {"query": "calm"}, {"query": "ANN", "language": "fr"}):  # fmt: skip
        out.append((kw, [v.id for v in await d.list_voices(**kw)]))
    out.append((await bare.list_voices(), Bare.available_voices(), bare.default_voice,
                bare.context_level.value, bare.release_context("x"), await bare.warmup(),
                await bare.close()))  # fmt: skip
    out.append([(m.name, m.value) for m in level])
    return out


async def _aiter(items):
    for item in items:
        yield item


def test_tts_same():
    _both(_tts_scenario)


def test_tts_expected(impl):
    out = _tts_scenario(impl)
    assert out[0] == (True, "audio/mpeg", "Hello world", pytest.approx(0.55), "audio")
    assert out[1] == [
        (b"mock-audio-Hi\x00", 16000, False, "pcm_s16le", 1),
        (b"mock-audio-there", 16000, False, "pcm_s16le", 1),
        (b"mock-audio-you", 16000, True, "pcm_s16le", 1),
    ]
    assert out[3][0] == [{"text": "Hello world", "voice": "mock-voice"}, {"text": "x", "voice": "v2"},
                         {"text": "Hi there you", "voice": "mock-voice"},
                         {"text": "", "voice": "mock-voice"}]  # fmt: skip

"""Drop-in parity of voicecore's thin API with ``roomkit.voice`` (roomkit 0.109).

Two halves:

* **Static**: for every public name, the signature of the class constructor,
  of each public method and classmethod, the property set, abstract methods,
  enum members and values, dataclass fields and defaults, callback-alias
  shapes. Parameter names, kinds and defaults are compared exactly;
  annotations are compared as source strings (both packages use
  ``from __future__ import annotations``) after replacing the module prefix,
  so a changed type is caught too.
* **Behaviour**: the same scenarios run against both implementations
  (``impl`` is parametrized over ``roomkit`` and ``voicecore``), each
  returning a normalized transcript; the transcripts must be equal, and each
  implementation must also satisfy the expected facts asserted inline.

Also: voicecore objects driven by roomkit's own code (EnergyVADProvider, and a
whole RoomKit + VoiceChannel + Agent round trip over voicecore's mock backend,
STT, TTS and frames), and the two deliberate differences (ENDED compared by
value; VoiceCapability accepting roomkit's members by value).

Skipped when roomkit is not importable (it needs Python 3.12+).
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import importlib
import inspect
import logging
import re
import types
import typing
from collections.abc import Callable
from typing import Any

import pytest

roomkit = pytest.importorskip("roomkit")

import voicecore  # noqa: E402

pytestmark = pytest.mark.roomkit

# (voicecore module, roomkit module, names) -- the same object must exist in both.
PAIRS: list[tuple[str, str, list[str]]] = [
    (
        "voicecore.base",
        "roomkit.voice.base",
        [
            "VoiceSessionState",
            "VoiceCapability",
            "AudioChunk",
            "VoiceSession",
            "SpeakerSegment",
            "TranscriptionResult",
            "speaker_label",
            "require_pcm16",
            "PCM16_FORMATS",
            "BargeInCallback",
        ],
    ),
    ("voicecore.base", "roomkit.models.event", ["AudioContent"]),
    ("voicecore.base", "roomkit.core.exceptions", ["VoiceSessionEndedError"]),
    ("voicecore.audio_frame", "roomkit.voice.audio_frame", ["AudioFrame"]),
    (
        "voicecore.events",
        "roomkit.voice.events",
        [
            "BargeInEvent",
            "TTSCancelledEvent",
            "TranscriptionEvent",
            "PartialTranscriptionEvent",
            "VADSilenceEvent",
            "VADAudioLevelEvent",
            "AudioLevelEvent",
            "SpeakerChangeEvent",
            "DTMFDetectedEvent",
            "TurnCompleteEvent",
            "TurnIncompleteEvent",
            "BackchannelEvent",
            "RecordingStartedEvent",
            "RecordingStoppedEvent",
            "BridgeAudioEvent",
        ],
    ),
    ("voicecore.events", "roomkit.voice.pipeline.dtmf.base", ["DTMFEvent"]),
    (
        "voicecore.backends.base",
        "roomkit.voice.backends.base",
        [
            "VoiceBackend",
            "PlaybackErrors",
            "AudioReceivedCallback",
            "AudioPlayedCallback",
            "AECTapCallback",
            "SessionReadyCallback",
            "TransportDisconnectCallback",
            "SpeakerChangeCallback",
        ],
    ),
    ("voicecore.backends.base", "roomkit.voice.backends.rtp", ["DTMFReceivedCallback"]),
    ("voicecore.backends.mock", "roomkit.voice.backends.mock", ["MockVoiceBackend", "MockVoiceCall"]),
    ("voicecore.stt.base", "roomkit.voice.stt.base", ["STTProvider", "diarizes", "keeps_stream"]),
    ("voicecore.stt.mock", "roomkit.voice.stt.mock", ["MockSTTProvider"]),
    ("voicecore.tts.base", "roomkit.voice.tts.base", ["TTSProvider"]),
    ("voicecore.tts.mock", "roomkit.voice.tts.mock", ["MockTTSProvider"]),
    (
        "voicecore.tts.base",
        "roomkit.voice.tts.context",
        ["TTSContextLevel", "TTSContext", "ConversationTurn"],
    ),
    ("voicecore.tts.base", "roomkit.voice.voices", ["VoiceInfo", "DialogueTurn"]),
    ("voicecore.stt", "roomkit.voice.stt", ["STTProvider", "MockSTTProvider"]),
    ("voicecore.tts", "roomkit.voice.tts", ["TTSProvider"]),
    ("voicecore.backends", "roomkit.voice.backends", ["MockVoiceBackend", "MockVoiceCall"]),
]

# Every name issue 2 lists, and where roomkit 0.109 has it (None: not in 0.109).
ISSUE_NAMES: dict[str, str | None] = {
    "VoiceBackend": "roomkit.voice.backends.base",
    "VoiceCapability": "roomkit.voice.base",
    "VoiceSession": "roomkit.voice.base",
    "VoiceSessionState": "roomkit.voice.base",
    "AudioChunk": "roomkit.voice.base",
    "AudioFrame": "roomkit.voice.audio_frame",
    "TranscriptionResult": "roomkit.voice.base",
    "AudioContent": "roomkit.models.event",
    "STTProvider": "roomkit.voice.stt.base",
    "TTSProvider": "roomkit.voice.tts.base",
    "MockSTTProvider": "roomkit.voice.stt.mock",
    "MockTTSProvider": "roomkit.voice.tts.mock",
    "MockVoiceBackend": "roomkit.voice.backends.mock",
    "MockVoiceCall": "roomkit.voice.backends.mock",
    "BargeInEvent": "roomkit.voice.events",
    "TTSCancelledEvent": "roomkit.voice.events",
    "TranscriptionEvent": "roomkit.voice.events",
    "PartialTranscriptionEvent": "roomkit.voice.events",
    "VADSilenceEvent": "roomkit.voice.events",
    "VADAudioLevelEvent": "roomkit.voice.events",
    "DTMFEvent": "roomkit.voice.pipeline.dtmf.base",
    "BargeInCallback": "roomkit.voice.base",
    "AudioReceivedCallback": "roomkit.voice.backends.base",
    "AudioPlayedCallback": "roomkit.voice.backends.base",
    "SessionReadyCallback": "roomkit.voice.backends.base",
    "TransportDisconnectCallback": "roomkit.voice.backends.base",
    "SpeakerChangeCallback": "roomkit.voice.backends.base",
    "DTMFReceivedCallback": "roomkit.voice.backends.rtp",
    # Defined in roomkit.voice.base by earlier roomkit releases, gone in 0.109.
    "SpeechStartCallback": None,
    "SpeechEndCallback": None,
    "PartialTranscriptionCallback": None,
    "VADSilenceCallback": None,
    "VADAudioLevelCallback": None,
}

ALL_PAIRS = [(vc, rk, name) for vc, rk, names in PAIRS for name in names]
PAIR_IDS = [f"{vc}.{name}" for vc, _, name in ALL_PAIRS]


def _get(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module), name)


def _norm_annotation(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return "<empty>"
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return re.sub(r"\b(roomkit|voicecore)\.[\w.]*\.", "", text)


def _norm_default(value: Any) -> Any:
    if value is inspect.Parameter.empty:
        return "<empty>"
    if isinstance(value, enum.Enum):
        return (type(value).__name__, value.name, value.value)
    return value


def _sig(obj: Callable[..., Any]) -> list[tuple[str, str, Any, str]]:
    sig = inspect.signature(obj)
    params = [
        (p.name, p.kind.name, _norm_default(p.default), _norm_annotation(p.annotation))
        for p in sig.parameters.values()
    ]
    params.append(("<return>", "", "", _norm_annotation(sig.return_annotation)))
    return params


def _is_pydantic(cls: type) -> bool:
    return any(base.__name__ == "BaseModel" for base in cls.__mro__)


def _public_members(cls: type) -> dict[str, str]:
    """Public attributes defined by the class or its non-builtin bases, with their kind."""
    out: dict[str, str] = {}
    for klass in cls.__mro__:
        if klass is object or klass.__module__ in ("abc", "builtins", "typing", "collections.abc"):
            continue
        if klass.__name__ in ("BaseModel", "Generic") or klass.__module__.startswith("pydantic"):
            continue
        for attr, value in vars(klass).items():
            if attr.startswith("_") or attr in out:
                continue
            if isinstance(value, property):
                kind = "property"
            elif isinstance(value, classmethod):
                kind = "classmethod"
            elif isinstance(value, staticmethod):
                kind = "staticmethod"
            elif inspect.iscoroutinefunction(value):
                kind = "async"
            elif inspect.isasyncgenfunction(value):
                kind = "asyncgen"
            elif inspect.isfunction(value):
                kind = "method"
            else:
                continue  # class-level data (dataclass defaults, enum members)
            out[attr] = kind
    return out


def _alias_shape(alias: Any) -> Any:
    """Callable[[A, B], R] -> (("A", "B"), "R") with names, forward refs resolved to text."""

    def name(t: Any) -> str:
        if isinstance(t, typing.ForwardRef):
            return t.__forward_arg__
        if t is Any:
            return "Any"
        return getattr(t, "__name__", repr(t))

    args = typing.get_args(alias)
    assert args, f"{alias!r} is not a parametrized Callable"
    params, ret = args
    return tuple(name(p) for p in params), name(ret)


# --------------------------------------------------------------------------- static


def test_issue_names_importable_from_voicecore_and_module_paths():
    for name, rk_module in ISSUE_NAMES.items():
        assert name in voicecore.__all__, name
        ours = getattr(voicecore, name)
        if rk_module is not None:
            theirs = _get(rk_module, name)
            assert type(ours) is type(theirs) or (
                isinstance(ours, type) and isinstance(theirs, type)
            ), name
    for name in voicecore.__all__:
        assert hasattr(voicecore, name), name


@pytest.mark.parametrize(("vc_mod", "rk_mod", "name"), ALL_PAIRS, ids=PAIR_IDS)
def test_signatures_match(vc_mod, rk_mod, name):
    ours, theirs = _get(vc_mod, name), _get(rk_mod, name)
    if isinstance(theirs, type):
        assert isinstance(ours, type)
        if _is_pydantic(theirs):
            # pydantic model: compare its fields (names, order, defaults).
            fields = theirs.model_fields
            ours_fields = {f.name: f for f in dataclasses.fields(ours)}
            assert list(fields) == list(ours_fields)
            for fname, finfo in fields.items():
                default = finfo.default
                if default is not ... and repr(default) != "PydanticUndefined":
                    assert ours_fields[fname].default == default, fname
                else:
                    assert ours_fields[fname].default is dataclasses.MISSING, fname
            # Annotations are pydantic-rendered types there: names, kinds, defaults only.
            def loose(obj: type) -> list[tuple[str, str, str]]:
                return [(p[0], p[1], repr(p[2])) for p in _sig(obj)[:-1]]

            assert loose(ours) == loose(theirs)
            return
        if issubclass(theirs, BaseException):
            # Same name, one project-level base class, then Exception.
            assert ours.__name__ == theirs.__name__
            assert len(ours.__mro__) == len(theirs.__mro__)
            assert ours.__mro__[2:] == theirs.__mro__[2:] == (Exception, BaseException, object)
            return
        if issubclass(theirs, enum.Enum):
            assert issubclass(ours, enum.Enum)
            assert [c.__name__ for c in type(ours).__mro__] == [
                c.__name__ for c in type(theirs).__mro__
            ]
            assert [(m.name, m.value) for m in ours] == [(m.name, m.value) for m in theirs]
            assert [b.__name__ for b in ours.__mro__[1:]] == [b.__name__ for b in theirs.__mro__[1:]]
            return
        assert _sig(ours) == _sig(theirs)
        assert dataclasses.is_dataclass(ours) == dataclasses.is_dataclass(theirs)
        if dataclasses.is_dataclass(theirs):
            assert _dataclass_spec(ours) == _dataclass_spec(theirs)
        rk_members = _public_members(theirs)
        vc_members = _public_members(ours)
        assert vc_members == rk_members
        for attr, kind in rk_members.items():
            if kind == "property":
                continue
            assert _sig(getattr(ours, attr)) == _sig(getattr(theirs, attr)), attr
        assert getattr(ours, "__abstractmethods__", frozenset()) == getattr(
            theirs, "__abstractmethods__", frozenset()
        )
    elif inspect.isfunction(theirs):
        assert _sig(ours) == _sig(theirs)
    elif isinstance(theirs, frozenset):
        assert ours == theirs
    else:  # a Callable[...] type alias
        assert _alias_shape(ours) == _alias_shape(theirs)


def _dataclass_spec(cls: type) -> list[tuple[Any, ...]]:
    params = cls.__dataclass_params__
    spec: list[tuple[Any, ...]] = [("frozen", params.frozen), ("eq", params.eq)]
    for f in dataclasses.fields(cls):
        factory = f.default_factory
        spec.append(
            (
                f.name,
                _norm_annotation(f.type),
                _norm_default(f.default) if f.default is not dataclasses.MISSING else "<missing>",
                factory.__name__ if factory is not dataclasses.MISSING else "<missing>",
                f.init,
                f.kw_only,
            )
        )
    return spec


def test_voice_backend_property_set_and_defaults():
    from roomkit.voice.backends.base import VoiceBackend as RK

    from voicecore.backends.base import VoiceBackend as VC

    def props(cls: type) -> set[str]:
        return {n for n, v in vars(cls).items() if isinstance(v, property)}

    assert props(VC) == props(RK)
    assert props(VC) >= {
        "name",
        "capabilities",
        "feeds_aec_reference",
        "supports_playback_callback",
        "auto_connect",
        "audio_received_callback",
    }
    # Methods the issue lists explicitly must exist on both, with the same signature.
    listed = [
        "connect", "disconnect", "send_audio", "send_audio_sync", "send_dtmf", "get_session",
        "list_sessions", "close", "on_audio_received", "on_session_ready", "on_barge_in",
        "cancel_audio", "accept", "interrupt", "set_input_muted", "set_input_gated",
        "on_client_disconnected", "on_speaker_change", "end_of_response", "is_playing",
        "on_audio_played", "set_trace_emitter", "send_transcription",
    ]  # fmt: skip
    for method in listed:
        assert _sig(getattr(VC, method)) == _sig(getattr(RK, method)), method
        assert inspect.iscoroutinefunction(getattr(VC, method)) == inspect.iscoroutinefunction(
            getattr(RK, method)
        ), method


def test_voice_capability_flag_values_and_combinations():
    from roomkit.voice.base import VoiceCapability as RK

    from voicecore.base import VoiceCapability as VC

    for a in RK:
        for b in RK:
            assert (VC[a.name] | VC[b.name]).value == (a | b).value
    combo = VC.INTERRUPTION | VC.BARGE_IN | VC.DTMF_SIGNALING
    assert combo.value == (RK.INTERRUPTION | RK.BARGE_IN | RK.DTMF_SIGNALING).value
    assert VC.BARGE_IN in combo and VC.NATIVE_AEC not in combo
    assert bool(VC.NONE) is bool(RK.NONE) is False


def test_session_state_string_values():
    from roomkit.voice.base import VoiceSessionState as RK

    from voicecore.base import VoiceSessionState as VC

    for m in RK:
        assert VC(m.value).name == m.name
        assert str(VC[m.name]) == str(m)
        assert f"{VC[m.name]}" == f"{m}"
        assert VC[m.name] == m.value


# --------------------------------------------------------------------------- behaviour


class Impl(types.SimpleNamespace):
    pass


def _roomkit_impl() -> Impl:
    from roomkit.core.exceptions import VoiceSessionEndedError
    from roomkit.models.event import AudioContent
    from roomkit.voice import audio_frame, base, events
    from roomkit.voice.backends import base as backend_base
    from roomkit.voice.backends import mock as backend_mock
    from roomkit.voice.pipeline.dtmf.base import DTMFEvent
    from roomkit.voice.stt import base as stt_base
    from roomkit.voice.stt import mock as stt_mock
    from roomkit.voice.tts import base as tts_base
    from roomkit.voice.tts import mock as tts_mock
    from roomkit.voice.tts.context import TTSContextLevel
    from roomkit.voice.voices import DialogueTurn, VoiceInfo

    return Impl(
        name="roomkit", base=base, audio_frame=audio_frame, events=events,
        backend_base=backend_base, backend_mock=backend_mock, stt_base=stt_base,
        stt_mock=stt_mock, tts_base=tts_base, tts_mock=tts_mock, AudioContent=AudioContent,
        VoiceSessionEndedError=VoiceSessionEndedError, DTMFEvent=DTMFEvent,
        TTSContextLevel=TTSContextLevel, VoiceInfo=VoiceInfo, DialogueTurn=DialogueTurn,
    )  # fmt: skip


def _voicecore_impl() -> Impl:
    from voicecore import audio_frame, base, events
    from voicecore.backends import base as backend_base
    from voicecore.backends import mock as backend_mock
    from voicecore.stt import base as stt_base
    from voicecore.stt import mock as stt_mock
    from voicecore.tts import base as tts_base
    from voicecore.tts import mock as tts_mock

    return Impl(
        name="voicecore", base=base, audio_frame=audio_frame, events=events,
        backend_base=backend_base, backend_mock=backend_mock, stt_base=stt_base,
        stt_mock=stt_mock, tts_base=tts_base, tts_mock=tts_mock, AudioContent=base.AudioContent,
        VoiceSessionEndedError=base.VoiceSessionEndedError, DTMFEvent=events.DTMFEvent,
        TTSContextLevel=tts_base.TTSContextLevel, VoiceInfo=tts_base.VoiceInfo,
        DialogueTurn=tts_base.DialogueTurn,
    )  # fmt: skip


IMPLS = [pytest.param(_roomkit_impl, id="roomkit"), pytest.param(_voicecore_impl, id="voicecore")]


@pytest.fixture(params=IMPLS)
def impl(request) -> Impl:
    return request.param()


def _both(scenario: Callable[[Impl], Any]) -> None:
    """Run *scenario* on both implementations and require identical transcripts."""
    rk, vc = scenario(_roomkit_impl()), scenario(_voicecore_impl())
    assert vc == rk


def _run(coro_fn: Callable[[Impl], Any]) -> Callable[[Impl], Any]:
    def runner(impl: Impl) -> Any:
        return asyncio.run(coro_fn(impl))

    return runner


def _err(fn: Callable[[], Any]) -> tuple[str, str] | str:
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the transcript records it
        return (type(exc).__name__, str(exc))
    return "ok"


# ---- AudioFrame validation


FRAME_CASES: list[dict[str, Any]] = [
    {"data": b""},
    {"data": b"\x00\x01"},
    {"data": bytearray(b"\x00\x01")},
    {"data": memoryview(b"\x00\x01")},
    {"data": "text"},
    {"data": b"\x00\x01", "sample_rate": 0},
    {"data": b"\x00\x01", "sample_rate": -8000},
    {"data": b"\x00\x01", "sample_rate": 192_000},
    {"data": b"\x00\x01", "sample_rate": 192_001},
    {"data": b"\x00\x01", "channels": 0},
    {"data": b"\x00\x01\x02\x03", "channels": 2},
    {"data": b"\x00\x01", "channels": 2},
    {"data": b"\x00\x01", "channels": 3},
    {"data": b"\x00", "sample_width": 1},
    {"data": b"\x00\x01\x02", "sample_width": 3},
    {"data": b"\x00\x01\x02", "sample_width": 2},
    {"data": b"\x00" * 6, "sample_width": 4},
    {"data": b"\x00" * 8, "sample_width": 4, "channels": 2},
    {"data": b"\x00" * 12, "sample_width": 4, "channels": 2},
    {"data": "x", "sample_rate": 0, "channels": 9},  # first failing check wins
    {"data": b"\x00\x01", "sample_rate": 0, "channels": 9},
    {"data": b"\x00\x01\x02", "channels": 9},
    {"data": b"\x00\x00", "timestamp_ms": 12.5, "metadata": {"vad": True}},
]


@pytest.mark.parametrize("kwargs", FRAME_CASES, ids=range(len(FRAME_CASES)))
def test_audio_frame_validation_same_errors(kwargs):
    def scenario(impl: Impl) -> Any:
        out = _err(lambda: impl.audio_frame.AudioFrame(**kwargs))
        if out == "ok":
            frame = impl.audio_frame.AudioFrame(**kwargs)
            return dataclasses.asdict(frame)
        return out

    _both(scenario)


def test_audio_frame_positional_and_defaults(impl):
    frame = impl.audio_frame.AudioFrame(b"\x01\x02\x03\x04", 8000, 2, 1, 40.0)
    assert (frame.sample_rate, frame.channels, frame.sample_width, frame.timestamp_ms) == (
        8000, 2, 1, 40.0,
    )  # fmt: skip
    assert frame.metadata == {}
    other = impl.audio_frame.AudioFrame(b"")
    assert other.metadata is not frame.metadata
    with pytest.raises(ValueError, match=r"data length \(3\) must be divisible"):
        impl.audio_frame.AudioFrame(b"abc")


# ---- VoiceSession state guard


TRANSITIONS = [
    ["ACTIVE", "PAUSED", "ACTIVE", "ENDED"],
    ["ENDED", "ACTIVE"],
    ["ENDED", "CONNECTING"],
    ["ENDED", "ENDED"],
    ["ACTIVE", "CONNECTING", "ACTIVE"],
    ["PAUSED"],
    ["ACTIVE", "ACTIVE", "PAUSED", "PAUSED", "CONNECTING"],
    ["ENDED", "renegotiate", "ACTIVE", "ENDED", "PAUSED"],
    ["ACTIVE", "renegotiate", "ENDED"],
    ["active", "paused", "ended"],  # plain strings equal to the StrEnum values
]


@pytest.mark.parametrize("steps", TRANSITIONS, ids=["-".join(s) for s in TRANSITIONS])
def test_session_state_guard_same_behaviour(steps, caplog):
    def scenario(impl: Impl) -> Any:
        state_cls = impl.base.VoiceSessionState
        session = impl.base.VoiceSession(id="s1", room_id="r", participant_id="p", channel_id="c")
        transcript: list[Any] = [str(session.state)]
        for step in steps:
            caplog.clear()
            with caplog.at_level(logging.WARNING):
                if step == "renegotiate":
                    session.renegotiate()
                    outcome: Any = "ok"
                else:
                    value = state_cls[step] if step.isupper() else step
                    outcome = _err(lambda v=value: setattr(session, "state", v))
            warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
            if isinstance(outcome, tuple):
                assert outcome[0] == "VoiceSessionEndedError"
            transcript.append((step, outcome, warnings, str(session.state)))
        return transcript

    _both(scenario)


def test_session_ended_is_terminal(impl, caplog):
    session = impl.base.VoiceSession(id="abc", room_id="r", participant_id="p", channel_id="c")
    session.state = impl.base.VoiceSessionState.ACTIVE
    session.state = impl.base.VoiceSessionState.ENDED
    with pytest.raises(impl.VoiceSessionEndedError, match="Voice session abc has ended"):
        session.state = impl.base.VoiceSessionState.ACTIVE
    assert session.state is impl.base.VoiceSessionState.ENDED
    with caplog.at_level(logging.WARNING):
        session.state = impl.base.VoiceSessionState.ENDED  # same state: silent no-op
    assert not caplog.records
    session.renegotiate()
    assert session.state is impl.base.VoiceSessionState.CONNECTING
    # Constructing directly in ENDED is allowed (the mock's disconnect does it).
    ended = impl.base.VoiceSession(
        id="x", room_id="r", participant_id="p", channel_id="c",
        state=impl.base.VoiceSessionState.ENDED,
    )  # fmt: skip
    assert ended.state is impl.base.VoiceSessionState.ENDED


def test_session_fields_and_usage(impl):
    def scenario(impl: Impl) -> Any:
        s = impl.base.VoiceSession("i", "r", "p", "c")
        s._last_usage["input_tokens"] = 3
        usage = s.last_usage
        usage["input_tokens"] = 99
        return (
            s.provider_session_id, s.metadata, s.last_usage, s.created_at.tzinfo is not None,
            [f.name for f in dataclasses.fields(s)],
        )  # fmt: skip

    _both(scenario)


# ---- base helpers


def test_speaker_label_and_pcm16_same():
    labels = [None, "", " ", "unknown", "UU", "Pending", "Speaker 1", "speaker_0", "SPEAKER:2",
              "speaker", "Speaker#", 0, 7, "A", "  spk  ", "speaker-x-y"]  # fmt: skip

    def scenario(impl: Impl) -> Any:
        out = [impl.base.speaker_label(v) for v in labels]
        for fmt in ["pcm", "pcm_s16le", "pcm_f32le", "pcm_s24le", "mulaw", "opus", ""]:
            chunk = impl.base.AudioChunk(data=b"", format=fmt)
            out.append(_err(lambda c=chunk: impl.base.require_pcm16(c, "RTP backend")))
        return out

    _both(scenario)


def test_transcription_result_same():
    def scenario(impl: Impl) -> Any:
        seg = impl.base.SpeakerSegment
        out = []
        for segments in [[], [seg("A", "hi")], [seg("A", "hi"), seg("A", "yo", 0, 5)],
                         [seg("A", "hi"), seg("B", "yo")], [seg(None, "x")]]:  # fmt: skip
            r = impl.base.TranscriptionResult(text="t", segments=segments)
            out.append((r.speaker, r.is_final, r.confidence, r.words, r.is_speech_start))
        out.append(_err(lambda: setattr(seg("A", "x"), "text", "y")))
        out.append(dataclasses.asdict(impl.base.AudioChunk(b"ab")))
        return out

    _both(scenario)


def test_audio_content_same():
    cases = [
        {"url": "https://x/a.mp3"},
        {"url": "http://x"},
        {"url": "data:audio/wav;base64,AAAA", "mime_type": "audio/wav", "transcript": "hi",
         "duration_seconds": 1.5},  # fmt: skip
        {"url": "ftp://x"},
        {"url": "file:///tmp/a.wav"},
        {"url": "https://x", "duration_seconds": -0.1},
        {"url": "https://x", "duration_seconds": 0.0},
    ]

    def scenario(impl: Impl) -> Any:
        out = []
        for kwargs in cases:
            try:
                c = impl.AudioContent(**kwargs)
            except ValueError as exc:  # pydantic's ValidationError is a ValueError
                msg = str(exc)
                key = "URL must start with" if "URL" in msg else "greater than or equal to 0"
                assert key in msg
                out.append(("ValueError", key))
                continue
            out.append((c.type, c.url, c.mime_type, c.duration_seconds, c.transcript))
        with pytest.raises(TypeError):
            impl.AudioContent("https://positional")  # keyword-only in both
        return out

    _both(scenario)


# ---- events


def test_events_same_behaviour():
    def scenario(impl: Impl) -> Any:
        ev = impl.events
        s = impl.base.VoiceSession("i", "r", "p", "c")
        made = [
            ev.BargeInEvent(s, "hello", 120),
            ev.TTSCancelledEvent(s, "barge_in", "hello", 80),
            ev.TranscriptionEvent(s, "hi", "en"),
            ev.PartialTranscriptionEvent(s, "h", 0.5, False),
            ev.VADSilenceEvent(s, 300),
            ev.VADAudioLevelEvent(s, -20.5, True),
            ev.AudioLevelEvent(s, -30.0),
            ev.SpeakerChangeEvent(s, "spk", None, True),
            ev.DTMFDetectedEvent(s, "5", 80.0),
            ev.DTMFDetectedEvent(s, "5", 80.0, 0.9, "*"),
            ev.TurnCompleteEvent(s, "done"),
            ev.TurnIncompleteEvent(s, "not yet"),
            ev.BackchannelEvent(s, "uh-huh"),
            ev.RecordingStartedEvent(),
            ev.RecordingStoppedEvent(None, "rec", ("a.wav",), 2.0),
            impl.DTMFEvent("#", 100.0),
        ]
        out = []
        for e in made:
            d = {k: v for k, v in vars(e).items() if k not in ("timestamp", "session")}
            ts = getattr(e, "timestamp", None)
            out.append((type(e).__name__, d, ts is None or ts.tzinfo is not None))
        out.append(_err(lambda: setattr(made[0], "interrupted_text", "x")))
        out.append(type(made[-1]).__dataclass_params__.frozen)
        return out

    _both(scenario)


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


def test_deliberate_difference_ended_given_as_plain_string_is_terminal():
    """roomkit guards ENDED by identity (``is``), so an ENDED set as the string
    "ended" (or as another package's member) can be left; voicecore compares by
    value so ENDED stays terminal however it was spelled. Documented difference."""
    from roomkit.voice.base import VoiceSession as RK
    from roomkit.voice.base import VoiceSessionState as RKState

    from voicecore.base import VoiceSession as VC
    from voicecore.base import VoiceSessionEndedError

    rk = RK("i", "r", "p", "c")
    rk.state = "ended"
    rk.state = "active"  # roomkit lets it out (with a warning)
    assert rk.state == "active"
    for ended in ("ended", RKState.ENDED):
        vc = VC("i", "r", "p", "c")
        vc.state = ended
        with pytest.raises(VoiceSessionEndedError):
            vc.state = "active"


def test_voice_capability_interoperates_with_roomkit_members():
    from roomkit.voice.base import VoiceCapability as RK

    from voicecore.base import VoiceCapability as VC

    caps = VC.BARGE_IN | VC.NATIVE_AEC
    # roomkit's own code asks with its own members:
    assert RK.BARGE_IN in caps and RK.NATIVE_AEC in caps and RK.NATIVE_AGC not in caps
    assert RK.NONE in caps  # as for a roomkit flag: NONE is in everything
    assert caps & RK.BARGE_IN is VC.BARGE_IN and RK.BARGE_IN & caps is VC.BARGE_IN
    assert (caps | RK.DTMF_SIGNALING).value == 38 and (RK.DTMF_SIGNALING | caps).value == 38
    assert (caps ^ RK.BARGE_IN) is VC.NATIVE_AEC
    assert caps == RK.BARGE_IN | RK.NATIVE_AEC and VC.NONE == RK.NONE and caps != RK.BARGE_IN
    assert {caps: 1}[caps] == 1 and hash(VC.BARGE_IN) == hash(RK.BARGE_IN)
    with pytest.raises(TypeError):
        1 in caps  # noqa: B015 - other types are still refused
    # And roomkit's members keep their own semantics with each other.
    assert RK.BARGE_IN in (RK.BARGE_IN | RK.NATIVE_AEC)


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

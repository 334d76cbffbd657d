"""Drop-in parity with ``roomkit.voice``, static half: every public name exists
at roomkit's module path with the same signatures, members, enum values,
dataclass fields and callback shapes (see ``parity_support`` for the method)."""

from __future__ import annotations

import dataclasses
import enum
import inspect
from typing import Any

import pytest

roomkit = pytest.importorskip("roomkit")

import voicecore  # noqa: E402
from parity_support import (  # noqa: E402
    _alias_shape,
    _get,
    _is_pydantic,
    _norm_annotation,
    _norm_default,
    _public_members,
    _sig,
)

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

"""voicecore's thin API on its own (no roomkit needed): base types and exports."""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys
import textwrap
from datetime import UTC

import pytest

import voicecore
from voicecore import (
    AudioChunk,
    AudioContent,
    SpeakerSegment,
    TranscriptionResult,
    VoiceCapability,
    VoiceSession,
    VoiceSessionEndedError,
    VoiceSessionState,
    speaker_label,
)
from voicecore.base import PCM16_FORMATS, require_pcm16

ISSUE_NAMES = """
VoiceBackend VoiceCapability VoiceSession VoiceSessionState AudioChunk AudioFrame
TranscriptionResult AudioContent STTProvider TTSProvider MockSTTProvider MockTTSProvider
MockVoiceBackend MockVoiceCall BargeInEvent TTSCancelledEvent TranscriptionEvent
PartialTranscriptionEvent VADSilenceEvent VADAudioLevelEvent DTMFEvent SpeechStartCallback
SpeechEndCallback PartialTranscriptionCallback VADSilenceCallback VADAudioLevelCallback
BargeInCallback AudioReceivedCallback AudioPlayedCallback SessionReadyCallback
TransportDisconnectCallback SpeakerChangeCallback DTMFReceivedCallback
""".split()

MODULE_OF = {
    "voicecore.base": ["AudioChunk", "AudioContent", "TranscriptionResult", "VoiceCapability",
                       "VoiceSession", "VoiceSessionState", "BargeInCallback",
                       "SpeechStartCallback", "SpeechEndCallback", "PartialTranscriptionCallback",
                       "VADSilenceCallback", "VADAudioLevelCallback"],
    "voicecore.audio_frame": ["AudioFrame"],
    "voicecore.events": ["BargeInEvent", "TTSCancelledEvent", "TranscriptionEvent",
                         "PartialTranscriptionEvent", "VADSilenceEvent", "VADAudioLevelEvent",
                         "DTMFEvent"],
    "voicecore.backends.base": ["VoiceBackend", "AudioReceivedCallback", "AudioPlayedCallback",
                                "SessionReadyCallback", "TransportDisconnectCallback",
                                "SpeakerChangeCallback", "DTMFReceivedCallback"],
    "voicecore.backends.mock": ["MockVoiceBackend", "MockVoiceCall"],
    "voicecore.stt.base": ["STTProvider"],
    "voicecore.stt.mock": ["MockSTTProvider"],
    "voicecore.tts.base": ["TTSProvider"],
    "voicecore.tts.mock": ["MockTTSProvider"],
}  # fmt: skip


def test_every_issue_name_exported_from_voicecore():
    missing = [n for n in ISSUE_NAMES if n not in voicecore.__all__]
    assert missing == []
    assert len(set(voicecore.__all__)) == len(voicecore.__all__)
    for name in voicecore.__all__:
        assert getattr(voicecore, name) is not None, name
    assert voicecore.__version__ == "0.1.0"


@pytest.mark.parametrize("module", sorted(MODULE_OF))
def test_module_paths(module):
    import importlib

    mod = importlib.import_module(module)
    for name in MODULE_OF[module]:
        assert getattr(mod, name) is getattr(voicecore, name), f"{module}.{name}"


def test_import_needs_no_roomkit_pydantic_or_native():
    code = textwrap.dedent(
        """
        import sys
        for blocked in ("roomkit", "pydantic", "sherpa_onnx", "aiortp"):
            sys.modules[blocked] = None  # any import of these now raises ImportError
        import voicecore, voicecore.backends, voicecore.stt, voicecore.tts, voicecore.events
        from voicecore import *
        loaded = sorted(m for m in sys.modules if m.startswith("voicecore._native"))
        print(loaded)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_aiortp_is_a_test_peer_not_a_runtime_extra():
    """Nothing at run time imports aiortp, so no runtime extra installs it (it is
    in the test and bench extras as the interop peer)."""
    import importlib.metadata
    from pathlib import Path

    meta = importlib.metadata.metadata("voicecore")
    extras = set(meta.get_all("Provides-Extra") or [])
    assert "rtp" not in extras and {"test", "bench"} <= extras
    for extra in extras - {"test", "bench"}:
        reqs = [r for r in meta.get_all("Requires-Dist") or [] if f'extra == "{extra}"' in r]
        assert not any(r.startswith("aiortp") for r in reqs), extra
    sources = [p for p in Path(voicecore.__file__).parent.rglob("*") if p.suffix in (".py", ".pyx", ".pxd")]
    assert sources
    for path in sources:
        text = path.read_text(encoding="utf-8")
        if path.parent.name == "compat":
            # voicecore.install() imports aiortp to switch its RTPSession, only
            # when it is installed: never at module level
            assert not any(line.startswith(("import aiortp", "from aiortp")) for line in text.splitlines()), path
            continue
        assert "import aiortp" not in text and "from aiortp" not in text, path


LAZY_PACKAGES = ["voicecore", "voicecore.stt", "voicecore.tts", "voicecore.backends"]


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_lazy_exports_resolve_when_their_module_exists(package):
    import importlib
    import importlib.util
    import pkgutil

    pkg = importlib.import_module(package)
    submodules = {m.name for m in pkgutil.iter_modules(pkg.__path__)}
    for name, module in pkg._LAZY.items():
        assert name not in submodules, f"{package}.{name} is also a submodule"
        exists = importlib.util.find_spec(module) is not None
        assert (name in dir(pkg)) == exists, f"{package}.{name} advertised without {module}"
        assert hasattr(pkg, name) == exists
        if exists:
            assert getattr(pkg, name) is getattr(importlib.import_module(module), name)
    if package != "voicecore.backends":  # RTPVoiceBackend may land after its entry
        assert all(importlib.util.find_spec(m) for m in pkg._LAZY.values())


def test_a_lazy_name_without_its_module_is_not_advertised():
    import types

    from voicecore._lazy import lazy_exports

    fake = types.ModuleType("voicecore_fake_pkg")
    sys.modules[fake.__name__] = fake
    try:
        fake.__getattr__, fake.__dir__ = lazy_exports(fake.__name__, {"Later": "voicecore.backends.not_yet"})
        assert hasattr(fake, "Later") is False  # and it does not raise
        assert "Later" not in dir(fake)
        with pytest.raises(AttributeError, match=r"has no attribute 'Later': importing voicecore\.backends\.not_yet"):
            fake.Later  # noqa: B018
    finally:
        del sys.modules[fake.__name__]


def test_hasattr_never_raises_on_a_lazy_name():
    code = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "voicecore._native.media.jitter":
                    raise ImportError("simulated: extension not built")
        sys.meta_path.insert(0, Block())
        import voicecore
        print(hasattr(voicecore, "JitterBuffer"), "JitterBuffer" in dir(voicecore))
        try:
            voicecore.JitterBuffer
        except AttributeError as exc:
            print(type(exc.__cause__).__name__, exc)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    assert first == "False True"
    assert second.startswith("ImportError module 'voicecore' has no attribute 'JitterBuffer': importing "
                             "voicecore.media.jitter failed (")
    assert "simulated: extension not built" in second


# ---- VoiceSession


def _session(**kw) -> VoiceSession:
    return VoiceSession(id="s-1", room_id="room", participant_id="alice", channel_id="voice", **kw)


def test_session_defaults():
    s = _session()
    assert s.state is VoiceSessionState.CONNECTING
    assert s.provider_session_id is None
    assert s.metadata == {} and s.last_usage == {}
    assert s.created_at.tzinfo is UTC
    assert _session().metadata is not s.metadata


@pytest.mark.parametrize(
    "path",
    [
        ["ACTIVE", "PAUSED", "ACTIVE", "PAUSED", "ENDED"],
        ["ENDED"],
        ["ACTIVE", "ENDED"],
        ["ACTIVE", "PAUSED", "ENDED"],
    ],
)
def test_documented_transitions_are_silent(path, caplog):
    s = _session()
    with caplog.at_level(logging.DEBUG, logger="voicecore"):
        for step in path:
            s.state = VoiceSessionState[step]
            assert s.state is VoiceSessionState[step]
    assert caplog.records == []


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        (["PAUSED"], ("connecting", "paused")),
        (["ACTIVE", "CONNECTING"], ("active", "connecting")),
        (["ACTIVE", "PAUSED", "CONNECTING"], ("paused", "connecting")),
    ],
)
def test_undocumented_transition_logged_and_allowed(path, bad, caplog):
    s = _session()
    with caplog.at_level(logging.WARNING, logger="voicecore"):
        for step in path:
            s.state = VoiceSessionState[step]
    assert s.state is VoiceSessionState[path[-1]]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"Voice session s-1 made an undocumented transition {bad[0]} -> {bad[1]}"]


@pytest.mark.parametrize("target", ["CONNECTING", "ACTIVE", "PAUSED"])
def test_ended_is_terminal(target):
    s = _session(state=VoiceSessionState.ACTIVE)
    s.state = VoiceSessionState.ENDED
    with pytest.raises(VoiceSessionEndedError) as info:
        s.state = VoiceSessionState[target]
    assert str(info.value) == (
        f"Voice session s-1 has ended; it cannot move to {target.lower()}. Create a new "
        "session for a reconnecting participant (RFC §12.1)."
    )
    assert s.state is VoiceSessionState.ENDED
    s.state = VoiceSessionState.ENDED  # staying is not leaving
    assert isinstance(info.value, Exception)


def test_renegotiate_is_the_way_out():
    s = _session(state=VoiceSessionState.ENDED)
    s.renegotiate()
    assert s.state is VoiceSessionState.CONNECTING
    s.state = VoiceSessionState.ACTIVE
    s.renegotiate()
    assert s.state is VoiceSessionState.CONNECTING


def test_last_usage_is_a_copy():
    s = _session()
    s._last_usage["input_tokens"] = 5
    snap = s.last_usage
    snap["input_tokens"] = 0
    assert s.last_usage == {"input_tokens": 5}


def test_state_enum_is_str():
    assert VoiceSessionState.ACTIVE == "active"
    assert f"{VoiceSessionState.ENDED}" == "ended"
    assert [m.value for m in VoiceSessionState] == ["connecting", "active", "paused", "ended"]


def test_capability_flags():
    assert VoiceCapability.NONE.value == 0
    names = ["INTERRUPTION", "BARGE_IN", "NATIVE_AEC", "NATIVE_AGC", "DTMF_INBAND",
             "DTMF_SIGNALING", "NATIVE_BRIDGE"]  # fmt: skip
    assert [VoiceCapability[n].value for n in names] == [1, 2, 4, 8, 16, 32, 64]
    both = VoiceCapability.INTERRUPTION | VoiceCapability.BARGE_IN
    assert VoiceCapability.BARGE_IN in both and VoiceCapability.NATIVE_AEC not in both
    assert not VoiceCapability.NONE


# ---- AudioChunk, PCM16, speaker labels, transcription results, AudioContent


def test_audio_chunk_defaults():
    c = AudioChunk(b"\x00\x01")
    assert dataclasses.astuple(c) == (b"\x00\x01", 16000, 1, "pcm_s16le", None, False)


def test_require_pcm16():
    assert PCM16_FORMATS == {"pcm", "pcm_s16le"}
    for fmt in PCM16_FORMATS:
        require_pcm16(AudioChunk(b"", format=fmt), "RTP")
    with pytest.raises(ValueError, match=r"^RTP expects decoded PCM, got format 'mulaw'\. "):
        require_pcm16(AudioChunk(b"", format="mulaw"), "RTP")
    with pytest.raises(ValueError, match=r"^RTP plays 16-bit signed PCM, and this chunk is 'pcm_f32le'"):
        require_pcm16(AudioChunk(b"", format="pcm_f32le"), "RTP")


@pytest.mark.parametrize(
    ("raw", "label"),
    [(None, None), ("", None), ("  UU ", None), ("Pending", None), ("unknown", None),
     (0, "0"), ("Speaker 1", "1"), ("speaker_0", "0"), ("SPEAKER: 3", "3"), ("A", "A"),
     ("speaker", "speaker"), (" bob ", "bob")],
)  # fmt: skip
def test_speaker_label(raw, label):
    assert speaker_label(raw) == label


def test_transcription_result():
    r = TranscriptionResult("hi")
    assert (r.is_final, r.confidence, r.language, r.words, r.is_speech_start, r.segments) == (
        True, None, None, [], False, [],
    )  # fmt: skip
    assert r.speaker is None
    r.segments = [SpeakerSegment("A", "hi"), SpeakerSegment("A", "there", 0, 10)]
    assert r.speaker == "A"
    r.segments.append(SpeakerSegment("B", "x"))
    assert r.speaker is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.segments[0].text = "y"


def test_audio_content():
    c = AudioContent(url="https://x/a.ogg")
    assert (c.type, c.mime_type, c.duration_seconds, c.transcript) == ("audio", "audio/ogg", None, None)
    assert AudioContent(url="data:audio/wav;base64,AA", duration_seconds=0.0).duration_seconds == 0.0
    assert c.model_dump()["url"] == "https://x/a.ogg"
    with pytest.raises(ValueError, match="URL must start with http://, https://, or data:"):
        AudioContent(url="ftp://x")
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        AudioContent(url="https://x", duration_seconds=-1.0)
    with pytest.raises(ValueError, match="type must be 'audio'"):
        AudioContent(url="https://x", type="video")
    with pytest.raises(TypeError):
        AudioContent("https://x")  # keyword-only, like roomkit's pydantic model


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": 5}, "AudioContent.url must be a str starting with http://, https:// or data:, got int 5"),
        ({"url": "https://x", "mime_type": None}, "AudioContent.mime_type must be a str, got NoneType None"),
        ({"url": "https://x", "transcript": b"hi"}, "AudioContent.transcript must be a str, got bytes b'hi'"),
        ({"url": "https://x", "duration_seconds": "long"},
         "AudioContent.duration_seconds must be a number of seconds >= 0 or None, got str 'long'"),
        ({"url": "https://x", "duration_seconds": [1]},
         "AudioContent.duration_seconds must be a number of seconds >= 0 or None, got list [1]"),
    ],
)  # fmt: skip
def test_audio_content_wrong_types(kwargs, message):
    with pytest.raises(TypeError) as info:
        AudioContent(**kwargs)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)  # roomkit's pydantic ValidationError is a ValueError


def test_audio_content_duration_coerced_like_pydantic():
    assert AudioContent(url="https://x", duration_seconds=2).duration_seconds == 2.0
    assert type(AudioContent(url="https://x", duration_seconds=2).duration_seconds) is float
    assert AudioContent(url="https://x", duration_seconds="1.5").duration_seconds == 1.5


def test_callback_alias_shapes():
    import typing

    def shape(alias):
        params, ret = typing.get_args(alias)
        return [p if isinstance(p, str) else getattr(p, "__forward_arg__", repr(p)) if isinstance(
            p, typing.ForwardRef) else ("Any" if p is typing.Any else p.__name__) for p in params]

    assert shape(voicecore.SpeechStartCallback) == ["VoiceSession"]
    assert shape(voicecore.SpeechEndCallback) == ["VoiceSession", "bytes"]
    assert shape(voicecore.PartialTranscriptionCallback) == ["VoiceSession", "str", "float", "bool"]
    assert shape(voicecore.VADSilenceCallback) == ["VoiceSession", "int"]
    assert shape(voicecore.VADAudioLevelCallback) == ["VoiceSession", "float", "bool"]
    assert shape(voicecore.BargeInCallback) == ["VoiceSession"]
    assert shape(voicecore.AudioReceivedCallback) == ["VoiceSession", "Any"]
    assert shape(voicecore.DTMFReceivedCallback) == ["VoiceSession", "DTMFEvent"]
    assert shape(voicecore.TransportDisconnectCallback) == ["VoiceSession"]


def test_capability_accepts_foreign_voice_capability_by_value():
    import enum

    class VoiceCapability(enum.Flag):  # stands in for roomkit's class of the same name
        NONE = 0
        INTERRUPTION = enum.auto()
        BARGE_IN = enum.auto()

    class Other(enum.Flag):
        BARGE_IN = 2

    ours = voicecore.VoiceCapability.BARGE_IN | voicecore.VoiceCapability.NATIVE_AEC
    assert VoiceCapability.BARGE_IN in ours and VoiceCapability.INTERRUPTION not in ours
    assert ours & VoiceCapability.BARGE_IN is voicecore.VoiceCapability.BARGE_IN
    assert voicecore.VoiceCapability.BARGE_IN == VoiceCapability.BARGE_IN
    with pytest.raises(TypeError):
        Other.BARGE_IN in ours  # noqa: B015 - only a class named VoiceCapability is accepted
    assert voicecore.VoiceCapability.BARGE_IN != Other.BARGE_IN


def test_ended_as_plain_string_is_terminal_too():
    s = _session()
    s.state = "ended"
    with pytest.raises(VoiceSessionEndedError):
        s.state = VoiceSessionState.ACTIVE

"""Drop-in parity with ``roomkit.voice``: the data types (AudioFrame
validation, VoiceSession's state guard, base helpers, AudioContent, events),
run against both packages, and the deliberate differences."""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import Any

import pytest

roomkit = pytest.importorskip("roomkit")

from parity_support import Impl, _both, _err, impl  # noqa: E402, F401 - impl is a fixture

pytestmark = pytest.mark.roomkit

# ---- AudioFrame validation


FRAME_CASES: list[dict[str, Any]] = [
    {"data": b""},
    {"data": b"\x00\x01"},
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
    {"data": b"\x00\x01", "sample_rate": 0, "channels": 9},  # first failing check wins
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


# Wrong types. roomkit raises a plain ValueError for the first four (a type
# error reported as a bad value) and a TypeError from a comparison for the
# last two. voicecore raises TypeError naming AudioFrame and the argument,
# and where roomkit raised ValueError the exception is also a ValueError, so
# roomkit code that catches ValueError keeps working. Deliberate difference.
FRAME_TYPE_CASES: list[tuple[dict[str, Any], str, str]] = [
    ({"data": bytearray(b"\x00\x01")}, "ValueError", "AudioFrame.data must be bytes"),
    ({"data": memoryview(b"\x00\x01")}, "ValueError", "AudioFrame.data must be bytes"),
    ({"data": "text"}, "ValueError", "AudioFrame.data must be bytes"),
    ({"data": "x", "sample_rate": 0, "channels": 9}, "ValueError", "AudioFrame.data must be bytes"),
    ({"data": b"\x00\x01", "channels": "2"}, "ValueError", "channels must be 1 or 2, got "),
    ({"data": b"\x00\x01", "sample_width": None}, "ValueError", "sample_width must be 1, 2, or 4"),
    ({"data": b"\x00\x01", "sample_rate": "16000"}, "TypeError", "not supported between instances"),
    ({"data": b"\x00\x01", "sample_rate": None}, "TypeError", "not supported between instances"),
]


@pytest.mark.parametrize(("kwargs", "rk_type", "rk_text"), FRAME_TYPE_CASES, ids=range(len(FRAME_TYPE_CASES)))
def test_deliberate_difference_audio_frame_wrong_type_is_a_type_error(kwargs, rk_type, rk_text):
    from roomkit.voice.audio_frame import AudioFrame as RK

    from voicecore.audio_frame import AudioFrame as VC

    with pytest.raises(Exception) as rk:
        RK(**kwargs)
    assert type(rk.value).__name__ == rk_type and rk_text in str(rk.value)
    with pytest.raises(TypeError) as vc:
        VC(**kwargs)
    assert isinstance(vc.value, ValueError) == (rk_type == "ValueError")
    assert re.match(r"AudioFrame\.(data|sample_rate|channels|sample_width) must be ", str(vc.value))
    if rk_type == "ValueError":  # roomkit's words are kept, so a match= written for it still matches
        assert rk_text.removeprefix("AudioFrame.") in str(vc.value)


def test_deliberate_difference_nan_sample_rate_is_refused():
    """roomkit's ``rate <= 0 or rate > 192000`` lets NaN through; voicecore's range
    check refuses it with roomkit's message for an out-of-range rate."""
    from roomkit.voice.audio_frame import AudioFrame as RK

    from voicecore.audio_frame import AudioFrame as VC

    assert RK(b"", sample_rate=float("nan")).sample_rate != 16000
    with pytest.raises(ValueError, match=r"^sample_rate must be between 1 and 192000, got nan$"):
        VC(b"", sample_rate=float("nan"))


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
        {"url": "https://x", "duration_seconds": 2},  # pydantic's lax float: 2.0
        {"url": "https://x", "duration_seconds": "1.5"},
        {"url": "https://x", "duration_seconds": True},
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


@pytest.mark.parametrize(
    "kwargs",
    [{"url": 5}, {"url": None}, {"url": "https://x", "mime_type": 5}, {"url": "https://x", "transcript": 5},
     {"url": "https://x", "duration_seconds": "long"}, {"url": "https://x", "duration_seconds": [1.0]}],
)  # fmt: skip
def test_deliberate_difference_audio_content_wrong_type_is_a_type_error(kwargs):
    """roomkit's pydantic model raises ValidationError (a ValueError) for a wrong
    type; voicecore raises TypeError that is also a ValueError, naming the field."""
    from roomkit.models.event import AudioContent as RK

    from voicecore.base import AudioContent as VC

    with pytest.raises(ValueError) as rk:
        RK(**kwargs)
    assert type(rk.value).__name__ == "ValidationError"
    field = next(iter(k for k in kwargs if k != "url")) if len(kwargs) > 1 else "url"
    assert field in str(rk.value)
    with pytest.raises(TypeError) as vc:
        VC(**kwargs)
    assert isinstance(vc.value, ValueError)
    assert str(vc.value).startswith(f"AudioContent.{field} must be ")


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

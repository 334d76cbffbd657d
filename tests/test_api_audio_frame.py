"""AudioFrame validation and defaults (voicecore alone, no roomkit)."""

from __future__ import annotations

import pytest

from voicecore import AudioFrame


def test_defaults():
    f = AudioFrame(b"\x01\x00")
    assert (f.sample_rate, f.channels, f.sample_width, f.timestamp_ms, f.metadata) == (
        16000, 1, 2, None, {},
    )  # fmt: skip
    assert AudioFrame(b"").metadata is not f.metadata
    assert AudioFrame(b"", timestamp_ms=20.0).timestamp_ms == 20.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": b"", "sample_rate": 0}, "sample_rate must be between 1 and 192000, got 0"),
        ({"data": b"", "sample_rate": 192_001}, "sample_rate must be between 1 and 192000, got 192001"),
        ({"data": b"", "channels": 0}, "channels must be 1 or 2, got 0"),
        ({"data": b"", "channels": 6}, "channels must be 1 or 2, got 6"),
        ({"data": b"", "sample_width": 3}, "sample_width must be 1, 2, or 4, got 3"),
        ({"data": b"\x00"}, "data length (1) must be divisible by sample_width * channels (2)"),
        ({"data": b"\x00" * 6, "channels": 2}, "data length (6) must be divisible by sample_width * channels (4)"),
        ({"data": b"\x00" * 12, "channels": 2, "sample_width": 4},
         "data length (12) must be divisible by sample_width * channels (8)"),
        ({"data": b"", "sample_rate": float("nan")}, "sample_rate must be between 1 and 192000, got nan"),
        # Checks run in order: the first failing one is reported.
        ({"data": b"\x00", "sample_rate": 0, "channels": 5}, "sample_rate must be between 1 and 192000, got 0"),
    ],
)  # fmt: skip
def test_validation_messages(kwargs, message):
    with pytest.raises(ValueError) as info:
        AudioFrame(**kwargs)
    assert not isinstance(info.value, TypeError)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": "x"}, "AudioFrame.data must be bytes, got str"),
        ({"data": None}, "AudioFrame.data must be bytes, got NoneType"),
        ({"data": bytearray(2)}, "AudioFrame.data must be bytes, got bytearray (convert it with bytes(...))"),
        ({"data": memoryview(b"\x00\x00")},
         "AudioFrame.data must be bytes, got memoryview (convert it with bytes(...))"),
        ({"data": b"", "channels": "2"}, "AudioFrame.channels must be 1 or 2, got str '2'"),
        ({"data": b"", "channels": None}, "AudioFrame.channels must be 1 or 2, got NoneType None"),
        ({"data": b"", "sample_width": "2"}, "AudioFrame.sample_width must be 1, 2, or 4 (bytes), got str '2'"),
        # Checks run in order: the first failing one is reported.
        ({"data": "x", "sample_rate": 0}, "AudioFrame.data must be bytes, got str"),
    ],
)  # fmt: skip
def test_wrong_types_raise_type_error_that_roomkit_code_still_catches(kwargs, message):
    with pytest.raises(TypeError) as info:
        AudioFrame(**kwargs)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)  # roomkit raises ValueError here: except ValueError still works


@pytest.mark.parametrize("rate", ["16000", None, [16000]])
def test_sample_rate_of_the_wrong_type_is_a_plain_type_error(rate):
    with pytest.raises(TypeError) as info:
        AudioFrame(b"", sample_rate=rate)
    assert str(info.value).startswith("AudioFrame.sample_rate must be a number of Hz between 1 and 192000, got ")
    assert not isinstance(info.value, ValueError)  # roomkit raises TypeError here too


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": b"", "sample_rate": 1},
        {"data": b"", "sample_rate": 192_000},
        {"data": b"\x00", "sample_width": 1},
        {"data": b"\x00" * 4, "channels": 2},
        {"data": b"\x00" * 8, "channels": 2, "sample_width": 4},
        {"data": b"\x00" * 320, "sample_rate": 8000},
    ],
)
def test_valid_edges(kwargs):
    frame = AudioFrame(**kwargs)
    assert frame.data == kwargs["data"]


def test_metadata_is_mutable_annotation_space():
    f = AudioFrame(b"\x00\x00")
    f.metadata["vad"] = {"is_speech": True}
    assert f.metadata == {"vad": {"is_speech": True}}

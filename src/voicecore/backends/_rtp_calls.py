"""Helpers of :mod:`voicecore.backends.rtp`: payload types, the batch type,
per-call state and chunk checks."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from voicecore.base import PCM16_FORMATS, AudioChunk, VoiceSession

__all__ = ["STATIC_PAYLOADS", "UNSUPPORTED", "AudioBatch", "payload_codec"]

#: Payload types voicecore decodes and encodes natively, with their formats
#: (111 is dynamic, but the number roomkit and most SDP offers give Opus).
STATIC_PAYLOADS = {0: "pcmu", 8: "pcma", 9: "g722", 11: "l16", 111: "opus"}
#: Payload types known but not decodable here.
UNSUPPORTED = {3: "GSM", 4: "G.723", 18: "G.729"}
#: The RTP clock each format runs on when it is fixed by its RFC.
FIXED_CLOCK = {"g722": 8000, "opus": 48000}



def payload_codec(payload_type: int, codec: str | None = None) -> str:
    """The native format ('pcmu', 'pcma', 'l16') of ``payload_type``, or a
    ValueError naming the payload type and what is supported."""
    if codec is not None:
        name = codec.lower()
        if name not in ("pcmu", "pcma", "l16", "g722", "opus"):
            raise ValueError(
                f"RTPVoiceBackend: codec must be 'pcmu', 'pcma', 'l16', 'g722' or 'opus', got {codec!r}"
            )
    else:
        name = STATIC_PAYLOADS.get(payload_type)
        if name is None:
            known = UNSUPPORTED.get(payload_type, "an unknown codec")
            raise ValueError(
                f"RTPVoiceBackend: payload type {payload_type} ({known}) cannot be decoded by voicecore; "
                "supported: 0 (PCMU), 8 (PCMA), 9 (G.722), 11 (L16), 111 (Opus), or a dynamic payload "
                "type with codec='l16' / 'opus'"
            )
    if name == "opus":
        from voicecore.media.opus import require

        require("RTPVoiceBackend: Opus")          # a clear error when libopus was not built in
    return name


@dataclass
class AudioBatch:
    """All frames of one engine wake-up for the sessions of one backend
    (``RTPVoiceBackend.on_audio_batch``).

    Attributes:
        sessions: the VoiceSession of each frame (same order as ``frames``).
        frames: int16 array, shape (n, samples): s16 mono at ``sample_rate``.
        lengths: valid samples of each row (the rest is zero).
        kinds: per frame 0 audio, 1 concealed, 2 silence, 3 comfort noise.
        sample_rate: Hz.
    """

    sessions: list[VoiceSession]
    frames: Any
    lengths: Any
    kinds: Any
    sample_rate: int


class _Call:
    """Per-session state of the backend."""

    __slots__ = ("session", "es", "last_token", "lock", "disconnected", "frame_ms", "rate", "discarded")

    def __init__(self, session: VoiceSession, es: Any, rate: int, frame_ms: int) -> None:
        self.session = session
        self.es = es
        self.last_token = 0
        self.lock = threading.Lock()
        self.disconnected = False
        self.frame_ms = frame_ms
        self.rate = rate
        self.discarded = False


def _check_chunk(chunk: AudioChunk) -> None:
    if chunk.format not in PCM16_FORMATS:
        raise ValueError(f"RTPVoiceBackend: chunks must be s16le PCM, got format {chunk.format!r}")
    if chunk.channels != 1:
        raise ValueError(f"RTPVoiceBackend: chunks must be mono, got {chunk.channels} channels")
    if not 1 <= chunk.sample_rate <= 192000:
        raise ValueError(f"RTPVoiceBackend: chunk sample_rate must be 1-192000 Hz, got {chunk.sample_rate}")
    if len(chunk.data) % 2:
        raise ValueError(f"RTPVoiceBackend: s16le chunk data must have an even length, got {len(chunk.data)}")

"""Public jitter buffer API: RTP in (raw datagrams + arrival time), one frame of
s16le mono PCM out per ``pull``.

:class:`JitterBuffer` is the native class (``voicecore._native.media.jitter``); build
it from a :class:`JitterConfig` with ``JitterBuffer.from_config`` semantics via
:func:`make_jitter_buffer`, or pass the same keyword arguments directly.
Statistics come back as a dict of 64-bit counters plus delay figures (ms);
:class:`JitterStats` gives them typed names.

Source-address filtering is left to the audio engine (it owns the socket and
the ``foreign_source`` counter); ``push`` takes only the datagram bytes.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field, fields
from typing import Mapping, NamedTuple

from voicecore._impl import NO_EXTENSIONS, load

# The playout/concealment state machine has no pure-Python twin
# (voicecore._reference.jitter only mirrors the stateless header checks used as
# a test oracle). Asked for no extensions, say so instead of quietly using one.
if NO_EXTENSIONS:
    raise ImportError(
        "voicecore.jitter has no reference (pure numpy/Python) implementation: the jitter "
        "buffer needs the native extension voicecore._native.media.jitter. Unset "
        "VOICECORE_NO_EXTENSIONS to use it."
    )
_jitter = load("jitter")
JitterBuffer = _jitter.JitterBuffer

__all__ = [
    "JitterBuffer",
    "JitterConfig",
    "JitterStats",
    "FrameKind",
    "PushResult",
    "DtmfDigit",
    "make_jitter_buffer",
]


class FrameKind(enum.IntEnum):
    """What a pulled frame contains."""

    AUDIO = _jitter.FRAME_AUDIO
    CONCEALED = _jitter.FRAME_CONCEALED
    SILENCE = _jitter.FRAME_SILENCE
    COMFORT_NOISE = _jitter.FRAME_COMFORT_NOISE


class PushResult(enum.IntEnum):
    """Outcome of one ``push``: stored, held on probation, or why it was dropped."""

    OK = _jitter.RESULT_OK
    HELD = _jitter.RESULT_HELD
    DUPLICATE = _jitter.RESULT_DUPLICATE
    LATE = _jitter.RESULT_LATE
    MALFORMED = _jitter.RESULT_MALFORMED
    OVERSIZE = _jitter.RESULT_OVERSIZE
    UNKNOWN_PT = _jitter.RESULT_UNKNOWN_PT
    FOREIGN = _jitter.RESULT_FOREIGN
    FOREIGN_SSRC = _jitter.RESULT_FOREIGN_SSRC
    DISCARDED = _jitter.RESULT_DISCARDED
    MALFORMED_DTMF = _jitter.RESULT_MALFORMED_DTMF


class DtmfDigit(NamedTuple):
    """One RFC 4733 keypad event: digit ('0'-'9', '*', '#', 'A'-'D'), its
    duration in RTP timestamp units (samples) and the event's RTP timestamp."""

    digit: str
    duration: int
    timestamp: int


@dataclass(frozen=True)
class JitterConfig:
    """Settings of one inbound stream. Times in ms, rates in Hz."""

    clock_rate: int = 8000
    frame_ms: int = 20
    payload_types: Mapping[int, str] = field(default_factory=lambda: {0: "pcmu", 8: "pcma"})
    dtmf_payload_type: int | None = 101
    cn_payload_type: int | None = 13
    min_delay_ms: int = 60
    max_delay_ms: int = 200
    initial_delay_ms: int | None = None
    capacity: int = 64
    concealment: bool = True
    comfort_noise: bool = True
    dtmf_timeout_ms: int = 250
    fade_start_ms: int = 10
    silent_after_ms: int = 60
    blend_ms: int = 60
    concealment_noise: float = 0.25


@dataclass(frozen=True)
class JitterStats:
    """A snapshot of :meth:`JitterBuffer.stats` (counters are 64-bit, monotonic).

    ``lost`` counts sequence numbers the playout passed without having played
    them (including packets that came after their deadline, which are also in
    ``late``); ``concealed_samples`` counts samples synthesised for missing
    audio; ``discarded`` counts valid packets dropped by probation (strays) or
    by window overflow. ``sequence_restarts`` also counts re-anchorings of the
    established SSRC on a timestamp discontinuity (timestamp rebase, or a hold
    resumed with timestamps continuing from before it): two sequential packets
    whose timestamps disagree with their arrival time by more than the maximum
    delay + 60 ms, arriving at pace.
    """

    received: int = 0
    duplicates: int = 0
    late: int = 0
    lost: int = 0
    discarded: int = 0
    malformed: int = 0
    oversize: int = 0
    unknown_pt: int = 0
    foreign: int = 0
    foreign_ssrc: int = 0
    malformed_dtmf: int = 0
    concealed_samples: int = 0
    concealment_events: int = 0
    ssrc_switches: int = 0
    sequence_restarts: int = 0
    reordered: int = 0
    dtmf_digits: int = 0
    dtmf_overflow: int = 0
    cn_frames: int = 0
    frames_out: int = 0
    audio_frames: int = 0
    concealed_frames: int = 0
    silence_frames: int = 0
    comfort_noise_frames: int = 0
    time_scaled_samples: int = 0
    jitter_ms: float = 0.0
    target_delay_ms: float = 0.0
    current_delay_ms: float = 0.0

    @classmethod
    def of(cls, jb: JitterBuffer) -> "JitterStats":
        """Snapshot the statistics of ``jb``."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in jb.stats().items() if k in names})


def make_jitter_buffer(config: JitterConfig | None = None) -> JitterBuffer:
    """A :class:`JitterBuffer` configured from ``config`` (defaults if None)."""
    cfg = config or JitterConfig()
    kw = asdict(cfg)
    kw["payload_types"] = dict(cfg.payload_types)
    return JitterBuffer(**kw)

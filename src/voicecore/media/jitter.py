"""Public jitter buffer API: RTP in (raw datagrams + arrival time), one frame of
s16le mono PCM out per ``pull``.

:class:`JitterBuffer` is the native class (``voicecore._native.media.jitter``); build
it from a :class:`JitterConfig` with ``JitterBuffer.from_config`` semantics via
:func:`make_jitter_buffer`, or pass the same keyword arguments directly.
``push`` returns a :class:`PushResult` and ``pull_into`` a :class:`FrameKind`
(IntEnums, so still ints). Statistics come back as a dict of 64-bit counters
plus delay figures (ms) and the RTCP receiver-report figures;
:class:`JitterStats` gives them typed names.

Delay: a packet whose delay over the fastest recent packet is within
``target_delay_ms`` (adaptive, between ``min_delay_ms`` and ``max_delay_ms``)
is played whole; the output lags the fastest packets by the target plus one
frame (the frame produced at pull time) plus 3.75 ms (the concealment
look-back).

Source-address filtering is left to the audio engine (it owns the socket and
the ``foreign_source`` counter); ``push`` takes only the datagram bytes.
"""

from __future__ import annotations

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


# IntEnums defined by the native module: push() and pull_into() return their members.
FrameKind = _jitter.FrameKind
PushResult = _jitter.PushResult


class DtmfDigit(NamedTuple):
    """One RFC 4733 keypad event: digit ('0'-'9', '*', '#', 'A'-'D'), its
    duration in samples at the buffer's ``clock_rate`` (RTP timestamp units
    x 2 for G.722, x clock_rate / 48000 for Opus) and the event's RTP
    timestamp."""

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
    fec: bool = True


@dataclass(frozen=True)
class JitterStats:
    """A snapshot of :meth:`JitterBuffer.stats` (64-bit counters).

    Outcome counters: every ``push`` increments exactly one, the one its
    :class:`PushResult` names, at once (OK -> ``received``, HELD -> ``held``,
    DUPLICATE -> ``duplicates``, LATE -> ``late``, ... FOREIGN_SSRC ->
    ``foreign_ssrc``, DISCARDED -> ``discarded``), so they sum to the number
    of pushes at every moment. ``held`` is a gauge (0 or 1: the packet on
    probation now); when probation ends that packet moves to ``received``
    (validated and played) or to ``discarded`` (a stray) or ``late`` (part of
    a burst released after a network freeze). All other counters are
    monotonic.

    ``late_partial`` counts stored packets whose first samples were already
    concealed when they arrived (played from the middle; also in
    ``received``). ``lost`` counts sequence numbers the playout passed without
    having played them (including packets that came after their deadline,
    which are also in ``late``, and packets with a payload type that was not
    negotiated, which never occupy their sequence number); ``concealed_samples``
    counts samples synthesised for missing audio (for Opus, libopus's PLC
    or, counted in ``fec_recovered_samples`` too, audio recovered from the
    next packet's in-band FEC); ``window_overflow`` counts
    stored packets dropped unplayed to make room for a packet beyond the
    window (``capacity`` slots). ``foreign_ssrc`` counts packets
    of another SSRC than the established stream's; when that SSRC takes over
    after the stream stopped (``ssrc_switches``), the packets of it kept
    meanwhile are played and counted in ``takeover_packets`` too.
    ``sequence_restarts`` also counts re-anchorings of the established SSRC on
    a timestamp discontinuity (timestamp rebase, or a hold resumed with
    timestamps continuing from before it): two sequential packets whose
    timestamps disagree with their arrival time by more than the maximum delay
    + 60 ms, arriving at pace.

    RTCP figures of the established source (RFC 3550 Appendix A): ``ssrc``,
    ``ext_highest_seq`` (cycles << 16 | highest sequence number),
    ``cumulative_lost`` (expected - received, duplicates and late packets
    counted as received, so it can be negative), ``jitter_ts`` (A.8
    interarrival jitter in RTP timestamp units) and ``played_ts`` (RTP
    timestamp of the first sample of the last frame pulled). RTP timestamp
    units count at ``JitterBuffer.rtp_clock_rate`` (8000 for G.722, 48000 for
    Opus), samples at ``clock_rate``.
    """

    received: int = 0
    held: int = 0
    duplicates: int = 0
    late: int = 0
    malformed: int = 0
    oversize: int = 0
    unknown_pt: int = 0
    foreign: int = 0
    foreign_ssrc: int = 0
    discarded: int = 0
    malformed_dtmf: int = 0
    late_partial: int = 0
    takeover_packets: int = 0
    window_overflow: int = 0
    lost: int = 0
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
    fec_recovered_samples: int = 0
    jitter_ms: float = 0.0
    target_delay_ms: float = 0.0
    current_delay_ms: float = 0.0
    ssrc: int | None = None
    ext_highest_seq: int = 0
    cumulative_lost: int = 0
    jitter_ts: int = 0
    played_ts: int | None = None

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

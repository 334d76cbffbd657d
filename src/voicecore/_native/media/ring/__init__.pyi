"""Type stub for voicecore._native.media.ring (the three lock-free rings)."""

from voicecore._native.media.ring.aec import AECReferenceRing as AECReferenceRing
from voicecore._native.media.ring.frames import (
    FLAG_DISCONTINUITY as FLAG_DISCONTINUITY,
    FLAG_END as FLAG_END,
    FLAG_PARTIAL as FLAG_PARTIAL,
    FLAG_SILENCE as FLAG_SILENCE,
    WAKEUP_KIND as WAKEUP_KIND,
    FrameQueue as FrameQueue,
)
from voicecore._native.media.ring.sample import (
    GIL_THRESHOLD as GIL_THRESHOLD,
    MAX_CAPACITY as MAX_CAPACITY,
    SampleRing as SampleRing,
)

__all__ = [
    "FLAG_DISCONTINUITY",
    "FLAG_END",
    "FLAG_PARTIAL",
    "FLAG_SILENCE",
    "GIL_THRESHOLD",
    "MAX_CAPACITY",
    "WAKEUP_KIND",
    "AECReferenceRing",
    "FrameQueue",
    "SampleRing",
]

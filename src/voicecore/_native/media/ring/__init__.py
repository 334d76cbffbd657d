"""Lock-free single-producer/single-consumer rings for the audio I/O thread.

Three native modules, one per ring, each usable from native code without the
GIL through its ``cdef ... nogil`` API (``ring.pxd`` cimports all three) and
from Python through a class whose methods copy into and out of caller buffers
(never a view of ring memory):

- :class:`SampleRing` (``sample``): int16 samples with absolute 64-bit
  positions; never overwrites unread samples (excess counted as overflow).
- :class:`AECReferenceRing` (``aec``): what was really sent, on the capture
  timeline minus the echo delay; zeros (counted) where nothing was played.
- :class:`FrameQueue` (``frames``): fixed-size frames with metadata,
  drop-oldest (counted), a wake-up fd signalled once per empty -> non-empty
  transition.
"""

from voicecore._native.media.ring.aec import AECReferenceRing
from voicecore._native.media.ring.frames import (
    FLAG_DISCONTINUITY,
    FLAG_END,
    FLAG_PARTIAL,
    FLAG_SILENCE,
    WAKEUP_KIND,
    FrameQueue,
)
from voicecore._native.media.ring.sample import GIL_THRESHOLD, MAX_CAPACITY, SampleRing

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

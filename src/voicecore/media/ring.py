"""Lock-free rings between the audio I/O thread, Python and the echo canceller.

The classes themselves are native (``voicecore._native.media.ring``; the lock-based
twin in ``voicecore._reference.ring`` only with ``VOICECORE_NO_EXTENSIONS=1``):

- :class:`SampleRing`: SPSC ring of int16 samples (s16 mono), absolute 64-bit
  positions, never overwrites unread samples (excess counted as overflow).
- :class:`AECReferenceRing`: what was really sent, stamped with send time
  (monotonic ns) and RTP timestamp, read back on the capture timeline minus
  the echo delay; zeros (counted) where nothing was played; overflow
  overwrites the oldest (counted).
- :class:`FrameQueue`: SPSC queue of fixed-size frames with metadata,
  drop-oldest (counted), and a wake-up fd for ``loop.add_reader`` signalled
  once per empty -> non-empty transition.

Capacities are powers of two; constructors reject anything else
(:func:`next_power_of_two` / :func:`capacity_for` round up explicitly).

This module adds the Python-side glue a backend needs to implement roomkit's
``VoiceBackend.feeds_aec_reference``, ``supports_playback_callback`` and
``on_audio_played`` from the rings: :class:`FrameQueueReader` (drain a queue on
the event loop when its fd fires) and :class:`PlaybackReference` (one per
session: the sending side records what it sent; listeners get played frames on
the loop; a transport-level canceller reads aligned references).
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from voicecore._impl import load

_ring = load("ring")

SampleRing = _ring.SampleRing
AECReferenceRing = _ring.AECReferenceRing
FrameQueue = _ring.FrameQueue
MAX_CAPACITY: int = _ring.MAX_CAPACITY
FLAG_END: int = _ring.FLAG_END
FLAG_SILENCE: int = _ring.FLAG_SILENCE
FLAG_DISCONTINUITY: int = _ring.FLAG_DISCONTINUITY
#: The frame holds fewer valid samples than ``frame_samples``: the count is in
#: bits 16-31 of the flags (see :class:`PlaybackReference`).
FLAG_PARTIAL: int = _ring.FLAG_PARTIAL

__all__ = [
    "FLAG_DISCONTINUITY",
    "FLAG_END",
    "FLAG_PARTIAL",
    "FLAG_SILENCE",
    "MAX_CAPACITY",
    "AECReferenceRing",
    "FrameQueue",
    "FrameQueueReader",
    "PlaybackReference",
    "PlayedFrame",
    "SampleRing",
    "capacity_for",
    "next_power_of_two",
]


def next_power_of_two(n: int) -> int:
    """Smallest power of two >= ``n`` (``n`` >= 1)."""
    if n < 1:
        raise ValueError(f"next_power_of_two: n must be >= 1, got {n}")
    return 1 << (n - 1).bit_length()


def capacity_for(duration_ms: float, sample_rate: int) -> int:
    """Power-of-two capacity in samples holding at least ``duration_ms`` ms at
    ``sample_rate`` Hz."""
    if duration_ms <= 0 or sample_rate <= 0:
        raise ValueError(f"capacity_for: need duration_ms > 0 and sample_rate > 0, got {duration_ms}, {sample_rate}")
    return next_power_of_two(math.ceil(duration_ms * sample_rate / 1000.0))


@dataclass
class PlayedFrame:
    """Fallback played-audio frame with ``roomkit.voice.AudioFrame``'s fields
    (used when ``voicecore.audio_frame`` is not available)."""

    data: bytes
    sample_rate: int = 16000
    channels: int = 1
    sample_width: int = 2
    timestamp_ms: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def _default_frame_factory() -> Callable[..., Any]:
    try:
        from voicecore.audio_frame import AudioFrame  # type: ignore[import-not-found]
    except ImportError:
        return PlayedFrame
    return AudioFrame  # type: ignore[no-any-return]


class FrameQueueReader:
    """Drain a :class:`FrameQueue` on an asyncio loop when its wake-up fd fires.

    ``callback(frame_bytes, session_index, timestamp, flags)`` runs on the
    loop for every frame, oldest first. The fd is registered with
    ``loop.add_reader``; on each wake-up the reader clears the fd first and
    then pops, so a frame pushed meanwhile is never missed and no syscall is
    made per frame while the loop is behind.

    The work per wake-up is bounded: at most ``max_frames`` frames (default
    64) are delivered per loop callback. If more are queued, the rest is left
    for a follow-up callback scheduled with ``call_soon``, so other callbacks
    and I/O run in between (nothing starved) and every frame is still
    delivered in order (nothing lost: only the queue's own drop-oldest
    overflow, counted in its stats, ever drops one). A callback exception is
    logged by the loop's exception handler and does not stop the drain.
    """

    def __init__(
        self,
        queue: Any,
        callback: Callable[[bytes, int, int, int], Any],
        loop: asyncio.AbstractEventLoop | None = None,
        *,
        max_frames: int = 64,
    ) -> None:
        if isinstance(max_frames, bool) or not isinstance(max_frames, int):
            raise TypeError(f"FrameQueueReader: max_frames must be an int, got {type(max_frames).__name__}")
        if max_frames < 1:
            raise ValueError(f"FrameQueueReader: max_frames must be >= 1, got {max_frames}")
        self._queue = queue
        self._callback = callback
        self._loop = loop
        self._started = False
        self._max = max_frames
        self._more: asyncio.Handle | None = None
        #: wake-ups handled, frames delivered, and follow-up callbacks that
        #: carried on a drain cut at max_frames (for stats and tests)
        self.wakeups_handled = 0
        self.frames_delivered = 0
        self.continuations = 0

    @property
    def max_frames(self) -> int:
        """Frames delivered per loop callback at most."""
        return self._max

    def start(self) -> None:
        """Register with the loop (the running loop unless one was given)."""
        if self._started:
            return
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._queue.fileno(), self.drain)
        self._started = True
        # frames pushed before start: deliver them now (the fd may already be set)
        self._loop.call_soon(self.drain)

    def stop(self) -> None:
        """Unregister from the loop (and drop a scheduled follow-up). Idempotent."""
        if self._more is not None:
            self._more.cancel()
            self._more = None
        if self._started and self._loop is not None:
            self._loop.remove_reader(self._queue.fileno())
        self._started = False

    def drain(self) -> int:
        """Handle one wake-up: clear the fd and deliver up to ``max_frames``
        frames; returns how many. What is left is delivered by follow-up
        callbacks (see the class docstring)."""
        self._queue.clear_wakeup()
        self.wakeups_handled += 1
        return self._deliver_batch()

    def _carry_on(self) -> None:
        self._more = None
        self.continuations += 1
        self._deliver_batch()

    def _deliver_batch(self) -> int:
        pop, callback = self._queue.pop, self._callback
        n = 0
        while n < self._max:
            item = pop()
            if item is None:  # empty: the queue armed its wake-up, the fd brings the rest
                break
            n += 1
            try:
                callback(*item)
            except Exception as exc:  # noqa: BLE001 - reported, never stops the drain
                if self._loop is not None:
                    self._loop.call_exception_handler(
                        {"message": "FrameQueueReader callback failed", "exception": exc}
                    )
                else:
                    raise
        self.frames_delivered += n
        if n == self._max and self._more is None and self._started and self._loop is not None:
            # Cut at the bound without seeing the queue empty, so the wake-up
            # is not armed: carry on from a later loop iteration.
            self._more = self._loop.call_soon(self._carry_on)
        return n


class PlaybackReference:
    """Per-session glue between a backend, the AEC reference ring and the
    ``on_audio_played`` listeners.

    ``sample_rate``: Hz of what is sent (and of the capture it is cancelled
    against). ``capacity_ms``: reference history held (rounded up to a power
    of two samples). ``echo_delay_ms`` / ``tolerance_ms``: see
    :class:`AECReferenceRing`. ``frame_ms``: size of played frames handed to
    listeners. ``queue_frames``: played frames buffered for the loop (a power
    of two; drop-oldest beyond). ``canceller``: a transport-level echo
    canceller ``canceller(capture: bytes, reference: bytes) -> bytes``; when
    given, :attr:`feeds_aec_reference` is True (the backend cancels echo
    itself and the pipeline must not feed references). ``frame_factory``:
    builds the played frames (default ``voicecore.audio_frame.AudioFrame``).

    Sending side (the audio I/O thread, or Python): :meth:`record_sent` once
    per block actually sent, with its send time and RTP timestamp; nothing
    else. Capture side: :meth:`reference_into` / :meth:`cancel`. Event loop:
    :meth:`on_audio_played` listeners receive frames (metadata
    ``played_bytes``, ``playback_ended``, ``rtp_timestamp``,
    ``reference_continues`` False) after :meth:`attach`.
    """

    supports_playback_callback = True

    def __init__(
        self,
        sample_rate: int,
        *,
        capacity_ms: float = 2000.0,
        echo_delay_ms: float = 0.0,
        tolerance_ms: float = 5.0,
        frame_ms: float = 20.0,
        queue_frames: int = 64,
        canceller: Callable[[bytes, bytes], bytes] | None = None,
        frame_factory: Callable[..., Any] | None = None,
        epoch_ns: int | None = None,
    ) -> None:
        frame_samples = round(frame_ms * sample_rate / 1000.0)
        if frame_samples < 1:
            raise ValueError(f"PlaybackReference: frame_ms {frame_ms} is less than one sample at {sample_rate} Hz")
        if frame_samples >= 1 << 16:
            raise ValueError(f"PlaybackReference: frame_ms {frame_ms} is too long ({frame_samples} samples)")
        self.sample_rate = sample_rate
        self.frame_samples = frame_samples
        self.ring = AECReferenceRing(
            capacity_for(capacity_ms, sample_rate),
            sample_rate,
            echo_delay_ms=echo_delay_ms,
            tolerance_ms=tolerance_ms,
            epoch_ns=epoch_ns,
        )
        self.played = FrameQueue(queue_frames, frame_samples)
        self._canceller = canceller
        self._frame_factory = frame_factory
        self._callbacks: list[Callable[[Any, Any], Any]] = []
        self._cb_lock = threading.Lock()
        self._session: Any = None
        self._reader: FrameQueueReader | None = None
        self._ref_buf = bytearray()
        self.frames_processed = 0

    # ------------------------------------------------------------ roomkit contract
    @property
    def feeds_aec_reference(self) -> bool:
        """True when a transport-level canceller is attached: the backend feeds
        (and uses) the reference itself."""
        return self._canceller is not None

    def on_audio_played(self, callback: Callable[[Any, Any], Any]) -> Callable[[], None]:
        """Register ``callback(session, frame)`` for played audio; returns an
        idempotent unsubscribe function. Callbacks run on the event loop."""
        with self._cb_lock:
            self._callbacks.append(callback)
        done = False

        def unsubscribe() -> None:
            nonlocal done
            if done:
                return
            done = True
            with self._cb_lock:
                try:
                    self._callbacks.remove(callback)
                except ValueError:
                    pass

        return unsubscribe

    # ------------------------------------------------------------ sending side
    def record_sent(self, pcm: Any, send_time_ns: int, rtp_timestamp: int = 0, *, ended: bool = False) -> int:
        """Record s16 samples exactly as sent (bytes-like or int16 array), the
        send time of the first one (monotonic ns) and its RTP timestamp.
        ``ended``: this block ends the response (``playback_ended``). Returns
        the reference position. Thread-safe for one sending thread."""
        pos = self.ring.write(pcm, send_time_ns, rtp_timestamp)
        mv = memoryview(pcm).cast("B")
        n = len(mv) // 2
        fs = self.frame_samples
        for off in range(0, max(n, 1 if ended else 0), fs):
            k = min(fs, n - off)
            flags = FLAG_END if ended and off + fs >= n else 0
            chunk = mv[2 * off : 2 * (off + k)]
            if k < fs:
                flags |= FLAG_PARTIAL | (k << 16)
                chunk = bytes(chunk) + bytes(2 * (fs - k))
            self.played.push(chunk, 0, (rtp_timestamp + off) & 0xFFFFFFFF, flags)
        return pos

    # ------------------------------------------------------------ event loop
    def attach(self, session: Any, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start delivering played frames for ``session`` on ``loop`` (default:
        the running loop)."""
        self._session = session
        if self._reader is None:
            self._reader = FrameQueueReader(self.played, self._deliver, loop)
            self._reader.start()

    def detach(self) -> None:
        """Stop delivering (frames queued meanwhile are dropped oldest-first)."""
        if self._reader is not None:
            self._reader.stop()
            self._reader = None

    def close(self) -> None:
        """Detach and close the wake-up fd. Call it once the sending side has
        stopped (see ``FrameQueue.close``)."""
        self.detach()
        self.played.close()

    def _deliver(self, data: bytes, _session_index: int, rtp: int, flags: int) -> None:
        if flags & FLAG_PARTIAL:
            data = data[: 2 * (flags >> 16)]
        with self._cb_lock:
            callbacks = tuple(self._callbacks)
        if not callbacks:
            return
        factory = self._frame_factory or _default_frame_factory()
        frame = factory(
            data=data,
            sample_rate=self.sample_rate,
            metadata={
                "played_bytes": len(data),
                "playback_ended": bool(flags & FLAG_END),
                "rtp_timestamp": rtp,
                "reference_continues": False,
            },
        )
        for cb in callbacks:
            cb(self._session, frame)

    # ------------------------------------------------------------ capture side
    def reference_into(self, capture_time_ns: int, out: Any) -> int:
        """Fill ``out`` (int16 array / bytearray, one capture frame long) with
        the reference aligned to the capture; returns its position. One call
        per processed capture frame keeps references read == frames processed."""
        return self.ring.read_aligned(capture_time_ns, out)

    def cancel(self, capture: bytes, capture_time_ns: int) -> bytes:
        """Run the attached canceller on one captured frame (s16le bytes) with
        the reference aligned to it. ValueError without a canceller."""
        if self._canceller is None:
            raise ValueError("PlaybackReference.cancel: no canceller attached")
        if len(self._ref_buf) != len(capture):
            self._ref_buf = bytearray(len(capture))
        self.ring.read_aligned(capture_time_ns, self._ref_buf)
        self.frames_processed += 1
        return self._canceller(capture, bytes(self._ref_buf))

    def stats(self) -> dict[str, int]:
        """Counters of the reference ring and the played-frame queue."""
        s = dict(self.ring.stats())
        s.update({f"played_{k}": v for k, v in self.played.stats().items()})
        s["frames_processed"] = self.frames_processed
        return s

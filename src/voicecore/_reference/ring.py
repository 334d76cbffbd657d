"""Lock-based pure-Python twin of ``voicecore._native.media.ring`` (test oracle).

Same classes, arguments, results and counters as the native rings, written
the obvious way: one ``threading.Lock`` per object, numpy arrays for the
samples, and (for the AEC ring) a per-slot "played" flag and RTP timestamp
instead of the native run list. Used by the differential tests and when
``VOICECORE_NO_EXTENSIONS=1``; far too slow for the audio I/O thread.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import numpy as np

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

MAX_CAPACITY = 1 << 30
GIL_THRESHOLD = 16384
FLAG_END = 1
FLAG_SILENCE = 2
FLAG_DISCONTINUITY = 4
FLAG_PARTIAL = 8
WAKEUP_KIND = "pipe"

_M64 = (1 << 64) - 1


def _diff(a: int, b: int) -> int:
    """a - b for positions that wrap modulo 2**64."""
    d = (a - b) & _M64
    return d - (1 << 64) if d >= 1 << 63 else d


def _check_capacity(capacity: Any, what: str, unit: str) -> int:
    if isinstance(capacity, bool) or not isinstance(capacity, int):
        raise TypeError(f"{what}: {unit} must be an int, got {type(capacity).__name__}")
    if capacity <= 0 or capacity > MAX_CAPACITY or capacity & (capacity - 1):
        raise ValueError(
            f"{what}: {unit} must be a power of two between 1 and {MAX_CAPACITY}, got {capacity} "
            "(voicecore.ring.next_power_of_two rounds up)"
        )
    return capacity


def _check_position(pos: Any, what: str) -> int:
    if isinstance(pos, bool) or not isinstance(pos, int):
        raise TypeError(f"{what}: position must be an int, got {type(pos).__name__}")
    if pos < 0 or pos >= 1 << 64:
        raise ValueError(f"{what}: position must be in [0, 2**64), got {pos}")
    return pos


def _s16_in(pcm: Any, what: str) -> np.ndarray:
    mv = memoryview(pcm)
    if not mv.c_contiguous:
        raise BufferError(f"{what}: buffer is not C-contiguous")
    fmt = mv.format.lstrip("<=@")
    if mv.itemsize == 1 and fmt in ("B", "b", "c"):
        raw = mv.cast("B")
    elif mv.itemsize == 2 and fmt == "h":
        raw = mv.cast("B")
    else:
        raise TypeError(f"{what}: unsupported buffer format {mv.format!r} (itemsize {mv.itemsize})")
    if len(raw) & 1:
        raise ValueError(f"{what}: s16 PCM must have an even byte count, got {len(raw)} bytes")
    return np.frombuffer(raw, dtype=np.int16).copy()


def _s16_out(out: Any, what: str) -> np.ndarray:
    mv = memoryview(out)
    if mv.readonly or not mv.c_contiguous:
        raise TypeError(f"{what}: out= must be a writable C-contiguous int16 buffer (or bytearray)")
    fmt = mv.format.lstrip("<=@")
    ok = (mv.itemsize == 1 and fmt in ("B", "b", "c")) or (mv.itemsize == 2 and fmt == "h")
    if not ok:
        raise TypeError(
            f"{what}: out= must be a writable int16 buffer (or bytearray), "
            f"got format {mv.format!r} (itemsize {mv.itemsize})"
        )
    if mv.nbytes & 1:
        raise ValueError(f"{what}: out= must hold whole int16 samples, got {mv.nbytes} bytes")
    return np.frombuffer(mv.cast("B"), dtype=np.int16)


class SampleRing:
    """Lock-based twin of the native ``SampleRing`` (same semantics)."""

    def __init__(self, capacity: int, *, start_position: int = 0) -> None:
        self._cap = _check_capacity(capacity, "SampleRing", "capacity")
        start = _check_position(start_position, "SampleRing")
        self._data = np.zeros(self._cap, dtype=np.int16)
        self._lock = threading.Lock()
        self._w = self._r = self._flush_to = start
        self.written_samples = self.overflow_samples = self.read_samples = 0
        self.flushed_samples = self.underrun_samples = 0

    @property
    def capacity(self) -> int:
        return self._cap

    @property
    def write_position(self) -> int:
        return self._w

    @property
    def read_position(self) -> int:
        return self._r

    def _apply_flush(self) -> None:
        if _diff(self._flush_to, self._r) > 0:
            self.flushed_samples += _diff(self._flush_to, self._r)
            self._r = self._flush_to

    def writable(self) -> int:
        with self._lock:
            return self._cap - _diff(self._w, self._r)

    def readable(self) -> int:
        # a pure query (as the native ring): a pending flush is discounted,
        # applied only by the consumer's next read
        with self._lock:
            r = self._flush_to if _diff(self._flush_to, self._r) > 0 else self._r
            return _diff(self._w, r)

    def __len__(self) -> int:
        return self.readable()

    def write(self, pcm: Any) -> int:
        x = _s16_in(pcm, "SampleRing.write")
        with self._lock:
            k = min(len(x), self._cap - _diff(self._w, self._r))
            for i in range(k):
                self._data[(self._w + i) % self._cap] = x[i]
            self._w = (self._w + k) & _M64
            self.written_samples += k
            self.overflow_samples += len(x) - k
            return k

    def request_flush(self) -> None:
        with self._lock:
            self._flush_to = self._w

    def read_into(self, out: Any, *, fill: bool = False) -> int:
        dst = _s16_out(out, "SampleRing.read_into")
        with self._lock:
            self._apply_flush()
            k = min(len(dst), _diff(self._w, self._r))
            for i in range(k):
                dst[i] = self._data[(self._r + i) % self._cap]
            self._r = (self._r + k) & _M64
            self.read_samples += k
            if fill and k < len(dst):
                dst[k:] = 0
                self.underrun_samples += len(dst) - k
            return k

    def read(self, n: int) -> bytes:
        if n < 0:
            raise ValueError(f"SampleRing.read: n must be >= 0, got {n}")
        buf = np.zeros(min(n, self.readable()), dtype=np.int16)
        k = self.read_into(buf)
        return buf[:k].tobytes()

    def stats(self) -> dict[str, int]:
        return {
            "written_samples": self.written_samples,
            "overflow_samples": self.overflow_samples,
            "read_samples": self.read_samples,
            "flushed_samples": self.flushed_samples,
            "underrun_samples": self.underrun_samples,
        }


class AECReferenceRing:
    """Lock-based twin of the native ``AECReferenceRing`` (same semantics).

    Keeps a played flag and an RTP timestamp per slot instead of runs.
    """

    def __init__(
        self,
        capacity: int,
        sample_rate: int,
        *,
        echo_delay_ms: float = 0.0,
        tolerance_ms: float = 5.0,
        epoch_ns: int | None = None,
        start_position: int = 0,
    ) -> None:
        self._cap = _check_capacity(capacity, "AECReferenceRing", "capacity")
        origin = _check_position(start_position, "AECReferenceRing")
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int):
            raise TypeError(f"AECReferenceRing: sample_rate must be an int (Hz), got {sample_rate!r}")
        if not 1000 <= sample_rate <= 384000:
            raise ValueError(f"AECReferenceRing: sample_rate must be 1000..384000 Hz, got {sample_rate}")
        if not 0.0 <= echo_delay_ms <= 10_000.0:
            raise ValueError(f"AECReferenceRing: echo_delay_ms must be 0..10000 ms, got {echo_delay_ms}")
        if not 0.0 <= tolerance_ms <= 1_000.0:
            raise ValueError(f"AECReferenceRing: tolerance_ms must be 0..1000 ms, got {tolerance_ms}")
        self._rate = sample_rate
        self._epoch = time.monotonic_ns() if epoch_ns is None else int(epoch_ns)
        self._origin = origin
        self._tol = int(tolerance_ms * sample_rate / 1000.0)
        self._delay_ns = int(echo_delay_ms * 1_000_000.0)
        self._data = np.zeros(self._cap, dtype=np.int16)
        self._played = np.zeros(self._cap, dtype=bool)
        self._rtp = np.zeros(self._cap, dtype=np.uint32)
        self._lock = threading.Lock()
        self._head = origin
        self._consumed = origin
        self._c_next = origin
        self._c_started = False
        self._first = True
        self._next_rtp = 0
        self._s = dict.fromkeys(
            (
                "written_samples written_frames overflow_samples gaps early_writes "
                "rtp_discontinuities read_frames read_samples silence_samples "
                "underrun_samples underrun_reads late_samples realigns"
            ).split(),
            0,
        )

    capacity = property(lambda self: self._cap)
    sample_rate = property(lambda self: self._rate)
    epoch_ns = property(lambda self: self._epoch)
    start_position = property(lambda self: self._origin)
    tolerance_samples = property(lambda self: self._tol)
    head = property(lambda self: self._head)
    consumed = property(lambda self: self._consumed)

    @property
    def echo_delay_ms(self) -> float:
        return self._delay_ns / 1e6

    @echo_delay_ms.setter
    def echo_delay_ms(self, value: float) -> None:
        if not 0.0 <= value <= 10_000.0:
            raise ValueError(f"AECReferenceRing: echo_delay_ms must be 0..10000 ms, got {value}")
        self._delay_ns = int(value * 1_000_000.0)

    def position_at(self, time_ns: int) -> int:
        return (self._origin + ((time_ns - self._epoch) * self._rate) // 1_000_000_000) & _M64

    def write(self, pcm: Any, send_time_ns: int, rtp_timestamp: int = 0) -> int:
        if not 0 <= rtp_timestamp <= 0xFFFFFFFF:
            raise ValueError(f"AECReferenceRing.write: rtp_timestamp must be 0..2**32-1, got {rtp_timestamp}")
        x = _s16_in(pcm, "AECReferenceRing.write")
        n = len(x)
        with self._lock:
            h = self._head
            if n == 0:
                return h
            t = self.position_at(send_time_ns)
            d = _diff(t, h)
            pos = h
            if d > self._tol:
                pos = t
                if not self._first:
                    self._s["gaps"] += 1
            else:
                if d < -self._tol:
                    self._s["early_writes"] += 1
                if not self._first and rtp_timestamp != self._next_rtp:
                    self._s["rtp_discontinuities"] += 1
            self._first = False
            end = (pos + n) & _M64
            # overflow: held positions [h - cap, h) that drop out of the ring
            # ([.., end - cap)) without the consumer having read them ([c, ..))
            lost = min(0, _diff(end, h) - self._cap) - max(-self._cap, _diff(self._consumed, h))
            if lost > 0:
                self._s["overflow_samples"] += lost
            # the gap [h, pos) is silence
            for q in range(max(0, _diff(end, h) - self._cap), _diff(pos, h)):
                slot = (h + q) % self._cap
                self._data[slot] = 0
                self._played[slot] = False
            for i in range(max(0, n - self._cap), n):
                slot = (pos + i) % self._cap
                self._data[slot] = x[i]
                self._played[slot] = True
                self._rtp[slot] = (rtp_timestamp + i) & 0xFFFFFFFF
            self._head = end
            self._next_rtp = (rtp_timestamp + n) & 0xFFFFFFFF
            self._s["written_samples"] += n
            self._s["written_frames"] += 1
            return pos

    def read_at(self, position: int, out: Any) -> int:
        p = _check_position(position, "AECReferenceRing.read_at")
        dst = _s16_out(out, "AECReferenceRing.read_at")
        if len(dst) > self._cap:
            raise ValueError(
                f"AECReferenceRing.read_at: out= holds {len(dst)} samples, more than the capacity {self._cap}"
            )
        with self._lock:
            return self._read(p, dst)

    def _read(self, p: int, dst: np.ndarray) -> int:
        h, n, s = self._head, len(dst), self._s
        beyond = 0
        for i in range(n):
            q = (p + i) & _M64
            if _diff(q, h) >= 0:
                dst[i] = 0
                beyond += 1
            elif _diff(q, h) < -self._cap:
                dst[i] = 0
                s["late_samples"] += 1
            else:
                slot = q % self._cap
                dst[i] = self._data[slot]
                if not self._played[slot]:
                    s["silence_samples"] += 1
        if beyond:
            s["underrun_reads"] += 1
            s["underrun_samples"] += beyond
            s["silence_samples"] += beyond
        s["read_frames"] += 1
        s["read_samples"] += n
        self._c_next = (p + n) & _M64
        self._c_started = True
        self._consumed = self._c_next
        return p

    def read_aligned(self, capture_time_ns: int, out: Any) -> int:
        dst = _s16_out(out, "AECReferenceRing.read_aligned")
        if len(dst) > self._cap:
            raise ValueError(
                f"AECReferenceRing.read_aligned: out= holds {len(dst)} samples, more than the capacity {self._cap}"
            )
        with self._lock:
            t = self.position_at(capture_time_ns - self._delay_ns)
            p = t
            if self._c_started:
                if abs(_diff(t, self._c_next)) <= self._tol:
                    p = self._c_next
                else:
                    self._s["realigns"] += 1
            return self._read(p, dst)

    def rtp_timestamp_at(self, position: int) -> int | None:
        q = _check_position(position, "AECReferenceRing.rtp_timestamp_at")
        with self._lock:
            if _diff(q, self._head) >= 0 or _diff(q, self._head) < -self._cap:
                return None
            slot = q % self._cap
            return int(self._rtp[slot]) if self._played[slot] else None

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self._s)


class FrameQueue:
    """Lock-based twin of the native ``FrameQueue`` (same semantics; the
    wake-up is a non-blocking pipe written once per signal)."""

    def __init__(self, slots: int, frame_samples: int, *, wakeup: bool = True) -> None:
        self._slots = _check_capacity(slots, "FrameQueue", "slots")
        if isinstance(frame_samples, bool) or not isinstance(frame_samples, int):
            raise TypeError(f"FrameQueue: frame_samples must be an int, got {type(frame_samples).__name__}")
        if not 1 <= frame_samples <= 1 << 20:
            raise ValueError(f"FrameQueue: frame_samples must be 1..{1 << 20}, got {frame_samples}")
        if slots * frame_samples > 1 << 30:
            raise ValueError(f"FrameQueue: slots * frame_samples must be <= 2**30, got {slots * frame_samples}")
        self._n = frame_samples
        self._frames: list[tuple[bytes, int, int, int]] = []
        self._lock = threading.Lock()
        self._armed = True
        self._fds: tuple[int, int] | None = None
        if wakeup:
            r, w = os.pipe()
            os.set_blocking(r, False)
            os.set_blocking(w, False)
            self._fds = (r, w)
        self.pushed = self.dropped = self.popped = self.wakeups = 0

    slots = property(lambda self: self._slots)
    frame_samples = property(lambda self: self._n)

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)

    def fileno(self) -> int:
        if self._fds is None:
            raise ValueError("FrameQueue: no wake-up fd (created with wakeup=False, or closed)")
        return self._fds[0]

    def clear_wakeup(self) -> int:
        if self._fds is None:
            return 0
        total = 0
        while True:
            try:
                b = os.read(self._fds[0], 256)
            except BlockingIOError:
                return total
            if not b:
                return total
            total += len(b)

    def close(self) -> None:
        if self._fds is not None:
            os.close(self._fds[0])
            os.close(self._fds[1])
            self._fds = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def push(self, frame: Any, session_index: int = 0, timestamp: int = 0, flags: int = 0) -> bool:
        x = _s16_in(frame, "FrameQueue.push")
        if len(x) != self._n:
            raise ValueError(
                f"FrameQueue.push: frame must be exactly {self._n} samples ({self._n * 2} bytes), "
                f"got {2 * len(x)} bytes"
            )
        for name, v, top in (("session_index", session_index, 32), ("timestamp", timestamp, 64), ("flags", flags, 32)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"FrameQueue.push: {name} must be an int, got {type(v).__name__}")
            if not 0 <= v < 1 << top:
                raise ValueError(f"FrameQueue.push: {name} must be in 0..2**{top}-1, got {v}")
        with self._lock:
            dropped = len(self._frames) >= self._slots
            if dropped:
                self._frames.pop(0)
                self.dropped += 1
            self._frames.append((x.tobytes(), session_index, timestamp, flags))
            self.pushed += 1
            signal = self._armed
            self._armed = False
        if signal and self._fds is not None:
            try:
                os.write(self._fds[1], b"\x01")
            except BlockingIOError:
                pass
            self.wakeups += 1
        return dropped

    def _pop(self) -> tuple[bytes, int, int, int] | None:
        with self._lock:
            if not self._frames:
                self._armed = True
                return None
            self.popped += 1
            return self._frames.pop(0)

    def pop_into(self, out: Any) -> tuple[int, int, int] | None:
        dst = _s16_out(out, "FrameQueue.pop_into")
        if len(dst) != self._n:
            raise ValueError(
                f"FrameQueue.pop_into: out= must hold exactly {self._n} samples, got {2 * len(dst)} bytes"
            )
        got = self._pop()
        if got is None:
            return None
        dst[:] = np.frombuffer(got[0], dtype=np.int16)
        return got[1:]

    def pop(self) -> tuple[bytes, int, int, int] | None:
        return self._pop()

    def stats(self) -> dict[str, int]:
        return {
            "pushed": self.pushed,
            "dropped": self.dropped,
            "popped": self.popped,
            "lost_races": 0,
            "wakeups": self.wakeups,
            "wakeup_errors": 0,
        }

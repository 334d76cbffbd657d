"""The audio I/O engine's asyncio face.

An :class:`AudioEngine` owns one native I/O thread (``voicecore._native.engine``)
that carries the RTP of many sessions: it receives, buffers and conceals,
plays out one frame per session per 20 ms on its own clock, and sends paced
outbound audio, without the GIL. This module connects it to an asyncio event
loop: one ``loop.add_reader`` on the engine's eventfd, drained once per wake-up
(never one ``call_soon_threadsafe`` per frame), dispatching to
:class:`EngineSession` objects.

Most applications never touch this module: :class:`voicecore.backends.rtp.RTPVoiceBackend`
uses the loop's default engine (:func:`get_engine`). Servers that run one engine
per core create their own (``AudioEngine(...)``) and pass it to each backend.

Linux only.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import weakref
from typing import Any

from voicecore.engine.session import EngineSession, open_udp_pair

__all__ = ["AudioEngine", "EngineSession", "get_engine", "open_udp_pair"]

logger = logging.getLogger("voicecore.engine")


def _native() -> Any:
    if not sys.platform.startswith("linux"):
        raise RuntimeError(
            "voicecore's audio I/O engine needs Linux (epoll, timerfd, eventfd); "
            f"this is {sys.platform}"
        )
    from voicecore._native.engine import engine

    return engine


class AudioEngine:
    """One native audio I/O thread bound to one asyncio event loop.

    Args:
        period_ms: frame period in ms (20 for telephony).
        subslots: sub-slots of the period the sessions are spread over
            (each wakes the thread, and the loop, once per period while it
            has sessions; a sub-slot takes 128 sessions before the next one
            is used, then sessions go to the least loaded one).
        max_sessions: session capacity of this engine.
        frame_queue: inbound frames (all sessions) that may wait for the loop;
            the oldest are dropped and counted beyond it (a stalled loop never
            stalls the packet path).
        played_queue: sent frames that may wait for ``on_audio_played``.
        event_queue: events that may wait for the loop.
        max_frames_per_wakeup: frames handed to callbacks per loop wake-up; the
            rest is left for the next one so other tasks are not starved.
        realtime_priority: 1-99 asks SCHED_FIFO for the I/O thread (needs
            CAP_SYS_NICE; ``stats()["realtime"]`` says whether it took).
    """

    def __init__(
        self,
        *,
        period_ms: int = 20,
        subslots: int = 4,
        max_sessions: int = 4096,
        frame_queue: int = 8192,
        played_queue: int = 2048,
        event_queue: int = 8192,
        max_frames_per_wakeup: int = 4096,
        realtime_priority: int = 0,
    ) -> None:
        mod = _native()
        self.native = mod.Engine(
            period_ms=period_ms,
            subslots=subslots,
            max_sessions=max_sessions,
            frame_queue=frame_queue,
            played_queue=played_queue,
            event_queue=event_queue,
            realtime_priority=realtime_priority,
        )
        if max_frames_per_wakeup < 1:
            raise ValueError(
                f"AudioEngine: max_frames_per_wakeup must be >= 1, got {max_frames_per_wakeup}"
            )
        self.period_ms = period_ms
        self._max_frames = max_frames_per_wakeup
        # weak: a default engine lives in a WeakKeyDictionary keyed by its loop
        self._loop_ref: weakref.ref[asyncio.AbstractEventLoop] | None = None
        self._sessions: dict[int, EngineSession] = {}
        self._played_listeners = 0
        self._batch_listeners: list[Any] = []
        self._closed = False
        self.loop_errors = 0

    # ------------------------------------------------------------------ lifecycle
    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the engine delivers to (set by :meth:`start`)."""
        return self._loop_ref() if self._loop_ref is not None else None

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start the I/O thread and attach to *loop* (default: the running loop)."""
        if self._closed:
            raise RuntimeError("AudioEngine.start: the engine is closed")
        if self._loop_ref is not None:
            return
        loop = loop or asyncio.get_running_loop()
        self.native.start()
        loop.add_reader(self.native.fileno(), self._on_readable)
        self._loop_ref = weakref.ref(loop)

    async def aclose(self) -> None:
        """Close every session (RTCP BYE), then stop the thread."""
        for sess in list(self._sessions.values()):
            await sess.close()
        self.close()

    def close(self) -> None:
        """Stop the thread now (sessions still open are dropped without BYE)."""
        if self._closed:
            return
        self._closed = True
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.remove_reader(self.native.fileno())
        self.native.stop()
        for sess in list(self._sessions.values()):
            sess._released()
        self._sessions.clear()

    @property
    def closed(self) -> bool:
        return self._closed

    # ------------------------------------------------------------------ sessions
    async def open_session(self, **kwargs: Any) -> EngineSession:
        """Open a session (see :class:`EngineSession` for the arguments) and
        wait until its socket is live in the engine."""
        if self._loop_ref is None:
            self.start()
        sess = EngineSession(self, **kwargs)
        self._sessions[sess.index] = sess
        try:
            await sess.ready
        except BaseException:
            await sess.close(bye=False)
            raise
        return sess

    @property
    def sessions(self) -> list[EngineSession]:
        """Sessions currently open on this engine."""
        return list(self._sessions.values())

    def _forget(self, sess: EngineSession) -> None:
        if self._sessions.get(sess.index) is sess:
            del self._sessions[sess.index]

    def _listen_played(self, delta: int) -> None:
        self._played_listeners += delta

    def add_batch_listener(self, fn: Any) -> None:
        """``fn(frame_samples, sessions, frames, kinds, frame_nos, lengths)``
        (numpy arrays) for the frames of sessions whose sink is
        ``voicecore._native.engine.engine.BATCH``; every listener sees every
        batch and picks its own sessions."""
        if fn not in self._batch_listeners:
            self._batch_listeners.append(fn)

    def remove_batch_listener(self, fn: Any) -> None:
        if fn in self._batch_listeners:
            self._batch_listeners.remove(fn)

    def _on_batch(self, *args: Any) -> None:
        for fn in self._batch_listeners:
            fn(*args)

    # ------------------------------------------------------------------ loop side
    def _on_readable(self) -> None:
        try:
            self.native.drain(
                self._on_event,
                self._on_played if self._played_listeners else None,
                self._max_frames,
                self._on_batch if self._batch_listeners else None,
            )
        except Exception:  # a callback raised: log it, keep the engine going
            self.loop_errors += 1
            logger.exception("voicecore engine: a session callback raised")
            # the drain stopped before re-arming the wake-up: finish it on the
            # next loop iteration, or no frame or event would ever come again
            loop = self.loop
            if not self._closed and loop is not None and not loop.is_closed():
                loop.call_soon(self._on_readable)

    def _on_event(self, typ: int, index: int, a: int, b: int, c: int) -> None:
        sess = self._sessions.get(index)
        if sess is None:
            if typ == 8:
                logger.warning("voicecore engine error: %s (%s)", os.strerror(a), b)
            return
        sess._event(typ, a, b, c)

    def _on_played(self, index: int, pcm: bytes, send_ns: int, last: bool) -> None:
        sess = self._sessions.get(index)
        if sess is not None:
            sess._played_frame(pcm, send_ns, last)

    # ------------------------------------------------------------------ stats
    def stats(self) -> dict[str, Any]:
        """Engine counters and tick lateness / work / send lateness (ms)."""
        d = self.native.stats()
        d["open_sessions"] = len(self._sessions)
        d["loop_errors"] = self.loop_errors
        return d


_defaults: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AudioEngine] = (
    weakref.WeakKeyDictionary()
)


def get_engine(loop: asyncio.AbstractEventLoop | None = None) -> AudioEngine:
    """The default engine of *loop* (the running loop by default), started on
    first use. One per loop; servers wanting one engine per core create
    :class:`AudioEngine` objects themselves."""
    loop = loop or asyncio.get_running_loop()
    eng = _defaults.get(loop)
    if eng is None or eng.closed:
        eng = AudioEngine()
        eng.start(loop)
        _defaults[loop] = eng
        # the thread ends with its loop (asyncio.run() in a loop of tests, say)
        weakref.finalize(loop, eng.native.stop)
    return eng

"""Progress bars and spinners for the command line (no dependency).

Shown only on a terminal: nothing is drawn when stdout is not a TTY (pipes,
files, CI logs), when ``TERM=dumb``, or with ``--quiet``. A bar appears only
after half a second, so quick work shows nothing, and is erased when its work
ends, so the lines printed around it stay clean.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

__all__ = ["Progress", "format_bytes"]

_DELAY_S = 0.5  # nothing is drawn for work shorter than this
_REFRESH_S = 0.1
_SPIN = "|/-\\"


def format_bytes(n: float) -> str:
    """``56.4 MB``-style size (decimal units, as pip and PyPI show them)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    return f"{seconds // 60}:{seconds % 60:02d}"


class _Bar:
    """One bar of known total: ``update(done)`` from any thread."""

    def __init__(self, progress: Progress, label: str, total: int) -> None:
        self._progress = progress
        self._label = label
        self._total = max(1, total)
        self._done = 0
        self._t0 = time.monotonic()
        self._first: tuple[float, int] | None = None  # (time, bytes) when bytes first came
        self._last = 0.0

    def update(self, done: int) -> None:
        self._done = min(done, self._total)
        now = time.monotonic()
        if self._first is None and done > 0:
            self._first = (now, self._done)  # the rate counts from here, not from the start-up
        if now - self._t0 < _DELAY_S or now - self._last < _REFRESH_S:
            return
        self._last = now
        tail = f" {format_bytes(self._done)}/{format_bytes(self._total)}"
        if self._first is not None and now > self._first[0] and self._done > self._first[1]:
            rate = (self._done - self._first[1]) / (now - self._first[0])
            tail += f"  {format_bytes(rate)}/s  {_clock((self._total - self._done) / rate)} left"
        width = shutil.get_terminal_size((80, 24)).columns - 1
        room = max(10, min(40, width - len(self._label) - len(tail) - 5))
        filled = int(room * self._done / self._total)
        self._progress._draw(f"  {self._label} [{'#' * filled}{'-' * (room - filled)}]{tail}")


    def close(self) -> None:
        """Erase the bar."""
        self._progress.clear()


class _Steps:
    """A bar over a known number of steps (``update(done, note)``), with the
    time left estimated from the steps done so far."""

    def __init__(self, progress: Progress, label: str, total: int) -> None:
        self._progress = progress
        self._label = label
        self._total = max(1, total)
        self._t0 = time.monotonic()
        self._stop = threading.Event()
        self._state = (0, "")
        self._thread = threading.Thread(target=self._tick, name="voicecore-steps", daemon=True)
        self._thread.start()

    def update(self, done: int, note: str = "") -> None:
        self._state = (min(done, self._total), note)

    def _line(self) -> str:
        done, note = self._state
        elapsed = time.monotonic() - self._t0
        tail = f" {done}/{self._total}  {_clock(elapsed)}"
        if done:
            tail += f", {_clock(elapsed * (self._total - done) / done)} left"
        width = shutil.get_terminal_size((80, 24)).columns - 1
        room = max(10, min(30, width - len(self._label) - len(tail) - len(note) - 8))
        filled = int(room * done / self._total)
        text = f"  {self._label} [{'#' * filled}{'-' * (room - filled)}]{tail}  {note}"
        return text[:width]

    def _tick(self) -> None:
        if self._stop.wait(_DELAY_S):
            return
        while not self._stop.is_set():
            self._progress._draw(self._line())
            self._stop.wait(max(_REFRESH_S, 0.25))

    def close(self) -> None:
        """Stop drawing and erase the bar."""
        self._stop.set()
        self._thread.join()
        self._progress.clear()


class _NoBar:
    def update(self, done: int, note: str = "") -> None:
        pass

    def close(self) -> None:
        pass


class Progress:
    """Transient progress output on ``stream`` (stdout by default)."""

    def __init__(self, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.stream = sys.stdout if stream is None else stream
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = (not quiet and isatty is not None and isatty()
                        and os.environ.get("TERM", "") != "dumb")  # fmt: skip
        self._lock = threading.Lock()
        self._drawn = False

    def _draw(self, text: str) -> None:
        with self._lock:
            self.stream.write("\r\033[K" + text)
            self.stream.flush()
            self._drawn = True

    def clear(self) -> None:
        """Erase the bar or spinner line, if one is drawn."""
        with self._lock:
            if self._drawn:
                self.stream.write("\r\033[K")
                self.stream.flush()
                self._drawn = False

    def bar(self, label: str, total: int) -> _Bar | _NoBar:
        """A bar for ``total`` bytes: call ``update(done)``, then ``close()``."""
        return _Bar(self, label, total) if self.enabled else _NoBar()

    def steps(self, label: str, total: int) -> _Steps | _NoBar:
        """A bar over ``total`` steps: call ``update(done, note)``, then ``close()``;
        redrawn from a helper thread, so the time keeps moving during a long step."""
        return _Steps(self, label, total) if self.enabled else _NoBar()

    @contextmanager
    def spinner(self, label: str) -> Iterator[None]:
        """A spinner with the elapsed time, for work of unknown length that
        runs in this thread (the drawing happens in a helper thread)."""
        if not self.enabled:
            yield
            return
        stop = threading.Event()
        t0 = time.monotonic()

        def spin() -> None:
            i = 0
            if stop.wait(_DELAY_S):
                return
            while not stop.is_set():
                self._draw(f"  {_SPIN[i % len(_SPIN)]} {label} {time.monotonic() - t0:.1f} s")
                i += 1
                stop.wait(_REFRESH_S)

        thread = threading.Thread(target=spin, name="voicecore-spinner", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            self.clear()

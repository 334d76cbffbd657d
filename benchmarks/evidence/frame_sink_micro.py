"""Issue 10 (stop 22): the loop side's cost per delivered frame, with and
without recycling, through FrameSink.deliver_frame (Python's call of it
included). A subclass with ``__slots__ = ()`` is not recycled, so the two
lines compare the same path with and without reuse, in one run.

    python benchmarks/evidence/frame_sink_micro.py
"""

from __future__ import annotations

import time

from voicecore._native.engine.sink import FrameSink
from voicecore.audio_frame import AudioFrame


class NoRecycle(AudioFrame):
    __slots__ = ()


class _Owner:
    def __init__(self) -> None:
        self.n = 0
        self._audio_received_callback = self.cb

    def cb(self, session: object, frame: AudioFrame) -> None:
        self.n += 1


def main(n: int = 300_000) -> None:
    pcm = bytes(range(256)) + bytes(64)            # 160 samples, s16le
    for cls in (AudioFrame, NoRecycle, AudioFrame, NoRecycle):
        sink = FrameSink(_Owner(), "s", cls, 8000, 20.0, print)
        t = time.perf_counter_ns()
        for i in range(n):
            sink.deliver_frame(pcm, i & 3, i)
        print(f"{'recycled' if cls is AudioFrame else 'not recycled':13s} {(time.perf_counter_ns() - t) / n:6.0f} ns/frame")


if __name__ == "__main__":
    main()

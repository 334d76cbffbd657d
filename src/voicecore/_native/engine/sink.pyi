"""Type stub of voicecore._native.engine.sink (see sink.pyx)."""

from collections.abc import Callable
from typing import Any, Final, final

BATCH: Final[object]

@final
class FrameSink:
    def __new__(
        cls,
        owner: Any,
        session: Any,
        frame_cls: type,
        sample_rate: int,
        frame_ms: float,
        spawn: Callable[[Any], object],
    ) -> FrameSink: ...
    @property
    def owner(self) -> Any: ...
    @property
    def session(self) -> Any: ...
    @property
    def frame_cls(self) -> type: ...
    @property
    def spawn(self) -> Callable[[Any], object]: ...
    @property
    def sample_rate(self) -> int: ...
    @property
    def frame_ms(self) -> float: ...

    def deliver_frame(self, pcm: bytes | bytearray | memoryview, kind: int, frame_no: int) -> None: ...

"""Type stub of voicecore._native.engine.engine (see engine.pyx)."""

from collections.abc import Callable
from typing import Any, Final, final

from typing_extensions import Buffer

from voicecore._native.media.jitter import JitterBuffer
from voicecore._native.media.resample import Resampler
from voicecore._native.media.srtp import SRTPSession

__all__ = [
    "BATCH",
    "CODECS",
    "EVENT_NAMES",
    "FLAG_DELIVER",
    "FLAG_DELIVER_EARLY",
    "FLAG_IDLE_CN",
    "FLAG_IDLE_SILENCE",
    "FLAG_LATCH",
    "FLAG_MUTED",
    "FLAG_PLAYED",
    "Engine",
]

from voicecore._native.engine.sink import BATCH as BATCH
CODECS: dict[str, int]
EVENT_NAMES: dict[int, str]
FLAG_DELIVER: int
FLAG_PLAYED: int
FLAG_LATCH: int
FLAG_DELIVER_EARLY: int
FLAG_MUTED: int
FLAG_IDLE_SILENCE: int
FLAG_IDLE_CN: int

@final
class Engine:
    def __new__(
        cls,
        *,
        period_ms: int = 20,
        subslots: int = 4,
        max_sessions: int = 4096,
        frame_queue: int = 8192,
        played_queue: int = 2048,
        event_queue: int = 8192,
        max_catchup: int = 50,
        read_on_tick: bool = True,
        realtime_priority: int = 0,
    ) -> Engine: ...
    @property
    def period_ms(self) -> int: ...
    @property
    def subslots(self) -> int: ...
    @property
    def max_sessions(self) -> int: ...
    @property
    def running(self) -> bool: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def fileno(self) -> int: ...
    def add_session(
        self,
        *,
        fd: int,
        rtcp_fd: int = -1,
        remote: tuple[Any, ...],
        remote_rtcp: tuple[Any, ...] | None = None,
        family: int = 2,
        jitter: JitterBuffer | None = None,
        in_resampler: Resampler | None = None,
        out_rate: int = 0,
        codec: str = "pcmu",
        payload_type: int = 0,
        dtmf_payload_type: int = 101,
        cn_payload_type: int = 13,
        out_capacity: int = 32768,
        aec_capacity: int = 0,
        rtcp_interval: float = 5.0,
        cname: str = "voicecore",
        inactivity_ms: int = 0,
        flags: int = 1,
        ssrc: int | None = None,
        seq: int | None = None,
        timestamp: int | None = None,
        rtcp: bool = True,
        rtp_clock: int = 0,
        encoder: Any | None = None,
        srtp: SRTPSession | None = None,
    ) -> tuple[int, int]: ...
    def remove_session(self, idx: int, bye: bool = True) -> None: ...
    def set_sink(self, idx: int, sink: object) -> None: ...
    def set_flags(self, idx: int, flags: int) -> None: ...
    def set_remote(
        self, idx: int, remote: tuple[Any, ...], remote_rtcp: tuple[Any, ...] | None = None, family: int = 2
    ) -> None: ...
    def write(self, idx: int, data: Buffer) -> int: ...
    def out_free(self, idx: int) -> int: ...
    def out_pending(self, idx: int) -> int: ...
    def mark_rate(self, idx: int, rate: int, resampler: Resampler | None = None) -> bool: ...
    def mark_end(self, idx: int) -> int: ...
    def responses_pending(self, idx: int) -> int: ...
    def interrupt(self, idx: int) -> None: ...
    def send_dtmf(self, idx: int, code: int, duration_ms: int = 160, volume: int = 10) -> None: ...
    def aec_read(self, idx: int, n: int, capture_ns: int) -> bytes: ...
    def drain(
        self,
        event_sink: Callable[[int, int, int, int, int], object],
        played_sink: Callable[[int, bytes, int, bool], object] | None = None,
        max_frames: int = 4096,
        batch_sink: Callable[..., object] | None = None,
    ) -> int: ...
    def session_stats(self, idx: int) -> dict[str, Any]: ...
    def _queue_state(self) -> dict[str, int]: ...
    def stats(self, reset: bool = False) -> dict[str, Any]: ...

"""Type stub of voicecore._native.media.jitter (see jitter.pyx for the behaviour)."""

import enum
from collections.abc import Mapping
from typing import final

from typing_extensions import Buffer, Self

class PushResult(enum.IntEnum):
    OK = 0
    HELD = 1
    DUPLICATE = 2
    LATE = 3
    MALFORMED = 4
    OVERSIZE = 5
    UNKNOWN_PT = 6
    FOREIGN = 7
    FOREIGN_SSRC = 8
    DISCARDED = 9
    MALFORMED_DTMF = 10

class FrameKind(enum.IntEnum):
    AUDIO = 0
    CONCEALED = 1
    SILENCE = 2
    COMFORT_NOISE = 3

RESULT_OK: PushResult
RESULT_HELD: PushResult
RESULT_DUPLICATE: PushResult
RESULT_LATE: PushResult
RESULT_MALFORMED: PushResult
RESULT_OVERSIZE: PushResult
RESULT_UNKNOWN_PT: PushResult
RESULT_FOREIGN: PushResult
RESULT_FOREIGN_SSRC: PushResult
RESULT_DISCARDED: PushResult
RESULT_MALFORMED_DTMF: PushResult

FRAME_AUDIO: FrameKind
FRAME_CONCEALED: FrameKind
FRAME_SILENCE: FrameKind
FRAME_COMFORT_NOISE: FrameKind

STAT_NAMES: tuple[str, ...]

@final
class JitterBuffer:
    def __new__(
        cls,
        *,
        clock_rate: int = 8000,
        frame_ms: int = 20,
        payload_types: Mapping[int, str] | None = None,
        dtmf_payload_type: int | None = 101,
        cn_payload_type: int | None = 13,
        min_delay_ms: int = 60,
        max_delay_ms: int = 200,
        initial_delay_ms: int | None = None,
        capacity: int = 64,
        concealment: bool = True,
        comfort_noise: bool = True,
        dtmf_timeout_ms: int = 250,
        fade_start_ms: int = 10,
        silent_after_ms: int = 60,
        blend_ms: int = 60,
        concealment_noise: float = 0.25,
        fec: bool = True,
    ) -> Self: ...
    @property
    def clock_rate(self) -> int: ...
    @property
    def rtp_clock_rate(self) -> int: ...
    @property
    def frame_samples(self) -> int: ...
    @property
    def output_delay_samples(self) -> int: ...
    @property
    def target_delay_ms(self) -> float: ...
    def push(self, datagram: Buffer, arrival_ns: int) -> PushResult: ...
    def parse_header(self, datagram: Buffer) -> tuple[PushResult, dict[str, int | bool | str] | None]: ...
    def pull(self, now_ns: int) -> tuple[bytes, FrameKind]: ...
    def pull_into(self, out: Buffer, now_ns: int) -> FrameKind: ...
    def pop_dtmf(self) -> list[tuple[str, int, int]]: ...
    def stats(self) -> dict[str, int | float | None]: ...
    def rtcp(self, new_interval: bool = True) -> dict[str, int | None] | None: ...

def memory_stats() -> dict[str, int]:
    """Where jitter buffers keep their state and buffers: ``chunks`` (32 MiB,
    advised for transparent huge pages), ``arena_blocks`` and ``heap_blocks``
    (live blocks in those chunks and in the C allocator)."""

"""Type stub of voicecore._native.media.jitter (see jitter.pyx for the behaviour)."""

from collections.abc import Mapping
from typing import final

from typing_extensions import Buffer, Self

RESULT_OK: int
RESULT_HELD: int
RESULT_DUPLICATE: int
RESULT_LATE: int
RESULT_MALFORMED: int
RESULT_OVERSIZE: int
RESULT_UNKNOWN_PT: int
RESULT_FOREIGN: int
RESULT_FOREIGN_SSRC: int
RESULT_DISCARDED: int
RESULT_MALFORMED_DTMF: int

FRAME_AUDIO: int
FRAME_CONCEALED: int
FRAME_SILENCE: int
FRAME_COMFORT_NOISE: int

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
    ) -> Self: ...
    @property
    def clock_rate(self) -> int: ...
    @property
    def frame_samples(self) -> int: ...
    @property
    def output_delay_samples(self) -> int: ...
    @property
    def target_delay_ms(self) -> float: ...
    def push(self, datagram: Buffer, arrival_ns: int) -> int: ...
    def parse_header(self, datagram: Buffer) -> tuple[int, dict[str, int | bool | str] | None]: ...
    def pull(self, now_ns: int) -> tuple[bytes, int]: ...
    def pull_into(self, out: Buffer, now_ns: int) -> int: ...
    def pop_dtmf(self) -> list[tuple[str, int, int]]: ...
    def stats(self) -> dict[str, int | float]: ...

from typing_extensions import Buffer
from typing import Final, final

AVAILABLE: Final[bool]
VERSION: Final[str]
UNAVAILABLE_REASON: Final[str | None]
SUITES: Final[dict[str, int]]
MAX_OVERHEAD: Final[int]
RESULTS: Final[dict[int, str]]

class SRTPUnavailableError(RuntimeError): ...

class SRTPError(RuntimeError):
    code: int
    reason: str
    def __init__(self, message: str, code: int) -> None: ...

@final
class SRTPSession:
    def __init__(
        self,
        suite: str,
        local_key: Buffer,
        remote_key: Buffer,
        *,
        local_mki: Buffer | None = None,
        remote_mki: Buffer | None = None,
        replay_window: int = 128,
    ) -> None: ...
    @property
    def suite(self) -> str: ...
    @property
    def replay_window(self) -> int: ...
    @property
    def last_result(self) -> str: ...
    def protect(self, rtp: Buffer) -> bytes: ...
    def unprotect(self, srtp: Buffer) -> bytes | None: ...
    def protect_rtcp(self, rtcp: Buffer) -> bytes: ...
    def unprotect_rtcp(self, srtcp: Buffer) -> bytes | None: ...
    def stats(self) -> dict[str, int]: ...

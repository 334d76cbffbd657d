"""Type stub of voicecore._native.engine.rtcp (see rtcp.pyx)."""

from typing import Any

from typing_extensions import Buffer

STATUS_NAMES: dict[int, str]

def parse(data: Buffer, our_ssrc: int = 0) -> dict[str, Any]: ...
def build(
    *,
    ssrc: int,
    sender: bool = False,
    ntp: int = 0,
    rtp_ts: int = 0,
    packets: int = 0,
    octets: int = 0,
    block: dict[str, int] | None = None,
    cname: str = "voicecore",
    bye: bool = False,
) -> bytes: ...

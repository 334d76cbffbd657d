"""Pure-Python oracle for the jitter buffer's datagram classification.

Only the stateless part has a twin here (RFC 7983 demultiplexing, RFC 3550
header validation, payload-type and size checks), written independently from
the RFCs with ``struct``; tests compare it with
``voicecore._native.media.jitter.JitterBuffer.parse_header`` on arbitrary bytes.
There is no Python twin of the playout/concealment state machine: with
``VOICECORE_NO_EXTENSIONS=1`` ``voicecore.jitter`` raises ImportError.
"""

from __future__ import annotations

import struct
from typing import Mapping

# same codes as voicecore._native.media.jitter.RESULT_*
OK, MALFORMED, OVERSIZE, UNKNOWN_PT, FOREIGN = 0, 4, 5, 6, 7
MAX_DATAGRAM = 1500


def classify(
    datagram: bytes,
    *,
    payload_types: Mapping[int, str] | None = None,
    dtmf_payload_type: int | None = 101,
    cn_payload_type: int | None = 13,
    clock_rate: int = 8000,
) -> tuple[int, dict | None]:
    """``(result, fields)`` for one datagram, as ``JitterBuffer.parse_header``."""
    pts = {0: "pcmu", 8: "pcma"} if payload_types is None else dict(payload_types)
    data = bytes(datagram)
    n = len(data)
    if n == 0:
        return MALFORMED, None
    first = data[0]
    # RFC 7983: 0-3 STUN, 20-63 DTLS, 64-79 TURN channels, 128-191 RTP/RTCP
    if first <= 3 or 20 <= first <= 79:
        return FOREIGN, None
    if n > MAX_DATAGRAM:
        return OVERSIZE, None
    if n < 12 or first >> 6 != 2:
        return MALFORMED, None
    b0, b1, seq, ts, ssrc = struct.unpack_from("!BBHII", data)
    if 192 <= b1 <= 223:          # RFC 5761: RTCP packet types 192-223
        return FOREIGN, None
    offset = 12 + 4 * (b0 & 0x0F)
    if offset > n:
        return MALFORMED, None
    if b0 & 0x10:
        if offset + 4 > n:
            return MALFORMED, None
        (words,) = struct.unpack_from("!H", data, offset + 2)
        offset += 4 + 4 * words
        if offset > n:
            return MALFORMED, None
    end = n
    if b0 & 0x20:
        pad = data[-1]
        if pad == 0 or pad > end - offset:
            return MALFORMED, None
        end -= pad
    pt = b1 & 0x7F
    if pt == dtmf_payload_type:
        kind = "dtmf"
    elif pt == cn_payload_type:
        kind = "cn"
    elif pt in pts:
        kind = "media"
        if end - offset > min(MAX_DATAGRAM - 12, clock_rate // 5):
            return OVERSIZE, None
    else:
        return UNKNOWN_PT, None
    return OK, {
        "seq": seq, "ts": ts, "ssrc": ssrc, "pt": pt, "marker": bool(b1 & 0x80),
        "payload_offset": offset, "payload_len": end - offset, "kind": kind,
    }

"""G.711 (mu-law, A-law) for s16le mono PCM, bit-exact with the stdlib ``audioop``.

The names follow ``audioop`` without its width argument (always 16-bit):
``lin2ulaw``, ``ulaw2lin``, ``lin2alaw``, ``alaw2lin``, plus code-by-code
transcoding ``ulaw2alaw`` / ``alaw2ulaw``. Every function takes any
C-contiguous buffer (bytes, bytearray, memoryview, numpy int16/uint8), returns
``bytes`` or fills an ``out=`` buffer and returns it, and releases the GIL on
long inputs. Odd-length PCM raises ValueError; empty in, empty out.

``G711Codec(law)`` bundles the pair for one law with ``encode``/``decode``
methods, the shape roomkit's transports use.
"""

from __future__ import annotations

from typing import Any, Literal

from voicecore._impl import load

_g711 = load("g711")

lin2ulaw = _g711.lin2ulaw
ulaw2lin = _g711.ulaw2lin
lin2alaw = _g711.lin2alaw
alaw2lin = _g711.alaw2lin
ulaw2alaw = _g711.ulaw2alaw
alaw2ulaw = _g711.alaw2ulaw

#: RTP static payload types (RFC 3551) and their laws.
PAYLOAD_TYPES: dict[int, str] = {0: "mulaw", 8: "alaw"}

__all__ = [
    "G711Codec",
    "PAYLOAD_TYPES",
    "alaw2lin",
    "alaw2ulaw",
    "lin2alaw",
    "lin2ulaw",
    "ulaw2alaw",
    "ulaw2lin",
]


class G711Codec:
    """One G.711 law: ``encode(s16le) -> codes`` and ``decode(codes) -> s16le``.

    ``law`` is ``"mulaw"`` (PCMU, payload type 0) or ``"alaw"`` (PCMA, 8).
    8000 Hz, one byte per sample, 160 bytes per 20 ms frame.
    """

    __slots__ = ("law", "encode", "decode", "payload_type")

    sample_rate: int = 8000

    def __init__(self, law: Literal["mulaw", "alaw"] = "mulaw") -> None:
        if law in ("mulaw", "ulaw", "pcmu", "PCMU"):
            self.law = "mulaw"
            self.encode: Any = _g711.lin2ulaw
            self.decode: Any = _g711.ulaw2lin
            self.payload_type = 0
        elif law in ("alaw", "pcma", "PCMA"):
            self.law = "alaw"
            self.encode = _g711.lin2alaw
            self.decode = _g711.alaw2lin
            self.payload_type = 8
        else:
            raise ValueError(f"G711Codec: unknown law {law!r}; expected 'mulaw' or 'alaw'")

    @classmethod
    def for_payload_type(cls, payload_type: int) -> G711Codec:
        """The codec of RTP static payload type 0 (PCMU) or 8 (PCMA)."""
        try:
            return cls(PAYLOAD_TYPES[payload_type])  # type: ignore[arg-type]
        except KeyError:
            raise ValueError(f"G711Codec: payload type {payload_type} is not G.711 (0 = PCMU, 8 = PCMA)") from None

    def __repr__(self) -> str:
        return f"G711Codec({self.law!r})"

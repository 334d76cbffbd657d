"""G.722 wideband audio (ITU-T G.722, RTP payload type 9) for s16le mono PCM.

Audio is **16,000 Hz**; one G.722 octet carries two samples, so 20 ms is 320
samples and 160 octets. The RTP timestamp clock is nevertheless **8,000 Hz**
(RFC 3551, section 4.5.2: an error in RFC 1890 kept for compatibility): the
timestamp advances by the number of octets, 160 per 20 ms packet. SDP says
``a=rtpmap:9 G722/8000``. Frames decoded by voicecore carry
``sample_rate=16000`` (roomkit labels G.722 frames 8000, the RTP clock rate).

``G722Encoder`` and ``G722Decoder`` are streaming (state kept across calls,
one object per direction of one stream) and bit-exact with the established
implementations (spandsp, libg722) that pass the ITU-T test sequences; see
``voicecore._native.media.g722``. ``G722Codec`` pairs them with the
``encode``/``decode`` shape of :class:`voicecore.codec.G711Codec`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Buffer       # collections.abc.Buffer is 3.12+

try:
    from voicecore._native.media import g722 as _g722
except ImportError as exc:  # pragma: no cover - a broken install
    raise ImportError(
        f"voicecore's native extension 'voicecore._native.media.g722' could not be imported ({exc}). "
        "Install a voicecore wheel built for this platform, or build from source with a C compiler."
    ) from exc

G722Encoder = _g722.G722Encoder
G722Decoder = _g722.G722Decoder

#: Audio sample rate (Hz).
SAMPLE_RATE: int = _g722.SAMPLE_RATE
#: RTP timestamp clock rate (Hz), RFC 3551's 8000 for 16 kHz audio.
RTP_CLOCK_RATE: int = _g722.RTP_CLOCK_RATE
#: Static RTP payload type.
PAYLOAD_TYPE: int = _g722.PAYLOAD_TYPE
#: Supported bit rates (bit/s); RTP uses 64000.
BIT_RATES: tuple[int, ...] = _g722.BIT_RATES

__all__ = [
    "BIT_RATES",
    "G722Codec",
    "G722Decoder",
    "G722Encoder",
    "PAYLOAD_TYPE",
    "RTP_CLOCK_RATE",
    "SAMPLE_RATE",
    "rtp_timestamp_units",
]


def rtp_timestamp_units(samples: int) -> int:
    """RTP timestamp increment of ``samples`` 16 kHz samples (half of them:
    the 8 kHz RTP clock of RFC 3551). Raises ValueError on an odd count."""
    if samples < 0 or samples % 2:
        raise ValueError(f"rtp_timestamp_units: samples must be a non-negative even count, got {samples!r}")
    return samples // 2


class G722Codec:
    """One G.722 stream both ways: ``encode(s16le 16 kHz) -> octets`` and
    ``decode(octets) -> s16le 16 kHz``, each with its own state.

    ``bit_rate``: 64000 (default), 56000 or 48000 bit/s.
    """

    __slots__ = ("encoder", "decoder")

    sample_rate: int = 16000
    clock_rate: int = 8000
    payload_type: int = 9

    def __init__(self, bit_rate: int = 64000) -> None:
        self.encoder: Any = G722Encoder(bit_rate)
        self.decoder: Any = G722Decoder(bit_rate)

    def encode(self, pcm: Buffer) -> bytes:
        """s16le mono 16 kHz PCM (even sample count) -> G.722 octets."""
        return self.encoder.encode(pcm)  # type: ignore[no-any-return]

    def decode(self, data: Buffer) -> bytes:
        """G.722 octets -> s16le mono 16 kHz PCM (two samples per octet)."""
        return self.decoder.decode(data)  # type: ignore[no-any-return]

    def reset(self) -> None:
        """Both directions back to their initial state (a new stream)."""
        self.encoder.reset()
        self.decoder.reset()

    def __repr__(self) -> str:
        return f"G722Codec(bit_rate={self.encoder.bit_rate})"

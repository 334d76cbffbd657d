"""Opus (RFC 6716) for s16le mono PCM through libopus, with libopus's packet
loss concealment and in-band FEC.

RTP (RFC 7587): dynamic payload type (often 111), ``a=rtpmap:<pt> opus/48000/2``
whatever the audio rate, so the RTP timestamp always counts 48 kHz samples; a
packet holds 2.5-120 ms (ptime 10-60 ms in practice). Decode straight to the
rate you need (8/12/16/24/48 kHz): libopus resamples internally.

``OpusEncoder(sample_rate, bitrate, application, fec=, packet_loss_percent=,
dtx=, complexity=)`` encodes one frame per call; ``OpusDecoder(sample_rate)``
decodes a packet, conceals a loss (``conceal``) or recovers it from the next
packet's FEC (``decode_fec``). Both are streaming objects (one per direction
of one stream) and release the GIL in libopus.

libopus is optional at build time: when voicecore was built without it this
module still imports, ``AVAILABLE`` is False, ``UNAVAILABLE_REASON`` says why
and the constructors (and :func:`require`) raise ``OpusUnavailableError``.
"""

from __future__ import annotations

try:
    from voicecore._native.media import opus as _opus
except ImportError as exc:  # pragma: no cover - a broken install
    raise ImportError(
        f"voicecore's native extension 'voicecore._native.media.opus' could not be imported ({exc}). "
        "Install a voicecore wheel built for this platform, or build from source with a C compiler."
    ) from exc

OpusEncoder = _opus.OpusEncoder
OpusDecoder = _opus.OpusDecoder
OpusError = _opus.OpusError
OpusUnavailableError = _opus.OpusUnavailableError
packet_samples = _opus.packet_samples
packet_has_fec = _opus.packet_has_fec

#: True when this voicecore was built with libopus.
AVAILABLE: bool = _opus.AVAILABLE
#: libopus version string ("" when unavailable).
VERSION: str = _opus.VERSION
#: Why Opus is unavailable, or None.
UNAVAILABLE_REASON: str | None = _opus.UNAVAILABLE_REASON
#: Sample rates the codec runs at (Hz).
SAMPLE_RATES: tuple[int, ...] = _opus.SAMPLE_RATES
#: RTP timestamp clock (Hz), whatever the audio rate.
RTP_CLOCK_RATE: int = _opus.RTP_CLOCK_RATE
#: Largest packet: duration (ms) and size (bytes).
MAX_PACKET_MS: int = _opus.MAX_PACKET_MS
MAX_PACKET_BYTES: int = _opus.MAX_PACKET_BYTES

__all__ = [
    "AVAILABLE",
    "MAX_PACKET_BYTES",
    "MAX_PACKET_MS",
    "OpusDecoder",
    "OpusEncoder",
    "OpusError",
    "OpusUnavailableError",
    "RTP_CLOCK_RATE",
    "SAMPLE_RATES",
    "UNAVAILABLE_REASON",
    "VERSION",
    "packet_has_fec",
    "packet_samples",
    "require",
    "samples_of_rtp_units",
]


def require(what: str = "Opus") -> None:
    """Raise ``OpusUnavailableError`` (naming ``what``) when this build has
    no libopus; a backend calls it at connect when Opus is negotiated."""
    if not AVAILABLE:
        raise OpusUnavailableError(f"{what}: {UNAVAILABLE_REASON}")


def samples_of_rtp_units(units: int, sample_rate: int) -> int:
    """Samples at ``sample_rate`` in ``units`` RTP timestamp units (48 kHz
    clock). Raises ValueError for a rate Opus does not run at."""
    if sample_rate not in SAMPLE_RATES:
        raise ValueError(f"samples_of_rtp_units: sample_rate must be one of {SAMPLE_RATES}, got {sample_rate!r}")
    return units * sample_rate // 48000

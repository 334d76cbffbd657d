"""G.722: bit-exact against two established implementations in the same run
(spandsp from Debian's libspandsp2, libg722 from PyPI), streaming, bad input,
the RTP clock quirk. See tests/codec_refs.py for the references."""

from __future__ import annotations

import numpy as np
import pytest

from codec_refs import libg722_or_skip, spandsp_g722_or_skip
from engine_support import speech, tone
from voicecore.media import g722

AUX_BITS = {64000: 0, 56000: 1, 48000: 2}


def _signals() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(722)
    n = 16000
    t = np.arange(n) / 16000
    sig = {
        "noise_full": rng.integers(-32768, 32768, n).astype(np.int16),
        "square_full": np.where((np.arange(n) // 37) % 2, 32767, -32768).astype(np.int16),
        "quiet": rng.normal(0, 30, n).astype(np.int16),
        "silence": np.zeros(n, np.int16),
        "chirp": (20000 * np.sin(2 * np.pi * (50 + 3900 * t) * t)).astype(np.int16),
        "tone_7k": tone(7000, 1.0, 16000, 12000),
        "steps": np.repeat(rng.integers(-32768, 32768, n // 50), 50).astype(np.int16),
    }
    s = speech(16000)
    if s is not None:
        sig["speech"] = s
    return sig


SIGNALS = _signals()


@pytest.mark.parametrize("bit_rate", [64000, 56000, 48000])
@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_encoder_bit_exact_with_spandsp_and_libg722(name, bit_rate):
    x = SIGNALS[name]
    ours = g722.G722Encoder(bit_rate).encode(x)
    assert len(ours) == len(x) // 2
    aux = AUX_BITS[bit_rate]
    # the references write one (8 - aux)-bit code per byte; ours is the octet
    # with the auxiliary-data bits zero
    theirs = np.frombuffer(ours, np.uint8) >> aux
    assert (np.frombuffer(ours, np.uint8) & ((1 << aux) - 1) == 0).all()
    assert theirs.tobytes() == spandsp_g722_or_skip(bit_rate).encode(x)
    assert theirs.tobytes() == libg722_or_skip(bit_rate).encode(x)


def _streams() -> dict[str, bytes]:
    rng = np.random.default_rng(9)
    out = {name: g722.G722Encoder().encode(x) for name, x in SIGNALS.items()}
    out["random_octets"] = rng.integers(0, 256, 20000, dtype=np.uint8).tobytes()
    out["all_octets"] = bytes(range(256)) * 40
    return out


STREAMS = _streams()


@pytest.mark.parametrize("bit_rate", [64000, 56000, 48000])
@pytest.mark.parametrize("name", sorted(STREAMS))
def test_decoder_bit_exact_with_libg722(name, bit_rate):
    data = STREAMS[name]
    ours = np.frombuffer(g722.G722Decoder(bit_rate).decode(data), np.int16)
    assert len(ours) == 2 * len(data)
    codes = (np.frombuffer(data, np.uint8) >> AUX_BITS[bit_rate]).tobytes()
    assert np.array_equal(ours, libg722_or_skip(bit_rate).decode(codes))


@pytest.mark.parametrize("bit_rate", [64000, 56000, 48000])
@pytest.mark.parametrize("name", sorted(STREAMS))
def test_decoder_matches_spandsp_except_where_spandsp_wraps(name, bit_rate):
    """spandsp 0.0.6 (Debian) truncates the receive QMF output to 16 bits
    without saturating: on full-scale or hostile input a sample past the rail
    wraps around. Everywhere else the two decoders agree exactly: they differ
    only where ours is clipped to -32768 or 32767."""
    data = STREAMS[name]
    ours = np.frombuffer(g722.G722Decoder(bit_rate).decode(data), np.int16)
    codes = (np.frombuffer(data, np.uint8) >> AUX_BITS[bit_rate]).tobytes()
    theirs = spandsp_g722_or_skip(bit_rate).decode(codes)
    diff = np.flatnonzero(ours != theirs)
    assert np.isin(ours[diff], (-32768, 32767)).all()
    if name in ("speech", "quiet", "silence", "chirp"):
        assert len(diff) == 0


@pytest.mark.parametrize("chunk", [2, 20, 320, 962])
def test_streaming_equals_one_shot(chunk):
    x = SIGNALS["chirp"]
    whole = g722.G722Encoder().encode(x)
    enc = g722.G722Encoder()
    parts = b"".join(enc.encode(x[i : i + chunk]) for i in range(0, len(x), chunk))
    assert parts == whole
    dec = g722.G722Decoder()
    pcm = b"".join(dec.decode(whole[i : i + chunk // 2 or 1]) for i in range(0, len(whole), chunk // 2 or 1))
    assert pcm == g722.G722Decoder().decode(whole)


def test_reset_starts_a_new_stream():
    x = SIGNALS["chirp"][:3200]
    enc, dec = g722.G722Encoder(), g722.G722Decoder()
    first = enc.encode(x)
    assert enc.encode(x) != first          # state carried over
    enc.reset()
    assert enc.encode(x) == first
    pcm = dec.decode(first)
    assert dec.decode(first) != pcm
    dec.reset()
    assert dec.decode(first) == pcm


def test_out_buffers_and_formats():
    x = SIGNALS["chirp"][:640]
    codes = bytearray(320)
    assert g722.G722Encoder().encode(x, out=codes) is codes
    assert bytes(codes) == g722.G722Encoder().encode(x.tobytes())
    pcm = np.empty(640, np.int16)
    assert g722.G722Decoder().decode(bytes(codes), out=pcm) is pcm
    assert pcm.tobytes() == g722.G722Decoder().decode(memoryview(codes))
    assert g722.G722Encoder().encode(b"") == b""
    assert g722.G722Decoder().decode(b"") == b""


def test_bad_input_names_the_function():
    with pytest.raises(ValueError, match=r"G722Encoder.encode: .*even number"):
        g722.G722Encoder().encode(b"\x00\x00")
    with pytest.raises(ValueError, match=r"G722Encoder: bit_rate"):
        g722.G722Encoder(32000)
    with pytest.raises(ValueError, match=r"G722Decoder: bit_rate"):
        g722.G722Decoder(0)
    with pytest.raises(ValueError, match=r"G722Decoder.decode: out= holds 8 bytes, 16 needed"):
        g722.G722Decoder().decode(b"1234", out=bytearray(8))
    with pytest.raises(TypeError, match=r"G722Encoder.encode: data must be bytes-like or int16, got buffer format"):
        g722.G722Encoder().encode(np.zeros(4, np.float32))
    with pytest.raises(TypeError, match=r"G722Decoder.decode: out= must be a bytes(-like)? or int16 buffer"):
        g722.G722Decoder().decode(b"12", out=np.zeros(8, np.float32))


def test_rtp_clock_quirk_and_constants():
    assert g722.SAMPLE_RATE == 16000 and g722.RTP_CLOCK_RATE == 8000 and g722.PAYLOAD_TYPE == 9
    # 20 ms: 320 samples -> 160 octets -> RTP timestamp + 160
    assert len(g722.G722Encoder().encode(np.zeros(320, np.int16))) == 160
    assert g722.rtp_timestamp_units(320) == 160
    with pytest.raises(ValueError, match="rtp_timestamp_units"):
        g722.rtp_timestamp_units(3)
    c = g722.G722Codec()
    assert (c.sample_rate, c.clock_rate, c.payload_type) == (16000, 8000, 9)
    assert len(c.decode(c.encode(np.zeros(320, np.int16)))) == 640


def test_quality_of_a_tone_round_trip():
    """A 1 kHz tone survives 64 kbit/s coding with > 40 dB SNR once the
    codec delay (22 samples: both QMFs) is accounted for."""
    x = tone(1000, 1.0, 16000, 10000)
    y = np.frombuffer(g722.G722Codec().decode(g722.G722Codec().encode(x)), np.int16).astype(float)
    lag = 22
    ref = x[1000 : -lag].astype(float)
    out = y[1000 + lag :]
    snr = 10 * np.log10((ref**2).sum() / ((ref - out) ** 2).sum())
    assert snr > 40, snr

"""Opus through libopus: the plumbing is checked bit-exact against opuslib
(ctypes over the same libopus) in the same run; round trip at every rate and
frame size, PLC and in-band FEC, bad input and bad packets."""

from __future__ import annotations

import numpy as np
import pytest

from codec_refs import opuslib_or_skip
from engine_support import speech, tone
from voicecore.media import opus

pytestmark = pytest.mark.skipif(not opus.AVAILABLE, reason=str(opus.UNAVAILABLE_REASON))


def _source(rate: int, seconds: float = 4.0) -> np.ndarray:
    x = speech(rate, seconds)
    if x is None:  # no fetched clip: a vowel-like harmonic signal instead
        t = np.arange(int(seconds * rate)) / rate
        x = (3000 * sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((140, 280, 560, 1120, 2240), 1))).astype(np.int16)
    n = rate // 50
    return x[: len(x) // n * n]


def _frames(x: np.ndarray, n: int) -> list[np.ndarray]:
    return [x[i : i + n] for i in range(0, len(x) - n + 1, n)]


def _snr(ref: np.ndarray, out: np.ndarray) -> float:
    ref = ref.astype(float)
    out = out.astype(float)
    return float(10 * np.log10((ref**2).sum() / max(((ref - out) ** 2).sum(), 1e-9)))


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
def test_encoder_and_decoder_bit_exact_with_opuslib(rate):
    opuslib = opuslib_or_skip()
    x = _source(rate)
    n = rate // 50
    ours = opus.OpusEncoder(rate, 24000, fec=True, packet_loss_percent=10, complexity=9)
    theirs = opuslib.Encoder(rate, 1, "voip")
    theirs.bitrate = 24000
    theirs.complexity = 9
    # opuslib 3.0.1's inband_fec setter drops its value: call the ctl directly
    opuslib.api.encoder.encoder_ctl(theirs.encoder_state, opuslib.api.ctl.set_inband_fec, 1)
    theirs.packet_loss_perc = 10
    theirs.signal = opuslib.SIGNAL_VOICE
    dec = opus.OpusDecoder(rate)
    ref_dec = opuslib.Decoder(rate, 1)
    for f in _frames(x, n):
        p = ours.encode(f)
        assert p == theirs.encode(f.tobytes(), n)
        assert dec.decode(p) == ref_dec.decode(p, n)
    assert ours.stats()["packets"] == len(x) // n


@pytest.mark.parametrize("out_rate", [8000, 12000, 16000, 24000, 48000])
@pytest.mark.parametrize("ms", [10, 20, 40, 60])
def test_round_trip_every_frame_size_and_output_rate(ms, out_rate):
    """48 kHz in (the RTP clock), any rate out: each packet decodes to
    ts_delta * out_rate / 48000 samples, and a tone comes back."""
    x = tone(440, 1.2, 48000, 8000)
    n = 48 * ms
    enc, dec = opus.OpusEncoder(48000, 32000), opus.OpusDecoder(out_rate)
    out = []
    for f in _frames(x, n):
        p = enc.encode(f)
        assert opus.packet_samples(p) == n
        assert dec.packet_samples(p) == n * out_rate // 48000 == opus.samples_of_rtp_units(n, out_rate)
        pcm = dec.decode(p)
        assert len(pcm) == 2 * n * out_rate // 48000
        out.append(np.frombuffer(pcm, np.int16))
    y = np.concatenate(out)
    ref = tone(440, 1.2, out_rate, 8000)
    lag = enc.lookahead * out_rate // 48000
    s = m = len(y) // 3
    # the decoder's own delay (its resampler) is small: search a few samples
    best = max(_snr(ref[s : s + m], y[s + lag + d : s + lag + d + m]) for d in range(-8, 40))
    assert best > 15, best


def test_plc_is_libopus_concealment_and_fades():
    opuslib = opuslib_or_skip()
    x = _source(16000)
    enc = opus.OpusEncoder(16000, 24000)
    pk = [enc.encode(f) for f in _frames(x, 320)]
    dec, ref = opus.OpusDecoder(16000), opuslib.Decoder(16000, 1)
    for p in pk[:50]:
        dec.decode(p)
        ref.decode(p, 320)
    concealed = [dec.conceal(320) for _ in range(10)]
    ref_concealed = [ref.decode(b"", 320) for _ in range(10)]
    assert concealed == ref_concealed           # libopus's own PLC, through our nogil call
    energy = [float(np.abs(np.frombuffer(c, np.int16)).mean()) for c in concealed]
    assert energy[-1] < 0.2 * max(energy[0], 1.0)
    assert dec.stats()["plc_calls"] == 10 and dec.stats()["plc_samples"] == 3200
    assert len(dec.conceal()) == 2 * 320         # default: the last packet's duration
    assert len(dec.conceal(40)) == 80            # 2.5 ms at 16 kHz


def test_fec_recovers_lost_packets_better_than_plc():
    """Drop every 7th packet; recovering it from the next packet's in-band FEC
    (decode_fec, then decode the next packet itself) tracks the lossless
    decode much better than concealment. Same calls through opuslib give the
    same samples."""
    opuslib = opuslib_or_skip()
    x = _source(16000, 8.0)
    enc = opus.OpusEncoder(16000, 24000, fec=True, packet_loss_percent=20)
    pk = [enc.encode(f) for f in _frames(x, 320)]
    clean = opus.OpusDecoder(16000)
    lossless = [np.frombuffer(clean.decode(p), np.int16) for p in pk]
    fec_dec, plc_dec, ref = opus.OpusDecoder(16000), opus.OpusDecoder(16000), opuslib.Decoder(16000, 1)
    fec_err = plc_err = sig = 0.0
    recovered_with_fec = 0
    for i, p in enumerate(pk):
        if i % 7 == 3 and i + 1 < len(pk):
            nxt = pk[i + 1]
            a = fec_dec.decode_fec(nxt, 320)
            assert a == ref.decode(nxt, 320, decode_fec=True)
            b = plc_dec.conceal(320)
            recovered_with_fec += opus.packet_has_fec(nxt)
            ya, yb = np.frombuffer(a, np.int16).astype(float), np.frombuffer(b, np.int16).astype(float)
            fec_err += ((ya - lossless[i]) ** 2).sum()
            plc_err += ((yb - lossless[i]) ** 2).sum()
            sig += (lossless[i].astype(float) ** 2).sum()
            continue
        assert fec_dec.decode(p) == ref.decode(p, 320)
        plc_dec.decode(p)
    assert recovered_with_fec > 10
    assert fec_err < 0.5 * plc_err, (fec_err / sig, plc_err / sig)
    st = fec_dec.stats()
    assert st["fec_calls"] > 0 and st["fec_samples"] == 320 * st["fec_calls"]


def test_packet_has_fec_agrees_with_libopus():
    """Where our LBRR-flag parser says "no FEC", libopus's FEC decode falls
    back to exactly its PLC; where it says "FEC", the output differs."""
    x = _source(16000)
    for fec in (True, False):
        enc = opus.OpusEncoder(16000, 24000, fec=fec, packet_loss_percent=20 if fec else 0)
        pk = [enc.encode(f) for f in _frames(x, 320)]
        flags = [opus.packet_has_fec(p) for p in pk]
        assert any(flags) == fec
        for i in range(5, len(pk) - 1, 5):
            a, b = opus.OpusDecoder(16000), opus.OpusDecoder(16000)
            for p in pk[:i]:
                a.decode(p)
                b.decode(p)
            assert (a.decode_fec(pk[i], 320) != b.conceal(320)) == flags[i], i


def test_celt_packets_never_claim_fec():
    enc = opus.OpusEncoder(48000, 64000, "restricted_lowdelay")
    p = enc.encode(tone(1000, 0.02, 48000))
    assert p[0] >> 3 >= 16 and not opus.packet_has_fec(p)


def test_bad_packets_are_reported_not_crashing():
    dec = opus.OpusDecoder(16000)
    with pytest.raises(opus.OpusError) as e:
        dec.decode(b"")
    assert e.value.code == -4
    with pytest.raises(opus.OpusError):
        dec.decode(b"\x03\x00")                 # code 3 packet with zero frames
    with pytest.raises(opus.OpusError):
        dec.decode(b"\x03\xff" + bytes(10))     # 63 frames: longer than 120 ms
    assert dec.stats()["invalid"] == 3
    rng = np.random.default_rng(5)
    for _ in range(2000):                        # random payloads: decoded or refused, never a crash
        p = rng.integers(0, 256, int(rng.integers(1, 200)), dtype=np.uint8).tobytes()
        try:
            assert len(dec.decode(p)) % 2 == 0
        except opus.OpusError as exc:
            assert exc.code < 0
    with pytest.raises(opus.OpusError):
        opus.packet_samples(b"")
    with pytest.raises(opus.OpusError):
        opus.packet_has_fec(b"")


def test_bad_arguments_name_the_function():
    with pytest.raises(ValueError, match="OpusDecoder: sample_rate"):
        opus.OpusDecoder(44100)
    with pytest.raises(ValueError, match="OpusEncoder: sample_rate"):
        opus.OpusEncoder(22050)
    with pytest.raises(ValueError, match="OpusEncoder: bitrate"):
        opus.OpusEncoder(48000, 100)
    with pytest.raises(ValueError, match="OpusEncoder: application"):
        opus.OpusEncoder(48000, 24000, "music")
    enc = opus.OpusEncoder(16000)
    with pytest.raises(ValueError, match=r"OpusEncoder.encode: pcm must be one frame .* 320 samples for 20 ms"):
        enc.encode(np.zeros(480, np.int16))    # 30 ms: not an Opus frame size
    with pytest.raises(ValueError, match="OpusDecoder.conceal: samples"):
        opus.OpusDecoder(16000).conceal(100)
    with pytest.raises(ValueError, match="OpusDecoder.decode_fec: samples"):
        opus.OpusDecoder(16000).decode_fec(b"\x08", 16000)
    with pytest.raises(ValueError, match="OpusEncoder.bitrate"):
        enc.bitrate = 10


def test_encoder_settings_and_encode_into():
    enc = opus.OpusEncoder(16000, 16000)
    assert enc.bitrate == 16000 and not enc.fec
    enc.bitrate = 32000
    enc.set_fec(True, 15)
    assert enc.bitrate == 32000 and enc.fec and enc.packet_loss_percent == 15
    x = _source(16000)[:320]
    buf = bytearray(1500)
    n = enc.encode_into(x, buf)
    enc.reset()
    assert bytes(buf[:n]) == enc.encode(x)
    with pytest.raises(TypeError, match="OpusEncoder.encode_into: out= must be a bytes(-like)? buffer"):
        enc.encode_into(x, np.zeros(10, np.int16))


def test_dtx_sends_tiny_packets_in_silence():
    enc = opus.OpusEncoder(16000, 24000, dtx=True)
    sizes = [len(enc.encode(np.zeros(320, np.int16))) for _ in range(50)]
    # 1-2 byte packets, with a comfort-noise update now and then
    assert sum(n <= 2 for n in sizes[-20:]) >= 15, sizes


def test_require_and_constants():
    opus.require()
    assert opus.RTP_CLOCK_RATE == 48000 and opus.VERSION.startswith("libopus")
    assert opus.MAX_PACKET_MS == 120

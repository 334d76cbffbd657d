"""G.722 and Opus through RTPVoiceBackend with real speech, both directions
at once over loopback, against independent reference codecs in the same run.

Inbound: a raw-socket peer sends the speech encoded by the reference encoder
(G.722: libg722, PyPI ``G722``; Opus: opuslib, ctypes over the system
libopus, the same library voicecore links but not voicecore's code; without
opuslib, voicecore's own OpusEncoder/OpusDecoder, and the table says so), paced
on a 20 ms grid. The frames of ``on_audio_received`` must be at 16 kHz
(G.722) / the backend's 48 kHz (Opus), bit-exact with the reference decoder
over the stretch before any concealed frame, and score PESQ WB (P.862.2)
against the source >= 3.9 (G.722 64 kbit/s) / >= 4.0 (Opus 24 kbit/s).

Outbound: ``send_audio`` gets the speech as chunks at another rate (22050 Hz
for G.722, 24000 Hz for Opus) so the engine resamples it; the raw peer
checks the RTP timestamps (160 per 20 ms for G.722, RFC 3551's 8 kHz clock;
960 for Opus, RFC 7587's 48 kHz), decodes with the reference decoder and
scores PESQ WB. The figure of the codec alone (reference encoder and decoder
on the same speech) is computed in the same test and printed beside it
(``pytest -s``); the path through the backend must be within 0.1 of it.

PESQ runs at 16 kHz: Opus audio at 48 kHz is brought to 16 kHz with scipy's
``resample_poly`` (independent of voicecore's resampler), the same way for
the reference figure. Skipped without the speech clips, ``pesq`` or scipy.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys

import numpy as np
import pytest

from codec_refs import libg722_or_skip
from engine_support import RawPeer, find_exact, rtp, speech

from voicecore.base import AudioChunk
from voicecore.media import opus

pytestmark = [
    pytest.mark.models,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the engine is Linux-only"),
    pytest.mark.skipif(importlib.util.find_spec("pesq") is None, reason="pesq not installed"),
    pytest.mark.skipif(importlib.util.find_spec("scipy") is None, reason="scipy not installed"),
]

SECONDS = 6.0
#: (codec, direction) -> (through the backend, codec alone), PESQ WB
FIGURES: dict[tuple[str, str], tuple[float, float]] = {}


@pytest.fixture
async def engine():
    from voicecore.engine import AudioEngine

    eng = AudioEngine()
    eng.start()
    yield eng
    await eng.aclose()


@pytest.fixture
def peer():
    p = RawPeer()
    yield p
    p.close()


@pytest.fixture
def source() -> np.ndarray:
    x = speech(16000, SECONDS)
    if x is None:
        pytest.skip("speech clips not fetched (python -m voicecore.models fetch)")
    return x[: len(x) // 320 * 320]


def _i16(a: np.ndarray) -> np.ndarray:
    return np.clip(np.round(a), -32768, 32767).astype(np.int16)


def _resample(x: np.ndarray, up: int, down: int) -> np.ndarray:
    from scipy.signal import resample_poly

    return _i16(resample_poly(x.astype(np.float64), up, down))


def _lag(ref: np.ndarray, deg: np.ndarray, max_lag: int = 4000) -> int:
    """Delay (samples) of ``deg`` behind ``ref`` by cross-correlation of the first 2 s."""
    n = min(len(ref), 32000)
    c = np.correlate(deg[: n + max_lag].astype(np.float64), ref[:n].astype(np.float64), "valid")
    return int(np.argmax(c))


def _pesq_wb(ref16: np.ndarray, deg16: np.ndarray) -> float:
    """PESQ WB of ``deg16`` against ``ref16`` (both 16 kHz), codec delay removed."""
    from pesq import pesq

    lag = _lag(ref16, deg16)
    deg = deg16[lag:]
    n = min(len(ref16), len(deg))
    return float(pesq(16000, ref16[:n], deg[:n], "wb"))


def _packets(payloads: list[bytes], pt: int, ts_step: int) -> list[bytes]:
    return [rtp(700 + i, 90000 + ts_step * i, 0x5EED, p, pt=pt, marker=i == 0) for i, p in enumerate(payloads)]


async def _call(engine, peer, payload_type: int, inbound: list[bytes], chunks: list[AudioChunk]):
    """One call: ``inbound`` sent paced by the peer while ``chunks`` play out.
    Returns (frames received, session stats, RTP packets the peer got)."""
    from voicecore.backends.rtp import RTPVoiceBackend

    b = RTPVoiceBackend(local_addr=("127.0.0.1", 0), remote_addr=peer.addr, engine=engine,
                        payload_type=payload_type)
    s = await b.connect("room", "user", "voice")
    frames = []
    b.on_audio_received(lambda sess, f: frames.append(f))
    dest = tuple(s.metadata["local_addr"])
    loop = asyncio.get_running_loop()

    async def send_in() -> None:
        t0 = loop.time()
        for i, p in enumerate(inbound):
            await asyncio.sleep(max(0.0, t0 + 0.02 * i - loop.time()))
            peer.send(p, dest)

    async def stream():
        for c in chunks:
            yield c

    async def send_out() -> None:
        await b.send_audio(s, stream())
        assert await b.wait_playback(s)

    await asyncio.gather(send_in(), send_out())
    await asyncio.sleep(0.3)
    st = b.session_stats(s)
    await b.close()
    return frames, st, peer.rtp(payload_type)


def _check_inbound(frames, ref_pcm: np.ndarray, rate: int) -> tuple[np.ndarray, int]:
    """Frames at ``rate``; bit-exact with the reference decoder from the first
    packet up to the first concealed frame (the whole stream when none is).
    Returns (the received audio from the first packet on, samples compared)."""
    assert frames and {f.sample_rate for f in frames} == {rate}
    got = np.frombuffer(b"".join(f.data for f in frames), np.int16)
    kinds = np.concatenate([np.full(len(f.data) // 2, f.metadata["frame_kind"] == "concealed") for f in frames])
    off = find_exact(got, ref_pcm[: rate // 4])
    assert off >= 0, "the first 250 ms of the reference decoder's output is not in what the backend delivered"
    concealed = np.flatnonzero(kinds[off:])
    n = min(len(ref_pcm), len(got) - off, int(concealed[0]) if len(concealed) else len(ref_pcm))
    assert n >= rate, f"a frame was concealed {n / rate:.2f} s in: too little left to compare"
    assert np.array_equal(got[off: off + n], ref_pcm[:n])
    if not len(concealed):
        assert n == len(ref_pcm)          # nothing concealed: every sample of the stream
    return got[off:], n


def _table(codec: str) -> None:
    print(f"\nPESQ WB through RTPVoiceBackend ({SECONDS:g} s of the beckett clip), same run:")
    print(f"  {'codec':18s} {'direction':9s} {'backend':>8s} {'alone':>8s}")
    for (c, d), (via, alone) in FIGURES.items():
        if c == codec:
            print(f"  {c:18s} {d:9s} {via:8.3f} {alone:8.3f}")


async def test_g722_both_ways_through_the_backend(engine, peer, source):
    """Payload type 9: 16 kHz audio on the 8 kHz RTP clock (RFC 3551)."""
    x = source
    ref = libg722_or_skip()
    coded = ref.encode(x)
    inbound = _packets([coded[160 * i: 160 * (i + 1)] for i in range(len(coded) // 160)], 9, 160)
    x22 = _resample(x, 441, 320)                          # the application's audio at 22050 Hz
    chunks = [AudioChunk(data=x22[i: i + 2205].tobytes(), sample_rate=22050) for i in range(0, len(x22), 2205)]
    frames, st, out = await _call(engine, peer, 9, inbound, chunks)

    # inbound
    ref_pcm = libg722_or_skip().decode(coded)
    assert st["received"] == len(inbound) and st["unknown_pt"] == 0
    got, exact = _check_inbound(frames, ref_pcm, 16000)
    alone_in = _pesq_wb(x, ref_pcm)
    via_in = _pesq_wb(x, got[: len(ref_pcm)])
    # outbound
    assert len(out) >= len(x) // 320
    assert out[0].marker and all(len(p.payload) == 160 for p in out)       # 20 ms of 64 kbit/s
    assert {(b.seq - a.seq) & 0xFFFF for a, b in zip(out, out[1:])} == {1}
    assert {(b.ts - a.ts) & 0xFFFFFFFF for a, b in zip(out, out[1:])} == {160}   # 8 kHz clock, 320 samples
    sent = libg722_or_skip().decode(b"".join(p.payload for p in out))
    via_out = _pesq_wb(x, sent)
    FIGURES["G.722 64k", "inbound"] = (via_in, alone_in)
    FIGURES["G.722 64k", "outbound"] = (via_out, alone_in)
    _table("G.722 64k")
    print(f"  inbound bit-exact with libg722 over {exact / 16000:.2f} s; "
          f"concealed {st['concealed_samples']} samples")
    assert via_in >= 3.9 and abs(via_in - alone_in) < 0.01
    assert via_out >= 3.9 and via_out > alone_in - 0.1


class _OpusRef:
    """The Opus reference at 48 kHz, 20 ms frames: opuslib when installed,
    else voicecore's own codec (``name`` says which). The encoder is set up
    like the engine's outbound one (voip, 24 kbit/s, complexity 9, voice;
    in-band FEC with a 10 % loss hint when ``fec``)."""

    def __init__(self) -> None:
        try:
            import opuslib
        except Exception:  # not installed, or no libopus for its ctypes
            opuslib = None
        self.lib = opuslib
        self.name = "opuslib" if opuslib is not None else "voicecore's OpusEncoder (opuslib not installed)"

    def encoder(self, fec: bool):
        lib = self.lib
        if lib is None:
            enc = opus.OpusEncoder(48000, 24000, "voip", fec=fec, packet_loss_percent=10 if fec else 0, complexity=9)
            return enc.encode
        e = lib.Encoder(48000, 1, "voip")
        e.bitrate = 24000
        e.complexity = 9
        e.signal = lib.SIGNAL_VOICE
        if fec:
            # opuslib 3.0.1's inband_fec setter drops its value: call the ctl directly
            lib.api.encoder.encoder_ctl(e.encoder_state, lib.api.ctl.set_inband_fec, 1)
            e.packet_loss_perc = 10
        return lambda pcm: e.encode(np.ascontiguousarray(pcm).tobytes(), 960)

    def decoder(self):
        if self.lib is None:
            return opus.OpusDecoder(48000).decode
        d = self.lib.Decoder(48000, 1)
        return lambda packet: d.decode(bytes(packet), 960)


@pytest.mark.skipif(not opus.AVAILABLE, reason=str(opus.UNAVAILABLE_REASON))
async def test_opus_both_ways_through_the_backend(engine, peer, source):
    """Payload type 111 at 24 kbit/s: 48 kHz RTP clock (RFC 7587), frames at 48 kHz."""
    ref = _OpusRef()
    x = source
    x48 = _resample(x, 3, 1)
    enc = ref.encoder(fec=False)
    payloads = [enc(x48[960 * i: 960 * (i + 1)]) for i in range(len(x48) // 960)]
    inbound = _packets(payloads, 111, 960)
    x24 = _resample(x, 3, 2)                              # the application's audio at 24000 Hz
    chunks = [AudioChunk(data=x24[i: i + 2400].tobytes(), sample_rate=24000) for i in range(0, len(x24), 2400)]
    frames, st, out = await _call(engine, peer, 111, inbound, chunks)

    # inbound
    dec = ref.decoder()
    ref_pcm = np.frombuffer(b"".join(dec(p) for p in payloads), np.int16)
    assert st["received"] == len(inbound) and st["unknown_pt"] == 0
    got, exact = _check_inbound(frames, ref_pcm, 48000)
    alone_in = _pesq_wb(x, _resample(ref_pcm, 1, 3))
    via_in = _pesq_wb(x, _resample(got[: len(ref_pcm)], 1, 3))
    # outbound
    assert len(out) >= len(x48) // 960
    assert out[0].marker and all(2 < len(p.payload) < 200 for p in out)
    assert {(b.seq - a.seq) & 0xFFFF for a, b in zip(out, out[1:])} == {1}
    assert {(b.ts - a.ts) & 0xFFFFFFFF for a, b in zip(out, out[1:])} == {960}   # 48 kHz clock, 20 ms
    kbps = 8 * sum(len(p.payload) for p in out) / (len(out) * 0.02) / 1000
    dec = ref.decoder()
    sent = np.frombuffer(b"".join(dec(p.payload) for p in out), np.int16)
    assert len(sent) == 960 * len(out)                    # 20 ms per packet, as the timestamps say
    via_out = _pesq_wb(x, _resample(sent, 1, 3))
    enc, dec = ref.encoder(fec=True), ref.decoder()       # the codec alone, set up as the engine's encoder
    alone_out = _pesq_wb(x, _resample(np.frombuffer(b"".join(
        dec(enc(x48[i: i + 960])) for i in range(0, len(x48), 960)), np.int16), 1, 3))
    FIGURES["Opus 24k", "inbound"] = (via_in, alone_in)
    FIGURES["Opus 24k", "outbound"] = (via_out, alone_out)
    _table("Opus 24k")
    print(f"  reference: {ref.name}; inbound bit-exact with it over {exact / 48000:.2f} s; "
          f"concealed {st['concealed_samples']} "
          f"samples; outbound {kbps:.1f} kbit/s of payload (FEC on)")
    assert via_in >= 4.0 and abs(via_in - alone_in) < 0.01
    assert via_out >= 4.0 and via_out > alone_out - 0.1

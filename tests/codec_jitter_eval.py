"""G.722 and Opus through the jitter buffer (tests and benchmarks).

Real speech (``engine_support.speech``: the clips of the fetched models) is
encoded by voicecore's encoders into RTP packets (:func:`g722_packets`,
:func:`opus_packets`: ``netsim.Packet`` objects, so ``netsim.deliver`` applies
the impairments and ``netsim.run`` plays them through a buffer). The clean
reference is the packets decoded in order by the *reference* decoders
(libg722 from PyPI ``G722``, libopus through ``opuslib``), so a loss-free run
must reproduce it bit for bit. PESQ WB (P.862.2, ``pesq`` package, 16 kHz)
scores a lossy run against that clean decode; the output is aligned by
cross-correlation (its delay is constant for pure loss) and Opus at 48 kHz is
brought to 16 kHz with ``scipy.signal.resample_poly`` for scoring.
"""

from __future__ import annotations

import numpy as np

from voicecore.jitter import JitterBuffer
from voicecore.testing import netsim as ns

__all__ = ["LOSS", "g722_packets", "opus_packets", "reference_decode", "play", "align", "pesq_wb",
           "loss_table"]

T0 = 1_000_000_000
SSRC = 0x5EED0722
#: loss models (netsim.deliver arguments) of the PESQ tables
LOSS = {"random5": dict(loss=0.05), "random10": dict(loss=0.10), "gilbert10_burst3": dict(gilbert=(0.10, 3.0))}


def _packets(payloads: list[bytes], pt: int, rtp_step: int, ptime_ms: int, nsamples: int,
             seq0: int, ts0: int) -> list[ns.Packet]:
    out = []
    for i, p in enumerate(payloads):
        seq, ts = (seq0 + i) & 0xFFFF, (ts0 + i * rtp_step) & 0xFFFFFFFF
        d = ns.rtp_packet(seq, ts, SSRC, pt, p, marker=i == 0)
        out.append(ns.Packet(T0 + (i + 1) * ptime_ms * 1_000_000, seq, ts, SSRC, pt, d, "audio", nsamples))
    return out


def g722_packets(pcm16k: np.ndarray, ptime_ms: int = 20, *, seq0: int = 1000, ts0: int = 160000,
                 pt: int = 9) -> list[ns.Packet]:
    """G.722 64 kbit/s RTP packets of ``pcm16k`` (RFC 3551: ``ptime_ms * 8``
    octets and RTP timestamp units per packet, twice as many samples)."""
    from voicecore.media import g722

    n = 16 * ptime_ms
    data = g722.G722Encoder().encode(np.ascontiguousarray(pcm16k[: len(pcm16k) // n * n], np.int16))
    k = n // 2
    return _packets([data[i:i + k] for i in range(0, len(data), k)], pt, k, ptime_ms, n, seq0, ts0)


def opus_packets(pcm: np.ndarray, rate: int = 48000, ptime_ms: int = 20, *, bitrate: int = 24000,
                 fec: bool = False, loss_percent: int = 0, seq0: int = 1000, ts0: int = 160000,
                 pt: int = 111) -> list[ns.Packet]:
    """Opus RTP packets of ``pcm`` (at ``rate``), RFC 7587: the RTP timestamp
    advances by 48 * ``ptime_ms`` per packet whatever the rate."""
    from voicecore.media import opus

    n = rate * ptime_ms // 1000
    enc = opus.OpusEncoder(rate, bitrate, fec=fec, packet_loss_percent=loss_percent)
    pay = [enc.encode(np.ascontiguousarray(pcm[i:i + n], np.int16)) for i in range(0, len(pcm) - n + 1, n)]
    return _packets(pay, pt, 48 * ptime_ms, ptime_ms, n, seq0, ts0)


def reference_decode(codec: str, packets: list[ns.Packet], rate: int = 48000) -> np.ndarray:
    """The packets' payloads decoded in order by the reference decoder."""
    pay = [p.data[12:] for p in packets]
    if codec == "g722":
        from codec_refs import libg722_or_skip

        return libg722_or_skip().decode(b"".join(pay))
    from codec_refs import opuslib_or_skip

    dec = opuslib_or_skip().Decoder(rate, 1)
    return np.concatenate([np.frombuffer(dec.decode(p, 120 * rate // 1000), np.int16) for p in pay])


def buffer_for(codec: str, rate: int = 48000, **kw) -> JitterBuffer:
    if codec == "g722":
        return JitterBuffer(clock_rate=16000, payload_types={9: "g722"}, **kw)
    return JitterBuffer(clock_rate=rate, payload_types={111: "opus"}, **kw)


def play(jb: JitterBuffer, packets: list[ns.Packet], *, seed: int = 0, base_delay_ms: float = 30,
         extra_ms: int = 400, **impair):
    """Deliver ``packets`` with ``impair`` (netsim.deliver) and run them
    through ``jb``; returns (netsim.RunResult, lost mask per packet)."""
    arr = ns.deliver(packets, seed=seed, base_delay_ms=base_delay_ms, **impair)
    got = {id(a.packet) for a in arr}
    lost = np.array([id(p) not in got for p in packets])
    dur = (packets[-1].send_ns - T0) // 1_000_000 + extra_ms
    return ns.run(jb, arr, start_ns=T0, duration_ms=dur), lost


def align(out: np.ndarray, ref: np.ndarray) -> int:
    """Delay of ``ref`` inside ``out`` (samples, less than half of ``out``):
    the cross-correlation peak."""
    m = 1 << int(np.ceil(np.log2(len(out) + len(ref))))
    c = np.fft.irfft(np.fft.rfft(out.astype(float), m) * np.conj(np.fft.rfft(ref.astype(float), m)), m)
    return int(np.argmax(c[: len(out) // 2]))


def pesq_wb(ref: np.ndarray, deg: np.ndarray, rate: int) -> float:
    from pesq import pesq

    if rate != 16000:
        from scipy.signal import resample_poly

        ref = resample_poly(ref.astype(float), 16000, rate)
        deg = resample_poly(deg.astype(float), 16000, rate)
    return float(pesq(16000, np.asarray(ref, float), np.asarray(deg, float), "wb"))


def scored(codec: str, packets, ref: np.ndarray, rate: int, model: str, seed: int, **jb_kw) -> float:
    """PESQ WB of one buffer configuration on one loss pattern."""
    jb = buffer_for(codec, rate, **jb_kw)
    res, _ = play(jb, packets, seed=seed, **LOSS[model])
    d = align(res.pcm, ref)
    return pesq_wb(ref, res.pcm[d:d + len(ref)], rate)


#: the strategies compared per codec: (column, packets variant, buffer keywords)
STRATEGIES = {
    "g722": [("ours", "plain", {}), ("silence", "plain", {"concealment": False})],
    "opus": [("plc", "plain", {"fec": False}), ("silence", "plain", {"concealment": False}),
             ("plc_fecstream", "fec", {"fec": False}), ("fec", "fec", {})],
}


def loss_table(codec: str, speech: np.ndarray, models, seeds, rate: int = 48000) -> dict:
    """{(model, column): [PESQ WB per seed]} for one clip (``speech`` at 16 kHz
    for G.722, at ``rate`` for Opus). Opus "fec" streams are encoded with
    in-band FEC for 10 % loss (``OpusEncoder(fec=True, packet_loss_percent=10)``)."""
    if codec == "g722":
        variants = {"plain": g722_packets(speech)}
        rate = 16000
    else:
        variants = {"plain": opus_packets(speech, rate),
                    "fec": opus_packets(speech, rate, fec=True, loss_percent=10)}
    refs = {k: reference_decode(codec, v, rate) for k, v in variants.items()}
    table: dict = {}
    for model in models:
        for col, var, kw in STRATEGIES[codec]:
            table[model, col] = [scored(codec, variants[var], refs[var], rate, model, s, **kw) for s in seeds]
    return table

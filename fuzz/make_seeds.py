"""Write the seed corpora (fuzz/corpus/<target>/) from the test traffic.

The seeds are the packets the tests send (voicecore.testing.netsim's sender:
speech, talkspurts, RFC 4733 digits, RFC 3389 comfort noise, impairments,
the hostile datagrams) and the RTCP reports the engine builds, written in
each target's input format. Deterministic: rerunning rewrites the same files.

    python fuzz/make_seeds.py            # all targets
    python fuzz/make_seeds.py rtcp       # one
"""

from __future__ import annotations

import hashlib
import struct
import sys
from pathlib import Path

import numpy as np
from harness import Writer

from voicecore.testing import netsim as ns

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"


def _save(target: str, seeds: list[bytes]) -> None:
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    for old in d.glob("seed-*"):
        old.unlink()
    for s in seeds:
        (d / f"seed-{hashlib.sha1(s).hexdigest()[:16]}").write_bytes(s)
    print(f"{target}: {len(seeds)} seeds, {sum(map(len, seeds))} bytes")


# ------------------------------------------------------------------ RTP / jitter buffer
JB_DEFAULT = bytes([0, 2, 2, 15, 35, 60, 10, 49, 60]) + struct.pack("<H", 249)   # fuzz_rtp_jitter.make_buffer


def jitter_records(arrivals: list[ns.Arrival], start_ns: int, duration_ms: int, config: bytes = JB_DEFAULT,
                   frame_ms: int = 20) -> bytes:
    """netsim.run's interleaving of pushes and pulls as fuzz_rtp_jitter records."""
    w = Writer().raw(config).u32((start_ns - 1_000_000_000) // 1000)
    now = arr = start_ns
    i = 0
    for f in range(1, duration_ms // frame_ms + 1):
        t = start_ns + f * frame_ms * 1_000_000
        while i < len(arrivals) and arrivals[i].arrival_ns <= t:
            a = arrivals[i]
            step = (a.arrival_ns - arr) // 10_000
            if -32768 <= step <= 32767:
                w.u8(0).i16(step)
                arr += step * 10_000
            else:
                w.u8(3 | 4).i64(a.arrival_ns)
                arr = a.arrival_ns
            w.blob(a.data)
            i += 1
        w.u8(1).i16(0)
        now = t
        if f % 10 == 0:
            w.u8(2)
    del now
    return w.bytes()


def _talk(seed: int, ms: int = 600) -> ns.Sender:
    s = ns.Sender(ns.speech_like(8000, seed=seed), seq=65530 - seed, ts=(2**32 - 800 * (seed + 1)))
    s.talk(ms)
    return s


def rtp_jitter_seeds() -> list[bytes]:
    out = []
    s = _talk(0)
    out.append(jitter_records(ns.deliver(s.packets), s.start_ns, 700))
    s = _talk(1)
    out.append(jitter_records(ns.deliver(s.packets, seed=1, loss=0.2, reorder=0.3, duplicate=0.1, jitter_ms=20),
                              s.start_ns, 800))
    s = _talk(2, 200)
    s.pause(300)
    s.talk(200)
    s.restart(ssrc=0xCAFEBABE, seq=7, ts=12345)
    s.talk(200)
    out.append(jitter_records(ns.deliver(s.packets, seed=2), s.start_ns, 1000))
    s = _talk(3, 200)
    s.talk(200, ptime_ms=60)
    s.talk(100, ptime_ms=10)
    out.append(jitter_records(ns.deliver(s.packets, seed=3, spike_every_ms=300, spike_ms=100), s.start_ns, 800))
    hostile = ns.hostile_datagrams(7, 40)
    arr = [ns.Arrival(1_000_000_000 + k * 5_000_000, d) for k, d in enumerate(hostile)]
    out.append(jitter_records(arr, 1_000_000_000, 260))
    return out


# ------------------------------------------------------------------ RFC 4733 / RFC 3389
EV_DEFAULT = bytes([0x0C, 10, 49, 60]) + struct.pack("<H", 249)   # fuzz_rtp_events config


def events_seeds() -> list[bytes]:
    out = []
    for seed, (digit, dur) in enumerate([(1, 160), (11, 400), (15, 60), (5, 2000)]):
        s = _talk(seed, 100)
        s.dtmf(digit, dur)
        s.talk(100)
        s.pause(200, cn_level=60 + seed)
        s.talk(100)
        arrivals = ns.deliver(s.packets, seed=seed, loss=0.1 * (seed & 1), media_only_loss=bool(seed & 2))
        out.append(EV_DEFAULT + jitter_records(arrivals, s.start_ns, 3000)[len(JB_DEFAULT):])
    # comfort noise with spectral coefficients (RFC 3389 section 3.2)
    s = _talk(9, 100)
    s.packets.append(s._emit(bytes([40, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), 13, "cn", 0))
    s.pause(200)
    s.talk(60)
    out.append(EV_DEFAULT + jitter_records(ns.deliver(s.packets), s.start_ns, 500)[len(JB_DEFAULT):])
    return out


# ------------------------------------------------------------------ RTCP
def rtcp_seeds() -> list[bytes]:
    from voicecore._native.engine import rtcp

    block = {"ssrc": 0x1234ABCD, "fraction_lost": 12, "cumulative_lost": 345, "ext_highest_seq": 70000,
             "jitter": 80, "lsr": 0x12345678, "dlsr": 65536}
    pkts = [
        rtcp.build(ssrc=1, sender=True, ntp=0xE1234567_89ABCDEF, rtp_ts=160000, packets=50, octets=8000, block=block),
        rtcp.build(ssrc=2, block=block, cname="x" * 40),
        rtcp.build(ssrc=3, bye=True),
        rtcp.build(ssrc=4, sender=True, ntp=1, rtp_ts=2, packets=3, octets=4),
        rtcp.build(ssrc=5),
    ]
    # input: u32 our_ssrc, then the datagram
    return [struct.pack("<I", 0x1234ABCD) + p for p in pkts] + [struct.pack("<I", 0) + pkts[0] + pkts[2]]


# ------------------------------------------------------------------ G.711 / PCM
def g711_pcm_seeds() -> list[bytes]:
    pcm = ns.speech_like(400, seed=1).tobytes()
    f32 = (ns.speech_like(200, seed=2).astype(np.float32) / 32768).tobytes()
    special = np.array([0.0, 1.0, -1.0, 1.5, -1.5, np.inf, -np.inf, np.nan, 3e38, -3e38, 1e-45],
                       np.float32).tobytes()
    return [bytes([op]) + bytes([k]) + data for op in range(8) for k, data in
            ((0, pcm), (1, pcm[:161]), (2, f32), (3, special), (4, b""))]


# ------------------------------------------------------------------ resampler
def resample_seeds() -> list[bytes]:
    pcm = ns.speech_like(800, seed=3).tobytes()
    out = []
    common = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 96000, 192000)   # fuzz_resample.COMMON

    def rate(v: int) -> int:
        return common.index(v) if v in common else 0x80000000 | (v - 1)

    for a, b in ((8000, 16000), (16000, 8000), (8000, 48000), (44100, 8000), (8000, 11025), (1000, 1999)):
        w = Writer().u32(rate(a)).u32(rate(b)).u8(len(out))
        for chunk in (160, 1, 0, 333, 160):
            w.u8(0).blob(pcm[:2 * chunk])
        w.u8(1).blob(pcm[:320]).u8(1)
        f32 = (np.frombuffer(pcm[:640], np.int16) / 32768).astype(np.float32).tobytes()
        w.u8(3)
        w.u8(0).blob(pcm[:480]).u8(2).u16(len(f32) // 4).raw(f32).u8(4).u8(5).u8(0).u8(3)
        out.append(w.bytes())
    return out


# ------------------------------------------------------------------ rings
def rings_seeds() -> list[bytes]:
    pcm = ns.speech_like(400, seed=4).tobytes()
    out = []
    for kind in range(3):
        w = Writer().u8(kind).u8(8).u8(0)
        for k in range(12):
            w.u8(k % 6).u16(160 * (k % 3)).i32(20_000 * k).blob(pcm[: 320 * (1 + k % 2)])
        out.append(w.bytes())
    return out


# ------------------------------------------------------------------ engine datagram path
def engine_seeds() -> list[bytes]:
    out = []
    for seed in range(3):
        s = _talk(seed, 300)
        s.dtmf(3, 100)
        s.pause(100, cn_level=50)
        s.talk(100)
        w = Writer()
        for k, p in enumerate(s.packets):
            w.u8(k % 4).blob(p.data)          # session k % 4
        for d in ns.hostile_datagrams(seed, 10):
            w.u8(seed).blob(d)
        out.append(w.bytes())
    return out


TARGETS = {
    "rtp_jitter": rtp_jitter_seeds,
    "rtp_events": events_seeds,
    "rtcp": rtcp_seeds,
    "g711_pcm": g711_pcm_seeds,
    "resample": resample_seeds,
    "rings": rings_seeds,
    "engine": engine_seeds,
}

if __name__ == "__main__":
    for name in sys.argv[1:] or list(TARGETS):
        _save(name, TARGETS[name]())

"""Deterministic RTP network simulator shared by tests and benchmarks.

A :class:`Sender` turns audio into RTP datagrams with the send time of each
packet (ptime 10-60 ms and mid-call changes, talkspurt pauses with or without
RFC 3389 comfort noise, RFC 4733 events, sender restarts and SSRC changes,
sequence and timestamp wrap, sender clock drift). :func:`deliver` applies
network impairments to the packets (random or Gilbert-Elliott loss, explicit
bursts, reordering, duplicates, Gaussian jitter, periodic delay spikes) and
returns them sorted by arrival time. :func:`run` plays the arrivals into a
jitter buffer and pulls one frame every ``frame_ms`` of the consumer clock.

Everything is driven by ``random.Random(seed)``: the same arguments give the
same datagrams and arrival times on every machine. Times are integer
nanoseconds, audio is s16le mono (numpy int16), G.711 payloads are bytes.
"""

from __future__ import annotations

import math
import numbers
import random
import struct
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

__all__ = [
    "Packet",
    "Arrival",
    "Sender",
    "rtp_packet",
    "speech_like",
    "ulaw_encode",
    "ulaw_decode",
    "deliver",
    "run",
    "RunResult",
    "hostile_datagrams",
]

_FRAME_AUDIO = 0


def rtp_packet(
    seq: int,
    ts: int,
    ssrc: int,
    pt: int,
    payload: bytes = b"",
    *,
    marker: bool = False,
    csrcs: Sequence[int] = (),
    extension: bytes | None = None,
    padding: int = 0,
) -> bytes:
    """Serialise one RTP packet (RFC 3550). ``extension`` is the extension body
    (a multiple of 4 bytes); ``padding`` adds that many padding bytes."""
    b0 = 0x80 | (len(csrcs) & 0x0F)
    if extension is not None:
        b0 |= 0x10
    if padding:
        b0 |= 0x20
    out = bytearray(
        struct.pack("!BBHII", b0, (0x80 if marker else 0) | (pt & 0x7F), seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc & 0xFFFFFFFF)
    )
    for c in csrcs:
        out += struct.pack("!I", c & 0xFFFFFFFF)
    if extension is not None:
        out += struct.pack("!HH", 0xBEDE, len(extension) // 4) + extension
    out += payload
    if padding:
        out += bytes(padding - 1) + bytes([padding])
    return bytes(out)


# ------------------------------------------------------------------ audio
def ulaw_encode(pcm: np.ndarray) -> bytes:
    """s16 -> G.711 mu-law (voicecore's native codec, bit-exact with audioop)."""
    from voicecore._native.media import g711

    return g711.lin2ulaw(np.ascontiguousarray(pcm, dtype=np.int16))


def ulaw_decode(data: bytes) -> np.ndarray:
    """G.711 mu-law -> s16 numpy array."""
    from voicecore._native.media import g711

    return np.frombuffer(g711.ulaw2lin(data), dtype=np.int16)


def speech_like(n: int, seed: int = 0, rate: int = 8000) -> np.ndarray:
    """``n`` samples of a deterministic voiced-speech-like signal (s16): a
    harmonic series on a slowly gliding 100-220 Hz pitch with syllable-rate
    amplitude modulation; never silent for more than a few ms."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    f0 = 150 + 60 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6.28))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    sig = np.zeros(n)
    for h in range(1, 12):
        sig += np.sin(h * phase + rng.uniform(0, 6.28)) / h
    env = 0.55 + 0.45 * np.sin(2 * np.pi * 3.1 * t + rng.uniform(0, 6.28))
    sig = sig * env
    return (sig / np.max(np.abs(sig)) * 9000).astype(np.int16)


# ------------------------------------------------------------------ sender
@dataclass
class Packet:
    """One sent RTP packet: its send time (ns), header fields and bytes."""

    send_ns: int
    seq: int
    ts: int
    ssrc: int
    pt: int
    data: bytes
    kind: str = "audio"        # audio | dtmf | cn | junk
    nsamples: int = 0          # audio samples carried (0 for non-media)


@dataclass
class Arrival:
    """A datagram as the receiver sees it: arrival time (ns) and bytes."""

    arrival_ns: int
    data: bytes
    packet: Packet | None = None
    duplicate: bool = False


class Sender:
    """An RTP sender of G.711 audio with a controllable clock.

    ``audio`` is the s16 signal it sends (cycled). ``drift_ppm`` makes the
    sender's sample clock run fast (+) or slow (-) against the receiver's.
    Calls append packets to :attr:`packets` and return the new ones.
    """

    def __init__(
        self,
        audio: np.ndarray | None = None,
        *,
        ssrc: int = 0x1234ABCD,
        seq: int = 1000,
        ts: int = 160000,
        pt: int = 0,
        clock_rate: int = 8000,
        ptime_ms: int = 20,
        start_ns: int = 1_000_000_000,
        drift_ppm: float = 0.0,
        dtmf_pt: int = 101,
        cn_pt: int = 13,
    ) -> None:
        _check_range("Sender", "clock_rate", clock_rate, 1, None, " Hz")
        _check_range("Sender", "ptime_ms", ptime_ms, 1, None, " ms")
        self.audio = speech_like(clock_rate * 10) if audio is None else np.asarray(audio, dtype=np.int16)
        self.ulaw = ulaw_encode(self.audio)
        self.ssrc = ssrc
        self.seq = seq & 0xFFFF
        self.ts = ts & 0xFFFFFFFF
        self.pt = pt
        self.rate = clock_rate
        self.ptime_ms = ptime_ms
        self.start_ns = start_ns
        self.drift_ppm = drift_ppm
        self.dtmf_pt = dtmf_pt
        self.cn_pt = cn_pt
        self.elapsed = 0           # samples of sender clock since start
        self.pos = 0               # read position in the audio
        self.packets: list[Packet] = []
        self.sent_pcm: list[np.ndarray] = []    # decoded audio in send order (for checks)
        self._marker = True

    def _time(self, samples: int) -> int:
        return self.start_ns + int(round(samples * 1e9 / (self.rate * (1.0 + self.drift_ppm * 1e-6))))

    def _take(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            k = min(n - len(out), len(self.ulaw) - self.pos)
            out += self.ulaw[self.pos:self.pos + k]
            self.pos = (self.pos + k) % len(self.ulaw)
        return bytes(out)

    def _emit(self, payload: bytes, pt: int, kind: str, nsamples: int, *, marker: bool = False,
              send_after: int = 0) -> Packet:
        data = rtp_packet(self.seq, self.ts, self.ssrc, pt, payload, marker=marker)
        p = Packet(self._time(self.elapsed + send_after), self.seq, self.ts, self.ssrc, pt, data, kind, nsamples)
        self.packets.append(p)
        self.seq = (self.seq + 1) & 0xFFFF
        return p

    def talk(self, ms: int, ptime_ms: int | None = None) -> list[Packet]:
        """Send ``ms`` of audio in packets of ``ptime_ms`` (default: current)."""
        if ptime_ms is not None:
            self.ptime_ms = ptime_ms
        out = []
        per = self.rate * self.ptime_ms // 1000
        total = self.rate * ms // 1000
        done = 0
        while done < total:
            n = min(per, total - done)
            payload = self._take(n)
            # a packet leaves once its last sample has been captured
            out.append(self._emit(payload, self.pt, "audio", n, marker=self._marker, send_after=n))
            self._marker = False
            self.ts = (self.ts + n) & 0xFFFFFFFF
            self.elapsed += n
            done += n
        return out

    def silence(self, ms: int) -> list[Packet]:
        """Send ``ms`` of digital silence (mu-law 0xFF), e.g. a VAD hangover
        at the end of a talkspurt or call."""
        out = []
        per = self.rate * self.ptime_ms // 1000
        total = self.rate * ms // 1000
        done = 0
        while done < total:
            n = min(per, total - done)
            out.append(self._emit(b"\xff" * n, self.pt, "audio", n, marker=self._marker, send_after=n))
            self._marker = False
            self.ts = (self.ts + n) & 0xFFFFFFFF
            self.elapsed += n
            done += n
        return out

    def pause(self, ms: int, *, cn_level: int | None = None) -> list[Packet]:
        """A DTX pause: the timestamp advances by ``ms`` without audio packets;
        with ``cn_level`` one RFC 3389 packet (level -dBov) starts the pause."""
        out = []
        if cn_level is not None:
            out.append(self._emit(bytes([cn_level & 0x7F]), self.cn_pt, "cn", 0))
        n = self.rate * ms // 1000
        self.ts = (self.ts + n) & 0xFFFFFFFF
        self.elapsed += n
        self._marker = True
        return out

    def dtmf(self, event: int, duration_ms: int, *, step_ms: int = 50, ends: int = 3,
             suppress_audio: bool = True) -> list[Packet]:
        """An RFC 4733 event: updates every ``step_ms`` then ``ends`` end packets.
        The audio timestamp advances by the event's duration (sender suppression)."""
        out = []
        start_ts = self.ts
        total = self.rate * duration_ms // 1000
        step = self.rate * step_ms // 1000
        dur = 0
        first = True
        while dur < total:
            dur = min(dur + step, total)
            payload = struct.pack("!BBH", event, 10, dur & 0xFFFF)
            data = rtp_packet(self.seq, start_ts, self.ssrc, self.dtmf_pt, payload, marker=first)
            p = Packet(self._time(self.elapsed + dur), self.seq, start_ts, self.ssrc, self.dtmf_pt, data, "dtmf", 0)
            self.packets.append(p)
            out.append(p)
            self.seq = (self.seq + 1) & 0xFFFF
            first = False
        for _ in range(ends):
            payload = struct.pack("!BBH", event, 0x80 | 10, dur & 0xFFFF)
            data = rtp_packet(self.seq, start_ts, self.ssrc, self.dtmf_pt, payload)
            p = Packet(self._time(self.elapsed + dur), self.seq, start_ts, self.ssrc, self.dtmf_pt, data, "dtmf", 0)
            self.packets.append(p)
            out.append(p)
            self.seq = (self.seq + 1) & 0xFFFF
        if suppress_audio:
            self.ts = (self.ts + total) & 0xFFFFFFFF
            self.elapsed += total
            self._marker = True
        return out

    def restart(self, *, ssrc: int | None = None, seq: int | None = None, ts: int | None = None) -> None:
        """Sender restart / SSRC change (re-INVITE, SBC failover): new numbering
        from the next packet on, same wall clock."""
        if ssrc is not None:
            self.ssrc = ssrc & 0xFFFFFFFF
        if seq is not None:
            self.seq = seq & 0xFFFF
        if ts is not None:
            self.ts = ts & 0xFFFFFFFF
        self._marker = True


# ------------------------------------------------------------------ network
def _check_range(func: str, name: str, value: float, lo: float, hi: float | None, unit: str = "") -> None:
    """ValueError/TypeError naming ``func`` and the argument unless lo <= value <= hi."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"netsim.{func}({name}=...) must be a number, got {type(value).__name__}")
    if not (value >= lo and (hi is None or value <= hi)):  # also refuses NaN
        accepted = f"between {lo:g} and {hi:g}" if hi is not None else f">= {lo:g}"
        raise ValueError(f"netsim.{func}({name}={value!r}): must be {accepted}{unit}")


def _gilbert(rng: random.Random, n: int, loss: float, mean_burst: float) -> list[bool]:
    """Gilbert-Elliott loss pattern with the given mean loss rate and mean burst
    length (loss in the bad state only)."""
    r = 1.0 / mean_burst
    p = loss * r / (1.0 - loss)
    bad = False
    out = []
    for _ in range(n):
        if bad:
            bad = rng.random() >= r
        else:
            bad = rng.random() < p
        out.append(bad)
    return out


def deliver(
    packets: Iterable[Packet],
    *,
    seed: int = 0,
    base_delay_ms: float = 30.0,
    loss: float = 0.0,
    gilbert: tuple[float, float] | None = None,
    drop: Iterable[int] = (),
    reorder: float = 0.0,
    reorder_delay_ms: tuple[float, float] = (25.0, 45.0),
    duplicate: float = 0.0,
    jitter_ms: float = 0.0,
    spike_every_ms: float = 0.0,
    spike_ms: float = 0.0,
    media_only_loss: bool = True,
) -> list[Arrival]:
    """Apply impairments and return arrivals sorted by arrival time.

    ``loss``: independent loss probability; ``gilbert=(rate, mean_burst)``:
    Gilbert-Elliott bursts; ``drop``: indices (in ``packets`` order) always lost;
    ``reorder``: fraction delayed by a uniform ``reorder_delay_ms`` extra;
    ``duplicate``: fraction sent twice; ``jitter_ms``: sigma of a Gaussian
    extra delay (clipped at 0); ``spike_every_ms``/``spike_ms``: the network
    freezes for ``spike_ms`` every ``spike_every_ms`` and then releases the
    queued packets at once. Loss applies to audio packets only unless
    ``media_only_loss`` is False.
    """
    for name, value in (("loss", loss), ("reorder", reorder), ("duplicate", duplicate)):
        _check_range("deliver", name, value, 0.0, 1.0, " (a probability)")
    for name, value in (("base_delay_ms", base_delay_ms), ("jitter_ms", jitter_ms),
                        ("spike_every_ms", spike_every_ms), ("spike_ms", spike_ms)):  # fmt: skip
        _check_range("deliver", name, value, 0.0, None, " ms")
    if gilbert is not None:
        _check_range("deliver", "gilbert[0] (loss rate)", gilbert[0], 0.0, 0.999)
        _check_range("deliver", "gilbert[1] (mean burst, packets)", gilbert[1], 1.0, None)
    rng = random.Random(seed)
    pk = list(packets)
    drop_set = set(drop)
    ge = _gilbert(rng, len(pk), *gilbert) if gilbert else None
    out: list[Arrival] = []
    base = int(base_delay_ms * 1e6)
    for i, p in enumerate(pk):
        lossy = p.kind == "audio" or not media_only_loss
        lost = i in drop_set
        if lossy and loss and rng.random() < loss:
            lost = True
        if lossy and ge is not None and ge[i]:
            lost = True
        if lost:
            continue
        t = p.send_ns + base
        if jitter_ms:
            t += int(abs(rng.gauss(0.0, jitter_ms)) * 1e6)
        if reorder and rng.random() < reorder:
            t += int(rng.uniform(*reorder_delay_ms) * 1e6)
        if spike_every_ms and spike_ms:
            period = int(spike_every_ms * 1e6)
            phase = (p.send_ns + base) % period
            if phase < spike_ms * 1e6:
                t = max(t, p.send_ns + base - phase + int(spike_ms * 1e6))
        out.append(Arrival(t, p.data, p))
        if duplicate and rng.random() < duplicate:
            out.append(Arrival(t + int(rng.uniform(0, 20) * 1e6), p.data, p, duplicate=True))
    out.sort(key=lambda a: a.arrival_ns)
    return out


# ------------------------------------------------------------------ receiver loop
@dataclass
class RunResult:
    """What the consumer got: PCM (s16), one kind code per frame, DTMF digits
    and the pull times."""

    pcm: np.ndarray
    kinds: np.ndarray
    dtmf: list = field(default_factory=list)
    pull_ns: list = field(default_factory=list)
    trace: list = field(default_factory=list)


def run(
    jb,
    arrivals: Sequence[Arrival],
    *,
    start_ns: int,
    duration_ms: int,
    frame_ms: int = 20,
    trace_every: int = 0,
) -> RunResult:
    """Interleave ``push`` (at each arrival time) and ``pull`` (every
    ``frame_ms`` from ``start_ns``) on one simulated clock. Arrivals at the
    same instant as a pull are pushed first."""
    _check_range("run", "frame_ms", frame_ms, 1, None, " ms")
    _check_range("run", "duration_ms", duration_ms, 0, None, " ms")
    frame_ns = frame_ms * 1_000_000
    nframes = duration_ms // frame_ms
    fs = jb.frame_samples
    pcm = np.empty(nframes * fs, dtype=np.int16)
    kinds = np.empty(nframes, dtype=np.int8)
    out = memoryview(pcm).cast("B")
    dtmf = []
    trace = []
    i = 0
    n = len(arrivals)
    pulls = []
    for f in range(nframes):
        t = start_ns + f * frame_ns
        while i < n and arrivals[i].arrival_ns <= t:
            jb.push(arrivals[i].data, arrivals[i].arrival_ns)
            i += 1
        kinds[f] = jb.pull_into(out[f * fs * 2:(f + 1) * fs * 2], t)
        pulls.append(t)
        d = jb.pop_dtmf()
        if d:
            dtmf.extend(d)
        if trace_every and f % trace_every == 0:
            trace.append((t, jb.stats()))
    return RunResult(pcm, kinds, dtmf, pulls, trace)


# ------------------------------------------------------------------ hostile input
def hostile_datagrams(seed: int, n: int, *, ssrc: int = 0x1234ABCD) -> list[bytes]:
    """``n`` deterministic hostile or malformed datagrams: short, wrong version,
    CSRC/extension/padding overruns, STUN/DTLS/RTCP bytes, oversize, unknown
    payload types, random SSRCs and sequence numbers, random bytes."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        c = rng.randrange(12)
        if c == 0:
            out.append(bytes(rng.randrange(256) for _ in range(rng.randrange(12))))
        elif c == 1:
            b = bytearray(rtp_packet(rng.randrange(65536), rng.randrange(2**32), ssrc, 0, bytes(160)))
            b[0] = (b[0] & 0x3F) | (rng.choice([0, 1, 3]) << 6)
            out.append(bytes(b))
        elif c == 2:
            b = bytearray(rtp_packet(rng.randrange(65536), 0, ssrc, 0, bytes(rng.randrange(40))))
            b[0] = 0x80 | 15
            out.append(bytes(b))
        elif c == 3:
            b = bytearray(rtp_packet(1, 0, ssrc, 0, bytes(8), extension=bytes(4)))
            b[14:16] = struct.pack("!H", rng.randrange(1, 65536))
            out.append(bytes(b))
        elif c == 4:
            b = bytearray(rtp_packet(1, 0, ssrc, 0, bytes(rng.randrange(4)), padding=1))
            b[-1] = rng.choice([0, 200, 255])
            out.append(bytes(b))
        elif c == 5:
            out.append(bytes([rng.choice([0, 1, 20, 23, 63, 64])]) + bytes(rng.randrange(256) for _ in range(30)))
        elif c == 6:
            out.append(bytes([0x80, rng.randrange(192, 224)]) + bytes(30))
        elif c == 7:
            out.append(rtp_packet(rng.randrange(65536), 0, ssrc, 0, bytes(rng.randrange(1489, 3000))))
        elif c == 8:
            out.append(rtp_packet(rng.randrange(65536), 0, ssrc, rng.choice([18, 9, 96, 127]), bytes(160)))
        elif c == 9:
            out.append(rtp_packet(rng.randrange(65536), rng.randrange(2**32), rng.randrange(2**32), 0, bytes(160)))
        elif c == 10:
            out.append(rtp_packet(rng.randrange(65536), rng.randrange(2**32), ssrc, 101, bytes(rng.randrange(4))))
        else:
            out.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))))
    return out

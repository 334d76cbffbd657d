# This file is long because it keeps the offline network model and its live twin (Link,
# UdpRelay) side by side, sharing their argument checks (see the docstring).
"""Deterministic RTP network simulator shared by tests, benchmarks and the demo.

A :class:`Sender` turns audio into RTP datagrams with the send time of each
packet (ptime 10-60 ms and mid-call changes, talkspurt pauses with or without
RFC 3389 comfort noise, RFC 4733 events, sender restarts and SSRC changes,
sequence and timestamp wrap, sender clock drift). :func:`deliver` applies
network impairments to the packets (random or Gilbert-Elliott loss, explicit
bursts, reordering, duplicates, Gaussian jitter, periodic delay spikes) and
returns them sorted by arrival time. :func:`run` plays the arrivals into a
jitter buffer and pulls one frame every ``frame_ms`` of the consumer clock.

Live traffic: :class:`Link` is the same impairment model decided packet by
packet (loss with optional bursts, jitter, reordering, delay), and
:class:`UdpRelay` applies two links (one per direction) to real UDP traffic
between two endpoints, in its own thread (``python -m voicecore demo`` runs
its phone call through one).

Everything is driven by ``random.Random(seed)``: the same arguments give the
same datagrams and arrival times on every machine (for the relay: the same
decisions for the same packet order). Times are integer nanoseconds, audio is
s16le mono (numpy int16), G.711 payloads are bytes.

Long because it keeps the offline model (Sender, deliver, run) and its live
twin (Link, UdpRelay) side by side, sharing their argument checks.
"""

from __future__ import annotations

import math
import numbers
import random
import struct
import threading
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
    "Link",
    "UdpRelay",
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


# ------------------------------------------------------------------ live relay
class Link:
    """One direction of a live network: for each packet, lost (None) or its
    delay in seconds.

    ``loss``: probability a packet is lost; ``burst``: mean length of a loss
    burst in packets (1: independent losses; more: Gilbert-Elliott bursts with
    the same mean loss); ``jitter_ms``: sigma of a Gaussian extra delay
    (its absolute value, as :func:`deliver` does); ``reorder``: fraction of
    packets held back a further ``reorder_delay_ms`` (uniform), so they
    arrive after later ones; ``delay_ms``: the one-way base delay.
    """

    def __init__(self, *, seed: int = 0, loss: float = 0.0, burst: float = 1.0, jitter_ms: float = 0.0,
                 reorder: float = 0.0, reorder_delay_ms: tuple[float, float] = (20.0, 40.0),
                 delay_ms: float = 30.0) -> None:  # fmt: skip
        _check_range("Link", "loss", loss, 0.0, 0.5, " (a probability; above, bursts cannot keep the mean)")
        _check_range("Link", "burst", burst, 1.0, 100.0, " packets")
        _check_range("Link", "jitter_ms", jitter_ms, 0.0, 1000.0, " ms")
        _check_range("Link", "reorder", reorder, 0.0, 1.0, " (a probability)")
        _check_range("Link", "delay_ms", delay_ms, 0.0, 5000.0, " ms")
        for x in reorder_delay_ms:
            _check_range("Link", "reorder_delay_ms", x, 0.0, 5000.0, " ms")
        self._rng = random.Random(seed)
        self.loss, self.burst, self.jitter_ms = loss, burst, jitter_ms
        self.reorder, self.reorder_delay_ms, self.delay_ms = reorder, reorder_delay_ms, delay_ms
        self._bad = False
        self.packets = 0
        self.lost = 0
        self.reordered = 0

    def decide(self) -> float | None:
        """The next packet's fate: None (lost) or its delay in seconds."""
        rng = self._rng
        self.packets += 1
        if self.loss > 0:
            if self.burst <= 1.0:
                lost = rng.random() < self.loss
            else:  # Gilbert-Elliott: lose in the bad state; mean burst `burst`, mean loss `loss`
                r = 1.0 / self.burst
                p = self.loss * r / (1.0 - self.loss)
                self._bad = (rng.random() >= r) if self._bad else (rng.random() < p)
                lost = self._bad
            if lost:
                self.lost += 1
                return None
        ms = self.delay_ms
        if self.jitter_ms:
            ms += abs(rng.gauss(0.0, self.jitter_ms))
        if self.reorder and rng.random() < self.reorder:
            ms += rng.uniform(*self.reorder_delay_ms)
            self.reordered += 1
        return ms / 1000.0


class UdpRelay:
    """A UDP relay between two endpoints that impairs their RTP on the way.

    Endpoint A (at ``peer_a``) sends to :attr:`addr_a` and gets what B sent
    from there; endpoint B likewise with :attr:`addr_b` (so each endpoint's
    strict source check sees one peer address). The relay's own addresses
    exist from construction; set ``peer_a`` / ``peer_b`` before :meth:`start`.
    RTP packets go through ``a_to_b`` / ``b_to_a`` (:class:`Link`); RTCP
    (payload types 192-223) gets only the base delay. Runs in its own thread, with its own clock, so a busy event
    loop does not change the network. :attr:`drops` lists ``(direction,
    monotonic_ns, rtp_seq)`` of every packet it dropped.

    Use as a context manager, or call :meth:`start` and :meth:`close`.
    """

    def __init__(self, a_to_b: Link, b_to_a: Link, *, peer_a: tuple[str, int] | None = None,
                 peer_b: tuple[str, int] | None = None, host: str = "127.0.0.1") -> None:  # fmt: skip
        import socket

        self.peer_a, self.peer_b = peer_a, peer_b
        self.links = {"a->b": a_to_b, "b->a": b_to_a}
        self._socks = []
        for _ in range(2):
            sk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sk.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            sk.bind((host, 0))
            sk.setblocking(False)
            self._socks.append(sk)
        self.addr_a = self._socks[0].getsockname()[:2]
        self.addr_b = self._socks[1].getsockname()[:2]
        self.drops: list[tuple[str, int, int]] = []
        self.forwarded = {"a->b": 0, "b->a": 0}
        self.foreign = 0
        self._queue: list[tuple[float, int, int, bytes]] = []
        self._n = 0
        self._stop = False
        self._thread: threading.Thread | None = None

    def start(self) -> UdpRelay:
        if self.peer_a is None or self.peer_b is None:
            raise ValueError("netsim.UdpRelay.start: set peer_a and peer_b (the endpoints' addresses) first")
        self.peer_a = (str(self.peer_a[0]), int(self.peer_a[1]))
        self.peer_b = (str(self.peer_b[0]), int(self.peer_b[1]))
        self._thread = threading.Thread(target=self._run, name="voicecore-netsim-relay", daemon=True)
        self._thread.start()
        return self

    def __enter__(self) -> UdpRelay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop = True
        if self._thread is not None:
            self._thread.join(timeout=2)
        for sk in self._socks:
            sk.close()

    def _run(self) -> None:
        import heapq
        import selectors
        import time

        sel = selectors.DefaultSelector()
        for i, sk in enumerate(self._socks):
            sel.register(sk, selectors.EVENT_READ, i)
        q = self._queue
        while not self._stop:
            now = time.monotonic()
            while q and q[0][0] <= now:
                _, _, out, data = heapq.heappop(q)
                dest = self.peer_b if out == 1 else self.peer_a
                try:
                    self._socks[out].sendto(data, dest)  # type: ignore[arg-type]  # set by start()
                except OSError:
                    pass
            timeout = 0.05 if not q else max(0.0, min(0.05, q[0][0] - time.monotonic()))
            for key, _ in sel.select(timeout):
                i = key.data
                while True:
                    try:
                        data, src = self._socks[i].recvfrom(4096)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        return
                    if tuple(src[:2]) != (self.peer_a if i == 0 else self.peer_b):
                        self.foreign += 1
                        continue
                    direction = "a->b" if i == 0 else "b->a"
                    link = self.links[direction]
                    t = time.monotonic()
                    if len(data) >= 2 and 192 <= data[1] <= 223:  # RTCP: delay only
                        delay: float | None = link.delay_ms / 1000.0
                    else:
                        delay = link.decide()
                    if delay is None:
                        seq = int.from_bytes(data[2:4], "big") if len(data) >= 4 else -1
                        self.drops.append((direction, time.monotonic_ns(), seq))
                        continue
                    self.forwarded[direction] += 1
                    self._n += 1
                    heapq.heappush(q, (t + delay, self._n, 1 - i, data))
        sel.close()

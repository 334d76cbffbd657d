# This file is long because the generator, the three receivers and the orchestration share one
# protocol, one address plan and one accounting (see the docstring).
"""Load generator and receivers for the capacity measurement.

One measurement runs two processes on loopback: a *receiver* with N calls on
the stack under test (voicecore's per-frame path, its batch API, or roomkit's
RTPVoiceBackend on aiortp), pinned to one core, and a *generator* sending
50 packets per second per call with voicecore's engine (so it is not the
bottleneck), pinned to another core. With ``both=True`` the receiver also
sends 50 packets per second per call back.

Addresses: receiver call i on 127.0.0.1:(base + 2i), generator call i on
127.0.0.2:(base + 2i), so both know each other's address without talking
(and strict source checking stays on).

Protocol (lines on pipes): the receiver opens its calls and says ``ready``;
the generator opens its calls, starts sending and prints its schedule
anchors; the orchestrator hands those to the receiver with ``go``; the
receiver warms up, measures, prints its figures as one JSON line and exits;
then the orchestrator tells the generator ``stop`` and reads its own figures
(send lateness, underruns, skipped ticks: a generator that fell behind makes
the point invalid, and the table says so).

With ``srtp`` (a suite name, for example ``AES_CM_128_HMAC_SHA1_80``) every
call is SDES-SRTP both ways, RTCP off as always here: the generator protects
and the receiver unprotects (and, both ways, protects) in the engine thread.
The keys are derived from the call number (:func:`bench_keys`), so the two
processes agree without talking; they are benchmark keys, not secrets.

The receiver measures, over a window after a warm-up: CPU time of the whole
process (all threads) per packet handled, the share of the packets sent
that reached the application as audio (see ``_delivery``), kernel socket
drops, and the lateness of
delivery: for the frames of sampled calls (whose packets carry a stamp, see
:mod:`voicecore.bench.stamp`), the time the application got the frame minus
the scheduled send time of its audio, less the playout delay the stack
declares (voicecore: the jitter buffer's current delay plus its 3.75 ms
concealment look-back; roomkit/aiortp: its 4-packet prefetch, 80 ms).

Long because the generator, the three receivers and the orchestration share
one protocol, one address plan and one accounting; split, each would need
the others to be read.

Run one role by hand (see ``measure`` for the protocol)::

    python -m voicecore.bench.load recv --stack voicecore --calls 500 --seconds 5
    python -m voicecore.bench.load gen --calls 500
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np

from voicecore.bench import stamp

__all__ = ["STACKS", "bench_keys", "measure", "run_generator", "run_receiver"]

#: Stacks a receiver can run.
STACKS = ("voicecore", "voicecore-batch", "roomkit")
RX_HOST, GEN_HOST = "127.0.0.1", "127.0.0.2"
BASE_PORT = 10000
FRAME = stamp.FRAME              # 20 ms at 8 kHz
PERIOD_NS = 20_000_000
ROOMKIT_DELAY_MS = 80.0          # aiortp's jitter_prefetch (4) x 20 ms, as roomkit creates its sessions
SAMPLED_CALLS = 64               # calls whose packets carry stamps (spread over all calls)


def sample_stride(calls: int) -> int:
    """Every ``stride``-th call is sampled for lateness (about 64 calls, and
    at most a quarter of them: the receiver keeps every frame of a sampled
    call while it measures, and with every call sampled (100 calls) that
    bookkeeping, its allocations and Python's garbage collector over the
    growing record, became a large part of the CPU time the benchmark
    charges to the receive path, on both stacks)."""
    return max(4, calls // SAMPLED_CALLS)


def bench_keys(suite: str, call: int) -> tuple[bytes, bytes]:
    """(receiver's key, generator's key) of ``call``: master key + salt of
    ``suite``, derived from the call number (benchmark keys, not secret)."""
    import hashlib

    from voicecore.media import srtp

    n = srtp.SUITES[suite]
    return tuple(hashlib.sha256(f"voicecore-bench {who} {call}".encode()).digest()[:n]  # type: ignore[return-value]
                 for who in ("recv", "gen"))


def _srtp(suite: str | None, call: int, gen: bool) -> Any:
    """The SRTPSession of one side of ``call`` (None without SRTP)."""
    if suite is None:
        return None
    from voicecore.media import srtp

    srtp.require("the bench's --srtp")
    rx_key, gen_key = bench_keys(suite, call)
    return srtp.SRTPSession(suite, gen_key, rx_key) if gen else srtp.SRTPSession(suite, rx_key, gen_key)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _udp_drops(ports: set[int], host: str = RX_HOST) -> int:
    """Kernel drops (receive buffer full) summed over sockets bound to ``ports`` on ``host``."""
    want = "".join(f"{int(x):02X}" for x in reversed(host.split(".")))
    total = 0
    try:
        with open("/proc/net/udp") as f:
            next(f)
            for line in f:
                parts = line.split()
                addr, port = parts[1].split(":")
                if int(port, 16) in ports and addr == want:
                    total += int(parts[-1])
    except OSError:
        return -1
    return total


def _pin(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def _raise_nofile(n: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, n))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def free_base(calls: int, *, tries: int = 40) -> int:
    """An even base port such that base .. base + 2 * calls + 1 are free on
    both loopback addresses (the machine may be shared: another bench's ports
    are skipped). Each port is bound and released in turn, so nothing stays open."""
    import random
    import socket

    need = 2 * calls + 2
    for _ in range(tries):
        base = random.randrange(12000, 32000 - need, 2) if need < 19000 else BASE_PORT
        ok = True
        for host in (RX_HOST, GEN_HOST):
            for port in range(base, base + need):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    sock.bind((host, port))
                except OSError:
                    ok = False
                finally:
                    sock.close()
                if not ok:
                    break
            if not ok:
                break
        if ok:
            return base
    raise OSError(f"no {need} free consecutive UDP ports on {RX_HOST} and {GEN_HOST}")


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def _read_line() -> str:
    """One line from stdin without blocking the event loop."""
    return (await asyncio.to_thread(sys.stdin.readline)).strip()


# ------------------------------------------------------------------ generator
async def run_generator(calls: int, *, both: bool = False, base: int = BASE_PORT,
                        stride: int | None = None, max_seconds: float = 600.0,
                        srtp: str | None = None) -> dict[str, Any]:
    """Send 50 packets per second per call to the receiver's ports until
    ``stop`` arrives on stdin (or ``max_seconds``). Every ``stride``-th call
    carries stamps; prints ``anchors {call: [packet, scheduled_ns]}`` once
    each sampled call's first packet has left."""
    from voicecore.engine import AudioEngine
    from voicecore.engine.session import open_udp_pair

    _raise_nofile(calls + 256)
    stride = stride or sample_stride(calls)
    eng = AudioEngine(max_sessions=calls + 8, played_queue=4096)
    slot_ns = PERIOD_NS // eng.native.subslots
    t_before = time.monotonic_ns()
    eng.start()
    t0 = t_before + slot_ns          # the engine's tick 0 (start() arms it one sub-slot ahead)
    sessions = []
    for i in range(calls):
        a, _, _ = await open_udp_pair((GEN_HOST, base + 2 * i), rtcp="off")
        es = await eng.open_session(rtp_socket=a, remote_addr=(RX_HOST, base + 2 * i), rtcp_interval=0,
                                    aec=False, out_buffer=16384, srtp=_srtp(srtp, i, gen=True))
        es.set_flags(deliver=False)
        sessions.append(es)
    anchors: dict[int, tuple[int, int]] = {}
    done = asyncio.get_running_loop().create_future()
    sampled = list(range(0, calls, stride))

    def on_played(i: int, es: Any) -> Any:
        def played(pcm: bytes, send_ns: int, last: bool) -> None:
            if i in anchors:
                return
            ok, call, sample, offset = stamp.decode(np.frombuffer(pcm, dtype=np.int16)[None, :])
            if ok[0] and offset[0] == 0 and call[0] == i:
                # the tick's deadline: the latest point of the engine's clock grid before send_ns
                anchors[i] = (int(sample[0]) // FRAME, t0 + (send_ns - t0) // slot_ns * slot_ns)
                es.on_played = None
                es.set_flags(played=False)
                if len(anchors) == len(sampled) and not done.done():
                    done.set_result(None)
        return played

    for i in sampled:
        sessions[i].on_played = on_played(i, sessions[i])
        sessions[i].set_flags(played=True)
    plain = stamp.tone(1.0).tobytes()
    base_audio = np.tile(stamp.tone(1.0), 2)
    written = [0] * calls            # samples queued per call (stamped calls: sets the packet number)
    native = eng.native

    def feed() -> None:
        for i, es in enumerate(sessions):
            if native.out_pending(es.index) >= 8000:
                continue
            if i % stride:
                native.write(es.index, plain)
                continue
            pos = written[i]
            k, skip = divmod(pos, FRAME)
            pcm = stamp.stamped_packets(i, k, 51, base_audio)[skip : skip + 8000]
            written[i] = pos + native.write(es.index, pcm)

    feed()
    try:
        await asyncio.wait_for(done, 10.0 + calls * 0.002)
    except asyncio.TimeoutError:
        pass
    _say("anchors " + json.dumps({str(i): v for i, v in anchors.items()}))
    stop = asyncio.ensure_future(_read_line())
    eng.native.stats(reset=True)
    cpu0, wall0 = _cpu(), time.monotonic()
    t_end = time.monotonic() + max_seconds
    ticks0 = eng.native.stats()["ticks_skipped"]
    while not stop.done() and time.monotonic() < t_end:
        feed()
        await asyncio.wait({stop}, timeout=0.25)
    cpu_pct = 100.0 * (_cpu() - cpu0) / max(1e-9, time.monotonic() - wall0)
    st = eng.stats()
    underruns = sum(es.stats()["pacer_underruns"] for es in sessions)
    eng.close()
    for es in sessions:
        es._close_sockets()
    return {"role": "gen", "calls": calls, "send_lateness_ms": st["send_lateness_ms"],
            "tick_lateness_ms": st["tick_lateness_ms"], "ticks_skipped": st["ticks_skipped"] - ticks0,
            "pacer_underruns": underruns, "anchors": len(anchors), "sampled": len(sampled), "cpu_pct": cpu_pct}


# ------------------------------------------------------------------ receivers
class _Recorder:
    """Counts frames; records (delivery time, a copy of the PCM, frame kind)
    of sampled calls while on. The record is three lists of objects Python's
    garbage collector does not track (ints, bytearrays or numpy arrays,
    strs or numpy arrays), and it keeps no reference to a delivered frame: so
    recording makes the collector run no more often than the stack under
    test does, and a stack that reuses its frame objects still can. (A list
    of (time, session, frame.data, kind) tuples made the collector run
    several times a second at 100 calls, about 5 % of the receiver's CPU
    time, charged to the stack under test.)"""

    def __init__(self) -> None:
        self.frames = 0
        self.on = False
        self.t_ns: list[int] = []
        self.pcm: list[Any] = []        # bytearray (per frame) or int16 array (batch rows)
        self.kind: list[Any] = []       # str (per frame) or int array (batch)

    def count(self, session: Any, frame: Any) -> None:
        self.frames += 1

    def sampled(self, session: Any, frame: Any) -> None:
        self.frames += 1
        if self.on:
            self.t_ns.append(time.monotonic_ns())
            self.pcm.append(bytearray(frame.data))
            self.kind.append(frame.metadata.get("frame_kind", "audio"))

    def batch(self, batch: Any) -> None:
        self.frames += len(batch.sessions)


async def _voicecore_receiver(calls: int, batch: bool, base: int, stride: int, rec: _Recorder,
                              srtp: str | None = None) -> Any:
    from voicecore.backends.rtp import RTPVoiceBackend
    from voicecore.engine import AudioEngine

    eng = AudioEngine(max_sessions=calls + 8, frame_queue=max(8192, 4 * calls))
    eng.start()
    kw: dict[str, Any] = {"local_addr": (RX_HOST, 0), "engine": eng, "rtcp_interval": 0, "inactivity_timeout": 0}
    main = RTPVoiceBackend(**kw)
    probe = main if batch else RTPVoiceBackend(**kw)   # per-frame: sampled calls on their own backend
    if batch:
        main.on_audio_batch(rec.batch)
    else:
        main.on_audio_received(rec.count)
        probe.on_audio_received(rec.sampled)
    pairs = []
    call_of: dict[Any, int] = {}
    for i in range(calls):
        b = probe if i % stride == 0 else main
        b._local_addr = (RX_HOST, base + 2 * i)
        meta: dict[str, Any] = {"remote_addr": (GEN_HOST, base + 2 * i)}
        if srtp is not None:
            meta["srtp"] = _srtp(srtp, i, gen=False)
        s = await b.connect("bench", f"c{i}", "voice", metadata=meta)
        pairs.append((b, s))
        call_of[b._calls[s.id].es.index if batch else s.id] = i
    if batch:
        lut = np.zeros(eng.native.max_sessions, dtype=bool)
        for i in range(0, calls, stride):
            lut[main._calls[pairs[i][1].id].es.index] = True

        def listener(fs: int, idx: Any, frames: Any, kinds: Any, frame_nos: Any, lengths: Any) -> None:
            if rec.on:
                m = lut[idx]
                if m.any():
                    rec.t_ns.append(time.monotonic_ns())
                    rec.pcm.append(frames[m].copy())
                    rec.kind.append(kinds[m].copy())

        eng.add_batch_listener(listener)
    return {"engine": eng, "backends": {main, probe}, "pairs": pairs, "call_of": call_of}


async def _roomkit_receiver(calls: int, base: int, stride: int, rec: _Recorder) -> Any:
    from roomkit.voice.backends.rtp import RTPVoiceBackend

    pairs = []
    call_of: dict[Any, int] = {}
    for i in range(calls):
        b = RTPVoiceBackend(local_addr=(RX_HOST, base + 2 * i), remote_addr=(GEN_HOST, base + 2 * i),
                            rtcp_interval=5.0)
        b.on_audio_received(rec.sampled if i % stride == 0 else rec.count)
        s = await b.connect("bench", f"c{i}", "voice")
        pairs.append((b, s))
        call_of[s.id] = i
    return {"engine": None, "backends": {b for b, _ in pairs}, "pairs": pairs, "call_of": call_of}


def _delivery(stack: str, owner: Any, rec: _Recorder) -> tuple[int, int]:
    """(packets delivered to the application as audio, packets expected) so
    far, both counted per call at the same instant, so a window's difference
    has no rounding to whole frames. Expected is RFC 3550's (highest sequence
    number received minus the first); delivered is what was received, less
    what came too late or was discarded and what the application never got
    (voicecore: frames dropped because the loop did not keep up; aiortp:
    frames it made up to conceal a loss)."""
    delivered = expected = 0
    if stack == "roomkit":
        concealed = 0
        for b, s in owner["pairs"]:
            rs = b._rtp_sessions.get(s.id)
            if rs is not None:
                concealed += rs._concealed_frames
                if rs._stream_stats is not None:
                    expected += rs._stream_stats.packets_expected
        return rec.frames - concealed, expected
    for b, s in owner["pairs"]:
        st = b._calls[s.id].es.stats()
        delivered += st["received"] - st["late"] - st["discarded"] - st["consumer_overflow"]
        expected += st["received"] + st["lost"]
    return delivered, expected


def _packets(stack: str, owner: Any, sent: list[int]) -> tuple[int, int]:
    """(RTP packets received, sent) so far."""
    if stack == "roomkit":
        rx = 0
        for b, s in owner["pairs"]:
            rs = b._rtp_sessions.get(s.id)
            if rs is not None:
                rx += rs.stats.get("packets_received", 0)
        return rx, sent[0]
    rx = tx = 0
    for b, s in owner["pairs"]:
        st = b._calls[s.id].es.stats()
        rx += st["received"]
        tx += st["packets_sent"]
    return rx, tx


def _snapshot(stack: str, owner: Any, rec: _Recorder, sent: list[int]) -> dict[str, float]:
    """Counters at one instant: the time is the middle of the (slow, per call) read."""
    t_a = time.monotonic()
    delivered, expected = _delivery(stack, owner, rec)
    rx, tx = _packets(stack, owner, sent)
    return {"t": (t_a + time.monotonic()) / 2, "delivered": delivered, "expected": expected, "rx": rx, "tx": tx}


def _lateness(stack: str, owner: Any, rec: _Recorder, anchors: dict[int, tuple[int, int]]) -> dict[str, Any]:
    """Lateness (ms) of the recorded frames of sampled calls: delivery time
    minus the scheduled send time of the frame's audio, less the declared
    playout delay."""
    if not rec.t_ns:
        return {"count": 0, "recorded": 0, "anchors": len(anchors)}
    declared_ns: dict[int, float] = {}
    if stack == "roomkit":
        for i in anchors:
            declared_ns[i] = ROOMKIT_DELAY_MS * 1e6
    else:
        for b, s in owner["pairs"]:
            call = b._calls[s.id]
            i = owner["call_of"][call.es.index if stack == "voicecore-batch" else s.id]
            if i in anchors:
                st = call.es.stats()
                # the jitter buffer's delay is to the start of the frame it cuts;
                # the whole frame is handed over at once, one period later
                # than its first sample's deadline (plus the output filter)
                declared_ns[i] = ((st["current_delay_ms"] + FRAME / 8.0) * 1e6
                                  + call.es.jitter.output_delay_samples * 125_000)
    times, frames = [], []
    if stack == "voicecore-batch":
        for t, fr, kinds in zip(rec.t_ns, rec.pcm, rec.kind):
            keep = kinds == 0
            times.append(np.full(int(keep.sum()), t, dtype=np.int64))
            frames.append(fr[keep, :FRAME])
    else:
        for t, pcm, kind in zip(rec.t_ns, rec.pcm, rec.kind):
            if kind == "audio" and len(pcm) >= 2 * FRAME:
                times.append(np.array([t], dtype=np.int64))
                frames.append(np.frombuffer(pcm, dtype=np.int16)[None, :FRAME])
    if not frames:
        return {"count": 0}
    t_del = np.concatenate(times)
    ok, call, sample, offset = stamp.decode(np.concatenate(frames))
    diag = {"recorded": int(t_del.size), "stamped": int(ok.sum()), "anchors": len(anchors)}
    late = []
    for i, (k0, sched0) in anchors.items():
        m = ok & (call == i)
        if i not in declared_ns or not m.any():
            continue
        sched = sched0 + (sample[m] - k0 * FRAME - offset[m]) * 125_000
        late.append((t_del[m] - sched - declared_ns[i]) / 1e6)
    if not late:
        return {"count": 0, **diag}
    x = np.concatenate(late)
    return {**diag, "count": int(x.size), "p50": float(np.percentile(x, 50)), "p99": float(np.percentile(x, 99)),
            "max": float(x.max()), "min": float(x.min())}


async def run_receiver(stack: str, calls: int, seconds: float, *, warmup: float = 3.0, both: bool = False,
                       base: int = BASE_PORT, stride: int | None = None, srtp: str | None = None) -> dict[str, Any]:
    """Open ``calls`` calls on ``stack``, say ``ready``, wait for ``go
    ANCHORS``, then measure for ``seconds`` after ``warmup`` seconds."""
    if stack not in STACKS:
        raise ValueError(f"run_receiver: stack must be one of {STACKS}, got {stack!r}")
    if srtp is not None and stack == "roomkit":
        raise ValueError("run_receiver: srtp is measured on voicecore's stacks only (roomkit's RTP backend has none)")
    _raise_nofile(3 * calls + 256)
    stride = stride or sample_stride(calls)
    rec = _Recorder()
    if stack == "roomkit":
        owner = await _roomkit_receiver(calls, base, stride, rec)
    else:
        owner = await _voicecore_receiver(calls, stack == "voicecore-batch", base, stride, rec, srtp)
    _say("ready")
    line = await _read_line()
    anchors = {int(k): (int(v[0]), int(v[1])) for k, v in json.loads(line.split(" ", 1)[1]).items()} if line.startswith("go ") else {}
    sent = [0]
    sender_task = asyncio.create_task(_send_back(stack, owner, sent)) if both else None
    await asyncio.sleep(warmup)
    ports = {base + 2 * i for i in range(calls)}
    d0 = _udp_drops(ports)
    a = _snapshot(stack, owner, rec, sent)
    c0 = _cpu()
    rec.on = True
    await asyncio.sleep(seconds)
    rec.on = False
    c1 = _cpu()
    z = _snapshot(stack, owner, rec, sent)
    d1 = _udp_drops(ports)
    if sender_task is not None:
        sender_task.cancel()
    wall = z["t"] - a["t"]
    rx, tx = z["rx"] - a["rx"], z["tx"] - a["tx"]
    expected = z["expected"] - a["expected"]
    result: dict[str, Any] = {
        "role": "recv", "stack": stack, "calls": calls, "both": both, "seconds": wall,
        "cpu_s": c1 - c0, "cpu_pct": 100.0 * (c1 - c0) / wall,
        "rx_packets": rx, "tx_packets": tx if both else 0,
        "delivered_packets": z["delivered"] - a["delivered"], "expected_packets": expected,
        "sent_rate_pct": 100.0 * expected / (50.0 * calls * wall),
        "delivered_pct": 100.0 * (z["delivered"] - a["delivered"]) / max(1, expected),
        "socket_drops": d1 - d0 if d0 >= 0 else None,
        "lateness_ms": _lateness(stack, owner, rec, anchors), "sampled_calls": len(anchors),
    }
    handled = rx + (tx if both else 0)
    result["cpu_us_per_packet"] = 1e6 * (c1 - c0) / max(1, handled)
    result["srtp"] = srtp
    if srtp is not None:
        # packets that failed to unprotect (none on loopback with the right keys)
        result["srtp_failures"] = sum(
            sum(v for k, v in b._calls[s.id].es.stats().items() if k.startswith("srtp_"))
            for b, s in owner["pairs"])  # fmt: skip
    if owner["engine"] is not None:
        st = owner["engine"].stats()
        result["tick_lateness_ms"] = st["tick_lateness_ms"]
        result["send_lateness_ms"] = st["send_lateness_ms"]
        result["frame_overflow"] = st["frame_overflow"]
    await _close(stack, owner)
    return result


async def _send_back(stack: str, owner: Any, sent: list[int]) -> None:
    """Both ways: 50 pps per call back to the generator. roomkit does not pace,
    so it gets one 20 ms chunk per call every 20 ms (send_audio_sync, as an
    audio bridge feeds it); voicecore gets 1 s per call every second and
    paces it itself."""
    from voicecore.base import AudioChunk

    pairs = owner["pairs"]
    if stack == "roomkit":
        from roomkit.voice.base import AudioChunk as RKChunk

        chunk = RKChunk(data=stamp.tone(0.02).tobytes(), sample_rate=8000)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        k = 0
        while True:
            for b, s in pairs:
                b.send_audio_sync(s, chunk)
            sent[0] += len(pairs)
            k += 1
            await asyncio.sleep(max(0.0, t0 + 0.02 * k - loop.time()))
    one_s = AudioChunk(data=stamp.tone(1.0).tobytes(), sample_rate=8000)
    while True:
        for b, s in pairs:
            es = b._calls[s.id].es
            if es._native.out_pending(es.index) < 8000:
                b.send_audio_sync(s, one_s)
        await asyncio.sleep(0.5)


async def _close(stack: str, owner: Any) -> None:
    if stack == "roomkit":
        for b in owner["backends"]:
            await b.close()
        return
    owner["engine"].close()


# ------------------------------------------------------------------ orchestration
def _spawn(args: list[str], python: str | None) -> subprocess.Popen[str]:
    return subprocess.Popen([python or sys.executable, "-m", "voicecore.bench.load", *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, bufsize=1)  # fmt: skip


def _expect(proc: subprocess.Popen[str], prefix: str, what: str) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith(prefix):
        proc.kill()
        _, err = proc.communicate()
        raise RuntimeError(f"{what} failed before '{prefix.strip()}' (exit {proc.returncode}):\n{err[-3000:]}")
    return line


class Pair:
    """One receiver process and its generator process, started together."""

    def __init__(self, stack: str, calls: int, *, seconds: float, warmup: float, both: bool,
                 rx_cpu: int | None, gen_cpu: int | None, base: int = BASE_PORT,
                 python: str | None = None, srtp: str | None = None) -> None:
        common = (["--calls", str(calls), "--base", str(base)] + (["--both"] if both else [])
                  + (["--srtp", srtp] if srtp else []))
        self.rx = _spawn(["recv", "--stack", stack, "--seconds", str(seconds), "--warmup", str(warmup), *common]
                         + (["--cpu", str(rx_cpu)] if rx_cpu is not None else []), python)  # fmt: skip
        self.gen_args = ["gen", *common] + (["--cpu", str(gen_cpu)] if gen_cpu is not None else [])
        self.python = python
        self.gen: subprocess.Popen[str] | None = None

    def start_generator(self) -> None:
        _expect(self.rx, "ready", "receiver")
        self.gen = _spawn(self.gen_args, self.python)

    def go(self) -> None:
        assert self.gen is not None and self.rx.stdin is not None
        anchors = _expect(self.gen, "anchors ", "generator").split(" ", 1)[1]
        self.rx.stdin.write("go " + anchors)
        self.rx.stdin.flush()

    def finish(self, timeout: float) -> dict[str, Any]:
        assert self.gen is not None and self.gen.stdin is not None
        try:
            out, err = self.rx.communicate(timeout=timeout)
        finally:
            try:
                self.gen.stdin.write("stop\n")
                self.gen.stdin.flush()
            except OSError:
                pass
        try:
            gout, gerr = self.gen.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.gen.kill()
            gout, gerr = self.gen.communicate()
        if self.rx.returncode != 0:
            raise RuntimeError(f"receiver failed ({self.rx.returncode}):\n{err[-3000:]}")
        res = json.loads(out.strip().splitlines()[-1])
        try:
            res["generator"] = json.loads(gout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            res["generator"] = {"error": gerr[-500:]}
        return res

    def kill(self) -> None:
        for p in (self.rx, self.gen):
            if p is not None and p.poll() is None:
                p.kill()
                p.communicate()


def measure_many(pairs: list[Pair], *, timeout: float) -> list[dict[str, Any]]:
    """Run pairs at the same time (their receivers start measuring together)."""
    try:
        for p in pairs:
            p.start_generator()
        for p in pairs:
            p.go()
        return [p.finish(timeout) for p in pairs]
    finally:
        for p in pairs:
            p.kill()


def measure(stack: str, calls: int, *, seconds: float = 5.0, warmup: float = 3.0, both: bool = False,
            rx_cpu: int | None = 0, gen_cpu: int | None = 1, python: str | None = None,
            base: int | None = None, srtp: str | None = None) -> dict[str, Any]:
    """Run a generator and a receiver process (pinned to ``gen_cpu`` and
    ``rx_cpu``) and return the receiver's figures (with the generator's under
    ``"generator"``). ``base``: first port (default: a free range). ``srtp``:
    a suite name to run every call with SDES-SRTP (voicecore's stacks only)."""
    if srtp is not None:
        from voicecore.media import srtp as _s

        if stack == "roomkit":
            raise ValueError("measure: srtp is measured on voicecore's stacks only (roomkit's RTP backend has none)")
        if srtp not in _s.SUITES:
            raise ValueError(f"measure: unknown SRTP suite {srtp!r} (known: {', '.join(_s.SUITES)})")
        _s.require("measure(srtp=...)")
    pair = Pair(stack, calls, seconds=seconds, warmup=warmup, both=both, rx_cpu=rx_cpu, gen_cpu=gen_cpu,
                base=free_base(calls) if base is None else base, python=python, srtp=srtp)
    res = measure_many([pair], timeout=warmup + seconds + 120 + calls * 0.02)[0]
    res["load_average"] = os.getloadavg()[0]
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m voicecore.bench.load", description=__doc__.split("\n\n")[0])
    p.add_argument("role", choices=["recv", "gen"])
    p.add_argument("--stack", default="voicecore", choices=STACKS)
    p.add_argument("--calls", type=int, default=100)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--both", action="store_true")
    p.add_argument("--cpu", type=int, default=None)
    p.add_argument("--base", type=int, default=BASE_PORT)
    p.add_argument("--srtp", default=None, metavar="SUITE", help="SDES-SRTP on every call (a suite name)")
    a = p.parse_args(argv)
    _pin(a.cpu)
    if a.role == "gen":
        res = asyncio.run(run_generator(a.calls, both=a.both, base=a.base, srtp=a.srtp))
    else:
        res = asyncio.run(run_receiver(a.stack, a.calls, a.seconds, warmup=a.warmup, both=a.both, base=a.base,
                                       srtp=a.srtp))
    _say(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())

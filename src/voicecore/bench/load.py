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

The receiver measures, over a window after a warm-up: CPU time of the whole
process (all threads) per packet, packets received / sent, frames delivered
to the application, kernel socket drops, and the engine's tick lateness.

Run one role by hand::

    python -m voicecore.bench.load recv --stack voicecore --calls 500 --seconds 5
    python -m voicecore.bench.load gen --calls 500 --seconds 12
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

__all__ = ["STACKS", "measure", "run_generator", "run_receiver"]

#: Stacks a receiver can run.
STACKS = ("voicecore", "voicecore-batch", "roomkit")
RX_HOST, GEN_HOST = "127.0.0.1", "127.0.0.2"
BASE_PORT = 10000
FRAME = 160                      # 20 ms at 8 kHz


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _udp_drops(ports: set[int]) -> int:
    """Kernel drops (receive buffer full) summed over sockets bound to ``ports``."""
    total = 0
    try:
        with open("/proc/net/udp") as f:
            next(f)
            for line in f:
                parts = line.split()
                port = int(parts[1].split(":")[1], 16)
                if port in ports:
                    total += int(parts[-1])
    except OSError:
        return -1
    return total


def _pin(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def _tone(seconds: float, freq: float = 330.0) -> bytes:
    t = np.arange(int(seconds * 8000)) / 8000
    return (6000 * np.sin(2 * np.pi * freq * t)).astype(np.int16).tobytes()


def _raise_nofile(n: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, n))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


# ------------------------------------------------------------------ generator
async def run_generator(calls: int, seconds: float, *, both: bool = False, base: int = BASE_PORT) -> dict[str, Any]:
    """Send 50 pps per call to the receiver's ports for ``seconds``."""
    from voicecore.engine import AudioEngine
    from voicecore.engine.session import open_udp_pair

    _raise_nofile(calls + 256)
    eng = AudioEngine(max_sessions=calls + 8)
    eng.start()
    sessions = []
    for i in range(calls):
        a, _, _ = await open_udp_pair((GEN_HOST, base + 2 * i), rtcp="off")
        es = await eng.open_session(rtp_socket=a, remote_addr=(RX_HOST, base + 2 * i), rtcp_interval=0,
                                    aec=False, out_buffer=16384)
        es.set_flags(deliver=False)
        sessions.append(es)
    chunk = _tone(1.0)
    native = eng.native
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        for es in sessions:
            if native.out_pending(es.index) < 8000:
                native.write(es.index, chunk)
        await asyncio.sleep(0.25)
    stats = eng.stats()
    eng.close()
    return {"role": "gen", "calls": calls, "send_lateness_ms": stats["send_lateness_ms"]}


# ------------------------------------------------------------------ receivers
class _Counter:
    def __init__(self) -> None:
        self.frames = 0
        self.audio = 0

    def per_frame(self, session: Any, frame: Any) -> None:
        self.frames += 1

    def batch(self, batch: Any) -> None:
        self.frames += len(batch.sessions)


async def _voicecore_receiver(calls: int, batch: bool, both: bool, base: int) -> tuple[Any, list[Any], Any]:
    from voicecore.backends.rtp import RTPVoiceBackend
    from voicecore.engine import AudioEngine

    eng = AudioEngine(max_sessions=calls + 8)
    eng.start()
    counter = _Counter()
    backends, sessions = [], []
    b = RTPVoiceBackend(local_addr=(RX_HOST, 0), engine=eng, rtcp_interval=0, inactivity_timeout=0)
    if batch:
        b.on_audio_batch(counter.batch)
    else:
        b.on_audio_received(counter.per_frame)
    for i in range(calls):
        b._local_addr = (RX_HOST, base + 2 * i)
        s = await b.connect("bench", f"c{i}", "voice", metadata={"remote_addr": (GEN_HOST, base + 2 * i)})
        sessions.append(s)
    backends.append(b)
    return counter, sessions, (b, eng)


async def _roomkit_receiver(calls: int, both: bool, base: int) -> tuple[Any, list[Any], Any]:
    from roomkit.voice.backends.rtp import RTPVoiceBackend

    counter = _Counter()
    backends = []
    sessions = []
    for i in range(calls):
        b = RTPVoiceBackend(local_addr=(RX_HOST, base + 2 * i), remote_addr=(GEN_HOST, base + 2 * i),
                            rtcp_interval=5.0)
        b.on_audio_received(counter.per_frame)
        sessions.append(await b.connect("bench", f"c{i}", "voice"))
        backends.append(b)
    return counter, sessions, backends


async def run_receiver(stack: str, calls: int, seconds: float, *, warmup: float = 3.0, both: bool = False,
                       base: int = BASE_PORT, ready_fd: int | None = None) -> dict[str, Any]:
    """Open ``calls`` calls on ``stack``, then measure for ``seconds`` after
    ``warmup`` seconds."""
    if stack not in STACKS:
        raise ValueError(f"stack must be one of {STACKS}, got {stack!r}")
    _raise_nofile(3 * calls + 256)
    if stack == "roomkit":
        counter, sessions, owner = await _roomkit_receiver(calls, both, base)
    else:
        counter, sessions, owner = await _voicecore_receiver(calls, stack == "voicecore-batch", both, base)
    if ready_fd is not None:
        os.write(ready_fd, b"ready\n")
    sender_task = None
    sent = [0]
    if both:
        sender_task = asyncio.create_task(_send_back(stack, owner, sessions, sent))
    await asyncio.sleep(warmup)
    ports = {base + 2 * i for i in range(calls)}
    rx0, f0, c0, t0, d0, s0 = _rx_packets(stack, owner, sessions), counter.frames, _cpu(), time.monotonic(), _udp_drops(ports), sent[0]
    await asyncio.sleep(seconds)
    rx1, f1, c1, t1, d1, s1 = _rx_packets(stack, owner, sessions), counter.frames, _cpu(), time.monotonic(), _udp_drops(ports), sent[0]
    if sender_task is not None:
        sender_task.cancel()
    wall = t1 - t0
    rx = rx1 - rx0
    tx = (s1 - s0) if stack == "roomkit" else _tx_packets(stack, owner, sessions) - 0
    result: dict[str, Any] = {
        "role": "recv", "stack": stack, "calls": calls, "both": both, "seconds": wall,
        "cpu_s": c1 - c0, "cpu_pct": 100.0 * (c1 - c0) / wall,
        "rx_packets": rx, "frames": f1 - f0,
        "expected_packets": int(50 * calls * wall),
        "delivered_pct": 100.0 * (f1 - f0) / max(1, 50 * calls * wall),
        "socket_drops": d1 - d0 if d0 >= 0 else None,
    }
    if stack != "roomkit":
        _, eng = owner
        st = eng.stats()
        result["tick_lateness_ms"] = st["tick_lateness_ms"]
        result["tick_work_ms"] = st["tick_work_ms"]
        result["frame_overflow"] = st["frame_overflow"]
    handled = rx + (tx if both else 0)
    result["tx_packets"] = tx if both else 0
    result["cpu_us_per_packet"] = 1e6 * (c1 - c0) / max(1, handled)
    await _close(stack, owner)
    return result


def _rx_packets(stack: str, owner: Any, sessions: list[Any]) -> int:
    if stack == "roomkit":
        total = 0
        for b, s in zip(owner, sessions):
            rs = b._rtp_sessions.get(s.id)
            if rs is not None:
                total += rs.stats.get("packets_received", 0)
        return total
    b, _ = owner
    return sum(b._calls[s.id].es._native.session_stats(b._calls[s.id].es.index)["received"] for s in sessions)


def _tx_packets(stack: str, owner: Any, sessions: list[Any]) -> int:
    b, _ = owner
    return sum(b._calls[s.id].es._native.session_stats(b._calls[s.id].es.index)["packets_sent"] for s in sessions)


async def _send_back(stack: str, owner: Any, sessions: list[Any], sent: list[int]) -> None:
    """Both ways: 50 pps per call back to the generator. roomkit does not pace,
    so it gets one 20 ms chunk per call every 20 ms (send_audio_sync, as an
    audio bridge feeds it); voicecore gets 1 s per call every second and
    paces it itself."""
    from voicecore.base import AudioChunk

    if stack == "roomkit":
        from roomkit.voice.base import AudioChunk as RKChunk

        chunk = RKChunk(_tone(0.02), sample_rate=8000)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        k = 0
        while True:
            for b, s in zip(owner, sessions):
                b.send_audio_sync(s, chunk)
            sent[0] += len(sessions)
            k += 1
            await asyncio.sleep(max(0.0, t0 + 0.02 * k - loop.time()))
    b, _ = owner
    one_s = AudioChunk(_tone(1.0), sample_rate=8000)
    while True:
        for s in sessions:
            es = b._calls[s.id].es
            if es._native.out_pending(es.index) < 8000:
                b.send_audio_sync(s, one_s)
        await asyncio.sleep(0.5)


async def _close(stack: str, owner: Any) -> None:
    if stack == "roomkit":
        for b in owner:
            await b.close()
        return
    b, eng = owner
    eng.close()


# ------------------------------------------------------------------ orchestration
def measure(stack: str, calls: int, *, seconds: float = 5.0, warmup: float = 3.0, both: bool = False,
            rx_cpu: int | None = 0, gen_cpu: int | None = 1, python: str | None = None) -> dict[str, Any]:
    """Run a generator and a receiver process (pinned to ``gen_cpu`` and
    ``rx_cpu``) and return the receiver's figures."""
    py = python or sys.executable
    setup = max(2.0, calls * 0.004 if stack != "roomkit" else calls * 0.01)
    r_fd, w_fd = os.pipe()
    rx = subprocess.Popen(
        [py, "-m", "voicecore.bench.load", "recv", "--stack", stack, "--calls", str(calls),
         "--seconds", str(seconds), "--warmup", str(warmup), "--ready-fd", str(w_fd)]
        + (["--both"] + [] if both else []) + (["--cpu", str(rx_cpu)] if rx_cpu is not None else []),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, pass_fds=(w_fd,),
    )
    os.close(w_fd)
    with os.fdopen(r_fd) as ready:
        ready.readline()                 # the receiver's calls are open
    gen = subprocess.Popen(
        [py, "-m", "voicecore.bench.load", "gen", "--calls", str(calls),
         "--seconds", str(warmup + seconds + setup + 2)]
        + (["--both"] if both else []) + (["--cpu", str(gen_cpu)] if gen_cpu is not None else []),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        out, err = rx.communicate(timeout=warmup + seconds + setup + 120)
    finally:
        gen.kill()
        gen.communicate()
    if rx.returncode != 0:
        raise RuntimeError(f"receiver failed ({rx.returncode}):\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m voicecore.bench.load", description=__doc__.split("\n\n")[0])
    p.add_argument("role", choices=["recv", "gen"])
    p.add_argument("--stack", default="voicecore", choices=STACKS)
    p.add_argument("--calls", type=int, default=100)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--both", action="store_true")
    p.add_argument("--cpu", type=int, default=None)
    p.add_argument("--ready-fd", type=int, default=None)
    a = p.parse_args(argv)
    _pin(a.cpu)
    if a.role == "gen":
        res = asyncio.run(run_generator(a.calls, a.seconds, both=a.both))
    else:
        res = asyncio.run(run_receiver(a.stack, a.calls, a.seconds, warmup=a.warmup, both=a.both,
                                       ready_fd=a.ready_fd))
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())

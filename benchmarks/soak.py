"""Soak: N calls with audio both ways for a given time, under impairment and
churn, sampling the process's resources every few seconds.

Two processes on loopback. The *system under test* (this process) runs N
calls on one AudioEngine through RTPVoiceBackend (the roomkit drop-in):
inbound frames to a per-frame callback, 1 s of outbound audio queued per call
whenever less than 1 s is pending, and churn: every second ``--churn`` calls
end (RTCP BYE, sockets closed) and new ones start on the same ports. The
*peer* (a child process, plain sockets) sends 50 packets per second per call
with impairment (Gilbert-Elliott loss, reordering, duplicates, 60-120 ms
freezes released as bursts, a new SSRC now and then), and drains what the
calls send back.

Every ``--every`` seconds one row goes to the CSV: RSS, open descriptors,
threads (kernel count), asyncio tasks, open calls, churned calls, frames
delivered / packets sent and received in the interval, engine queue overflows
(frame, played, event), consumer overflows, callback errors, and the engine's
tick lateness and send lateness for the interval (p50 / p99 / max, ms). At the
end all calls close and the summary (JSON on stdout, and ``--json``) checks:
RSS growth after the warm-up, descriptors / threads back to the baseline,
p99 lateness of the last quarter against the first quarter after warm-up.

    python benchmarks/soak.py --calls 500 --seconds 3600 --every 5 --csv soak.csv --json soak.json
    python benchmarks/soak.py --calls 20 --seconds 20          # a quick look

Linux only (the engine). Ports: the SUT binds 127.0.0.1:base+2i (RTCP on
+1), the peer 127.0.0.2:base+2i, base picked at random below the ephemeral
port range unless ``--base``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import ctypes
import json
import os
import random
import resource
import signal
import socket
import struct
import subprocess
import sys
import time
from typing import Any

import numpy as np

SUT_HOST, PEER_HOST = "127.0.0.1", "127.0.0.2"
FRAME = 160                                   # 20 ms at 8 kHz


# ------------------------------------------------------------------ process figures
def rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                "fsmblks", "uordblks", "fordblks", "keepcost")]


_mallinfo2: Any = None     # looked up once: a CDLL per sample would grow the heap it measures


def heap_kib() -> tuple[int, int]:
    """glibc heap: (bytes in use, bytes held from the system) in KiB, mmapped
    chunks included; (-1, -1) elsewhere. In use flat while RSS grows means
    fragmentation, not a leak."""
    global _mallinfo2
    try:
        if _mallinfo2 is None:
            f = ctypes.CDLL(None).mallinfo2
            f.restype = _MallInfo2
            _mallinfo2 = f
        m = _mallinfo2()
    except (OSError, AttributeError):
        return -1, -1
    return (m.uordblks + m.hblkhd) // 1024, (m.arena + m.hblkhd) // 1024


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def kernel_threads() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return -1


def _raise_nofile(n: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, n))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def _tone_ulaw(seconds: float, freq: float) -> bytes:
    from voicecore import codec

    t = np.arange(int(seconds * 8000)) / 8000
    pcm = (7000 * np.sin(2 * np.pi * freq * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.7 * t))).astype(np.int16)
    return codec.lin2ulaw(pcm.tobytes())


# ------------------------------------------------------------------ peer
def _random_base(calls: int) -> int:
    """An even first port for ``calls`` pairs, picked at random (not from the seed)
    below the kernel's ephemeral range, so that the ports other programs get
    from the OS (port 0) do not take the soak's while it runs and churns."""
    lo = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    first = 10000
    return first + 2 * random.SystemRandom().randrange(max(1, (lo - first - 2 * calls - 2) // 2))


def run_peer(calls: int, base: int, seconds: float, seed: int, loss: float, parent: int) -> None:
    """The far end: 50 pps per call with impairment, drains what comes back.
    Stops after ``seconds`` or when the parent process is gone."""
    _raise_nofile(calls + 64)
    rng = random.Random(seed)
    ulaw = _tone_ulaw(1.0, 440.0)
    socks = []
    for i in range(calls):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 18)
        s.bind((PEER_HOST, base + 2 * i))
        s.setblocking(False)
        socks.append(s)
    dest = [(SUT_HOST, base + 2 * i) for i in range(calls)]
    ssrc = [rng.getrandbits(32) for _ in range(calls)]
    seq = [rng.getrandbits(16) for _ in range(calls)]
    ts = [rng.getrandbits(32) for _ in range(calls)]
    bad = [False] * calls                     # Gilbert-Elliott state
    held: list[list[tuple[int, bytes]]] = [[] for _ in range(calls)]   # (release tick, packet)
    freeze_until = [0] * calls
    # loss in bursts of mean 3 packets at an average rate ``loss``
    r_leave = 1.0 / 3.0
    p_enter = loss * r_leave / max(1e-9, 1.0 - loss)
    sent = received = 0
    buf = bytearray(2048)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    t0 = time.monotonic()
    tick = 0
    hdr = struct.Struct("!BBHII")
    while time.monotonic() - t0 < seconds and not stop:
        if tick % 50 == 0 and os.getppid() != parent:
            break
        for i in range(calls):
            s = socks[i]
            if rng.random() < 0.0005:                       # sender restart: new SSRC / numbering
                ssrc[i], seq[i], ts[i] = rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(32)
            off = (ts[i] % 8000)
            pkt = hdr.pack(0x80, 0, seq[i], ts[i], ssrc[i]) + (ulaw[off:off + FRAME] if off + FRAME <= 8000
                                                                 else (ulaw[off:] + ulaw[:off + FRAME - 8000]))
            seq[i] = (seq[i] + 1) & 0xFFFF
            ts[i] = (ts[i] + FRAME) & 0xFFFFFFFF
            bad[i] = (rng.random() >= r_leave) if bad[i] else (rng.random() < p_enter)
            if not bad[i]:
                if tick < freeze_until[i]:
                    held[i].append((freeze_until[i], pkt))
                elif rng.random() < 0.0004:                # a 60-120 ms freeze, then a burst
                    freeze_until[i] = tick + rng.randint(3, 6)
                    held[i].append((freeze_until[i], pkt))
                elif rng.random() < 0.03:                  # reordered: 1-2 periods late
                    held[i].append((tick + rng.randint(1, 2), pkt))
                else:
                    try:
                        s.sendto(pkt, dest[i])
                        sent += 1
                        if rng.random() < 0.01:             # duplicate
                            s.sendto(pkt, dest[i])
                            sent += 1
                    except OSError:
                        pass
            if held[i]:
                keep = []
                for when, p in held[i]:
                    if when <= tick:
                        try:
                            s.sendto(p, dest[i])
                            sent += 1
                        except OSError:
                            pass
                    else:
                        keep.append((when, p))
                held[i] = keep
            while True:                                       # what the call sends back
                try:
                    s.recv_into(buf)
                    received += 1
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
        tick += 1
        delay = t0 + tick * 0.02 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    for s in socks:
        s.close()
    print(json.dumps({"role": "peer", "sent": sent, "received": received, "ticks": tick}), flush=True)


# ------------------------------------------------------------------ system under test
class Calls:
    """N call slots on one engine; slot i always uses port base + 2i."""

    def __init__(self, calls: int, base: int) -> None:
        from voicecore.base import AudioChunk
        from voicecore.engine import AudioEngine

        self.n = calls
        self.base = base
        self.engine = AudioEngine(max_sessions=calls + 16)
        self.backends: list[Any] = [None] * calls
        self.sessions: list[Any] = [None] * calls
        self.frames = 0
        self.bad_frames = 0
        self.churned = 0
        self.close_timeouts = 0
        self.open_retries = 0
        self.pending: set[int] = set()
        self.chunk = AudioChunk(_pcm_tone(1.0, 330.0), sample_rate=8000)

    def _on_frame(self, session: Any, frame: Any) -> None:
        self.frames += 1
        if len(frame.data) != 2 * FRAME or frame.sample_rate != 8000:
            self.bad_frames += 1

    async def open(self, i: int) -> None:
        from voicecore.backends.rtp import RTPVoiceBackend

        b = self.backends[i]
        if b is None:
            b = RTPVoiceBackend(local_addr=(SUT_HOST, self.base + 2 * i), remote_addr=(PEER_HOST, self.base + 2 * i),
                                engine=self.engine, rtcp_interval=5.0, inactivity_timeout=0)
            b.on_audio_received(self._on_frame)
            self.backends[i] = b
        self.sessions[i] = await b.connect("soak", f"call{i}", "voice")

    async def close(self, i: int) -> None:
        s = self.sessions[i]
        if s is not None:
            self.sessions[i] = None
            try:
                await self.backends[i].disconnect(s)
            except asyncio.TimeoutError:
                # the engine did not release the session within disconnect's
                # timeout (a starved machine): it still will; its port is busy
                # until then, so the slot reopens later (see reopen_pending)
                self.close_timeouts += 1
                self.pending.add(i)

    async def reopen_pending(self) -> None:
        """Reopen slots whose port was still held when they were due."""
        for i in sorted(self.pending):
            try:
                await self.open(i)
            except OSError:
                self.open_retries += 1
                continue
            self.pending.discard(i)

    def feed(self) -> None:
        """Keep about 1 s of outbound audio queued per call."""
        for b, s in zip(self.backends, self.sessions):
            if s is None:
                continue
            call = b._calls.get(s.id)
            if call is not None and call.es._native.out_pending(call.es.index) < 8000:
                b.send_audio_sync(s, self.chunk)

    def session_totals(self) -> dict[str, int]:
        tot = {"consumer_overflow": 0, "received": 0, "packets_sent": 0, "lost": 0, "late": 0,
               "concealed_samples": 0, "foreign_source": 0}
        for b, s in zip(self.backends, self.sessions):
            if s is None:
                continue
            st = b.session_stats(s)
            for k in tot:
                tot[k] += int(st.get(k, 0) or 0)
        return tot


def _pcm_tone(seconds: float, freq: float) -> bytes:
    t = np.arange(int(seconds * 8000)) / 8000
    return (6000 * np.sin(2 * np.pi * freq * t)).astype(np.int16).tobytes()


def _lat(h: dict[str, Any]) -> tuple[float, float, float]:
    return float(h.get("p50", 0.0)), float(h.get("p99", 0.0)), float(h.get("max", 0.0))


async def run_soak(calls: int, seconds: float, *, every: float = 5.0, churn: float = 1.0, warmup: float = 60.0,
                   loss: float = 0.03, base: int = 0, seed: int = 1, csv_path: str | None = None,
                   collect: bool = False) -> dict[str, Any]:
    """Run the soak in this process (the peer in a child process); returns the summary."""
    import gc

    _raise_nofile(3 * calls + 256)
    rng = random.Random(seed)
    gc.collect()
    base_fds, base_threads = open_fds(), kernel_threads()
    if not base:
        base = _random_base(calls)
    calls_obj = Calls(calls, base)
    calls_obj.engine.start()
    engine_threads = kernel_threads()
    peer = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "peer", "--calls", str(calls), "--base", str(base),
         "--seconds", str(seconds + 30), "--seed", str(seed), "--loss", str(loss), "--parent", str(os.getpid())],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    # The samples are kept in one table allocated (and touched) at the first
    # sample, not as a dict per sample: a 1 h run would otherwise grow its own
    # RSS by about a megabyte, the size of the growth it is there to detect.
    table: np.ndarray | None = None
    names: list[str] = []
    kinds: list[type] = []
    nrows = 0
    writer = None
    fh = open(csv_path, "w", newline="") if csv_path else None
    try:
        for i in range(calls):
            await calls_obj.open(i)
        eng = calls_obj.engine
        eng.native.stats(reset=True)
        t0 = time.monotonic()
        next_sample = t0 + every
        prev = {"frames": 0, "tot": calls_obj.session_totals(), "churned": 0}
        gone = {"received": 0, "packets_sent": 0, "consumer_overflow": 0}   # counters of closed calls
        churn_acc = 0.0
        while True:
            now = time.monotonic()
            if now - t0 >= seconds:
                break
            calls_obj.feed()
            churn_acc += churn * 0.25
            while churn_acc >= 1.0:                   # calls ending and starting
                churn_acc -= 1.0
                i = rng.randrange(calls)
                if calls_obj.sessions[i] is None:
                    continue
                st = calls_obj.backends[i].session_stats(calls_obj.sessions[i])
                gone["received"] += int(st.get("received", 0))
                gone["packets_sent"] += int(st.get("packets_sent", 0))
                gone["consumer_overflow"] += int(st.get("consumer_overflow", 0))
                await calls_obj.close(i)
                if i not in calls_obj.pending:
                    try:
                        await calls_obj.open(i)
                    except OSError:
                        calls_obj.pending.add(i)
                        calls_obj.open_retries += 1
                calls_obj.churned += 1
            if calls_obj.pending:
                await calls_obj.reopen_pending()
            if now >= next_sample:
                next_sample += every
                st = eng.stats()
                native = eng.native.stats(reset=True)
                tot = calls_obj.session_totals()
                tick = _lat(native["tick_lateness_ms"])
                send = _lat(native["send_lateness_ms"])
                if collect:
                    gc.collect()
                inuse, held = heap_kib()
                row = {
                    "t_s": round(now - t0, 1), "rss_kib": rss_kib(), "heap_inuse_kib": inuse, "heap_held_kib": held, "fds": open_fds(), "threads": kernel_threads(),
                    "tasks": len(asyncio.all_tasks()), "calls": sum(s is not None for s in calls_obj.sessions),
                    "engine_sessions": native["sessions"], "churned": calls_obj.churned,
                    "frames": calls_obj.frames - prev["frames"], "bad_frames": calls_obj.bad_frames,
                    "rx_packets": tot["received"] + gone["received"] - prev.get("rx", 0),
                    "tx_packets": tot["packets_sent"] + gone["packets_sent"] - prev.get("tx", 0),
                    "frame_overflow": st["frame_overflow"], "played_overflow": st["played_overflow"],
                    "event_overflow": st["event_overflow"],
                    "consumer_overflow": tot["consumer_overflow"] + gone["consumer_overflow"],
                    "close_timeouts": calls_obj.close_timeouts, "open_retries": calls_obj.open_retries,
                    "loop_errors": st["loop_errors"], "engine_errors": st["errors"],
                    "tick_late_p50_ms": round(tick[0], 3), "tick_late_p99_ms": round(tick[1], 3),
                    "tick_late_max_ms": round(tick[2], 3),
                    "send_late_p50_ms": round(send[0], 3), "send_late_p99_ms": round(send[1], 3),
                    "send_late_max_ms": round(send[2], 3),
                }
                prev["frames"] = calls_obj.frames
                prev["rx"] = tot["received"] + gone["received"]
                prev["tx"] = tot["packets_sent"] + gone["packets_sent"]
                if table is None:
                    names, kinds = list(row), [type(v) for v in row.values()]
                    table = np.full((int(seconds / every) * 2 + 16, len(names)), 0.0)   # written: touched
                if nrows < len(table):
                    table[nrows] = [float(v) for v in row.values()]
                    nrows += 1
                if fh is not None:
                    if writer is None:
                        writer = csv.DictWriter(fh, fieldnames=list(row))
                        writer.writeheader()
                    writer.writerow(row)
                    fh.flush()
            await asyncio.sleep(0.25)
        open_calls_fds = open_fds()
        for i in range(calls):
            await calls_obj.close(i)
        for _ in range(100):                      # sessions whose release was late
            if not eng.sessions:
                break
            await asyncio.sleep(0.1)
        await eng.aclose()
    finally:
        if fh is not None:
            fh.close()
        peer.terminate()
        try:
            pout, _ = peer.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            peer.kill()
            pout, _ = peer.communicate()
    del calls_obj, eng
    await asyncio.sleep(0.1)
    gc.collect()
    end_fds, end_threads = open_fds(), kernel_threads()
    if os.environ.get("SOAK_DEBUG_FDS"):
        for fd in os.listdir("/proc/self/fd"):
            try:
                print(fd, os.readlink(f"/proc/self/fd/{fd}"), file=sys.stderr)
            except OSError:
                pass
    peer_stats = {}
    for line in (pout or "").splitlines():
        if line.startswith("{"):
            peer_stats = json.loads(line)
    rows = [{k: t(v) for k, t, v in zip(names, kinds, r)} for r in table[:nrows]] if table is not None else []
    return summarize(rows, calls=calls, seconds=seconds, warmup=warmup, every=every, churn=churn, loss=loss,
                     base_fds=base_fds, end_fds=end_fds, base_threads=base_threads, end_threads=end_threads,
                     engine_threads=engine_threads, fds_with_calls=open_calls_fds, peer=peer_stats)


def summarize(rows: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    """The figures the report quotes, from the sampled rows."""
    warm = [r for r in rows if r["t_s"] >= kw["warmup"]]
    out: dict[str, Any] = {"role": "soak", **{k: v for k, v in kw.items()}, "samples": len(rows)}
    out["leaked_fds"] = kw["end_fds"] - kw["base_fds"]
    out["leaked_threads"] = kw["end_threads"] - kw["base_threads"]
    if warm:
        rss = np.array([r["rss_kib"] for r in warm], float)
        t = np.array([r["t_s"] for r in warm], float)
        out["rss_warm_kib"] = int(rss[0])
        out["rss_end_kib"] = int(rss[-1])
        out["rss_max_kib"] = int(rss.max())
        out["rss_growth_kib"] = int(rss[-1] - rss[0])
        out["rss_max_growth_kib"] = int(rss.max() - rss[0])
        heap = np.array([r["heap_inuse_kib"] for r in warm], float)
        out["heap_inuse_growth_kib"] = int(heap[-1] - heap[0])
        out["rss_slope_kib_per_h"] = float(np.polyfit(t, rss, 1)[0] * 3600) if len(warm) > 2 else 0.0
        out["fds_range"] = [min(r["fds"] for r in warm), max(r["fds"] for r in warm)]
        out["threads_range"] = [min(r["threads"] for r in warm), max(r["threads"] for r in warm)]
        out["tasks_range"] = [min(r["tasks"] for r in warm), max(r["tasks"] for r in warm)]
        q = max(1, len(warm) // 4)
        p99 = [r["tick_late_p99_ms"] for r in warm]
        out["tick_late_p99_first_quarter_ms"] = float(np.median(p99[:q]))
        out["tick_late_p99_last_quarter_ms"] = float(np.median(p99[-q:]))
        out["tick_late_p99_max_ms"] = float(max(p99))
        sp99 = [r["send_late_p99_ms"] for r in warm]
        out["send_late_p99_first_quarter_ms"] = float(np.median(sp99[:q]))
        out["send_late_p99_last_quarter_ms"] = float(np.median(sp99[-q:]))
        dur = len(warm) * kw["every"]
        out["frames_per_call_per_s"] = sum(r["frames"] for r in warm) / max(1e-9, dur * kw["calls"])
        out["rx_pps"] = sum(r["rx_packets"] for r in warm) / max(1e-9, dur)
        out["tx_pps"] = sum(r["tx_packets"] for r in warm) / max(1e-9, dur)
    if rows:
        last = rows[-1]
        for k in ("frame_overflow", "played_overflow", "event_overflow", "consumer_overflow", "loop_errors",
                  "engine_errors", "bad_frames", "churned", "close_timeouts", "open_retries"):
            out[k] = last[k]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/soak.py", description=__doc__.split("\n\n")[0])
    p.add_argument("role", nargs="?", default="sut", choices=["sut", "peer"])
    p.add_argument("--calls", type=int, default=100)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--every", type=float, default=5.0, help="sampling period, s")
    p.add_argument("--churn", type=float, default=1.0, help="calls ending and starting per second")
    p.add_argument("--warmup", type=float, default=None, help="s (default: a sixth of the run, at most 300)")
    p.add_argument("--loss", type=float, default=0.03, help="mean packet loss (in bursts)")
    p.add_argument("--base", type=int, default=0, help="first port (0: random)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--parent", type=int, default=0)
    p.add_argument("--gc", action="store_true",
                   help="gc.collect() before each sample (tells memory held by reference cycles from the rest)")
    p.add_argument("--csv", default=None)
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    if a.calls < 1 or a.seconds <= 0 or a.every <= 0 or not 0 <= a.loss < 1:
        p.error("need --calls >= 1, --seconds > 0, --every > 0, 0 <= --loss < 1")
    if a.role == "peer":
        run_peer(a.calls, a.base, a.seconds, a.seed, a.loss, a.parent)
        return 0
    warmup = a.warmup if a.warmup is not None else min(300.0, a.seconds / 6)
    res = asyncio.run(run_soak(a.calls, a.seconds, every=a.every, churn=a.churn, warmup=warmup, loss=a.loss,
                               base=a.base, seed=a.seed, csv_path=a.csv, collect=a.gc))
    text = json.dumps(res, indent=1)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Outbound pacing while the event loop is blocked for 100 ms of every second.

An application answers N calls at once: each call is handed a few seconds of
8 kHz audio, the way an agent hands over its text-to-speech, and then the
event loop is stalled (``time.sleep(0.1)`` every second, as a slow callback
or a garbage collection would). A raw UDP socket in its own thread records
every packet with its kernel receive time. For each call, the spacing of
consecutive packets (ideal: 20 ms) and each packet's lateness against an
ideal 20 ms grid through the call's earliest packets give the figures.

voicecore's RTPVoiceBackend gets all the audio at once (``send_audio``) and
paces it on its engine's clock, away from the loop. roomkit's backend does
not pace, so the application paces it: a task sends one 20 ms chunk per
call every 20 ms (``send_audio_sync``), catching up after a stall as an
audio bridge would.

Run: ``python -m voicecore.bench.pacing --calls 200 --stack voicecore``
(prints one JSON line; pin it with ``taskset`` if you like).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import struct
import sys
import threading
import time
from typing import Any

import numpy as np

from voicecore.bench import stamp

__all__ = ["pacing"]

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
BLOCK_S, EVERY_S = 0.1, 1.0


class _Recorder:
    """One UDP socket; a thread records (ssrc, seq, kernel receive ns)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.bind((host, 0))
        self.sock.settimeout(0.05)
        self.addr = self.sock.getsockname()[:2]
        self.rows: list[tuple[int, int, int]] = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="pacing-recorder", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        space = socket.CMSG_SPACE(16)
        while not self._stop:
            try:
                data, anc, _flags, _addr = self.sock.recvmsg(2048, space)
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            if len(data) < 12 or 192 <= data[1] <= 223:
                continue
            t = time.time_ns()
            for level, typ, cdata in anc:
                if level == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", cdata[:16])
                    t = sec * 1_000_000_000 + nsec
            seq, ssrc = struct.unpack_from("!H", data, 2)[0], struct.unpack_from("!I", data, 8)[0]
            self.rows.append((ssrc, seq, t))

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=1)
        self.sock.close()


def _figures(rows: list[tuple[int, int, int]], skip_s: float) -> dict[str, Any]:
    """Spacing and grid lateness (ms) per call, pooled over the calls."""
    if not rows:
        return {"packets": 0}
    a = np.array(rows, dtype=np.int64)
    spacing, lateness = [], []
    for ssrc in np.unique(a[:, 0]):
        r = a[a[:, 0] == ssrc]
        seq = np.unwrap(r[:, 1], period=65536).astype(np.int64)
        order = np.argsort(seq)
        seq, t = seq[order] - seq[order][0], r[order, 2]
        keep = t >= t[0] + int(skip_s * 1e9)          # after the start-up of all calls
        if keep.sum() < 10:
            continue
        seq, t = seq[keep], t[keep]
        grid = t - seq * 20_000_000
        lateness.append((grid - grid.min()) / 1e6)
        steps = np.diff(seq)
        spacing.append((np.diff(t) / steps / 1e6)[steps == 1])
    if not spacing:
        return {"packets": int(len(rows))}
    sp, la = np.concatenate(spacing), np.concatenate(lateness)
    return {"packets": int(len(rows)), "calls": len(spacing),
            "spacing_ms": {"p1": float(np.percentile(sp, 1)), "p50": float(np.percentile(sp, 50)),
                           "p99": float(np.percentile(sp, 99)), "max": float(sp.max())},
            "lateness_ms": {"p50": float(np.percentile(la, 50)), "p99": float(np.percentile(la, 99)),
                            "max": float(la.max())}}  # fmt: skip


async def _blocker(stop: asyncio.Event) -> int:
    """Stall the event loop for BLOCK_S every EVERY_S; returns the stalls done."""
    n = 0
    while not stop.is_set():
        await asyncio.sleep(EVERY_S - BLOCK_S)
        time.sleep(BLOCK_S)  # the whole loop stalls: no callback, no task runs
        n += 1
    return n


async def pacing(stack: str = "voicecore", calls: int = 200, seconds: float = 5.0) -> dict[str, Any]:
    """Send ``seconds`` of audio on ``calls`` calls while the loop stalls;
    returns the spacing and lateness figures (ms)."""
    rec = _Recorder()
    audio = np.tile(stamp.tone(1.0), int(seconds) + 1)[: int(seconds * 8000)].tobytes()
    stop = asyncio.Event()
    try:
        if stack == "voicecore":
            from voicecore.backends.rtp import RTPVoiceBackend
            from voicecore.engine import AudioEngine

            eng = AudioEngine(max_sessions=calls + 8)
            eng.start()
            b = RTPVoiceBackend(local_addr=("127.0.0.1", 0), remote_addr=rec.addr, engine=eng,
                                rtcp_interval=0, inactivity_timeout=0)  # fmt: skip
            sessions = [await b.connect("bench", f"c{i}", "voice") for i in range(calls)]
            blocker = asyncio.ensure_future(_blocker(stop))
            # hands it over (each call's ring takes about 4 s; the rest follows as it drains)
            await asyncio.gather(*(b.send_audio(s, audio) for s in sessions))
            await asyncio.gather(*(b.wait_playback(s) for s in sessions))
            stop.set()
            stalls = await blocker
            await b.close()
            eng.close()
        elif stack == "roomkit":
            from roomkit.voice.backends.rtp import RTPVoiceBackend as RKBackend
            from roomkit.voice.base import AudioChunk

            backends: list[Any] = []
            rk_sessions: list[Any] = []
            for i in range(calls):
                rb = RKBackend(local_addr=("127.0.0.1", 0), remote_addr=rec.addr, rtcp_interval=0)
                rk_sessions.append(await rb.connect("bench", f"c{i}", "voice"))
                backends.append(rb)
            chunks = [AudioChunk(data=audio[i : i + 320], sample_rate=8000) for i in range(0, len(audio), 320)]
            blocker = asyncio.ensure_future(_blocker(stop))
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            for k, chunk in enumerate(chunks):      # the application paces: one chunk per 20 ms
                for rb, s in zip(backends, rk_sessions):
                    rb.send_audio_sync(s, chunk)
                await asyncio.sleep(max(0.0, t0 + 0.02 * (k + 1) - loop.time()))
            stop.set()
            stalls = await blocker
            for rb in backends:
                await rb.close()
        else:
            raise ValueError(f"pacing: stack must be 'voicecore' or 'roomkit', got {stack!r}")
        await asyncio.sleep(0.2)
    finally:
        rec.close()
    res = _figures(rec.rows, skip_s=0.5)
    res.update({"stack": stack, "calls": calls, "seconds": seconds, "stalls": stalls,
                "stall_ms": BLOCK_S * 1000, "every_ms": EVERY_S * 1000})
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m voicecore.bench.pacing", description=__doc__.split("\n\n")[0])
    p.add_argument("--stack", default="voicecore", choices=["voicecore", "roomkit"])
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--cpu", type=int, default=None)
    a = p.parse_args(argv)
    if a.cpu is not None:
        import os

        os.sched_setaffinity(0, {a.cpu})
    print(json.dumps(asyncio.run(pacing(a.stack, a.calls, a.seconds))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

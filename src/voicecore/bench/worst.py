"""The engine's worst ticks: every call concealing in the same tick (a network
stall), and every call starting to talk in the same tick (a broadcast).

One process, two engines: a *receiver* engine carrying N calls (the one
measured, its I/O thread pinned to one core) and a *generator* engine feeding
it 50 packets per second per call (pinned to the other core). Phases:

1. steady: every call receives audio (the receiver delivers every frame
   through the batch API);
2. stall: every generator call stops at the same tick, so every receiver
   call conceals in the same ticks (concealment, then fade to noise);
3. broadcast: every receiver call is handed audio at once, so every call's
   first outbound packet is due in the same period.

For each phase: the receiver's tick work time (the time one sub-slot tick
takes for its share of the calls) p50 / p99 / max, and its tick lateness.

Run: ``python -m voicecore.bench.worst --calls 2500``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

import numpy as np

from voicecore.bench.load import GEN_HOST, RX_HOST, _raise_nofile

__all__ = ["worst_case"]


def _engine_tid(before: set[int]) -> int | None:
    after = {int(t) for t in os.listdir("/proc/self/task")}
    new = sorted(after - before)
    return new[-1] if new else None


def _pin_tid(tid: int | None, cpu: int | None) -> None:
    if tid is not None and cpu is not None and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(tid, {cpu})
        except OSError:
            pass


async def worst_case(calls: int = 2500, *, base: int = 12000, rx_cpu: int | None = 0,
                     gen_cpu: int | None = 1, phase_s: float = 2.0) -> dict[str, Any]:
    """Run the three phases; returns per-phase tick work and lateness (ms)."""
    from voicecore.engine import AudioEngine
    from voicecore.engine.session import open_udp_pair

    _raise_nofile(2 * calls + 256)
    before = {int(t) for t in os.listdir("/proc/self/task")}
    rx = AudioEngine(max_sessions=calls + 8, frame_queue=1 << 16)
    rx.start()
    _pin_tid(_engine_tid(before), rx_cpu)
    before = {int(t) for t in os.listdir("/proc/self/task")}
    gen = AudioEngine(max_sessions=calls + 8)
    gen.start()
    _pin_tid(_engine_tid(before), gen_cpu)
    frames = [0]
    rx.add_batch_listener(lambda fs, idx, *a: frames.__setitem__(0, frames[0] + len(idx)))
    from voicecore._native.engine.engine import BATCH

    rxs, gens = [], []
    for i in range(calls):
        a, _, _ = await open_udp_pair((RX_HOST, base + 2 * i), rtcp="off")
        b, _, _ = await open_udp_pair((GEN_HOST, base + 2 * i), rtcp="off")
        r = await rx.open_session(rtp_socket=a, remote_addr=(GEN_HOST, base + 2 * i), rtcp_interval=0,
                                  aec=False, out_buffer=16384)
        r.set_frame_sink(BATCH)
        g = await gen.open_session(rtp_socket=b, remote_addr=(RX_HOST, base + 2 * i), rtcp_interval=0,
                                   aec=False, out_buffer=65536)
        g.set_flags(deliver=False)
        rxs.append(r)
        gens.append(g)
    t = np.arange(8000 * 6) / 8000
    speech_like = (6000 * np.sin(2 * np.pi * 180 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.int16)
    for g in gens:                                   # 6 s each: enough for warm-up + steady
        gen.native.write(g.index, speech_like.tobytes())
    await asyncio.sleep(2.5)                         # streams established, delay adapted

    def phase() -> dict[str, Any]:
        st = rx.native.stats(reset=True)
        return {"tick_work_ms": st["tick_work_ms"], "tick_lateness_ms": st["tick_lateness_ms"],
                "ticks_late": st["ticks_late"], "ticks_skipped": st["ticks_skipped"],
                "page_faults": st["page_faults"]}      # of the I/O thread, cumulative

    rx.native.stats(reset=True)
    await asyncio.sleep(phase_s)
    res: dict[str, Any] = {"calls": calls, "subslots": rx.native.subslots,
                           "calls_per_tick": calls / rx.native.subslots}
    res["steady"] = phase()
    conceal0 = sum(r.stats()["concealed_frames"] for r in rxs)
    for g in gens:                                   # the stall: every sender stops now
        g.interrupt()
    await asyncio.sleep(phase_s)
    res["stall"] = phase()
    res["stall"]["concealed_frames"] = sum(r.stats()["concealed_frames"] for r in rxs) - conceal0
    chunk = speech_like[: 8000 * 2].tobytes()
    t0 = time.monotonic()
    for r in rxs:                                    # the broadcast: everyone talks at once
        rx.native.write(r.index, chunk)
    res["broadcast_write_s"] = time.monotonic() - t0
    await asyncio.sleep(phase_s)
    res["broadcast"] = phase()
    res["broadcast"]["packets_sent"] = sum(r.stats()["packets_sent"] for r in rxs)
    res["frames_delivered"] = frames[0]
    rx.close()
    gen.close()
    for s in rxs + gens:
        s._close_sockets()
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m voicecore.bench.worst", description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=2500, help="calls on the measured engine (default 2500)")
    p.add_argument("--seconds", type=float, default=2.0, help="length of each phase in s (default 2)")
    a = p.parse_args(argv)
    print(json.dumps(asyncio.run(worst_case(a.calls, phase_s=a.seconds)), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

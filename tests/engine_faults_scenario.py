"""Run by tests/test_engine_faults.py in a subprocess (the huge-page arena
reads VOICECORE_HUGEPAGES once per process): the audio I/O thread's page
faults while calls start, run and are replaced. Prints one JSON line."""

from __future__ import annotations

import asyncio
import json
import sys

import numpy as np

from voicecore.engine import AudioEngine
from voicecore.engine.session import open_udp_pair


async def _pairs(eng, n, frames):
    out = []
    for _ in range(n):
        a, _, _ = await open_udp_pair(("127.0.0.1", 0), rtcp="off")
        b, _, _ = await open_udp_pair(("127.0.0.1", 0), rtcp="off")
        aa, ba = a.getsockname(), b.getsockname()
        sa = await eng.open_session(rtp_socket=a, remote_addr=ba, rtcp_interval=0)
        sb = await eng.open_session(rtp_socket=b, remote_addr=aa, rtcp_interval=0)
        sb.set_frame_sink(lambda pcm, kind, no: frames.__setitem__(0, frames[0] + 1))
        out.append((sa, sb))
    return out


async def _faults(eng):
    await asyncio.sleep(0.35)         # the thread reads its count every 250 ms
    return eng.native.stats()["page_faults"]


async def main(n: int) -> dict:
    eng = AudioEngine(max_sessions=4 * n + 8)
    eng.start()
    frames = [0]
    tone = (np.sin(np.arange(8000 * 4) * 0.1) * 8000).astype("<i2").tobytes()
    out: dict = {}
    try:
        out["started"] = await _faults(eng)
        first = await _pairs(eng, n, frames)
        for sa, _ in first:
            await sa.write(tone, 8000)
        await asyncio.sleep(1.5)
        out["first_calls"] = await _faults(eng)
        more = await _pairs(eng, n, frames)
        for sa, _ in more:
            await sa.write(tone, 8000)
        await asyncio.sleep(1.0)
        out["more_calls"] = await _faults(eng)
        for sa, sb in first + more:
            await sa.close()
            await sb.close()
        again = await _pairs(eng, 2 * n, frames)
        for sa, _ in again:
            await sa.write(tone, 8000)
        await asyncio.sleep(1.0)
        out["replaced_calls"] = await _faults(eng)
        out["frames"] = frames[0]
        for sa, sb in again:
            await sa.close()
            await sb.close()
    finally:
        await eng.aclose()
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(int(sys.argv[1])))))

"""The engine's clock: how sessions are placed on the sub-slots of the period
and which ticks wake the thread (and so the event loop).

A wake-up costs far more than one session's tick (a context switch on each
side, the event loop's iteration), so a lightly loaded engine puts its
sessions in one sub-slot and the timer skips the empty ones; past SLOT_FILL
(128) sessions per sub-slot the next one is used, and once all hold that
many, sessions go to the least loaded one."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the engine is Linux-only")

from engine_support import RawPeer, send_paced, tone, ulaw_packets  # noqa: E402
from engine_support import backend as _backend  # noqa: E402

SLOT_FILL = 128


async def _open(eng, n):
    from voicecore.engine.session import open_udp_pair

    out = []
    for _ in range(n):
        a, _, _ = await open_udp_pair(("127.0.0.1", 0), rtcp="off")
        out.append(await eng.open_session(rtp_socket=a, remote_addr=("127.0.0.1", 9), rtcp_interval=0))
    return out


async def _rates(eng, seconds=1.0):
    """(ticks, thread wake-ups) per second over ``seconds``, and the counters
    that moved meanwhile (the engine's counters are cumulative)."""
    a = eng.native.stats(reset=True)
    t0 = time.monotonic()
    await asyncio.sleep(seconds)
    b = eng.native.stats()
    dt = time.monotonic() - t0
    d = {k: b[k] - a[k] for k in ("ticks", "epoll_wakeups", "ticks_late", "ticks_skipped")}
    return d["ticks"] / dt, d["epoll_wakeups"] / dt, d


async def test_few_sessions_share_one_sub_slot_and_empty_sub_slots_cost_no_wake_up():
    from voicecore.engine import AudioEngine

    eng = AudioEngine(subslots=4)
    eng.start()
    try:
        sessions = await _open(eng, 3)
        ticks, wakeups, st = await _rates(eng)
        # one busy sub-slot: 50 ticks a second (4 sub-slots of 5 ms would be 200)
        assert 40 <= ticks <= 60, st
        assert wakeups <= 75, st
        assert st["ticks_late"] == 0 and st["ticks_skipped"] == 0, st
        # closing them all stops the clock: an idle engine does not wake
        for es in sessions:
            await es.close(bye=False)
        await asyncio.sleep(0.05)
        ticks, wakeups, st = await _rates(eng, 0.5)
        assert ticks == 0 and wakeups <= 2, st
        # and it starts again with the next session
        sessions = await _open(eng, 1)
        ticks, _, st = await _rates(eng, 0.5)
        assert 40 <= ticks <= 60, st
    finally:
        await eng.aclose()


async def test_sub_slots_fill_in_turn_then_share_the_load():
    from voicecore.engine import AudioEngine

    eng = AudioEngine(subslots=4, max_sessions=2 * SLOT_FILL + 16)
    eng.start()
    try:
        await _open(eng, SLOT_FILL)
        ticks, _, st = await _rates(eng, 0.5)
        assert 40 <= ticks <= 60, st                   # a full first sub-slot: still one
        await _open(eng, 1)
        ticks, _, st = await _rates(eng, 0.5)
        assert 80 <= ticks <= 120, st                  # one more: the second sub-slot opens
        assert st["ticks_skipped"] == 0, st
    finally:
        await eng.aclose()


async def test_calls_in_a_shared_sub_slot_get_every_frame_on_time():
    # two calls in the one busy sub-slot, the timer armed for it alone: each
    # still gets one frame per 20 ms, without a gap or a late tick
    from voicecore.engine import AudioEngine

    eng = AudioEngine(subslots=4)
    eng.start()
    peers = [RawPeer(), RawPeer()]
    try:
        calls = [await _backend(eng, p) for p in peers]
        got = {i: [] for i in range(2)}
        for i, (b, _s) in enumerate(calls):
            b.on_audio_received(lambda sess, f, i=i: got[i].append(f.timestamp_ms))
        pkts = ulaw_packets(tone(440, 1.0))
        await asyncio.gather(*(send_paced(p, s.metadata["local_addr"], pkts) for p, (_b, s) in zip(peers, calls)))
        await asyncio.sleep(0.2)
        st = eng.native.stats()          # since the engine started
        for b, _s in calls:
            await b.close()
        for i in range(2):
            ts = got[i]
            assert len(ts) >= 45
            assert ts == [20.0 * k for k in range(len(ts))]
        assert st["ticks_late"] == 0, st
    finally:
        for p in peers:
            p.close()
        await eng.aclose()

"""RELIABILITY.md cases 23-27 and 31 at the RTP backend, on real sockets:
spoofing and RTP Bleed, a flood of random datagrams during a call, a dead
peer, a callback that stalls 2 s, connect/disconnect churn with packets in
flight, and outbound pacing while the event loop is blocked."""

from __future__ import annotations

import asyncio
import gc
import os
import random
import resource
import sys
import threading
import time

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the engine is Linux-only")

from engine_support import SANITIZED, RawPeer, open_fds, rtp, tone  # noqa: E402

from voicecore import codec  # noqa: E402


@pytest.fixture
async def engine():
    from voicecore.engine import AudioEngine

    eng = AudioEngine()
    eng.start()
    yield eng
    await eng.aclose()


async def _backend(engine, remote, **kw):
    from voicecore.backends.rtp import RTPVoiceBackend

    b = RTPVoiceBackend(local_addr=("127.0.0.1", 0), remote_addr=remote, engine=engine, **kw)
    return b, await b.connect("room", "user", "voice")


def _call_packets(seconds: float, ssrc: int = 0xCA11):
    x = tone(350, seconds)
    return [rtp(1000 + i, 160 * i, ssrc, codec.lin2ulaw(x[160 * i:160 * (i + 1)].tobytes()), marker=i == 0)
            for i in range(len(x) // 160)]


def _pacer_thread(sock_send, packets, dest, stop_at=None):
    """Send packets on an absolute 20 ms schedule from a thread (not the loop)."""
    def run():
        t0 = time.monotonic()
        for i, p in enumerate(packets):
            d = t0 + 0.02 * i - time.monotonic()
            if d > 0:
                time.sleep(d)
            sock_send(p, dest)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ---------------------------------------------------------------------------- case 23
async def test_spoofed_packets_never_redirect_outbound_media(engine):
    """RTP Bleed: in latching mode one (or three) spoofed packets with a valid
    header do not move outbound media; strict mode never moves it."""
    peer, attacker = RawPeer(), RawPeer()
    try:
        for latching in (False, True):
            b, s = await _backend(engine, peer.addr, latching=latching)
            dest = tuple(s.metadata["local_addr"])
            for p in _call_packets(0.06, ssrc=0xBAD)[:3]:
                attacker.send(p, dest)
            attacker.send(rtp(7, 7, 0xBAD, b"\xff" * 160), dest)        # not sequential: resets probation
            await asyncio.sleep(0.05)
            n0 = len(attacker.rtp())
            await b.send_audio(s, tone(300, 0.2).tobytes())
            await b.wait_playback(s)
            assert len(attacker.rtp()) == n0 == 0
            assert b.session_stats(s)["foreign_source"] == 4
            assert b.session_stats(s)["received"] == 0
            await b.close()
        assert len(peer.rtp()) == 20
    finally:
        peer.close()
        attacker.close()


# ---------------------------------------------------------------------------- case 24
async def test_flood_of_random_datagrams_leaves_the_call_intact(engine):
    peer, flooder = RawPeer(), RawPeer()
    b, s = await _backend(engine, peer.addr)
    frames = []
    b.on_audio_received(lambda sess, f: frames.append(f.metadata["frame_kind"]))
    dest = tuple(s.metadata["local_addr"])
    call = _call_packets(3.0)
    rss0 = _rss_kib()
    t = _pacer_thread(peer.send, call, dest)
    await asyncio.sleep(0.3)                # the flood hits a call that is going on
    rng = random.Random(7)
    sent_flood = 0
    t_end = time.monotonic() + 2.4
    while time.monotonic() < t_end:
        # random bytes, random RTP with random SSRCs from the peer's own address
        # (spoofed source IP/port), and random bytes from elsewhere
        for _ in range(200):
            kind = rng.randrange(3)
            if kind == 0:
                data = rng.randbytes(rng.randrange(0, 1600))
                flooder.send(data, dest)
            elif kind == 1:
                data = rtp(rng.randrange(65536), rng.randrange(1 << 32), rng.randrange(1 << 32),
                           rng.randbytes(rng.randrange(0, 400)), pt=rng.choice([0, 8, 13, 18, 96, 101]))
                peer.send(data, dest)
            else:
                peer.send(rng.randbytes(rng.randrange(0, 60)), dest)
            sent_flood += 1
        await asyncio.sleep(0.01)
    t.join()
    await asyncio.sleep(0.3)
    st = b.session_stats(s)
    await b.close()
    flooder.close()
    peer.close()
    assert sent_flood > 15000
    # the legitimate stream: every packet received and played, nothing concealed mid-call
    assert st["received"] >= len(call) - 1, {k: v for k, v in st.items() if k in ("received", "late", "foreign_ssrc")}
    audio = frames.count("audio")
    assert audio >= len(call) - 2
    first = frames.index("audio")
    last = len(frames) - 1 - frames[::-1].index("audio")
    assert frames[first:last + 1].count("concealed") == 0
    dropped = (st["foreign_source"] + st["malformed"] + st["unknown_pt"] + st["foreign_ssrc"]
               + st["foreign"] + st["oversize"] + st["discarded"] + st["late"] + st["duplicates"]
               + st["malformed_dtmf"])
    assert dropped >= sent_flood * 0.9                      # counted, not silently lost
    if not SANITIZED:  # ASan keeps freed memory in its quarantine: RSS says nothing there
        assert _rss_kib() - rss0 < 20_000                        # bounded (no per-SSRC growth)


# ---------------------------------------------------------------------------- case 25
async def test_dead_peer_is_reported_and_released(engine):
    gc.collect()
    fds0 = open_fds()
    b, s = await _backend(engine, ("127.0.0.1", 9), inactivity_timeout=0.4)   # nobody there
    gone = []
    b.on_client_disconnected(gone.append)
    await asyncio.sleep(0.7)
    assert gone == [s]
    await b.disconnect(s)
    gc.collect()
    assert open_fds() == fds0
    # RTP that stops mid-call
    peer = RawPeer()
    b, s = await _backend(engine, peer.addr, inactivity_timeout=0.3)
    gone = []
    b.on_client_disconnected(gone.append)
    t = _pacer_thread(peer.send, _call_packets(0.4), tuple(s.metadata["local_addr"]))
    await asyncio.sleep(0.5)
    assert gone == []
    t.join()
    await asyncio.sleep(0.5)
    assert gone == [s]
    await b.close()
    peer.close()


# ---------------------------------------------------------------------------- case 26
async def test_callback_stalling_2s_never_blocks_the_packet_path():
    from voicecore.engine import AudioEngine

    engine = AudioEngine(frame_queue=32)       # small, so a 2 s stall overflows it
    engine.start()
    peer = RawPeer()
    try:
        b, s = await _backend(engine, peer.addr)
        kinds, stalled = [], []

        def cb(sess, f):
            kinds.append(f.timestamp_ms)
            if len(kinds) == 20 and not stalled:
                stalled.append(1)
                time.sleep(2.0)                # the event loop is stuck in a callback

        b.on_audio_received(cb)
        dest = tuple(s.metadata["local_addr"])
        t = _pacer_thread(peer.send, _call_packets(3.5), dest)
        await b.send_audio(s, tone(300, 3.0).tobytes())        # outbound keeps flowing meanwhile
        await asyncio.sleep(4.0)
        t.join()
        st = b.session_stats(s)
        out = peer.rtp(0)
        await b.close()
        gaps = np.diff([p.t_ns for p in out]) / 1e6
        # paced through the stall: a send path blocked by the 2 s callback would
        # show a 2,000 ms gap then a burst; 45 ms leaves room for the engine
        # thread being descheduled once on a shared machine (seen: 30.2 ms)
        assert len(out) == 150
        if SANITIZED:
            # the ASan build's engine thread can be descheduled 20 ms and more;
            # the fine bounds are the main run's: here only "not blocked"
            assert gaps.max() < 500.0, gaps
        else:
            assert gaps.max() < 45.0 and np.percentile(gaps, 99) < 25.0, gaps
        assert st["consumer_overflow"] > 0                     # oldest frames dropped, counted
        assert engine.stats()["frame_overflow"] == st["consumer_overflow"]
        # after the stall, one frame per 20 ms again with no further loss
        ts = np.array(kinds)
        tail = np.diff(ts[-60:])
        assert np.all(tail == 20.0)
    finally:
        peer.close()
        await engine.aclose()


# ---------------------------------------------------------------------------- case 27
async def test_connect_disconnect_churn_leaks_nothing(engine):
    cycles = int(os.environ.get("VOICECORE_CHURN", "10000"))
    peer = RawPeer()
    from voicecore.backends.rtp import RTPVoiceBackend

    b = RTPVoiceBackend(local_addr=("127.0.0.1", 0), remote_addr=peer.addr, engine=engine)
    # warm-up, then measure
    for _ in range(50):
        s = await b.connect("r", "u", "v")
        await b.disconnect(s)
    gc.collect()                     # earlier tests' garbage must not move the baseline
    fds0, threads0 = open_fds(), threading.active_count()
    tasks0 = len(asyncio.all_tasks())
    rss0 = _rss_kib()
    pkt = _call_packets(0.1)
    for i in range(cycles):
        s = await b.connect("r", "u", "v")
        dest = tuple(s.metadata["local_addr"])
        for p in pkt[:2]:                       # packets in flight when it closes
            peer.send(p, dest)
        if i % 3 == 0:
            await b.send_audio(s, tone(300, 0.04).tobytes())
        await b.disconnect(s)
    await asyncio.sleep(0.1)
    gc.collect()
    assert open_fds() == fds0
    assert threading.active_count() == threads0
    assert len(asyncio.all_tasks()) == tasks0
    assert engine.stats()["sessions"] == 0 and engine.sessions == []
    if not SANITIZED:  # ASan keeps freed memory in its quarantine: RSS says nothing there
        assert _rss_kib() - rss0 < 8_000, (rss0, _rss_kib())
    peer.close()


# ---------------------------------------------------------------------------- case 31
async def test_pacing_holds_while_the_event_loop_is_blocked(engine):
    """A 5 s utterance handed over at once leaves at 20 ms +- 2 ms spacing
    (p99 lateness <= 5 ms, measured by the receiver) while the event loop is
    blocked for 100 ms of every second."""
    peer = RawPeer()
    b, s = await _backend(engine, peer.addr)
    x = tone(250, 5.0)
    await b.send_audio(s, x.tobytes())
    t_end = time.monotonic() + 5.5
    while time.monotonic() < t_end:
        time.sleep(0.1)                    # the loop is blocked for 100 ms ...
        await asyncio.sleep(0.9)           # ... of every second
    await b.wait_playback(s)
    out = peer.rtp(0)
    await b.close()
    peer.close()
    assert len(out) == 250
    t = np.array([p.t_ns for p in out], dtype=np.int64)
    sched = t[0] + 20_000_000 * np.arange(len(t))
    late_ms = (t - sched) / 1e6
    late_ms -= late_ms.min()
    gaps = np.diff(t) / 1e6
    assert np.percentile(late_ms, 99) <= 5.0, np.percentile(late_ms, 99)
    assert np.mean(np.abs(gaps - 20.0) <= 2.0) >= 0.99, gaps
    assert b"".join(p.payload for p in out) == codec.lin2ulaw(x.tobytes())


def test_rlimit_is_enough_for_the_tests():
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft >= 256

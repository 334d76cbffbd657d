"""RTPVoiceBackend on the native engine, the rest of its API (IPv6, port
allocation, the audio bridge path, mute/gate, the batch API, L16, RTCP round
trip, statistics, the default engine), over real sockets on loopback."""

from __future__ import annotations

import asyncio
import sys
import time

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the engine is Linux-only")

from engine_support import RawPeer, find_exact, rtp, speech, tone  # noqa: E402
from engine_support import backend as _backend  # noqa: E402
from engine_support import send_paced as _send_paced  # noqa: E402
from engine_support import ulaw_packets as _ulaw_packets  # noqa: E402

from voicecore import codec  # noqa: E402
from voicecore.base import AudioChunk  # noqa: E402


@pytest.fixture
async def engine():
    from voicecore.engine import AudioEngine

    eng = AudioEngine()
    eng.start()
    yield eng
    await eng.aclose()


@pytest.fixture
def peer():
    p = RawPeer()
    yield p
    p.close()


# ---------------------------------------------------------------------------- more of the API
async def test_ipv6_loopback_both_ways(engine):
    import socket

    try:
        peer = RawPeer("::1")
    except OSError:
        pytest.skip("no IPv6 loopback")
    try:
        from voicecore.backends.rtp import RTPVoiceBackend

        b = RTPVoiceBackend(local_addr=("::1", 0), remote_addr=peer.addr, engine=engine)
        s = await b.connect("r", "p", "c")
        frames = []
        b.on_audio_received(lambda sess, f: frames.append(f))
        assert s.metadata["local_addr"][0] == "::1"
        await _send_paced(peer, tuple(s.metadata["local_addr"]), _ulaw_packets(tone(500, 0.3)))
        await b.send_audio(s, tone(300, 0.2).tobytes())
        await b.wait_playback(s)
        await asyncio.sleep(0.2)
        assert len(peer.rtp(0)) == 10
        assert sum(f.metadata["frame_kind"] == "audio" for f in frames) >= 14
        assert b._calls[s.id].es.rtp_socket.family == socket.AF_INET6
        await b.close()
    finally:
        peer.close()


async def test_port_allocator_and_port_range(engine, peer):
    from aiortp.port_allocator import PortAllocator

    from voicecore.backends.rtp import RTPVoiceBackend

    alloc = PortAllocator((41000, 41100))
    b = RTPVoiceBackend(local_addr=("127.0.0.1", 0), remote_addr=peer.addr, engine=engine, port_allocator=alloc)
    s1 = await b.connect("r", "a", "c")
    s2 = await b.connect("r", "b", "c")
    p1, p2 = s1.metadata["local_addr"][1], s2.metadata["local_addr"][1]
    assert p1 % 2 == 0 and p2 % 2 == 0 and 41000 <= min(p1, p2) and p1 != p2
    await b.disconnect(s1)
    await asyncio.sleep(0.05)
    assert p1 not in alloc._allocated                   # given back on disconnect
    await b.close()
    b = RTPVoiceBackend(local_addr=("127.0.0.1", 0), remote_addr=peer.addr, engine=engine,
                        port_range=(42000, 42100))
    s = await b.connect("r", "a", "c")
    port = s.metadata["local_addr"][1]
    assert port % 2 == 0 and 42000 <= port < 42100
    assert b._calls[s.id].es.rtcp_socket.getsockname()[1] == port + 1
    await b.close()


async def test_send_audio_sync_and_end_of_response(engine, peer):
    b, s = await _backend(engine, peer)
    x = tone(500, 0.4, rate=16000)
    for i in range(0, len(x), 320):                     # 20 ms chunks from a bridge, at 16 kHz
        b.send_audio_sync(s, AudioChunk(x[i:i + 320].tobytes(), sample_rate=16000))
    b.end_of_response(s)
    assert b.is_playing(s)
    assert await b.wait_playback(s)
    assert not b.is_playing(s)
    await asyncio.sleep(0.05)
    assert len(peer.rtp(0)) in (20, 21)
    await b.close()


async def test_muted_input_is_silence_and_gated_input_is_not_delivered(engine, peer):
    b, s = await _backend(engine, peer)
    frames = []
    b.on_audio_received(lambda sess, f: frames.append(f))
    dest = tuple(s.metadata["local_addr"])
    b.set_input_muted(s, True)
    await _send_paced(peer, dest, _ulaw_packets(tone(500, 0.3)))
    await asyncio.sleep(0.1)
    deadline = time.monotonic() + 2                     # until the muted stream's last frame is in
    while time.monotonic() < deadline:                  # (a slow build delivers it later)
        n = len(frames)
        await asyncio.sleep(0.1)
        if len(frames) == n:
            break
    n_muted = len(frames)
    assert n_muted >= 15 and all(not any(f.data) for f in frames)
    b.set_input_muted(s, False)
    b.set_input_gated(s, True)
    await _send_paced(peer, dest, _ulaw_packets(tone(500, 0.3), seq0=200, ts0=50000))
    await asyncio.sleep(0.1)
    assert len(frames) == n_muted
    b.set_input_gated(s, False)
    await _send_paced(peer, dest, _ulaw_packets(tone(500, 0.3), seq0=300, ts0=100000))
    await asyncio.sleep(0.15)
    await b.close()
    assert any(any(f.data) for f in frames[n_muted:])


async def test_batch_api_hands_all_sessions_frames_as_one_array(engine):
    from voicecore.backends.rtp import RTPVoiceBackend

    peers = [RawPeer() for _ in range(8)]          # 2 per sub-slot (4 sub-slots of 5 ms)
    b = RTPVoiceBackend(local_addr=("127.0.0.1", 0), engine=engine)
    batches = []
    b.on_audio_batch(batches.append)
    sessions = [await b.connect("r", f"p{i}", "c", metadata={"remote_addr": p.addr}) for i, p in enumerate(peers)]
    pk = _ulaw_packets(tone(400, 0.5))
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for i, pkt in enumerate(pk):
        await asyncio.sleep(max(0.0, t0 + 0.02 * i - loop.time()))
        for p, s in zip(peers, sessions):
            p.send(pkt, tuple(s.metadata["local_addr"]))
    await asyncio.sleep(0.3)
    await b.close()
    for p in peers:
        p.close()
    assert batches
    assert all(bt.frames.shape[1] == 160 and bt.frames.dtype == np.int16 for bt in batches)
    assert all(len(bt.sessions) == len(bt.frames) == len(bt.kinds) for bt in batches)
    per = {s.id: 0 for s in sessions}
    for bt in batches:
        for sess, k in zip(bt.sessions, bt.kinds.tolist()):
            per[sess.id] += k == 0
    assert all(v >= 24 for v in per.values()), per
    assert max(len(bt.sessions) for bt in batches) >= 2          # the frames of a sub-slot's calls together


async def test_round_trip_time_from_the_peers_receiver_report(engine):
    """RFC 3550 6.4.1: RTT = arrival - LSR - DLSR, from our SR echoed in the
    peer's RR. The peer holds the SR 300 ms and says so in DLSR; the reported
    RTT must lie between what the test itself observed of the two trips (the
    SR's flight from its NTP timestamp to the kernel's receive stamp, plus the
    RR's flight, bounded by when the statistic first shows it), so the check
    does not depend on how fast this machine is (CI runs it under ASan)."""
    from voicecore._native.engine import rtcp

    def mid32(t_ns: int) -> int:                   # NTP short format of a Unix time in ns
        ntp = (t_ns + 2_208_988_800 * 1_000_000_000) * 65536 // 1_000_000_000
        return ntp & 0xFFFFFFFF

    rtp_peer, rtcp_peer = RawPeer.pair()
    try:
        b, s = await _backend(engine, rtp_peer, rtcp_interval=0.2)
        es = b._calls[s.id].es
        await b.send_audio(s, tone(300, 1.0).tobytes())       # so that we send SRs
        deadline = time.monotonic() + 2
        sr = None
        while time.monotonic() < deadline and sr is None:
            await asyncio.sleep(0.05)
            for p in rtcp_peer.packets:
                r = rtcp.parse(p.data)
                if "sr_ssrc" in r:
                    sr, t_sr = r, p.t_ns                     # kernel receive time (SO_TIMESTAMPNS)
        assert sr is not None
        out_ms = ((mid32(t_sr) - sr["sr_lsr"]) & 0xFFFFFFFF) * 1000 / 65536   # SR's one-way flight
        assert 0.0 <= out_ms < 1000.0, out_ms
        await asyncio.sleep(0.3)                               # the peer holds the SR a while ...
        t_held = time.time_ns()
        dlsr = (t_held - t_sr) * 65536 // 1_000_000_000       # ... and says so (truncated: <= held)
        rr = rtcp.build(ssrc=0x5151, block={"ssrc": sr["sr_ssrc"], "fraction_lost": 64,
                                            "cumulative_lost": 7, "ext_highest_seq": 99, "jitter": 80,
                                            "lsr": sr["sr_lsr"], "dlsr": dlsr})
        rtcp_peer.send(rr, (es.local_addr[0], es.rtcp_socket.getsockname()[1]))
        deadline = time.monotonic() + 2
        st = b.session_stats(s)
        while st["rtt_ms"] is None and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
            st = b.session_stats(s)
        t_seen = time.time_ns()
        await b.close()
        assert st["peer_fraction_lost"] == 0.25 and st["peer_cumulative_lost"] == 7
        assert st["peer_jitter_ms"] == 10.0
        assert st["rtt_ms"] is not None
        # RTT = SR flight + (RR sent .. engine read it) + what DLSR under-states
        # (< 1/65536 s) + NTP short-format rounding (two more units at most)
        unit_ms = 1000 / 65536
        low = out_ms - 3 * unit_ms
        high = out_ms + (t_seen - t_held) / 1e6 + 3 * unit_ms
        assert low <= st["rtt_ms"] <= high, (st["rtt_ms"], low, high)
        assert st["rtt_ms"] < (t_held - t_sr) / 1e6          # the hold (>= 300 ms) was taken off
    finally:
        rtp_peer.close()
        rtcp_peer.close()


async def test_session_statistics_carry_the_reliability_names(engine, peer):
    b, s = await _backend(engine, peer)
    st = b.session_stats(s)
    await b.close()
    names = """received duplicates late lost discarded malformed oversize unknown_pt foreign_source
    foreign_ssrc consumer_overflow concealed_samples concealment_events current_delay_ms
    target_delay_ms jitter_ms ssrc_switches sequence_restarts reordered dtmf_digits cn_frames
    pacer_underruns pacer_max_behind_ms""".split()
    assert [n for n in names if n not in st] == []


def test_the_default_engine_thread_ends_with_its_loop():
    """A backend without an explicit engine uses its loop's default engine;
    the engine's thread ends when the loop is gone (no thread per asyncio.run)."""
    import gc
    import os

    from voicecore.backends.rtp import RTPVoiceBackend

    async def call():
        b = RTPVoiceBackend(local_addr=("127.0.0.1", 0), remote_addr=("127.0.0.1", 9))
        s = await b.connect("r", "p", "c")
        await b.close()
        return s

    def native_threads():
        return len(os.listdir("/proc/self/task"))

    asyncio.run(call())
    gc.collect()
    n0 = native_threads()
    for _ in range(10):
        asyncio.run(call())
        gc.collect()
    assert native_threads() <= n0


async def test_l16_both_ways_bit_exact(engine, peer):
    """L16 (payload type 11 here, as aiortp numbers it; 16-bit big-endian)."""
    b, s = await _backend(engine, peer, payload_type=11)
    frames = []
    b.on_audio_received(lambda sess, f: frames.append(f))
    x = speech(8000, 1.0)
    if x is None:
        x = tone(440, 1.0)
    pk = [rtp(50 + i, 800 + 160 * i, 0x11, x[160 * i:160 * (i + 1)].astype(">i2").tobytes(), pt=11,
              marker=i == 0) for i in range(len(x) // 160)]
    await _send_paced(peer, tuple(s.metadata["local_addr"]), pk)
    await b.send_audio(s, x.tobytes())
    await b.wait_playback(s)
    await asyncio.sleep(0.3)
    out = peer.rtp(11)
    await b.close()
    got = np.frombuffer(b"".join(f.data for f in frames), np.int16)
    assert find_exact(got, x[:-320]) >= 0                          # inbound: sample for sample
    sent = np.frombuffer(b"".join(p.payload for p in out), ">i2").astype(np.int16)
    assert np.array_equal(sent, x[: len(sent)]) and len(sent) == len(x)   # outbound: exact


def test_l16_jitter_buffer_rejects_odd_payloads():
    from voicecore.jitter import JitterBuffer, PushResult

    jb = JitterBuffer(payload_types={11: "l16"})
    assert jb.push(rtp(1, 0, 5, b"\x00" * 321, pt=11), 0) == PushResult.MALFORMED
    assert jb.push(rtp(1, 0, 5, b"\x00" * 320, pt=11), 0) in (PushResult.HELD, PushResult.OK)


@pytest.mark.parametrize("mode", ["silence", "cn"])
async def test_keepalive_while_idle(engine, peer, mode):
    b, s = await _backend(engine, peer, keepalive=mode)
    await asyncio.sleep(0.55)
    await b.send_audio(s, tone(300, 0.1).tobytes())
    await b.wait_playback(s)
    await asyncio.sleep(0.1)
    pk = peer.rtp()
    await b.close()
    media = [p for p in pk if p.pt == 0]
    if mode == "silence":
        # a continuous stream: one packet per 20 ms, silence then the tone, one timeline
        assert len(media) >= 30
        assert [(p.seq - media[0].seq) & 0xFFFF for p in media] == list(range(len(media)))
        assert all(set(p.payload) == {0xFF} for p in media[:20])
    else:
        cn = [p for p in pk if p.pt == 13]
        assert len(cn) >= 2 and all(p.payload == b"\x7f" for p in cn)   # at once, then every 500 ms
        assert len(media) == 5 and media[0].marker


async def test_realtime_priority_is_reported():
    """SCHED_FIFO when permitted; otherwise normal scheduling and the reason."""
    import os

    from voicecore.engine import AudioEngine

    eng = AudioEngine(realtime_priority=5)
    eng.start()
    try:
        st = eng.stats()
        tids = [int(t) for t in os.listdir("/proc/self/task")]
        policies = {os.sched_getscheduler(t) for t in tids}
        if st["realtime"]:
            assert os.SCHED_FIFO in policies
        else:
            assert st["realtime_error"] and os.SCHED_FIFO not in policies
    finally:
        eng.close()
    with pytest.raises(ValueError, match="realtime_priority"):
        AudioEngine(realtime_priority=100)


# ---------------------------------------------------------------------------- SDES-SRTP
def _srtp_pair(suite="AES_CM_128_HMAC_SHA1_80"):
    from voicecore.media import srtp

    a, b = srtp.generate_crypto(1, suite), srtp.generate_crypto(1, suite)
    return a, b


@pytest.mark.parametrize("suite", ["AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AEAD_AES_128_GCM"])
async def test_srtp_both_ways_and_bad_packets_counted(engine, peer, suite):
    from voicecore.media import srtp

    if not srtp.AVAILABLE:
        pytest.skip("built without libsrtp2")
    ours, theirs = _srtp_pair(suite)
    b, s = None, None
    from voicecore.backends.rtp import RTPVoiceBackend

    b = RTPVoiceBackend(local_addr=("127.0.0.1", 0), remote_addr=peer.addr, engine=engine)
    s = await b.connect("r", "p", "c", metadata={"srtp": (ours.to_sdp(), theirs.to_sdp())})
    far = srtp.session_from_sdes(theirs, ours)              # the peer's view of the same keys
    frames = []
    b.on_audio_received(lambda sess, f: frames.append(f))
    x = tone(500, 0.6)
    dest = tuple(s.metadata["local_addr"])
    pk = [far.protect(p) for p in _ulaw_packets(x)]
    tampered = bytearray(pk[6])                 # a packet not yet seen, one bit flipped
    tampered[20] ^= 1
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for i, p in enumerate(pk):
        await asyncio.sleep(max(0.0, t0 + 0.02 * i - loop.time()))
        peer.send(p, dest)
        if i == 5:
            peer.send(bytes(tampered), dest)      # tampered: fails authentication, dropped
            peer.send(p, dest)                    # replayed: dropped, counted
    peer.send(rtp(5000, 0, 0x1234, b"\xff" * 160), dest)   # plain RTP on an SRTP call: fails authentication
    await b.send_audio(s, x[:1600].tobytes())
    await b.wait_playback(s)
    await asyncio.sleep(0.3)
    st = b.session_stats(s)
    out = peer.rtp(0)
    await b.close()
    assert st["received"] == len(pk)
    assert st["srtp_auth_fail"] == 2 and st["srtp_replay"] == 1
    got = np.frombuffer(b"".join(f.data for f in frames), np.int16)
    expect = np.frombuffer(codec.ulaw2lin(codec.lin2ulaw(x.tobytes())), np.int16)
    assert find_exact(got, expect[:-320]) >= 0                 # decrypted bit-exact
    assert len(out) == 10
    plain = [far.unprotect(p.data) for p in out]               # what we sent, the peer decrypts
    assert b"".join(p[12:] for p in plain) == codec.lin2ulaw(x[:1600].tobytes())

"""The jitter buffer's engine API (jitter.pxd), used the way the audio I/O
engine uses it: a test-only Cython module (tests/native/probe_jitter.pyx)
cimports JitterBuffer, its enums and structs from the *installed* .pxd files
and calls push_c / pull_c / dtmf_pop_c / stats_c / rtcp_c inside ``with nogil``
and from a native thread. A .pxd that stops declaring them fails here."""

from __future__ import annotations

import struct
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "native"))
from build import build_probe  # noqa: E402

from voicecore.jitter import FrameKind, JitterBuffer, PushResult  # noqa: E402
from voicecore.testing import netsim as ns  # noqa: E402

MS = 1_000_000
SSRC = 0x5EED


@pytest.fixture(scope="module")
def probe():
    return build_probe("probe_jitter")


def _events(seed: int = 1, **impair):
    """A call with loss, reordering, DTMF and CN as (time_ns, datagram | None) events (None = pull)."""
    s = ns.Sender(audio=ns.speech_like(80000, seed=seed))
    s.talk(1500)
    s.dtmf(4, 120)
    s.talk(500)
    s.pause(400, cn_level=40)
    s.talk(1500)
    s.silence(120)
    arr = ns.deliver(s.packets, base_delay_ms=40, seed=seed, **impair)
    ev = [(a.arrival_ns, a.data) for a in arr] + [(s.start_ns + k * 20 * MS, None) for k in range(230)]
    ev.sort(key=lambda e: (e[0], e[1] is None))
    return ev


def _python_run(events):
    jb = JitterBuffer()
    out, res = bytearray(), []
    frame = bytearray(2 * jb.frame_samples)
    for t, d in events:
        if d is None:
            res.append(jb.pull_into(frame, t))
            out += frame
        else:
            res.append(jb.push(d, t))
    return jb, res, bytes(out)


def test_enum_values_match_the_python_intenums(probe):
    c = probe.codes()
    for m in PushResult:
        assert c["R_" + m.name] == m
    for k in FrameKind:
        assert c["K_" + k.name] == k


@pytest.mark.parametrize("where", ["nogil", "native_thread"])
def test_cdef_api_matches_the_python_api(probe, where):
    """push_c / pull_c without the GIL (on this thread or a native one) give
    exactly what push / pull_into give; stats_c and rtcp_c agree with stats()."""
    events = _events(loss=0.05, reorder=0.1, jitter_ms=5)
    jb_py, res_py, pcm_py = _python_run(events)
    jb = JitterBuffer()
    run = probe.Run(jb, events)
    if where == "nogil":
        run.run_nogil()
    else:
        run.start_thread()
        run.join()
    assert run.results == [int(r) for r in res_py]
    assert run.pcm == pcm_py
    assert probe.sizes(jb) == (160, 8000, 8000)
    st = probe.stats(jb)
    py = jb.stats()
    assert st == {k: py[k] for k in st} and st["received"] > 150 and st["concealed_frames"] > 0
    r = probe.rtcp(jb, False)
    assert r["have_source"] and r["ssrc"] == py["ssrc"] and r["ext_highest_seq"] == py["ext_highest_seq"]
    assert r["cumulative_lost"] == py["cumulative_lost"] > 0 and r["jitter"] == py["jitter_ts"]
    assert r["have_played"] and r["played_ts"] == py["played_ts"]
    assert [d[:2] for d in jb.pop_dtmf()] == [("4", 960)]


def _dtmf_call(n_events: int):
    """Two audio packets start the stream, then ``n_events`` RFC 4733 events
    (an update and an end packet each, distinct timestamps)."""
    pkts = [ns.rtp_packet(100 + i, 160 * i, SSRC, 0, bytes(160)) for i in range(2)]
    want = []
    for e in range(n_events):
        code, ts, dur = e % 16, 5000 + 1000 * e, 160 + 8 * (e % 50)
        pkts.append(ns.rtp_packet(102 + 2 * e, ts, SSRC, 101, struct.pack("!BBH", code, 10, dur // 2)))
        pkts.append(ns.rtp_packet(103 + 2 * e, ts, SSRC, 101, struct.pack("!BBH", code, 0x80 | 10, dur)))
        want.append(("0123456789*#ABCD"[code], dur, ts))
    return [(10**9 + i * MS, p) for i, p in enumerate(pkts)], want


@pytest.mark.parametrize("pause_us", [3, 30])
def test_dtmf_native_producer_python_consumer(probe, pause_us):
    """One native thread pushes packets (push_c, pausing ``pause_us`` after
    each), Python pops digits at the same time: every digit is reported once,
    unchanged, in order; only a full queue (32 digits) drops one, and counts
    it."""
    n = 2000 if pause_us == 3 else 400
    events, want = _dtmf_call(n)
    jb = JitterBuffer()
    run = probe.Run(jb, events, pause_us)
    got = []
    run.start_thread()
    deadline = time.monotonic() + 60
    done = threading.Event()
    joiner = threading.Thread(target=lambda: (run.join(), done.set()))
    joiner.start()
    polls = 0
    while not done.is_set() and time.monotonic() < deadline:
        got += jb.pop_dtmf()
        polls += 1
    joiner.join()
    assert polls > 10                                       # the two threads really overlapped
    got += jb.pop_dtmf()
    st = jb.stats()
    assert st["dtmf_digits"] + st["dtmf_overflow"] == n
    assert len(got) == st["dtmf_digits"]                    # nothing lost, nothing twice
    it = iter(want)
    assert all(any(g == w for w in it) for g in got)       # unchanged and in order (a subsequence)
    assert len(set(g[2] for g in got)) == len(got)
    if pause_us:
        assert got == want and st["dtmf_overflow"] == 0    # a consumer that keeps up gets all of them


def test_dtmf_native_producer_native_consumer(probe):
    """Both sides native and at full speed (a consumer thread spinning on
    dtmf_pop_c while push_c runs): the SPSC digit queue never reports a digit
    twice, invents one or loses one. The head+length queue it replaced failed
    this in 4 of 5 runs (e.g. 51,085 popped for 14,339 digits)."""
    race = build_probe("probe_dtmf_race")
    n = 20000
    for _ in range(3):
        events, want = _dtmf_call(n)
        jb = JitterBuffer()
        cons = race.Consumer(jb, 4 * n)
        run = probe.Run(jb, events, 0)
        cons.start()
        run.start_thread()
        run.join()
        polls, got = cons.stop()
        got += [("0123456789*#ABCD".index(d), dur, ts) for d, dur, ts in jb.pop_dtmf()]
        st = jb.stats()
        sent = {ts for _, _, ts in want}
        assert polls > 10                                   # the threads overlapped
        assert len({g[2] for g in got}) == len(got), "a digit reported twice"
        assert all(g[2] in sent for g in got), "a digit that was never sent"
        assert len(got) == st["dtmf_digits"], (len(got), st["dtmf_digits"])   # nothing lost
        assert st["dtmf_digits"] + st["dtmf_overflow"] == n


def test_dtmf_pop_c_native_consumer(probe):
    events, want = _dtmf_call(20)
    jb = JitterBuffer()
    probe.Run(jb, events).run_nogil()
    assert probe.pop_dtmf(jb) == [("0123456789*#ABCD".index(d), dur, ts) for d, dur, ts in want]
    assert probe.pop_dtmf(jb) == [] and jb.pop_dtmf() == []


def test_engine_ownership(probe):
    """engine_adopt: the Python methods that touch the state raise (naming the
    class and the engine), the configuration stays readable, a second adopt
    fails; engine_release hands it back."""
    events = _events()
    jb = JitterBuffer(frame_ms=10)
    probe.adopt(jb)
    with pytest.raises(RuntimeError, match="already owned"):
        probe.adopt(jb)
    for call in (lambda: jb.push(b"\x80" * 12, 0), lambda: jb.pull(0), lambda: jb.pull_into(bytearray(160), 0),
                 jb.pop_dtmf, jb.stats, jb.rtcp, lambda: jb.target_delay_ms):
        with pytest.raises(RuntimeError, match="JitterBuffer is owned by an Engine's I/O thread"):
            call()
    assert (jb.clock_rate, jb.frame_samples, jb.output_delay_samples) == (8000, 80, 30)
    assert jb.parse_header(next(d for _, d in events if d))[0] == PushResult.OK
    run = probe.Run(jb, events)                  # the engine's own calls keep working
    run.run_nogil()
    assert probe.stats(jb)["received"] > 100
    probe.release(jb)
    assert jb.stats()["received"] == probe.stats(jb)["received"]
    assert jb.pull(10**10)[1] in FrameKind
    probe.adopt(jb)                              # adoptable again after release
    probe.release(jb)


def test_pull_c_writes_exactly_frame_samples(probe):
    for rate, ms in ((8000, 20), (16000, 10), (48000, 5), (48000, 60)):
        jb = JitterBuffer(clock_rate=rate, frame_ms=ms)
        assert probe.sizes(jb) == (rate * ms // 1000, rate, rate)
        s = ns.Sender(clock_rate=rate)
        s.talk(400)
        ev = [(a.arrival_ns, a.data) for a in ns.deliver(s.packets, base_delay_ms=40)]
        ev += [(s.start_ns + k * ms * MS, None) for k in range(500 // ms)]
        ev.sort(key=lambda e: (e[0], e[1] is None))
        run = probe.Run(jb, ev)
        run.run_nogil()
        assert len(run.pcm) == 2 * (500 // ms) * rate * ms // 1000
        assert np.frombuffer(run.pcm, np.int16).any()


@pytest.mark.parametrize("codec", ["g722", "opus"])
def test_engine_api_with_g722_and_opus(probe, codec):
    """The buffers the engine creates for G.722 and Opus sessions, driven
    through push_c / pull_c from a native thread: the same frames as the
    Python methods, at 16 / 48 kHz, with the RTP clock the engine needs for
    RTCP (rtp_clock_rate_c)."""
    import codec_jitter_eval as ev
    from voicecore.media import opus

    if codec == "opus" and not opus.AVAILABLE:
        pytest.skip(str(opus.UNAVAILABLE_REASON))
    make = ((lambda: JitterBuffer(clock_rate=16000, payload_types={9: "g722"})) if codec == "g722" else
            (lambda: JitterBuffer(clock_rate=48000, payload_types={111: "opus"})))
    x = ns.speech_like(3 * 48000, seed=2, rate=48000)
    pk = ev.g722_packets(x[::3].copy()) if codec == "g722" else ev.opus_packets(x, 48000, fec=True, loss_percent=10)
    arr = ns.deliver(pk, base_delay_ms=40, seed=4, loss=0.08, reorder=0.1, jitter_ms=5)
    events = [(a.arrival_ns, a.data) for a in arr] + [(ev.T0 + k * 20 * MS, None) for k in range(170)]
    events.sort(key=lambda e: (e[0], e[1] is None))
    jb_py = make()
    frame = bytearray(2 * jb_py.frame_samples)
    res_py, pcm_py = [], bytearray()
    for t, d in events:
        if d is None:
            res_py.append(jb_py.pull_into(frame, t))
            pcm_py += frame
        else:
            res_py.append(jb_py.push(d, t))
    jb = make()
    run = probe.Run(jb, events)
    run.start_thread()
    run.join()
    assert run.results == [int(r) for r in res_py]
    assert run.pcm == bytes(pcm_py)
    assert probe.sizes(jb) == ((320, 16000, 8000) if codec == "g722" else (960, 48000, 48000))
    st = probe.stats(jb)
    assert st["concealed_frames"] > 0 and st["audio_frames"] > 100
    r = probe.rtcp(jb, False)
    assert r["jitter"] == jb_py.stats()["jitter_ts"] and r["played_ts"] == jb_py.stats()["played_ts"]

"""Regression tests for what the fuzzers (fuzz/) found.

* fuzz/regressions/<target>/: minimal inputs of fixed findings, replayed
  through the target's checks (in this process: under the sanitizer build a
  finding aborts the run, which is the failure).
* fuzz/regressions/open/<target>/: findings in components owned elsewhere,
  replayed in a subprocess and expected to fail under the sanitizer build
  until fixed (xfail, not strict: a release build cannot see them).
* Direct tests of the same bugs through the public API.
"""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

FUZZ = Path(__file__).resolve().parents[1] / "fuzz"
REG = FUZZ / "regressions"
SANITIZED = "asan" in os.environ.get("LD_PRELOAD", "")


def _target(name: str):
    sys.path.insert(0, str(FUZZ))
    try:
        return importlib.import_module(f"fuzz_{name}")
    finally:
        sys.path.remove(str(FUZZ))


def _dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def _fixed_inputs():
    for d in (p for p in _dirs(REG) if p.name != "open"):
        for f in sorted(d.iterdir()):
            yield pytest.param(d.name, f, id=f"{d.name}/{f.name}")


@pytest.mark.parametrize(("target", "path"), list(_fixed_inputs()))
def test_fixed_finding_replays_clean(target, path):
    _target(target).test_one_input(path.read_bytes())


def _open_inputs():
    for t in _dirs(REG / "open"):
        for f in sorted(t.iterdir()):
            yield pytest.param(t.name, f, id=f"open/{t.name}/{f.name}")


@pytest.mark.xfail(SANITIZED, reason="open finding owned elsewhere (see the issue-13 report): UBSan aborts", strict=False)
@pytest.mark.parametrize(("target", "path"), list(_open_inputs()))
def test_open_finding_replays_clean(target, path):
    proc = subprocess.run([sys.executable, str(FUZZ / f"fuzz_{target}.py"), str(path)],
                          env=dict(os.environ, VOICECORE_FUZZ_REPLAY="1"), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-4000:]


# ------------------------------------------------------------------ misaligned buffers (fixed)
def _misaligned(data: bytes) -> memoryview:
    raw = bytearray(len(data) + 1)
    raw[1:] = data
    return memoryview(raw)[1:]


def test_misaligned_buffers_give_the_aligned_result():
    """G.711, PCM and the resampler read a buffer at an odd address through an
    aligned copy and write a misaligned out= through an aligned scratch: same
    result, bytes past what was written untouched (UBSan: misaligned int16 load
    in s16_mean_square / s16_to_f32 before the fix)."""
    from voicecore._native.media import g711, pcm
    from voicecore._native.media.resample import Resampler

    x = (np.sin(np.arange(401) / 7) * 20000).astype(np.int16).tobytes()
    u = _misaligned(x)
    assert np.frombuffer(u, np.uint8).ctypes.data & 1                # really at an odd address
    assert g711.lin2ulaw(u) == g711.lin2ulaw(x)
    assert g711.lin2alaw(u) == g711.lin2alaw(x)
    assert pcm.mean_square(u) == pcm.mean_square(x)
    assert np.array_equal(pcm.s16le_to_float32(u), pcm.s16le_to_float32(x))
    assert Resampler(8000, 16000).process(u) == Resampler(8000, 16000).process(x)
    f = pcm.s16le_to_float32(x)
    fu = np.frombuffer(_misaligned(f.tobytes()), np.float32)
    assert not fu.flags.aligned
    assert pcm.float32_to_s16le(fu) == pcm.float32_to_s16le(f)

    codes = g711.lin2ulaw(x)
    raw = bytearray(b"\x5a" * (2 * len(codes) + 9))
    out = memoryview(raw)[1:]
    g711.ulaw2lin(codes, out)
    assert bytes(out[: 2 * len(codes)]) == g711.ulaw2lin(codes)
    assert raw[0] == 0x5A and raw[1 + 2 * len(codes):] == b"\x5a" * 8
    fraw = bytearray(b"\x5a" * (4 * len(f) + 5))
    pcm.s16le_to_float32(x, memoryview(fraw)[1:])
    assert bytes(fraw[1:1 + 4 * len(f)]) == f.tobytes() and fraw[1 + 4 * len(f):] == b"\x5a" * 4


def test_misaligned_out_of_the_jitter_buffer():
    from voicecore._native.media.jitter import JitterBuffer

    a, b = JitterBuffer(), JitterBuffer()
    raw = bytearray(2 * a.frame_samples + 1)
    kind = a.pull_into(memoryview(raw)[1:], 10**9)
    pcm, kind_b = b.pull(10**9)
    assert int(kind) == int(kind_b) and bytes(raw[1:]) == pcm


# ------------------------------------------------------------------ jitter buffer: far-apart times (fixed)
_I64 = 2**63
_FRAME_NS = 20_000_000


def _talk(jb, seq0: int, n: int, t_push: int, t_pull: int | None, *, ssrc: int = 0x1234) -> list:
    """``n`` 20 ms G.711 packets (seq ``seq0``.., timestamps in step) pushed
    from ``t_push`` and, unless ``t_pull`` is None, a pull after each from
    ``t_pull`` (ns, 20 ms apart on each clock); returns the push results and
    the frame kinds."""
    from voicecore.testing import netsim as ns

    audio = ns.ulaw_encode(ns.speech_like(8000 * 4))
    out = []
    for k in range(n):
        i = seq0 + k
        p = ns.rtp_packet(i, 1000 + 160 * i, ssrc, 0, audio[160 * (i % 190): 160 * (i % 190) + 160])
        out.append(jb.push(p, t_push + k * _FRAME_NS))
        if t_pull is not None:
            out.append(jb.pull(t_pull + k * _FRAME_NS)[1])
    return out


def _finite_figures(jb, pushes: int) -> None:
    st = jb.stats()
    for k in ("jitter_ms", "target_delay_ms", "current_delay_ms"):
        assert np.isfinite(st[k]), (k, st[k])
    assert sum(st[k] for k in ("received", "held", "duplicates", "late", "malformed", "oversize", "unknown_pt",
                               "foreign", "foreign_ssrc", "discarded", "malformed_dtmf")) == pushes


def test_jitter_buffer_far_apart_clocks_keep_working():
    """Arrival and pull times more than 2^63 ns apart (API misuse such as a
    wall-clock arrival with a monotonic pull; fuzz/regressions/rtp_jitter/
    ubsan-int64-overflow-*): the probation pair that re-anchors the stream
    validates (before the fix ``now - cand_arrival`` wrapped and each pull
    dropped the held packet, so the stream never came back), the figures
    stay finite, and audio plays again once the clocks agree."""
    from voicecore.jitter import FrameKind, JitterBuffer, PushResult

    jb = JitterBuffer(clock_rate=8000, frame_ms=20)
    first = _talk(jb, 100, 50, 10**9, 10**9 + 60_000_000)
    assert first[1::2][-10:] == [FrameKind.AUDIO] * 10
    far = _talk(jb, 150, 20, _I64 - 10**12, -_I64 + 10**12)
    pushes = far[0::2]
    assert pushes[0] == PushResult.HELD and set(pushes[1:]) == {PushResult.OK}, pushes
    assert all(k in set(FrameKind) for k in far[1::2])
    assert jb.stats()["sequence_restarts"] == 1
    _finite_figures(jb, 70)
    again = _talk(jb, 170, 60, 5 * 10**12, 5 * 10**12 + 60_000_000)
    assert again[-40:][1::2] == [FrameKind.AUDIO] * 20, again[-40:]
    _finite_figures(jb, 130)


def test_jitter_buffer_rtcp_jitter_saturates():
    """A re-anchored stream whose arrivals went 2e18 ns back in time: the
    A.8 jitter jumps past what the 32-bit RTCP field holds and is reported
    as 0xFFFFFFFF (fuzz/regressions/rtp_jitter/ubsan-float-cast-rtcp79-*:
    before the fix an out-of-range double -> uint32 conversion, on x86 a
    wrapped value)."""
    from voicecore.jitter import JitterBuffer, PushResult

    jb = JitterBuffer(clock_rate=8000, frame_ms=20)
    assert set(_talk(jb, 100, 10, 10**18, None)[1:]) == {PushResult.OK}
    assert set(_talk(jb, 400, 10, -10**18, None)[1:]) == {PushResult.OK}
    assert jb.stats()["sequence_restarts"] == 1
    assert jb.rtcp(new_interval=False)["jitter"] == 0xFFFFFFFF
    assert jb.stats()["jitter_ts"] == 0xFFFFFFFF
    assert 1e9 < jb.stats()["jitter_ms"] < 1e30


# ------------------------------------------------------------------ engine (fixed: frames carry the session's generation)
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the engine needs Linux")
def test_engine_index_reuse_gets_no_stale_frames():
    """A call ends while its frames wait for a busy event loop; the loop's
    wake-up budget (max_frames) runs out after the 'removed' event, and the
    next call opened gets the same index: it must not receive the ended
    call's audio."""
    from voicecore._native.engine import engine as E
    from voicecore._native.media.jitter import JitterBuffer

    eng = E.Engine(max_sessions=4)
    eng.start()
    socks = []
    try:
        for _ in range(2):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            s.setblocking(False)
            socks.append(s)
        deliver_early = E.FLAG_DELIVER | E.FLAG_DELIVER_EARLY
        idx, _ = eng.add_session(fd=socks[0].fileno(), remote=("127.0.0.1", 9), jitter=JitterBuffer(),
                                 rtcp=False, flags=deliver_early)
        eng.set_sink(idx, lambda pcm, kind, no: None)
        time.sleep(0.3)                                  # frames of call A wait for the loop
        eng.remove_session(idx, bye=False)
        time.sleep(0.1)
        eng.drain(lambda *ev: None, None, 4)             # budget ends after the 'removed' event
        j, _ = eng.add_session(fd=socks[1].fileno(), remote=("127.0.0.1", 9), jitter=JitterBuffer(),
                               rtcp=False, flags=deliver_early)
        got = []
        eng.set_sink(j, lambda pcm, kind, no: got.append(no))
        eng.drain(lambda *ev: None)
        assert j == idx
        assert got == sorted(got) and (not got or got[0] == 0), f"call B received call A's frames {got}"
        assert eng.stats()["stale_frames"] > 0          # call A's frames were dropped and counted
    finally:
        eng.stop()
        for s in socks:
            s.close()


# ------------------------------------------------------------------ backend (fixed: an ended session drops its callbacks)
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the engine needs Linux")
async def test_disconnected_call_is_freed_without_the_cyclic_gc():
    """benchmarks/soak.py found the heap growing ~105 KiB per ended call at
    2 calls/s (+280 MB in 27 min with 500 calls) and flat with gc.collect():
    an ended call must be released by reference counting alone."""
    import gc
    import weakref

    from voicecore.backends.rtp import RTPVoiceBackend
    from voicecore.engine import AudioEngine

    eng = AudioEngine(max_sessions=8)
    eng.start()
    b = RTPVoiceBackend(local_addr=("127.0.0.1", 0), remote_addr=("127.0.0.2", 9), engine=eng,
                        inactivity_timeout=0)
    b.on_audio_received(lambda session, frame: None)
    gc.collect()
    gc.disable()
    try:
        s = await b.connect("room", "caller", "voice")
        es = weakref.ref(b._calls[s.id].es)
        await b.disconnect(s)
        del s
        assert es() is None, "the ended call's EngineSession is only reachable through a reference cycle"
    finally:
        gc.enable()
        eng.close()

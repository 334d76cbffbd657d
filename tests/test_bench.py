"""``voicecore bench`` and its parts: the send-schedule stamps survive G.711 and
any cut of the stream, the lateness and delivery figures are right on a tiny
real run, the pacing test sees 20 ms spacing, and the command runs in a
subprocess (exit 0, no traceback, JSON and plot written)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the engine is Linux-only")

from voicecore.bench import stamp  # noqa: E402
from voicecore.codec import lin2ulaw, ulaw2lin  # noqa: E402

HAVE_PLOT = importlib.util.find_spec("matplotlib") is not None


def _g711(pcm: np.ndarray) -> np.ndarray:
    return np.frombuffer(ulaw2lin(lin2ulaw(pcm.tobytes())), dtype=np.int16)


@pytest.mark.parametrize("cut", [0, 1, 37, 79, 80, 81, 148, 150, 159])
def test_stamps_survive_g711_and_any_cut(cut):
    pcm = _g711(stamp.stamped_packets(4321, 262_000, 30, np.tile(stamp.tone(1.0), 2)))
    frames = pcm[cut : cut + 160 * 25].reshape(25, 160)
    ok, call, sample, offset = stamp.decode(frames)
    assert ok.all() and (call == 4321).all()
    # the stream sample at each frame's start, exactly
    np.testing.assert_array_equal(sample - offset, 262_000 * 160 + cut + 160 * np.arange(25))


def test_plain_audio_and_damaged_stamps_are_not_read():
    assert not stamp.decode(stamp.tone(1.0)[:1600].reshape(10, 160))[0].any()
    pcm = stamp.stamped_packets(7, 100, 10, np.tile(stamp.tone(1.0), 2)).reshape(10, 160)
    hit = pcm.copy()
    for digit in (2, 5, 9):                  # a call, a packet and the half digit
        for at in (digit, 80 + digit):       # in both stamps of every packet
            wrong = np.frombuffer(lin2ulaw(hit[:, at].tobytes()), np.uint8) ^ 0x01   # one digit off by one
            hit[:, at] = np.frombuffer(ulaw2lin(wrong.tobytes()), np.int16)
        ok, *_ = stamp.decode(hit)
        assert not ok.any(), digit           # the check digit refuses them
        hit = pcm.copy()
    concealed = np.zeros((3, 160), dtype=np.int16)
    assert not stamp.decode(concealed)[0].any()


def test_a_tiny_run_measures_lateness_and_delivery():
    from voicecore.bench.capacity import cpus
    from voicecore.bench.load import measure, sample_stride

    c = cpus()
    res = measure("voicecore-batch", 12, seconds=1.5, warmup=1.0, both=True,
                  rx_cpu=c[0], gen_cpu=c[1] if len(c) > 1 else c[0])  # fmt: skip
    lat = res["lateness_ms"]
    sampled = len(range(0, 12, sample_stride(12)))                # a quarter of the calls at most
    assert sampled == 3
    assert lat["count"] > 0.9 * sampled * 50 * 1.5 * 0.9, lat     # every sampled call's frames stamped
    # Never early (a wrong anchor, offset or declared delay would show), and the
    # promptest frames arrive within a few ms even on a busy machine.
    assert -1.0 < lat["min"] < 10.0, lat
    assert lat["max"] >= lat["p99"] >= lat["p50"] >= lat["min"]
    assert 99.0 <= res["delivered_pct"] <= 100.0, res               # no loss on loopback
    assert res["tx_packets"] > 0 and res["rx_packets"] > 0
    gen = res["generator"]
    assert gen["anchors"] == gen["sampled"] == sampled
    assert res["cpu_us_per_packet"] > 0


def test_a_tiny_srtp_run_authenticates_every_packet():
    """``srtp``: the generator and the receiver derive the same per-call keys,
    so every packet is protected, authenticated and delivered both ways."""
    from voicecore.bench.capacity import cpus
    from voicecore.bench.load import bench_keys, measure
    from voicecore.media import srtp

    if not srtp.AVAILABLE:
        pytest.skip(str(srtp.UNAVAILABLE_REASON))
    rx, gen = bench_keys("AES_CM_128_HMAC_SHA1_32", 7)
    assert len(rx) == len(gen) == 30 and rx != gen and bench_keys("AES_CM_128_HMAC_SHA1_32", 8)[0] != rx
    c = cpus()
    res = measure("voicecore", 8, seconds=1.0, warmup=1.0, both=True, srtp="AES_CM_128_HMAC_SHA1_80",
                  rx_cpu=c[0], gen_cpu=c[1] if len(c) > 1 else c[0])  # fmt: skip
    assert res["srtp"] == "AES_CM_128_HMAC_SHA1_80" and res["srtp_failures"] == 0, res
    assert res["rx_packets"] > 0 and res["tx_packets"] > 0
    assert 99.0 <= res["delivered_pct"] <= 100.0, res
    with pytest.raises(ValueError, match="measure: srtp is measured on voicecore's stacks only"):
        measure("roomkit", 1, srtp="AES_CM_128_HMAC_SHA1_80")
    with pytest.raises(ValueError, match="measure: unknown SRTP suite 'nope'"):
        measure("voicecore", 1, srtp="nope")


def test_pacing_test_sees_20_ms_spacing():
    out = subprocess.run([sys.executable, "-m", "voicecore.bench.pacing", "--calls", "5", "--seconds", "2.5"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["calls"] == 5 and res["stalls"] >= 2
    assert 19.5 < res["spacing_ms"]["p50"] < 20.5


def test_bench_command_runs_and_writes(tmp_path):
    args = [sys.executable, "-m", "voicecore", "bench", "--calls", "10", "--seconds", "1", "--warmup", "0.5",
            "--stacks", "voicecore", "--mode", "recv", "--no-pacing", "--json", str(tmp_path / "b.json")]
    if HAVE_PLOT:
        args += ["--plot", str(tmp_path / "b.png")]
    res = subprocess.run(args, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0 and "Traceback" not in res.stdout + res.stderr, res.stdout + res.stderr
    for needle in ("what the columns mean:", "CPU %:", "us/pkt:", "lateness (ms):", "largest number of concurrent",
                   "voicecore per-frame", "load average"):  # fmt: skip
        assert needle in res.stdout, needle
    doc = json.loads((tmp_path / "b.json").read_text())
    (point,) = doc["points"]
    assert point["stack"] == "voicecore" and point["calls"] == 10 and point["mode"] == "recv"
    for key in ("cpu_pct", "cpu_us_per_packet", "delivered_pct", "lateness_ms", "socket_drops", "sustained"):
        assert key in point, key
    assert doc["settings"]["limits"] == {"cpu_pct": 95.0, "lateness_p99_ms": 5.0, "delivered_pct": 99.9}
    if HAVE_PLOT:
        assert (tmp_path / "b.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sustained_limits():
    from voicecore.bench.capacity import failures

    good = {"cpu_pct": 50.0, "lateness_ms": {"p99": 1.0}, "delivered_pct": 100.0}
    assert failures(good) == []
    assert failures({**good, "cpu_pct": 96.0}) == ["CPU 96 %"]
    assert failures({**good, "cpu_pct": 96.0}, cpu=False) == []
    assert failures({**good, "lateness_ms": {"p99": 5.0}}) == ["p99 lateness 5.0 ms"]
    assert failures({**good, "delivered_pct": 99.89}) == ["delivered 99.89 %"]
    assert failures({**good, "lateness_ms": {"count": 0}}) == ["no lateness sample"]

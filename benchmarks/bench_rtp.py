"""The whole RTP receive path, side by side with roomkit + aiortp in one run.

Each case runs two processes on loopback (voicecore.bench.load): a receiver
with N calls on the stack under test, pinned to CPU 0, and voicecore's engine
as the load generator (50 packets per second per call), pinned to CPU 1. The
figure is the receiver's CPU time (all threads, user + system) per packet:
received packets for ``recv``, received + sent for ``both`` (the receiver
also sends 50 packets per second per call back: voicecore paces 1 s chunks
itself; roomkit, which does not pace, gets one 20 ms chunk per call every
20 ms through send_audio_sync, as an audio bridge feeds it).

With ``--benchmark-enable`` every stack runs at 100 and 1,000 calls and the
same-run targets are asserted: voicecore's per-frame path (socket to
AudioFrame callback) <= 3 CPU-us per received packet and >= 5x less than
roomkit. With ``--benchmark-disable`` (the default) each stack runs once with
20 calls for 2 s, as a test that the machinery works.

    python -m pytest benchmarks/bench_rtp.py --benchmark-enable -s
"""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the engine is Linux-only")

HAVE_ROOMKIT = importlib.util.find_spec("roomkit") is not None and importlib.util.find_spec("aiortp") is not None
RESULTS: dict[tuple[str, int, str], dict] = {}


def _cpus() -> tuple[int | None, int | None]:
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)


def _enabled(config) -> bool:
    """--benchmark-enable on the command line wins over the --benchmark-disable of addopts."""
    return not (config.getoption("benchmark_disable", False) and not config.getoption("benchmark_enable", False))


STACKS = ["voicecore", "voicecore-batch", "roomkit"]


@pytest.mark.parametrize("mode", ["recv", "both"])
@pytest.mark.parametrize("calls", [100, 1000])
@pytest.mark.parametrize("stack", STACKS)
def test_rtp_path(benchmark, request, stack, calls, mode):
    from voicecore.bench.load import measure

    if stack == "roomkit" and not HAVE_ROOMKIT:
        pytest.skip("roomkit + aiortp not installed (Python 3.12+)")
    enabled = _enabled(request.config)
    if not enabled:
        if calls != 100:
            pytest.skip("full sizes only with --benchmark-enable")
        calls, seconds, warmup = 20, 2.0, 1.0
    else:
        seconds, warmup = 6.0, 3.0
    rx_cpu, gen_cpu = _cpus()
    res = {}

    def run():
        res.update(measure(stack, calls, seconds=seconds, warmup=warmup, both=(mode == "both"),
                           rx_cpu=rx_cpu, gen_cpu=gen_cpu))

    benchmark.group = f"rtp-{mode}-{calls}"
    benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update({k: v for k, v in res.items() if not isinstance(v, dict)})
    RESULTS[(stack, calls, mode)] = res
    assert res["delivered_pct"] > 95.0 or stack == "roomkit", res
    if enabled:
        print(f"\n{stack:16s} {calls:5d} calls {mode:4s}: {res['cpu_us_per_packet']:6.2f} CPU-us/packet, "
              f"CPU {res['cpu_pct']:5.1f} %, delivered {res['delivered_pct']:6.2f} %")


def test_rtp_targets(request):
    """Same-run ratios (only with --benchmark-enable, after the cases above)."""
    if not _enabled(request.config):
        pytest.skip("targets are checked with --benchmark-enable")
    for calls in (100, 1000):
        vc = RESULTS.get(("voicecore", calls, "recv"))
        rk = RESULTS.get(("roomkit", calls, "recv"))
        if vc is None:
            pytest.skip("run the whole module")
        print(f"\n{calls} calls: voicecore {vc['cpu_us_per_packet']:.2f} us/packet"
              + (f", roomkit {rk['cpu_us_per_packet']:.2f} ({rk['cpu_us_per_packet'] / vc['cpu_us_per_packet']:.1f}x)"
                 if rk else ""))
        if calls == 1000:
            assert vc["cpu_us_per_packet"] <= 3.0, vc
            if rk is not None:
                assert rk["cpu_us_per_packet"] >= 5.0 * vc["cpu_us_per_packet"], (vc, rk)

"""``python -m voicecore bench`` as a benchmark: the capacity ladder runs once
per stack with a small N, so the machinery (receiver and generator processes,
stamps, lateness, delivery, the sustained limits) keeps working.

With ``--benchmark-disable`` (the default) each stack runs 20 calls both ways
for 1 s after a 0.5 s warm-up: a few seconds per stack. With
``--benchmark-enable`` it runs 500 calls for 3 s and checks the same-run
ratio against roomkit + aiortp (CPU per packet, >= 3x). The full ladder and
its table are ``python -m voicecore bench`` (see the README).

``test_srtp_cost`` measures voicecore's CPU time per packet with SDES-SRTP
(AES_CM_128_HMAC_SHA1_80 on every call, both ways) right after the plain run
at the same number of calls: 20 calls as a test, 200 and 500 calls with
``--benchmark-enable`` (the table and the same-session ratios).

    python -m pytest benchmarks/bench_capacity.py --benchmark-enable -s
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the engine is Linux-only")

HAVE_ROOMKIT = importlib.util.find_spec("roomkit") is not None and importlib.util.find_spec("aiortp") is not None
RESULTS: dict[str, dict] = {}


def _enabled(config) -> bool:
    """--benchmark-enable on the command line wins over the --benchmark-disable of addopts."""
    return not (config.getoption("benchmark_disable", False) and not config.getoption("benchmark_enable", False))


@pytest.mark.parametrize("stack", ["voicecore", "voicecore-batch", "roomkit"])
def test_capacity_ladder(benchmark, request, stack):
    from voicecore.bench import capacity

    if stack == "roomkit" and not HAVE_ROOMKIT:
        pytest.skip("roomkit + aiortp not installed (Python 3.12+)")
    enabled = _enabled(request.config)
    calls, seconds, warmup = ([500], 3.0, 2.0) if enabled else ([20], 1.0, 0.5)
    cpus = capacity.cpus()
    rx, gen = (cpus[0], cpus[1]) if len(cpus) > 1 else (None, None)
    out: list[dict] = []

    def run() -> None:
        out[:] = capacity.ladder([stack], ["both"], calls, seconds=seconds, warmup=warmup, rx_cpu=rx, gen_cpu=gen)

    benchmark.group = "capacity"
    benchmark.pedantic(run, rounds=1, iterations=1)
    (r,) = out
    assert "error" not in r, r
    benchmark.extra_info.update({k: r[k] for k in ("calls", "cpu_pct", "cpu_us_per_packet", "delivered_pct")})
    RESULTS[stack] = r
    assert r["lateness_ms"]["count"] > 0 and r["rx_packets"] > 0 and r["tx_packets"] > 0
    assert r["delivered_pct"] > 99.0, r      # loopback loses nothing at this load
    if enabled:
        print(f"\n{stack:16s} {r['calls']} calls both ways: {r['cpu_us_per_packet']:.2f} CPU-us/packet, "
              f"CPU {r['cpu_pct']:.0f} %, p99 lateness {r['lateness_ms']['p99']:.2f} ms")


def test_capacity_ratio(request):
    """Same-run ratio (only with --benchmark-enable, after the cases above)."""
    if not _enabled(request.config):
        pytest.skip("the ratio is checked with --benchmark-enable")
    vc, rk = RESULTS.get("voicecore"), RESULTS.get("roomkit")
    if vc is None or rk is None:
        pytest.skip("run the whole module with roomkit installed")
    ratio = rk["cpu_us_per_packet"] / vc["cpu_us_per_packet"]
    print(f"\nroomkit / voicecore CPU per packet, same run: {ratio:.1f}x")
    assert ratio >= 3.0


@pytest.mark.parametrize("stack", ["voicecore", "voicecore-batch"])
def test_srtp_cost(benchmark, request, stack):
    """CPU time per packet with SDES-SRTP (AES_CM_128_HMAC_SHA1_80, every call
    both ways) against the plain run at the same number of calls, measured one
    after the other in this session (``python -m voicecore bench --srtp``).
    With --benchmark-enable: 200 and 500 calls, the table and the ratios."""
    from voicecore.bench import capacity, report
    from voicecore.media import srtp

    if not srtp.AVAILABLE:
        pytest.skip(str(srtp.UNAVAILABLE_REASON))
    enabled = _enabled(request.config)
    calls, seconds, warmup = ([200, 500], 4.0, 2.0) if enabled else ([20], 1.0, 0.5)
    cpus = capacity.cpus()
    rx, gen = (cpus[0], cpus[1]) if len(cpus) > 1 else (None, None)
    out: list[dict] = []

    def run() -> None:
        out[:] = capacity.ladder([stack], ["both"], calls, seconds=seconds, warmup=warmup, rx_cpu=rx, gen_cpu=gen,
                                 srtp="AES_CM_128_HMAC_SHA1_80")

    benchmark.group = "capacity-srtp"
    benchmark.pedantic(run, rounds=1, iterations=1)
    assert [r.get("error") for r in out] == [None] * len(out), out
    plain = [r for r in out if not r.get("srtp")]
    with_srtp = capacity.srtp_cost(out)
    assert [r["calls"] for r in with_srtp] == [r["calls"] for r in plain] == calls
    for r in with_srtp:
        assert r["srtp"] == "AES_CM_128_HMAC_SHA1_80" and r["srtp_failures"] == 0, r
        assert r["rx_packets"] > 0 and r["tx_packets"] > 0
        if not r.get("generator_note"):          # (the generator protects every packet too: on a busy
            assert r["delivered_pct"] > 99.0, r  # machine it may fall behind, which the note says)
        benchmark.extra_info[f"{r['calls']}_plain_us_per_packet"] = r["plain_us_per_packet"]
        benchmark.extra_info[f"{r['calls']}_srtp_us_per_packet"] = r["cpu_us_per_packet"]
        benchmark.extra_info[f"{r['calls']}_srtp_ratio"] = r["srtp_ratio"]
    if enabled:
        print()
        for line in report.srtp_table(out):
            print(line)
        for r in out:
            if r.get("generator_note"):
                print(f"  caution: {r['calls']} calls{' with SRTP' if r.get('srtp') else ''}: {r['generator_note']}")

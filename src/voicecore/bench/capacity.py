"""The capacity ladder behind ``python -m voicecore bench``.

For each stack and direction, N concurrent calls climb a ladder (for example
100 to 6,000); each step is one :func:`voicecore.bench.load.measure` (a
receiver process with the stack under test pinned to one core, voicecore's
engine as the load generator pinned to another). A step is *sustained* when
the receiver's CPU stays under 95 % of its core, the p99 lateness of delivery
under 5 ms and at least 99.9 % of the packets sent reach the application as
audio. A stack stops climbing after two steps in a row that are not
sustained, or one where its core is saturated.

``engines_ladder`` measures calls per machine with K engines: K receiver
processes (one engine each, each pinned to its own core, each on its own
port range) with N/K calls each, every one fed by its own generator pinned
to the next core, so on a machine with K cores each core carries one
receiver and one generator. A step is sustained when every engine keeps the
lateness and delivery limits (the CPU limit is left out: each core is shared
with a generator by construction).

With ``srtp`` (a suite), every point of voicecore's stacks is measured a
second time right after the plain one, with SDES-SRTP on every call (same
calls, same pinning): the SRTP point carries ``srtp`` (the suite),
``plain_us_per_packet`` and ``srtp_ratio`` (its CPU time per packet over the
plain point's). SRTP points do not steer the ladder and are left out of the
"largest sustained" summary; :func:`srtp_cost` lists them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from voicecore.bench import load

__all__ = ["LIMITS", "Step", "engines_ladder", "ladder", "srtp_cost", "sustained"]

#: What "sustained" means (receiver CPU % of one core, p99 lateness ms, delivered %).
LIMITS = {"cpu_pct": 95.0, "lateness_p99_ms": 5.0, "delivered_pct": 99.9}
MODES = ("recv", "both")


@dataclass
class Step:
    """One point of a ladder, for the progress display."""

    stack: str
    mode: str
    calls: int
    engines: int = 1
    srtp: str | None = None


def cpus() -> list[int]:
    """The CPUs this process may run on."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))


def failures(r: dict[str, Any], *, cpu: bool = True) -> list[str]:
    """Why a measured point is not sustained (empty: it is)."""
    why = []
    if r.get("error"):
        return [f"failed: {r['error']}"]
    if cpu and r["cpu_pct"] >= LIMITS["cpu_pct"]:
        why.append(f"CPU {r['cpu_pct']:.0f} %")
    p99 = r["lateness_ms"].get("p99")
    if p99 is None:
        why.append("no lateness sample")
    elif p99 >= LIMITS["lateness_p99_ms"]:
        why.append(f"p99 lateness {p99:.1f} ms")
    if r["delivered_pct"] < LIMITS["delivered_pct"]:
        why.append(f"delivered {r['delivered_pct']:.2f} %")
    return why


def sustained(r: dict[str, Any], *, cpu: bool = True) -> bool:
    return not failures(r, cpu=cpu)


def generator_note(r: dict[str, Any]) -> str | None:
    """Why the generator may have distorted a point, or None."""
    g = r.get("generator") or {}
    if "error" in g:
        return "generator failed"
    notes = []
    if g.get("ticks_skipped"):
        notes.append(f"generator skipped {g['ticks_skipped']} ticks")
    if g.get("cpu_pct", 0.0) >= 90.0:
        notes.append(f"generator CPU {g['cpu_pct']:.0f} %")
    late = (g.get("send_lateness_ms") or {}).get("p99", 0.0)
    if late > 5.0:
        notes.append(f"generator sent late (p99 {late:.0f} ms)")
    if g.get("pacer_underruns"):
        notes.append(f"generator underran {g['pacer_underruns']} times")
    if g.get("anchors", 0) < g.get("sampled", 0):
        notes.append(f"{g['sampled'] - g['anchors']} sampled calls without an anchor")
    return "; ".join(notes) or None


def _point(stack: str, mode: str, n: int, srtp: str | None, *, seconds: float, warmup: float,
           rx_cpu: int | None, gen_cpu: int | None) -> dict[str, Any]:
    try:
        r = load.measure(stack, n, seconds=seconds, warmup=warmup, both=mode == "both",
                         rx_cpu=rx_cpu, gen_cpu=gen_cpu, srtp=srtp)  # fmt: skip
    except (RuntimeError, OSError, ValueError) as exc:
        r = {"stack": stack, "calls": n, "both": mode == "both", "srtp": srtp,
             "error": " ".join(str(exc).split())[-300:]}
    r["mode"] = mode
    r["sustained"] = sustained(r)
    r["why_not"] = failures(r)
    r["generator_note"] = generator_note(r) if "error" not in r else None
    return r


def ladder(stacks: Iterable[str], modes: Iterable[str], calls: list[int], *, seconds: float, warmup: float,
           rx_cpu: int | None, gen_cpu: int | None,
           on_step: Callable[[Step, dict[str, Any] | None], None] | None = None,
           srtp: str | None = None) -> list[dict[str, Any]]:
    """Measure every (stack, mode) over ``calls``; returns the points in order.
    ``on_step(step, None)`` before a point and ``on_step(step, result)`` after.
    ``srtp``: also measure each point of voicecore's stacks with SDES-SRTP
    (this suite), right after the plain one (see the module docstring)."""
    out = []
    for mode in modes:
        for stack in stacks:
            bad = 0
            for n in calls:
                step = Step(stack, mode, n)
                if on_step:
                    on_step(step, None)
                r = _point(stack, mode, n, None, seconds=seconds, warmup=warmup, rx_cpu=rx_cpu, gen_cpu=gen_cpu)
                out.append(r)
                if on_step:
                    on_step(step, r)
                if srtp is not None and stack != "roomkit" and "error" not in r:
                    step = Step(stack, mode, n, srtp=srtp)
                    if on_step:
                        on_step(step, None)
                    rs = _point(stack, mode, n, srtp, seconds=seconds, warmup=warmup, rx_cpu=rx_cpu,
                                gen_cpu=gen_cpu)  # fmt: skip
                    if "error" not in rs:
                        rs["plain_us_per_packet"] = r["cpu_us_per_packet"]
                        rs["srtp_ratio"] = rs["cpu_us_per_packet"] / r["cpu_us_per_packet"]
                    out.append(rs)
                    if on_step:
                        on_step(step, rs)
                if r["sustained"]:
                    bad = 0
                    continue
                bad += 1
                if bad >= 2 or "error" in r or r.get("cpu_pct", 0) >= LIMITS["cpu_pct"]:
                    break
    return out


def largest_sustained(points: list[dict[str, Any]], stack: str, mode: str, engines: int | None = None) -> int:
    """The largest N of the ladder sustained (0: none), for one stack and direction."""
    best = 0
    for r in points:
        if r.get("stack") == stack and r.get("mode") == mode and r.get("sustained") and not r.get("srtp"):
            if engines is None or r.get("engines") == engines:
                best = max(best, r["calls"])
    return best


def srtp_cost(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The SRTP points of a ladder measured with ``srtp`` (each with its plain twin's figure)."""
    return [r for r in points if r.get("srtp") and not r.get("error") and not r.get("engines")]


def engines_ladder(k_max: int, calls: list[int], *, stack: str, mode: str, seconds: float, warmup: float,
                   on_step: Callable[[Step, dict[str, Any] | None], None] | None = None) -> list[dict[str, Any]]:
    """Calls per machine with 1..k_max engines (see the module docstring)."""
    cores = cpus()
    out = []
    for k in range(1, k_max + 1):
        bad = 0
        for n in calls:
            step = Step(stack, mode, n, k)
            if on_step:
                on_step(step, None)
            share = [n // k + (1 if j < n % k else 0) for j in range(k)]
            pairs, base = [], load.free_base(n + k)
            for j in range(k):
                rx = cores[j % len(cores)]
                gen = cores[(j + 1) % len(cores)]
                pairs.append(load.Pair(stack, share[j], seconds=seconds, warmup=warmup, both=mode == "both",
                                       rx_cpu=rx, gen_cpu=gen, base=base))  # fmt: skip
                base += 2 * share[j] + 2
            try:
                res = load.measure_many(pairs, timeout=warmup + seconds + 120 + n * 0.02)
                r = _combine(res)
                r["load_average"] = os.getloadavg()[0]
            except (RuntimeError, OSError, ValueError) as exc:
                r = {"stack": stack, "calls": n, "error": " ".join(str(exc).split())[-300:]}
            r.update({"engines": k, "mode": mode, "calls": n, "stack": stack})
            r["sustained"] = sustained(r, cpu=False)
            r["why_not"] = failures(r, cpu=False)
            out.append(r)
            if on_step:
                on_step(step, r)
            if r["sustained"]:
                bad = 0
                continue
            bad += 1
            if bad >= 2 or "error" in r:
                break
    return out


def _combine(res: list[dict[str, Any]]) -> dict[str, Any]:
    """One machine-wide point out of K engines' results: the worst lateness
    and delivery, CPU per engine."""
    lat = [r["lateness_ms"] for r in res if r["lateness_ms"].get("count")]
    return {
        "per_engine": res,
        "cpu_pct": max(r["cpu_pct"] for r in res),
        "cpu_pct_each": [r["cpu_pct"] for r in res],
        "cpu_us_per_packet": sum(r["cpu_s"] for r in res) * 1e6
        / max(1, sum(r["rx_packets"] + r["tx_packets"] for r in res)),
        "delivered_pct": min(r["delivered_pct"] for r in res),
        "lateness_ms": {key: max(x[key] for x in lat) for key in ("p50", "p99", "max")} if lat else {},
        "socket_drops": sum((r["socket_drops"] or 0) for r in res),
    }

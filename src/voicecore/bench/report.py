"""Tables and the plot of ``python -m voicecore bench``."""

from __future__ import annotations

from typing import Any

from voicecore.bench.capacity import LIMITS, largest_sustained

__all__ = ["LABELS", "capacity_table", "cpu_bound", "engines_table", "pacing_lines", "plot", "srtp_table",
           "summary_table"]

LABELS = {
    "voicecore": "voicecore per-frame",
    "voicecore-batch": "voicecore batch API",
    "roomkit": "roomkit + aiortp",
}
MODE_LABELS = {"recv": "receive only", "both": "both ways"}


def _lat(r: dict[str, Any]) -> str:
    lat = r.get("lateness_ms") or {}
    if not lat.get("count") and "p99" not in lat:
        return "-"
    return f"{lat['p50']:.2f} / {lat['p99']:.2f} / {lat['max']:.1f}"


def point_row(r: dict[str, Any]) -> str:
    """One measured point as a table row (the same columns as HEADER)."""
    label = LABELS.get(r["stack"], r["stack"])
    if r.get("srtp"):
        label = "  ... with SRTP"                 # the row right after its plain twin
    if r.get("error"):
        return f"  {label:20s} {MODE_LABELS[r['mode']]:12s} {r['calls']:6d}  failed: {r['error'][:60]}"
    drops = r.get("socket_drops")
    mark = "yes" if r["sustained"] else "no: " + ", ".join(r["why_not"])
    if r.get("generator_note"):
        mark += f" ({r['generator_note']})"
    return (f"  {label:20s} {MODE_LABELS[r['mode']]:12s} {r['calls']:6d} {r['cpu_pct']:6.1f} "
            f"{r['cpu_us_per_packet']:8.2f} {min(r['delivered_pct'], 100.0):10.2f}  {_lat(r):>22s} "
            f"{'-' if drops is None else drops:>6}  {mark}")  # fmt: skip


HEADER = (
    f"  {'stack':20s} {'direction':12s} {'calls':>6s} {'CPU %':>6s} {'us/pkt':>8s} {'delivered':>10s}  "
    f"{'lateness p50/p99/max':>22s} {'drops':>6s}  sustained"
)
EXPLAIN = [
    "  calls: concurrent calls, 50 packets/s each way (G.711, 20 ms)",
    "  CPU %: the receiving process (all its threads) as a share of its one core; under 95 % to count",
    "  us/pkt: CPU microseconds per packet handled (received, plus sent both ways); lower is better",
    "  delivered: % of the packets sent that reached the application as audio; >= 99.9 % to count",
    "  lateness (ms): when the application got each frame, minus when its audio was scheduled to be",
    "    sent, less the playout delay the stack declares; p99 under 5 ms to count, near 0 is best",
    "  drops: datagrams the kernel dropped because the receiver's socket buffer was full; 0 is good",
]


def srtp_table(points: list[dict[str, Any]]) -> list[str]:
    """CPU time per packet with and without SDES-SRTP at the same calls, same run."""
    from voicecore.bench.capacity import srtp_cost

    lines = [f"  {'stack':20s} {'direction':12s} {'calls':>6s} {'plain us/pkt':>13s} {'SRTP us/pkt':>12s} "
             f"{'extra us/pkt':>13s} {'ratio':>6s}"]  # fmt: skip
    for r in srtp_cost(points):
        plain, with_ = r["plain_us_per_packet"], r["cpu_us_per_packet"]
        lines.append(f"  {LABELS.get(r['stack'], r['stack']):20s} {MODE_LABELS[r['mode']]:12s} {r['calls']:6d} "
                     f"{plain:13.2f} {with_:12.2f} {with_ - plain:13.2f} {r['srtp_ratio']:5.2f}x")  # fmt: skip
    return lines


def capacity_table(points: list[dict[str, Any]]) -> list[str]:
    lines = [HEADER]
    lines += [point_row(r) for r in points if not r.get("engines")]
    return lines


def summary_table(points: list[dict[str, Any]], stacks: list[str], modes: list[str]) -> list[str]:
    """Largest N sustained per stack and direction, and voicecore / roomkit ratios."""
    lines = [f"  {'':30s}" + "".join(f"{MODE_LABELS[m]:>14s}" for m in modes)]
    best = {(s, m): largest_sustained(points, s, m) for s in stacks for m in modes}
    for s in stacks:
        lines.append(f"  {LABELS[s]:30s}" + "".join(f"{best[s, m]:14d}" for m in modes))
    if "roomkit" in stacks:
        for s in stacks:
            if s == "roomkit":
                continue
            cells = []
            for m in modes:
                rk = best["roomkit", m]
                cells.append(f"{best[s, m] / rk:13.1f}x" if rk else f"{'(roomkit 0)':>14s}")
            lines.append(f"  {LABELS[s] + ' / roomkit':30s}" + "".join(cells))
    est = {(s, m): cpu_bound(points, s, m) for s in stacks for m in modes}
    lines.append("")
    lines.append("  CPU-bound estimate: calls at 95 % of one core from the CPU time per packet at the largest")
    lines.append("  point that delivered >= 99.9 % with the generator keeping up (robust to a busy machine):")
    for s in stacks:
        lines.append(f"  {LABELS[s]:30s}" + "".join(f"{est[s, m][0]:14.0f}" if est[s, m] else f"{'-':>14s}"
                                                    for m in modes))  # fmt: skip
    if "roomkit" in stacks:
        for s in stacks:
            if s == "roomkit":
                continue
            cells = []
            for m in modes:
                a, b = est[s, m], est["roomkit", m]
                cells.append(f"{a[0] / b[0]:13.1f}x" if a and b else f"{'-':>14s}")
            lines.append(f"  {LABELS[s] + ' / roomkit':30s}" + "".join(cells))
    return lines


def cpu_bound(points: list[dict[str, Any]], stack: str, mode: str) -> tuple[float, dict[str, Any]] | None:
    """(calls at 95 % of a core, the point it comes from): CPU time per packet
    at the largest clean point (delivered >= 99.9 %, generator kept up)."""
    clean = [r for r in points if r.get("stack") == stack and r.get("mode") == mode and not r.get("error")
             and not r.get("engines") and not r.get("srtp") and r["delivered_pct"] >= LIMITS["delivered_pct"]
             and not r.get("generator_note")]  # fmt: skip
    if not clean:
        return None
    r = max(clean, key=lambda r: r["calls"])
    per_call = 100.0 if mode == "both" else 50.0       # packets per second a call costs the receiver
    return LIMITS["cpu_pct"] / 100.0 * 1e6 / (r["cpu_us_per_packet"] * per_call), r


def engines_table(points: list[dict[str, Any]]) -> list[str]:
    lines = [f"  {'engines':>7s} {'calls':>6s} {'CPU % per engine':>18s} {'delivered':>10s} "
             f"{'lateness p50/p99/max':>22s}  sustained"]  # fmt: skip
    for r in points:
        if r.get("error"):
            lines.append(f"  {r['engines']:7d} {r['calls']:6d}  failed: {r['error'][:60]}")
            continue
        each = " ".join(f"{c:.0f}" for c in r["cpu_pct_each"])
        mark = "yes" if r["sustained"] else "no: " + ", ".join(r["why_not"])
        lines.append(f"  {r['engines']:7d} {r['calls']:6d} {each:>18s} {min(r['delivered_pct'], 100.0):10.2f} "
                     f"{_lat(r):>22s}  {mark}")  # fmt: skip
    best: dict[int, int] = {}
    for r in points:
        if r.get("sustained"):
            best[r["engines"]] = max(best.get(r["engines"], 0), r["calls"])
    for k in sorted({r["engines"] for r in points}):
        lines.append(f"  {k} engine{'s' if k > 1 else ''}: {best.get(k, 0)} calls per machine sustained")
    return lines


def pacing_lines(results: list[dict[str, Any]]) -> list[str]:
    lines = []
    for r in results:
        if "error" in r:
            lines.append(f"  {LABELS.get(r['stack'], r['stack']):20s} failed: {r['error'][:80]}")
            continue
        if "spacing_ms" not in r:
            lines.append(f"  {LABELS.get(r['stack'], r['stack']):20s} no packets recorded")
            continue
        sp, la = r["spacing_ms"], r["lateness_ms"]
        lines.append(f"  {LABELS.get(r['stack'], r['stack']):20s} {r['calls']:5d} calls  spacing p50 {sp['p50']:6.2f} "
                     f"p99 {sp['p99']:7.2f} max {sp['max']:7.2f} ms   lateness p99 {la['p99']:7.2f} "
                     f"max {la['max']:7.2f} ms")  # fmt: skip
    return lines


def plot(points: list[dict[str, Any]], path: str, title: str) -> None:
    """Calls vs CPU % and vs p99 lateness, one line per stack (solid: receive
    only, dashed: both ways), and calls per machine vs engines when measured."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ladder = [r for r in points if not r.get("engines") and not r.get("error") and not r.get("srtp")]
    engines = [r for r in points if r.get("engines") and not r.get("error")]
    ncols = 3 if engines else 2
    fig, axes = plt.subplots(1, ncols, figsize=(6 * ncols, 4.6))
    colors = {"voicecore": "tab:blue", "voicecore-batch": "tab:green", "roomkit": "tab:red"}
    for stack in LABELS:
        for mode, style in (("recv", "-"), ("both", "--")):
            rs = sorted((r for r in ladder if r["stack"] == stack and r["mode"] == mode), key=lambda r: r["calls"])
            if not rs:
                continue
            label = f"{LABELS[stack]}, {MODE_LABELS[mode]}"
            x = [r["calls"] for r in rs]
            axes[0].plot(x, [r["cpu_pct"] for r in rs], style, marker="o", color=colors[stack], label=label)
            y = [r["lateness_ms"].get("p99", float("nan")) for r in rs]
            axes[1].plot(x, [max(v, 0.01) for v in y], style, marker="o", color=colors[stack], label=label)
    axes[0].axhline(LIMITS["cpu_pct"], color="grey", lw=0.8, ls=":")
    axes[0].set(xlabel="concurrent calls", ylabel="receiver CPU, % of one core", title="CPU (limit 95 %)")
    axes[1].axhline(LIMITS["lateness_p99_ms"], color="grey", lw=0.8, ls=":")
    axes[1].set(xlabel="concurrent calls", ylabel="p99 lateness, ms (log)", yscale="log",
                title="lateness of delivery, p99 (limit 5 ms)")  # fmt: skip
    axes[0].legend(fontsize=7)
    for ax in axes[:2]:
        ax.grid(alpha=0.3)
    if engines:
        ax = axes[2]
        for k in sorted({r["engines"] for r in engines}):
            rs = sorted((r for r in engines if r["engines"] == k), key=lambda r: r["calls"])
            ax.plot([r["calls"] for r in rs], [r["lateness_ms"].get("p99", float("nan")) for r in rs],
                    marker="o", label=f"{k} engine{'s' if k > 1 else ''}")  # fmt: skip
        ax.axhline(LIMITS["lateness_p99_ms"], color="grey", lw=0.8, ls=":")
        ax.set(xlabel="concurrent calls per machine", ylabel="p99 lateness, ms (log)", yscale="log",
               title="engines (one per core) vs calls per machine")  # fmt: skip
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

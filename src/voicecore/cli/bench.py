"""``voicecore bench``: how many concurrent calls one core carries, side by
side with roomkit + aiortp, and outbound pacing while the event loop stalls."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from typing import Any

from voicecore.cli._args import Parser, UsageError, bounded_float
from voicecore.cli._progress import Progress

NAME = "bench"
SUMMARY = "capacity: concurrent calls per core with lateness, vs roomkit + aiortp; pacing"

STACKS = ("voicecore", "voicecore-batch", "roomkit")
LADDER = [100, 250, 500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000]
QUICK_LADDER = [50, 200]
MAX_CALLS = 20000


def _calls_list(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be integers separated by commas (100,500,1000), got {text!r}") from None
    if not values or any(not 1 <= v <= MAX_CALLS for v in values):
        raise argparse.ArgumentTypeError(f"each number of calls must be 1 to {MAX_CALLS}, got {text!r}")
    return sorted(set(values))


def _stacks_list(text: str) -> list[str]:
    names = [x.strip() for x in text.split(",") if x.strip()]
    bad = [n for n in names if n not in STACKS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown stack {', '.join(bad) or repr(text)}; known: {', '.join(STACKS)}")
    return [s for s in STACKS if s in names]


def _engines(text: str) -> int:
    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer from 1 to the number of CPUs, got {text!r}") from None
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"must be from 1 to {n} (the CPUs this process may use), got {k}")
    return k


SRTP_DEFAULT = "AES_CM_128_HMAC_SHA1_80"


def _suite(text: str) -> str:
    from voicecore.media import srtp

    if text not in srtp.SUITES:
        raise argparse.ArgumentTypeError(f"unknown SRTP suite {text!r}; known: {', '.join(srtp.SUITES)}")
    if not srtp.AVAILABLE:
        raise argparse.ArgumentTypeError(f"SRTP is unavailable in this build: {srtp.UNAVAILABLE_REASON}")
    return text


def configure(parser: Parser) -> None:
    prog = parser.prog
    parser.usage = (f"{prog} [--quick] [--calls N,N,...] [--stacks NAME,...] [--mode {{recv,both,all}}]\n"
                    f"       [--seconds S] [--warmup S] [--engines K] [--srtp [SUITE]] [--no-pacing]\n"
                    f"       [--json FILE] [--plot FILE.png] [--quiet]")  # fmt: skip
    parser.description = (
        "How many concurrent calls one core carries, for voicecore's drop-in per-frame\n"
        "path (on_audio_received), its batch API (on_audio_batch) and roomkit + aiortp\n"
        "(when installed), measured in the same run on loopback.\n\n"
        "Each point runs two processes: a receiver with N calls on the stack under test,\n"
        "pinned to the first CPU, and a load generator (voicecore's engine) pinned to the\n"
        "second, sending 50 G.711 packets per second per call ('receive only'); 'both\n"
        "ways' adds 50 packets per second per call sent back by the receiver. For each N:\n"
        "CPU % of the receiver's core, CPU microseconds per packet, % of packets delivered\n"
        "to the application as audio, lateness p50/p99/max in ms (when the application\n"
        "got a frame, minus when its audio was scheduled to be sent, less the stack's\n"
        "declared playout delay) and kernel socket drops. A point is sustained with CPU\n"
        "under 95 %, p99 lateness under 5 ms and >= 99.9 % delivered; a stack stops\n"
        "climbing after two points that are not (or one that saturates its core).\n\n"
        "Then a pacing test: N calls each handed 5 s of audio while the event loop is\n"
        "blocked for 100 ms of every second; the spacing of each call's packets as the\n"
        "wire sees them (ideal 20 ms) and their lateness against a 20 ms grid.\n\n"
        "The full ladder takes 10-20 minutes; run it on a quiet machine (the load\n"
        "average is printed and saved). Linux only."
    )
    parser.epilog = (
        "examples:\n"
        f"  {prog} --quick                                # a small ladder, under a minute\n"
        f"  {prog} --json bench.json --plot bench.png     # the full ladder, saved and plotted\n"
        f"  {prog} --stacks voicecore-batch --mode recv --calls 2000,4000,6000\n"
        f"  {prog} --engines 2 --no-pacing                # calls per machine with 1 and 2 engines\n"
        f"  {prog} --stacks voicecore --mode both --calls 200,500 --srtp --no-pacing   # the cost of SRTP"
    )
    parser.add_argument("--quick", action="store_true",
                        help=f"a small ladder ({', '.join(map(str, QUICK_LADDER))} calls, 1.5 s per point) "
                             "and a short pacing test: under a minute")  # fmt: skip
    parser.add_argument("--calls", type=_calls_list, metavar="N,N,...",
                        help=f"the ladder: numbers of concurrent calls, 1 to {MAX_CALLS} "
                             f"(default {','.join(map(str, LADDER))})")  # fmt: skip
    parser.add_argument("--stacks", type=_stacks_list, metavar="NAME,...", default=list(STACKS),
                        help="stacks to measure: voicecore (per-frame callbacks), voicecore-batch "
                             "(on_audio_batch), roomkit (roomkit + aiortp, skipped when not installed); "
                             "default all")  # fmt: skip
    parser.add_argument("--mode", choices=["recv", "both", "all"], default="all",
                        help="recv: receive only; both: receive and send; all: both ladders (default)")
    parser.add_argument("--seconds", type=bounded_float(0.5, 600.0, "s"), metavar="S",
                        help="measuring window per point, 0.5 to 600 s (default 5; 1.5 with --quick)")
    parser.add_argument("--warmup", type=bounded_float(0.5, 60.0, "s"), metavar="S",
                        help="warm-up before each window, 0.5 to 60 s (default 3; 1 with --quick)")
    parser.add_argument("--engines", type=_engines, metavar="K",
                        help="also measure calls per machine with 1..K engines, one per core, each its "
                             "own process and port range (voicecore per-frame, both ways)")  # fmt: skip
    parser.add_argument("--srtp", nargs="?", const=SRTP_DEFAULT, default=None, type=_suite, metavar="SUITE",
                        help="also measure every voicecore point with SDES-SRTP on every call (right after the "
                             f"plain one, same calls) and print the CPU cost per packet with and without; "
                             f"SUITE default {SRTP_DEFAULT}")  # fmt: skip
    parser.add_argument("--no-pacing", action="store_true", help="skip the pacing test")
    parser.add_argument("--json", metavar="FILE", help="write every figure, the settings and the machine to FILE")
    parser.add_argument("--plot", metavar="FILE.png",
                        help="draw calls vs CPU and vs p99 lateness, one line per stack "
                             "(needs matplotlib: pip install 'voicecore[plot]')")  # fmt: skip
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bar (it is also off when stdout is not a terminal)")
    parser.set_defaults(func=run, help_of=parser)


def _check(args: Any) -> None:
    if not sys.platform.startswith("linux"):
        raise UsageError(f"the bench needs Linux (voicecore's engine uses epoll and timerfd); this is {sys.platform}")
    if args.plot is not None:
        if not args.plot.lower().endswith(".png"):
            raise UsageError(f"argument --plot: the file name must end in .png, got {args.plot!r}")
        if importlib.util.find_spec("matplotlib") is None:
            raise UsageError("argument --plot needs matplotlib: pip install 'voicecore[plot]' (or pip install matplotlib)")
    if args.srtp:
        from voicecore.media import srtp

        if not srtp.AVAILABLE:
            raise UsageError(f"argument --srtp: SRTP is unavailable in this build: {srtp.UNAVAILABLE_REASON}")
    for opt, path in (("--json", args.json), ("--plot", args.plot)):
        if path is not None:
            folder = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(folder):
                raise UsageError(f"argument {opt}: the folder {folder} does not exist")


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def run(args: Any) -> int:
    _check(args)
    from voicecore.bench import capacity, pacing, report

    progress = Progress(quiet=args.quiet)

    def say(text: str = "") -> None:
        progress.clear()
        print(text, flush=True)

    calls = args.calls or (QUICK_LADDER if args.quick else LADDER)
    seconds = args.seconds or (1.5 if args.quick else 5.0)
    warmup = args.warmup or (1.0 if args.quick else 3.0)
    modes = ["recv", "both"] if args.mode == "all" else [args.mode]
    have_roomkit = all(importlib.util.find_spec(m) is not None for m in ("roomkit", "aiortp"))
    stacks = [s for s in args.stacks if s != "roomkit" or have_roomkit]
    cores = capacity.cpus()
    rx_cpu, gen_cpu = (cores[0], cores[1]) if len(cores) >= 2 else (None, None)
    load0 = _load()

    say(f"voicecore bench: capacity on this machine ({len(cores)} CPUs, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}), load average {load0:.2f}")  # fmt: skip
    if load0 > 0.5 * len(cores):
        say(f"  note: the machine is busy (load average {load0:.1f} on {len(cores)} CPUs): figures will be noisy")
    if rx_cpu is None:
        say("  note: fewer than 2 CPUs: the receiver and the generator share the CPU (not pinned)")
    else:
        say(f"  receiver pinned to CPU {rx_cpu}, load generator to CPU {gen_cpu}; calls {', '.join(map(str, calls))}; "
            f"{warmup:g} s warm-up + {seconds:g} s measured per point")  # fmt: skip
    if "roomkit" in args.stacks and not have_roomkit:
        say("  roomkit + aiortp are not installed, so their column is left out: pip install 'voicecore[bench]' "
            "(Python 3.12+)")  # fmt: skip
    say()

    n_ladder = len(stacks) * len(modes) * len(calls)
    if args.srtp:
        n_ladder += sum(s != "roomkit" for s in stacks) * len(modes) * len(calls)
    n_engines = (args.engines or 0) * len(calls) if args.engines and args.engines > 1 else 0
    n_pacing = 0 if args.no_pacing else (2 if have_roomkit else 1)
    bar = progress.steps("bench", n_ladder + n_engines + n_pacing)
    done = [0]

    def on_step(step: Any, result: dict[str, Any] | None) -> None:
        if result is None:
            who = f"{report.LABELS[step.stack]}, {report.MODE_LABELS[step.mode]}, {step.calls} calls"
            if step.engines > 1 or n_engines:
                who += f", {step.engines} engine{'s' if step.engines > 1 else ''}"
            if step.srtp:
                who += ", SRTP"
            bar.update(done[0], who)
            return
        done[0] += 1
        bar.update(done[0])
        if not step.engines or step.engines == 1 and not n_engines:
            say(report.point_row(result))

    t_start = time.monotonic()
    say("capacity, one point per line as it is measured:")
    say(report.HEADER)
    try:
        points = capacity.ladder(stacks, modes, calls, seconds=seconds, warmup=warmup, rx_cpu=rx_cpu,
                                 gen_cpu=gen_cpu, on_step=on_step, srtp=args.srtp)  # fmt: skip
        done[0] = n_ladder
        engines: list[dict[str, Any]] = []
        if args.engines and args.engines > 1:
            engines = capacity.engines_ladder(args.engines, calls, stack="voicecore", mode="both",
                                              seconds=seconds, warmup=warmup, on_step=on_step)  # fmt: skip
        done[0] = n_ladder + n_engines
        pace: list[dict[str, Any]] = []
        if not args.no_pacing:
            pace_calls = 100 if args.quick else 500
            for stack in ["voicecore"] + (["roomkit"] if have_roomkit else []):
                bar.update(done[0], f"pacing test, {report.LABELS[stack]}, {pace_calls} calls")
                pace.append(_pacing(stack, pace_calls, 3.0 if args.quick else 5.0, rx_cpu))
                done[0] += 1
    finally:
        bar.close()

    say()
    say("what the columns mean:")
    for line in report.EXPLAIN:
        say(line)
    say()
    say("capacity (all points):")
    for line in report.capacity_table(points):
        say(line)
    say()
    if args.srtp:
        say(f"the cost of SDES-SRTP ({args.srtp}, protect and unprotect in the engine thread): CPU "
            "microseconds per packet of the receiving process with and without SRTP at the same number of "
            "calls, measured one after the other in this run; the ladder's SRTP rows are marked 'with SRTP':")
        for line in report.srtp_table(points):
            say(line)
        say()
    say("largest number of concurrent calls sustained on one core "
        f"(CPU < {capacity.LIMITS['cpu_pct']:g} %, p99 lateness < {capacity.LIMITS['lateness_p99_ms']:g} ms, "
        f"delivered >= {capacity.LIMITS['delivered_pct']:g} %), in this ladder; higher is better:")  # fmt: skip
    for line in report.summary_table(points, stacks, modes):
        say(line)
    behind = [r for r in points if r.get("generator_note")]
    if behind:
        where = ", ".join(f"{report.LABELS[r['stack']]} {report.MODE_LABELS[r['mode']]} {r['calls']}" for r in behind)
        say(f"  caution: the load generator fell behind at {len(behind)} point(s) ({where}); those points "
            "understate the stack (see the notes in the table: a busy machine, or the generator's own core full)")
    if engines:
        say()
        say(f"calls per machine with 1..{args.engines} engines (voicecore per-frame, both ways): engine j is its "
            f"own process on CPU j with its own port range and its own generator on the next CPU, so every "
            f"CPU carries one engine and one generator; sustained = every engine keeps p99 lateness < "
            f"{capacity.LIMITS['lateness_p99_ms']:g} ms and >= {capacity.LIMITS['delivered_pct']:g} % delivered "
            "(CPU limit not applied: each core also runs a generator):")  # fmt: skip
        for line in report.engines_table(engines):
            say(line)
    if pace:
        say()
        say("pacing with the event loop blocked 100 ms of every second: spacing of each call's packets on the "
            "wire (ideal 20 ms) and their lateness against a 20 ms grid; voicecore's target is p99 lateness "
            "<= 2 ms (roomkit does not pace: the application sends 20 ms per call every 20 ms):")  # fmt: skip
        for line in report.pacing_lines(pace):
            say(line)
    load1 = _load()
    elapsed = time.monotonic() - t_start
    say()
    say(f"done in {elapsed / 60:.1f} min; load average {load0:.2f} at the start, {load1:.2f} at the end")

    if args.json:
        doc = {"machine": {"cpus": len(cores), "processor": platform.processor() or platform.machine(),
                           "python": platform.python_version(), "platform": platform.platform(),
                           "load_average_start": load0, "load_average_end": load1},
               "settings": {"calls": calls, "stacks": stacks, "modes": modes, "seconds": seconds, "warmup": warmup,
                            "rx_cpu": rx_cpu, "gen_cpu": gen_cpu, "limits": capacity.LIMITS, "srtp": args.srtp},
               "points": points, "engines": engines, "pacing": pace,
               "sustained": {s: {m: capacity.largest_sustained(points, s, m) for m in modes} for s in stacks}}  # fmt: skip
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
        say(f"wrote {os.path.abspath(args.json)}")
    if args.plot:
        report.plot(points + engines, args.plot,
                    f"voicecore bench: {len(cores)} CPUs, load average {load0:.1f}-{load1:.1f}, "
                    f"{seconds:g} s per point")  # fmt: skip
        say(f"wrote {os.path.abspath(args.plot)}")
    if points and all(r.get("error") for r in points):
        sys.stderr.write(f"{args.help_of.prog}: error: every point failed; first: {points[0]['error'][:300]}\n")
        return 1
    return 0


def _pacing(stack: str, calls: int, seconds: float, cpu: int | None) -> dict[str, Any]:
    """The pacing test in its own process (pinned like a receiver)."""
    import subprocess

    cmd = [sys.executable, "-m", "voicecore.bench.pacing", "--stack", stack, "--calls", str(calls),
           "--seconds", str(seconds)] + (["--cpu", str(cpu)] if cpu is not None else [])  # fmt: skip
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120 + seconds)
        if res.returncode != 0:
            return {"stack": stack, "calls": calls, "error": res.stderr.strip().splitlines()[-1:][0][:200]}
        return json.loads(res.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, ValueError, IndexError) as exc:
        return {"stack": stack, "calls": calls, "error": str(exc)[:200]}

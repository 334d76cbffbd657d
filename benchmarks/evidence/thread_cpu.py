"""Per-thread CPU of the receiver, and what the CPU going idle between ticks costs.

Runs ``python -m voicecore bench --mode recv`` (receiver pinned to CPU 0, the
generator to CPU 1), then reads each receiver thread's on-CPU time from
/proc/<pid>/task/<tid>/schedstat (ns) and its voluntary context switches over
a window. Prints, per thread, us per 20 ms tick, CPU-us per packet and
wake-ups per second. With ``--spin``, a nice-19 busy loop on CPU 0 keeps that
CPU from going idle between ticks: our threads preempt it at once, so the
difference is what idling and waking up costs the receiver (issue 10's
note, stop 23: 3.70 -> 2.58 us per packet at 100 calls on this VM).

    python benchmarks/evidence/thread_cpu.py [calls=100] [--spin] [--stack voicecore] [--window 8]

Not a test. Bounded: the bench runs at most 60 s and is killed afterwards.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def _receiver_pid(deadline: float) -> int:
    while time.monotonic() < deadline:
        for p in Path("/proc").iterdir():
            if not p.name.isdigit():
                continue
            try:
                cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if b"bench.load" in cmd and b" recv" in cmd:
                return int(p.name)
        time.sleep(0.2)
    raise SystemExit("no receiver process found")


def _snap(pid: int) -> dict[int, tuple[int, int]]:
    out = {}
    for t in Path(f"/proc/{pid}/task").iterdir():
        try:
            ns = int((t / "schedstat").read_text().split()[0])
            vol = next(int(line.split()[1]) for line in (t / "status").read_text().splitlines()
                       if line.startswith("voluntary_ctxt_switches"))
        except (OSError, StopIteration, ValueError):
            continue
        out[int(t.name)] = (ns, vol)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("calls", type=int, nargs="?", default=100)
    ap.add_argument("--spin", action="store_true", help="nice-19 busy loop on CPU 0 meanwhile")
    ap.add_argument("--stack", default="voicecore")
    ap.add_argument("--window", type=float, default=8.0, help="seconds measured")
    a = ap.parse_args()
    bench = subprocess.Popen([sys.executable, "-m", "voicecore", "bench", "--stacks", a.stack, "--mode", "recv",
                              "--calls", str(a.calls), "--seconds", "25", "--no-pacing"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    spin = None
    try:
        pid = _receiver_pid(time.monotonic() + 30)
        time.sleep(10.0)                                    # set-up and the bench's warm-up
        if a.spin:
            spin = subprocess.Popen(["taskset", "-c", "0", "nice", "-n", "19", sys.executable, "-c",
                                     "import time\nt=time.monotonic()+60\nwhile time.monotonic()<t: pass"])
            time.sleep(1.0)
        s1 = _snap(pid)
        time.sleep(a.window)
        s2 = _snap(pid)
    finally:
        if spin is not None:
            spin.kill()
        try:
            os.killpg(bench.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        bench.wait(timeout=10)
    ticks = a.window * 50
    total = 0.0
    for tid in sorted(s2):
        if tid not in s1:
            continue
        ms = (s2[tid][0] - s1[tid][0]) / 1e6
        total += ms
        if ms > 0.5:
            print(f"thread {tid}: {ms * 1000 / ticks:7.1f} us/tick  {ms * 1000 / ticks / a.calls:5.2f} us/packet  "
                  f"{(s2[tid][1] - s1[tid][1]) / a.window:5.0f} wake-ups/s")
    print(f"{a.calls} calls{' (CPU 0 kept busy)' if a.spin else ''}: {total * 1000 / ticks:.1f} us/tick, "
          f"{total * 1000 / ticks / a.calls:.2f} CPU-us/packet")


if __name__ == "__main__":
    main()

"""The floor under issue 10's 100-call figure: what this VM charges a receiver
that does nothing of voicecore's, when its CPU idles between 20 ms ticks.

A minimal receiver with the same shape as voicecore's (one native thread on
an absolute 20 ms timer reading one datagram from each of N UDP sockets with
recvmsg, source address and SO_TIMESTAMPNS, then one eventfd write that wakes
an asyncio loop through ``loop.add_reader``), in C and plain Python, with
none of voicecore's work: no jitter buffer, no decoding, no frame queue, no
AudioFrame. Levels, each adding one part:

- ``thread``: the C thread alone (timer, N recvmsg), no event loop woken;
- ``loop``:   + the eventfd wake-up of an asyncio loop whose reader callback
  only reads the eventfd;
- ``calls``:  + that callback calling a Python function ``cb(session, frame)``
  N times per wake-up with ready-made objects (what any per-frame Python API
  must at least do: the application callback itself).

A C sender (pinned to CPU 1) sends one 172-byte datagram to each socket every
20 ms. The receiver process is pinned to CPU 0; its CPU time (all threads,
schedstat ns) per received packet is printed, with CPU 0 idle between ticks
and (``--spin``) with a nice-19 busy loop keeping it busy. With ``--voicecore``
the same run also measures voicecore's receiver (``voicecore.bench.load.measure``,
the figure of ``benchmarks/bench_rtp.py``) between the rounds.

    python benchmarks/evidence/idle_floor.py [calls=100] [--rounds 3] [--spin] [--voicecore]

Needs a C compiler (``cc``). Not a test; bounded (each level runs 11 s; the
sender stops by itself after 16 s).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

C_RECEIVER = r"""
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/epoll.h>
#define MAX_SOCKS 8192
static int efd_g = -1, n_g; static int socks[MAX_SOCKS]; static volatile long got_g;
static void* run(void* a) {
    int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec its = {{0, 20000000}, {0, 20000000}};
    timerfd_settime(tfd, 0, &its, 0);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = tfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
    uint64_t x; char buf[1500], cbuf[256]; struct sockaddr_in6 from;
    for (;;) {
        struct epoll_event o;
        if (epoll_wait(ep, &o, 1, -1) < 1) continue;
        if (read(tfd, &x, 8) != 8) continue;
        for (int i = 0; i < n_g; i++) {
            struct iovec iov = {buf, sizeof buf};
            struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1,
                               .msg_control = cbuf, .msg_controllen = sizeof cbuf};
            if (recvmsg(socks[i], &m, MSG_DONTWAIT) >= 0) got_g++;
        }
        if (efd_g >= 0) { x = 1; if (write(efd_g, &x, 8) != 8) continue; }
    }
    return 0;
}
int floor_start(int efd, int n, int base) {
    int one = 1;
    if (n < 1 || n > MAX_SOCKS) return -1;
    efd_g = efd; n_g = n;
    for (int i = 0; i < n; i++) {
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(base + 2 * i)};
        a.sin_addr.s_addr = htonl(0x7f000001);
        if (s < 0 || bind(s, (void*)&a, sizeof a)) return -1;
        setsockopt(s, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
        socks[i] = s;
    }
    pthread_t t;
    return pthread_create(&t, 0, run, 0);
}
long floor_got(void) { return got_g; }
"""

C_SENDER = r"""
#include <stdlib.h>
#include <stdint.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
int main(int argc, char** argv) {
    int n = atoi(argv[1]), base = atoi(argv[2]), secs = atoi(argv[3]);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    char pkt[172] = {(char)0x80};
    int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec its = {{0, 20000000}, {0, 7000000}};   /* 7 ms out of phase with the receiver */
    timerfd_settime(tfd, 0, &its, 0);
    uint64_t x;
    for (long k = 0; k < secs * 50L; k++) {
        if (read(tfd, &x, 8) != 8) return 1;
        for (int i = 0; i < n; i++) {
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(base + 2 * i)};
            a.sin_addr.s_addr = htonl(0x7f000001);
            sendto(s, pkt, 172, 0, (void*)&a, sizeof a);
        }
    }
    return 0;
}
"""

LEVELS = ("thread", "loop", "calls")


def _build(tmp: Path) -> tuple[Path, Path]:
    (tmp / "rx.c").write_text(C_RECEIVER)
    (tmp / "tx.c").write_text(C_SENDER)
    lib, snd = tmp / "rx.so", tmp / "tx"
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(lib), str(tmp / "rx.c"), "-lpthread"], check=True)
    subprocess.run(["cc", "-O2", "-o", str(snd), str(tmp / "tx.c")], check=True)
    return lib, snd


def _cpu_ns() -> int:
    return sum(int((t / "schedstat").read_text().split()[0]) for t in Path(f"/proc/{os.getpid()}/task").iterdir())


async def _child(lib_path: str, snd: str, level: str, calls: int, base: int) -> None:
    """One level, in its own process (pinned to CPU 0); prints CPU-us per packet."""
    lib = ctypes.CDLL(lib_path)
    lib.floor_got.restype = ctypes.c_long
    loop = asyncio.get_running_loop()
    efd = os.eventfd(0, os.EFD_NONBLOCK) if level != "thread" else -1

    class Frame:
        def __init__(self) -> None:
            self.data, self.sample_rate, self.metadata = b"\0" * 320, 8000, {"frame_kind": "audio"}

    frame, sessions, count = Frame(), [object() for _ in range(calls)], [0]

    def cb(session: object, fr: object) -> None:         # the application: counts frames
        count[0] += 1

    def on_readable() -> None:
        os.read(efd, 8)
        if level == "calls":
            for s in sessions:
                cb(s, frame)

    if efd >= 0:
        loop.add_reader(efd, on_readable)
    if lib.floor_start(efd, calls, base) != 0:
        raise SystemExit(f"floor_start failed (calls must be 1-8192; ports in use?): {calls}")
    sender = subprocess.Popen(["taskset", "-c", "1", snd, str(calls), str(base), "16"])
    try:
        await asyncio.sleep(3.0)
        c0, g0 = _cpu_ns(), lib.floor_got()
        await asyncio.sleep(8.0)
        c1, g1 = _cpu_ns(), lib.floor_got()
    finally:
        sender.kill()
        sender.wait()
    print(f"{(c1 - c0) / 1e3 / max(1, g1 - g0):.3f}", flush=True)


def _run_level(lib: Path, snd: Path, level: str, calls: int, base: int) -> float:
    out = subprocess.run(["taskset", "-c", "0", sys.executable, __file__, "--child", str(lib), str(snd), level,
                          str(calls), str(base)], capture_output=True, text=True, timeout=60, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        lib, snd, level, calls, base = sys.argv[2:7]
        asyncio.run(_child(lib, snd, level, int(calls), int(base)))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("calls", type=int, nargs="?", default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--spin", action="store_true", help="keep CPU 0 busy with a nice-19 loop meanwhile")
    ap.add_argument("--voicecore", action="store_true", help="also measure voicecore's receiver each round")
    ap.add_argument("--base", type=int, default=36000)
    a = ap.parse_args()
    res: dict[str, list[float]] = {k: [] for k in (*LEVELS, *(("voicecore",) if a.voicecore else ()))}
    spin = None
    if a.spin:
        budget = a.rounds * (len(res) * 25 + 10)
        spin = subprocess.Popen(["taskset", "-c", "0", "nice", "-n", "19", sys.executable, "-c",
                                 f"import time\nt=time.monotonic()+{budget}\nwhile time.monotonic()<t: pass"])
    try:
        with tempfile.TemporaryDirectory() as td:
            lib, snd = _build(Path(td))
            for r in range(a.rounds):
                for level in LEVELS:
                    res[level].append(_run_level(lib, snd, level, a.calls, a.base))
                if a.voicecore:
                    from voicecore.bench.load import measure

                    res["voicecore"].append(measure("voicecore", a.calls, seconds=6.0, warmup=3.0,
                                                    rx_cpu=0, gen_cpu=1)["cpu_us_per_packet"])
                print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in res.items()), flush=True)
    finally:
        if spin is not None:
            spin.kill()
    state = "CPU 0 kept busy" if a.spin else "CPU 0 idle between ticks"
    print(f"{a.calls} calls, {state}: CPU-us per received packet, median of {a.rounds} rounds")
    for k, v in res.items():
        print(f"  {k:9s} {statistics.median(v):5.2f}   ({', '.join(f'{x:.2f}' for x in v)})")


if __name__ == "__main__":
    main()

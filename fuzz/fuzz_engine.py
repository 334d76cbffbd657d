#!/usr/bin/env python3
"""Fuzz target: the audio I/O engine's datagram path, socket in to frame out,
with several sessions on loopback.

One native Engine (its own I/O thread) carries five sessions that differ in
everything the receive path branches on: PCMU / PCMA / L16-out, 8 and 16 kHz
clocks, frames resampled to 16 / 48 kHz, strict source vs latching, RTCP on
its own port vs muxed, AEC ring on / off. Each input is a list of datagrams,
each sent from a loopback socket to one of the sessions' RTP or RTCP ports
(the fuzzer picks which); some records remove a session and add it back
(churn with packets in flight) or queue outbound audio / DTMF. The engine's
frames are drained after each input.

Invariants: every delivered frame has the session's output size
(``output_rate * 20 ms``) and a known kind, frame numbers increase per
session, the engine thread keeps ticking and never reports an error event,
no sanitizer report.

The engine thread runs concurrently, so the coverage libFuzzer sees for an
input includes some of the previous one's; the corpus is still useful and
crashes reproduce (replay mode) because each input is sent and drained
within one call.

    python fuzz/fuzz_engine.py fuzz/corpus/engine -max_total_time=60
"""

from __future__ import annotations

import socket
import time

import harness
from harness import Reader, check

from voicecore._native.engine import engine as E
from voicecore._native.media.jitter import JitterBuffer
from voicecore._native.media.resample import Resampler

HOST = "127.0.0.1"
F_DELIVER, F_LATCH, F_DELIVER_EARLY = 1, 4, 8
EV_REMOVED, EV_ERROR = 2, 8
KINDS = {0, 1, 2, 3}
# (clock, payload types, outbound codec/pt, output rate, flags, rtcp mode, aec)
CONFIGS = (
    (8000, {0: "pcmu"}, ("pcmu", 0), 8000, F_DELIVER | F_DELIVER_EARLY, "separate", 1024),
    (8000, {8: "pcma", 0: "pcmu"}, ("pcma", 8), 16000, F_DELIVER | F_DELIVER_EARLY, "mux", 0),
    (16000, {0: "pcmu", 96: "pcma"}, ("l16", 97), 48000, F_DELIVER | F_DELIVER_EARLY, "separate", 0),
    (8000, {0: "pcmu"}, ("pcmu", 0), 8000, F_DELIVER | F_DELIVER_EARLY | F_LATCH, "off", 2048),
    (48000, {0: "pcmu"}, ("pcmu", 0), 48000, F_DELIVER | F_DELIVER_EARLY, "separate", 0),
)
TONE = bytes(range(0, 256, 2)) * 40           # 2560 bytes = 1280 samples of s16


class Rig:
    def __init__(self) -> None:
        self.eng = E.Engine(max_sessions=16)
        self.eng.start()
        self.src = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.src.bind((HOST, 0))
        self.src.setblocking(False)
        self.other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)   # a foreign source
        self.other.bind((HOST, 0))
        self.other.setblocking(False)
        self.slots: list[dict] = []
        for k, cfg in enumerate(CONFIGS):
            rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            rtp.bind((HOST, 0))
            rtp.setblocking(False)
            rtcp = None
            if cfg[5] == "separate":
                rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                rtcp.bind((HOST, 0))
                rtcp.setblocking(False)
            self.slots.append({"cfg": cfg, "rtp": rtp, "rtcp": rtcp, "idx": None, "last": -1, "removing": False})
            self.add(k)
        self.frames = 0
        self.last_ticks = 0
        self.last_check = time.monotonic()

    def add(self, k: int) -> None:
        s = self.slots[k]
        clock, pts, (codec, pt), out_rate, flags, rtcp_mode, aec = s["cfg"]
        jb = JitterBuffer(clock_rate=clock, payload_types=pts, dtmf_payload_type=101, cn_payload_type=13)
        rs = Resampler(clock, out_rate) if out_rate != clock else None
        src = self.src.getsockname()
        idx, _gen = self.eng.add_session(
            fd=s["rtp"].fileno(), rtcp_fd=s["rtcp"].fileno() if s["rtcp"] is not None else -1,
            remote=src, remote_rtcp=src if rtcp_mode == "mux" else (src[0], src[1] + 1),
            jitter=jb, in_resampler=rs, codec=codec, payload_type=pt, aec_capacity=aec,
            rtcp_interval=0.2 if rtcp_mode != "off" else 0.0, rtcp=rtcp_mode != "off",
            inactivity_ms=500 * (k & 1), flags=flags)
        s["idx"], s["last"], s["removing"] = idx, -1, False
        s["frame"] = (out_rate * 20 + 999) // 1000
        self.eng.set_sink(idx, lambda pcm, kind, no, s=s: self.sink(s, pcm, kind, no))
        self.eng.write(idx, TONE)

    def sink(self, s: dict, pcm: bytes, kind: int, no: int) -> None:
        check(len(pcm) == 2 * s["frame"], f"frame of {len(pcm) // 2} samples, expected {s['frame']}")
        check(kind in KINDS, f"frame kind {kind}")
        check(no > s["last"], f"frame number {no} after {s['last']}")
        s["last"] = no
        self.frames += 1

    def event(self, typ: int, index: int, a: int, b: int, c: int) -> None:
        check(typ != EV_ERROR, f"engine error event: errno {a} at {b}")
        if typ == EV_REMOVED:
            for s in self.slots:
                if s["idx"] == index and s["removing"]:
                    s["released"] = True

    def drain(self) -> None:
        self.eng.drain(self.event)
        # Re-add released sessions after the drain, as AudioEngine does (a new
        # call opens in a later task). Re-adding from inside the event callback
        # hands the old session's queued frames to the new one (see
        # tests/test_fuzz_regressions.py::test_engine_index_reuse_gets_no_stale_frames).
        for k, s in enumerate(self.slots):
            if s.pop("released", False):
                self.add(k)

    def alive(self) -> None:
        now = time.monotonic()
        if now - self.last_check > 1.0:
            ticks = self.eng.stats()["ticks"]
            check(ticks > self.last_ticks, f"the engine stopped ticking at {ticks}")
            check(self.eng.running, "the engine thread is not running")
            self.last_ticks, self.last_check = ticks, now


RIG: Rig | None = None


def test_one_input(data: bytes) -> None:
    global RIG
    if RIG is None:
        RIG = Rig()
    rig = RIG
    r = Reader(data)
    n = sent = 0
    d0 = rig.eng.stats()["datagrams"]
    while r.more() and n < 64:
        n += 1
        op = r.u8()
        k = op % len(rig.slots)
        s = rig.slots[k]
        d = r.blob(2048)
        if op & 0x80 and op & 0x40:                      # control records
            sub = (op >> 3) & 7
            if sub == 0 and not s["removing"]:           # churn: remove, re-added when released
                s["removing"] = True
                rig.eng.remove_session(s["idx"], bye=bool(op & 1))
            elif sub == 1 and not s["removing"]:
                rig.eng.write(s["idx"], d[: len(d) & ~1])
            elif sub == 2 and not s["removing"]:
                rig.eng.send_dtmf(s["idx"], d[0] % 16 if d else 1, 40 + (d[1] if len(d) > 1 else 0))
            elif sub == 3 and not s["removing"]:
                rig.eng.interrupt(s["idx"])
            continue
        port = s["rtp"] if not op & 0x40 or s["rtcp"] is None else s["rtcp"]
        sender = rig.other if op & 0x80 else rig.src
        try:
            sender.sendto(d, port.getsockname())
            sent += 1
        except (BlockingIOError, OSError):
            pass
    t_end = time.monotonic() + 0.012                     # until the engine has read them (<= 2 sub-slots)
    while sent and rig.eng.stats()["datagrams"] < d0 + sent and time.monotonic() < t_end:
        time.sleep(0.0005)
    rig.drain()
    rig.alive()


if __name__ == "__main__":
    harness.main(test_one_input)

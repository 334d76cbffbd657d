"""Helpers shared by the jitter-buffer tests (not a test module)."""

from __future__ import annotations

import numpy as np

from voicecore.jitter import JitterBuffer
from voicecore.testing import netsim as ns

F = 160  # 20 ms at 8 kHz


def payload_pcm(packets) -> np.ndarray:
    """Decoded audio of the audio packets, in sending order."""
    return ns.ulaw_decode(b"".join(p.data[12:] for p in packets if p.kind == "audio"))


def play(sender: ns.Sender, arrivals, *, extra_ms: int = 400, **kw):
    """Run ``arrivals`` through a fresh buffer from the sender's start time."""
    jb = JitterBuffer(**kw)
    dur = (sender.elapsed * 1000 // sender.rate) + extra_ms
    res = ns.run(jb, arrivals, start_ns=sender.start_ns, duration_ms=dur, trace_every=1)
    return jb, res


def offset_of(out: np.ndarray, ref: np.ndarray, n: int = 400, start: int = 0) -> int:
    """First index of ``out`` where ``ref[start:start+n]`` appears exactly."""
    pat = ref[start:start + n]
    win = np.lib.stride_tricks.sliding_window_view(out, n)
    hits = np.flatnonzero((win[:, 0] == pat[0]) & (win == pat).all(axis=1))
    assert hits.size, "reference audio not found in the output"
    return int(hits[0]) - start


def lost_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    runs, i = [], 0
    while i < len(mask):
        if mask[i]:
            j = i
            while j < len(mask) and mask[j]:
                j += 1
            runs.append((i, j - i))
            i = j
        else:
            i += 1
    return runs

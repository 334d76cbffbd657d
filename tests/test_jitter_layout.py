"""The jitter buffer's state keeps what every push and pull touch together.

An engine pushes one packet into and pulls one frame from every call's
buffer every 20 ms; with a thousand calls each line of state they touch is a
cache miss per call per tick, so state.pxd orders JBState (and the nested
structs' hot fields to their edges) to keep the steady path (an established
PCMU / PCMA stream, in order) on 9 lines, down from 16. This fails if a field
added to the hot block, or moved, spreads the path over more lines again."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "native"))
from build import build_probe  # noqa: E402


def test_the_steady_path_touches_nine_lines() -> None:
    probe = build_probe("probe_jitter_internals")
    lines = probe.hot_lines()
    assert len(lines) <= 9, {k: lines[k] for k in sorted(lines)}
    # the hot block is one run of lines; outside it only fr's head and the
    # line where dt's tail meets plc's head
    run = sorted(k for k, v in lines.items() if not set(v) <= {"fr.n", "dt.active", "dt.q_tail", "dt.q_head",
                                                                  "plc.active", "plc.end_left"})
    assert run == list(range(run[0], run[0] + len(run))), run
    assert len(run) <= 7, run


def test_stats_keep_their_documented_order() -> None:
    """The struct's order is for the cache; stats() reports the counters as
    documented (types.pxd): the outcome counters from ``received``, the frame
    counters together."""
    from voicecore._native.media.jitter import STAT_NAMES, JitterBuffer

    assert STAT_NAMES[:3] == ("received", "held", "duplicates")
    i = STAT_NAMES.index("frames_out")
    assert STAT_NAMES[i - 1:i + 5] == ("cn_frames", "frames_out", "audio_frames", "concealed_frames",
                                       "silence_frames", "comfort_noise_frames")
    assert tuple(JitterBuffer().stats())[:len(STAT_NAMES)] == STAT_NAMES

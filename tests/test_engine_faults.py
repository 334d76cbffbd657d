"""The audio I/O thread takes no page faults of its own: every buffer it
writes (frame queues, rings, session and jitter-buffer blocks, its receive
buffers) is mapped by the thread that allocates it (vc_prefault), so no tick
stalls on a first touch (a zeroed page, or a zeroed 2 MiB page with
transparent huge pages).

Measured with the engine's ``page_faults`` statistic (getrusage of the I/O
thread) over a run that starts 40 calls with audio both ways, adds 40 more,
then replaces all 80 by 80 new ones; with the huge-page arena and with the C
allocator (VOICECORE_HUGEPAGES=0). Before the pages were mapped at allocation
the thread took about 600 faults in the first calls' 1.5 s (the frame
queue's first lap) and, with the C allocator, about 11 per added call."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the engine is Linux-only")

SCENARIO = Path(__file__).with_name("engine_faults_scenario.py")


@pytest.mark.parametrize("hugepages", ["1", "0"])
def test_the_audio_thread_takes_no_page_faults(hugepages: str) -> None:
    env = dict(os.environ, VOICECORE_HUGEPAGES=hugepages)
    r = subprocess.run([sys.executable, str(SCENARIO), "40"], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    f = json.loads(r.stdout.strip().splitlines()[-1])
    # 80 calls x ~50 frames/s for ~4 s delivered (the run did carry audio)
    assert f["frames"] > 8000, f
    # the thread's own start (stack, TLS) may fault a little; the calls not
    assert f["first_calls"] - f["started"] <= 16, f
    assert f["more_calls"] - f["first_calls"] <= 16, f
    assert f["replaced_calls"] - f["more_calls"] <= 16, f

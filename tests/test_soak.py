"""The soak script (benchmarks/soak.py) on a short run: calls with audio both
ways under impairment and churn, and every call's resources given back.
The 1 h / 500-call figures are in the issue-13 report; this checks that the
script runs and that what it measures holds on a small scale."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

SOAK = Path(__file__).resolve().parents[1] / "benchmarks" / "soak.py"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the engine needs Linux")


def test_short_soak_churns_calls_and_gives_every_resource_back(tmp_path):
    out_csv, out_json = tmp_path / "soak.csv", tmp_path / "soak.json"
    proc = subprocess.run(
        [sys.executable, str(SOAK), "--calls", "6", "--seconds", "6", "--every", "1", "--churn", "2",
         "--warmup", "2", "--csv", str(out_csv), "--json", str(out_json)],
        capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out_json.read_text())
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == res["samples"] >= 4
    assert {"rss_kib", "fds", "threads", "tick_late_p99_ms", "frame_overflow", "consumer_overflow"} <= set(rows[0])
    # churn happened, and closing every call gave back every descriptor and thread
    assert res["churned"] >= 8
    assert res["leaked_fds"] == 0, res
    assert res["leaked_threads"] == 0, res
    assert all(int(r["calls"]) == 6 for r in rows)
    # audio both ways: frames delivered at the frame rate, packets sent back and received by the peer
    assert res["bad_frames"] == 0
    assert res["frames_per_call_per_s"] > 40
    assert res["rx_pps"] > 0 and res["tx_pps"] > 0
    assert res["peer"]["sent"] > 0 and res["peer"]["received"] > 0
    assert res["loop_errors"] == 0 and res["engine_errors"] == 0

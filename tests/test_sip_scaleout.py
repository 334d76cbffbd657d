"""Scale-out, as docs/scale-out.md lays it out, on loopback: Kamailio (Debian's)
with the documented ``docs/scale-out/kamailio.cfg`` dispatching calls over two
worker processes (``docs/scale-out/worker.py``: roomkit's SIPVoiceBackend with
voicecore.install(), each its own engine and RTP port range), called by
baresip phones.

1. four concurrent calls: both workers take calls (call-load dispatching
   alternates them) and every call's audio flows both ways (the worker hears
   the caller's speech; the caller hears it echoed back);
2. one worker is killed (SIGKILL): the OPTIONS health check marks it
   inactive, and two new calls both go to the other worker, audio flowing;
3. everything the test started is stopped (the surviving worker by SIGTERM,
   which hangs up cleanly and exits 0)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sip_support import Baresip, baresip_missing, free_port, write_wav

ROOT = Path(__file__).resolve().parents[1]
CFG = ROOT / "docs" / "scale-out" / "kamailio.cfg"
WORKER = ROOT / "docs" / "scale-out" / "worker.py"
KAMAILIO = shutil.which("kamailio") or ("/usr/sbin/kamailio" if os.path.exists("/usr/sbin/kamailio") else None)
KAMCMD = shutil.which("kamcmd") or ("/usr/sbin/kamcmd" if os.path.exists("/usr/sbin/kamcmd") else None)


def _missing() -> str | None:
    if not sys.platform.startswith("linux"):
        return "the engine is Linux-only"
    if KAMAILIO is None or KAMCMD is None:
        return "kamailio not installed (apt-get install kamailio)"
    if not CFG.exists() or not WORKER.exists():
        return "docs/scale-out not in this tree"
    return baresip_missing()


pytestmark = [
    pytest.mark.sip,
    pytest.mark.skipif(_missing() is not None, reason=str(_missing())),
    pytest.mark.timeout(180),
]

pytest.importorskip("roomkit")
pytest.importorskip("aiosipua")

from engine_support import speech  # noqa: E402


def _wait(pred, timeout: float, what: str, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise TimeoutError(f"{what} within {timeout} s")


def _status(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class Stack:
    """The processes of one test run, each stopped by its own id."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[subprocess.Popen] = []
        self.phones: list[Baresip] = []
        self.ctl = f"unix:{tmp}/kamailio_ctl"
        self.kam: subprocess.Popen | None = None

    def worker(self, name: str, rtp: tuple[int, int]) -> tuple[subprocess.Popen, int, Path]:
        port = free_port()
        status = self.tmp / f"{name}.json"
        log = open(self.tmp / f"{name}.log", "wb")
        p = subprocess.Popen([sys.executable, str(WORKER), "--sip", f"127.0.0.1:{port}",
                              "--rtp-ports", f"{rtp[0]}-{rtp[1]}", "--status", str(status), "-v"],
                             stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        self.procs.append(p)
        return p, port, status

    def kamailio(self, port: int, ds_list: Path) -> None:
        log = open(self.tmp / "kamailio.log", "wb")
        self.kam = subprocess.Popen(
            [KAMAILIO, "-f", str(CFG), "-DD", "-E", "-n", "2", "-m", "32", "-M", "4",
             "-w", str(self.tmp), "-Y", str(self.tmp), "-P", str(self.tmp / "kamailio.pid"),
             "-A", f"LISTEN=udp:127.0.0.1:{port}", "-A", f'DS_LIST="{ds_list}"',
             "-A", f'CTL="{self.ctl}"', "-A", "PING_S=1"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()

    def dispatcher(self) -> dict[str, str]:
        """{destination uri: flags} from kamcmd (AP active, IP inactive, ...)."""
        out = subprocess.run([KAMCMD, "-s", self.ctl, "dispatcher.list"], capture_output=True,
                             text=True, timeout=5).stdout
        found, uri = {}, None
        for line in out.splitlines():
            line = line.strip()
            if line.startswith("URI:"):
                uri = line.split(None, 1)[1]
            elif line.startswith("FLAGS:") and uri:
                found[uri] = line.split(None, 1)[1]
        return found

    def stop(self) -> None:
        for ph in self.phones:
            ph.stop()
        if self.kam is not None and self.kam.poll() is None:
            os.killpg(self.kam.pid, signal.SIGTERM)       # kamailio and the children it forked
            try:
                self.kam.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.kam.pid, signal.SIGKILL)
                self.kam.wait(5)
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)


def _calls(stack: Stack, n: int, wav: Path, uri: str, tag: str, seconds: float) -> list[Baresip]:
    phones = [Baresip(stack.tmp / f"{tag}{i}", wav, rtp_ports=(30000 + 1000 * i, 30999 + 1000 * i))
              for i in range(n)]
    stack.phones += phones
    for ph in phones:
        ph.start()
    for ph in phones:                     # one after the other: the dispatcher sees each new load
        ph.dial(uri)
        ph.wait_event("CALL_ESTABLISHED", 10)
    time.sleep(seconds)
    for ph in phones:
        ph.hangup()
    for ph in phones:
        ph.wait_event("CALL_CLOSED", 10)
    return phones


def _check_heard(phones: list[Baresip]) -> list[tuple[float, float]]:
    """Each caller heard its speech echoed back: seconds and mean level."""
    out = []
    for ph in phones:
        pcm, rate = ph.heard()
        out.append((len(pcm) / rate, float(np.abs(pcm.astype(np.float64)).mean()) if len(pcm) else 0.0))
    for secs, level in out:
        assert secs >= 2.0 and level > 50, out
    return out


def _check_worker_calls(st: dict, n: int) -> None:
    calls = [c for c in st["calls"].values() if c.get("ended")]
    assert len(calls) == n, st
    for c in calls:
        assert c["audio_frames_in"] >= 100, c               # >= 2 s of the caller's speech
        assert c["rtp"]["packets_sent"] >= 100, c           # and >= 2 s sent back
        assert c["reason"] == "bye"


def test_kamailio_dispatches_over_two_workers_and_fails_over(tmp_path, capsys):
    clip = speech(8000, 5.0)
    if clip is None:
        pytest.skip("speech clips not fetched")
    wav = tmp_path / "caller.wav"
    write_wav(wav, np.concatenate([clip, np.zeros(8000 * 20, np.int16)]), 8000)
    stack = Stack(tmp_path)
    t0 = time.monotonic()
    report = []
    try:
        w1, p1, s1 = stack.worker("w1", (48000, 48199))
        w2, p2, s2 = stack.worker("w2", (48200, 48399))
        for s in (s1, s2):
            _wait(lambda s=s: (_status(s) or {}).get("ready"), 20, f"worker {s.name} ready")
        ds = tmp_path / "dispatcher.list"
        ds.write_text(f"1 sip:127.0.0.1:{p1} 0 0 duid=w1;maxload=50\n"
                      f"1 sip:127.0.0.1:{p2} 0 0 duid=w2;maxload=50\n")
        kport = free_port()
        stack.kamailio(kport, ds)
        u1, u2 = f"sip:127.0.0.1:{p1}", f"sip:127.0.0.1:{p2}"
        _wait(lambda: stack.dispatcher().get(u1) == "AP" and stack.dispatcher().get(u2) == "AP",
              15, "both workers active in the dispatcher")
        uri = f"sip:agent@127.0.0.1:{kport}"

        # 1. four concurrent calls over both workers
        phones = _calls(stack, 4, wav, uri, "a", 4.0)
        time.sleep(0.3)
        st1, st2 = _status(s1), _status(s2)
        report.append(f"round 1: worker 1 took {st1['calls_taken']}, worker 2 took {st2['calls_taken']}; "
                      f"callers heard {_check_heard(phones)} (s, mean level)")
        assert st1["calls_taken"] >= 1 and st2["calls_taken"] >= 1
        assert st1["calls_taken"] + st2["calls_taken"] == 4
        _check_worker_calls(st1, st1["calls_taken"])
        _check_worker_calls(st2, st2["calls_taken"])

        # 2. worker 1 dies; the health check takes it out; new calls go to worker 2
        w1.send_signal(signal.SIGKILL)
        w1.wait(5)
        t_kill = time.monotonic()
        flags = _wait(lambda: (stack.dispatcher().get(u1, "AP") != "AP") and stack.dispatcher(), 10,
                      "the dead worker marked inactive")
        detect = time.monotonic() - t_kill
        assert flags[u1].startswith("I") and flags[u2] == "AP", flags
        taken2 = st2["calls_taken"]
        phones = _calls(stack, 2, wav, uri, "b", 3.0)
        time.sleep(0.3)
        st2b = _status(s2)
        assert _status(s1)["calls_taken"] == st1["calls_taken"]          # nothing more to the dead one
        assert st2b["calls_taken"] == taken2 + 2
        _check_worker_calls(st2b, taken2 + 2)
        report.append(f"worker 1 killed: marked {flags[u1]} after {detect:.1f} s; round 2: worker 2 took "
                      f"2 more ({st2b['calls_taken']} in all); callers heard {_check_heard(phones)}")

        # 3. stop: the surviving worker hangs up cleanly and exits 0
        w2.terminate()
        assert w2.wait(10) == 0
        assert _status(s2)["ready"] is False
    finally:
        stack.stop()
    report.append(f"whole test: {time.monotonic() - t0:.1f} s")
    with capsys.disabled():
        print("\nscale-out (kamailio + 2 workers + baresip):\n  " + "\n  ".join(report))

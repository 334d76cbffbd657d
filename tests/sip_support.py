"""Helpers for the real-SIP tests: baresip (Debian's SIP user agent) driven
headless through its ``ctrl_tcp`` command interface, a loopback packet
capture with kernel timestamps, and the figures the tests report.

baresip runs from a config directory the test writes: ``aufile`` plays a WAV
as the microphone, ``sndfile`` records what it hears (``dump-*-dec.wav``),
``aubridge`` stands in for a sound card, ``menu`` provides the commands
(``dial``, ``sndcode``, ``hangup``, ``quit``) that ``ctrl_tcp`` carries as
JSON netstrings and over which baresip pushes its events (``CALL_ESTABLISHED``,
``CALL_CLOSED``, ``CALL_RTCP``). Everything binds to 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

BARESIP = shutil.which("baresip")
MODULE_DIRS = ("/usr/lib/baresip/modules", "/usr/lib/x86_64-linux-gnu/baresip/modules",
               "/usr/lib/aarch64-linux-gnu/baresip/modules", "/usr/local/lib/baresip/modules")
NEEDED = ("g711.so", "aufile.so", "aubridge.so", "sndfile.so", "menu.so", "ctrl_tcp.so", "account.so")


def baresip_modules() -> str | None:
    """The directory with every baresip module the tests load, or None."""
    for d in MODULE_DIRS:
        if all(os.path.exists(os.path.join(d, m)) for m in NEEDED):
            return d
    return None


def baresip_missing() -> str | None:
    """Why baresip cannot run here (None when it can)."""
    if BARESIP is None:
        return "baresip not installed (apt-get install baresip-core)"
    if baresip_modules() is None:
        return f"baresip modules {', '.join(NEEDED)} not found in {', '.join(MODULE_DIRS)}"
    return None


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_wav(path: Path, pcm: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype(np.int16).tobytes())


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), np.int16), w.getframerate()


class Baresip:
    """One baresip process: a SIP phone on 127.0.0.1 that plays ``source_wav``
    (8 kHz mono s16) into its calls and records what it hears."""

    def __init__(self, workdir: Path, source_wav: Path, *, rtp_ports: tuple[int, int] = (30000, 39999)) -> None:
        self.dir = Path(workdir)
        self.rec = self.dir / "rec"
        self.rec.mkdir(parents=True, exist_ok=True)
        self.sip_port = free_port()
        self.ctrl_port = free_port(socket.SOCK_STREAM)
        mods = baresip_modules()
        (self.dir / "config").write_text("\n".join([
            "poll_method epoll",
            f"sip_listen 127.0.0.1:{self.sip_port}",
            "net_interface 127.0.0.1",
            "call_local_timeout 30",
            "call_max_calls 4",
            f"audio_source aufile,{source_wav}",
            "audio_player aubridge,nil",
            "audio_alert aubridge,nil",
            f"rtp_ports {rtp_ports[0]}-{rtp_ports[1]}",
            "rtcp_mux no",
            "jitter_buffer_delay 2-10",
            f"module_path {mods}",
            "module g711.so",
            "module aufile.so",
            "module aubridge.so",
            "module sndfile.so",
            f"snd_path {self.rec}",
            "module_tmp uuid.so",
            "module_tmp account.so",
            "module_app menu.so",
            "module_app ctrl_tcp.so",
            f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
            "",
        ]))
        (self.dir / "accounts").write_text("<sip:caller@127.0.0.1>;regint=0\n")
        self.proc: subprocess.Popen[bytes] | None = None
        self.sock: socket.socket | None = None
        self.events: list[dict[str, Any]] = []
        self.responses: dict[str, dict[str, Any]] = {}
        self._cv = threading.Condition()
        self._stop = False
        self._reader: threading.Thread | None = None
        self._token = 0

    # ------------------------------------------------------------------ process
    def start(self, timeout: float = 10.0) -> None:
        log = open(self.dir / "baresip.log", "wb")
        self.proc = subprocess.Popen([BARESIP, "-f", str(self.dir)], stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"baresip exited ({self.proc.returncode}): {self.log()[-2000:]}")
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=0.5)
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise TimeoutError(f"baresip's ctrl_tcp did not listen within {timeout} s")
        self.sock.settimeout(0.2)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def log(self) -> str:
        try:
            return (self.dir / "baresip.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 5.0) -> None:
        """Quit baresip (killing it if it does not exit in ``timeout`` s)."""
        if self.proc is None:
            return
        if self.proc.poll() is None and self.sock is not None:
            try:
                self._send({"command": "quit", "token": "quit"})
            except OSError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        elif self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._stop = True
        if self._reader is not None:
            self._reader.join(2)
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    # ------------------------------------------------------------------ ctrl_tcp
    def _send(self, obj: dict[str, Any]) -> None:
        data = json.dumps(obj).encode()
        assert self.sock is not None
        self.sock.sendall(str(len(data)).encode() + b":" + data + b",")

    def _read(self) -> None:
        buf = b""
        while not self._stop:
            try:
                chunk = self.sock.recv(65536) if self.sock is not None else b""
            except socket.timeout:
                continue
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while b":" in buf:
                head, rest = buf.split(b":", 1)
                n = int(head)
                if len(rest) < n + 1:
                    break
                msg = json.loads(rest[:n])
                buf = rest[n + 1:]
                with self._cv:
                    if msg.get("event"):
                        msg["t"] = time.monotonic()
                        self.events.append(msg)
                    elif msg.get("response"):
                        self.responses[str(msg.get("token"))] = msg
                    self._cv.notify_all()

    def command(self, command: str, params: str = "", timeout: float = 5.0) -> dict[str, Any]:
        self._token += 1
        token = f"t{self._token}"
        self._send({"command": command, "params": params, "token": token})
        with self._cv:
            if not self._cv.wait_for(lambda: token in self.responses, timeout):
                raise TimeoutError(f"baresip did not answer {command!r} within {timeout} s")
            return self.responses.pop(token)

    def wait_event(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        with self._cv:
            if not self._cv.wait_for(lambda: any(e["type"] == kind for e in self.events), timeout):
                raise TimeoutError(f"baresip: no {kind} within {timeout} s; log:\n{self.log()[-3000:]}")
            return next(e for e in self.events if e["type"] == kind)

    def dial(self, uri: str) -> None:
        r = self.command("dial", uri)
        if not r.get("ok"):
            raise RuntimeError(f"baresip dial {uri}: {r}")

    def sndcode(self, digit: str) -> None:
        self.command("sndcode", digit)

    def hangup(self) -> None:
        self.command("hangup")

    def rtcp_reports(self) -> list[dict[str, Any]]:
        """baresip's RTCP statistics events (``rtcp_stats``: tx/rx sent, lost, jit)."""
        with self._cv:
            return [e["rtcp_stats"] for e in self.events if e["type"] == "CALL_RTCP" and "rtcp_stats" in e]

    def heard(self) -> tuple[np.ndarray, int]:
        """What baresip heard in its call(s): the decoded audio it recorded."""
        files = sorted(self.rec.glob("dump-*-dec.wav"))
        if not files:
            return np.zeros(0, np.int16), 8000
        parts = [read_wav(f) for f in files]
        return np.concatenate([p[0] for p in parts]), parts[0][1]


class LoopbackCapture:
    """UDP datagrams on the loopback interface as they are sent, with kernel
    timestamps (AF_PACKET, needs CAP_NET_RAW; :attr:`error` says why not),
    recorded in a thread. A kernel filter passes only IPv4/UDP from source
    ports in ``ports`` (first, last); the thread keeps (t_ns, src_port,
    dst_port, first 12 payload bytes) of those in ``src_ports``."""

    def __init__(self, ports: tuple[int, int] = (1024, 65535)) -> None:
        self.packets: list[tuple[int, int, int, bytes]] = []
        self.src_ports: set[int] = set()
        self.error: str | None = None
        self._stop = False
        self._t: threading.Thread | None = None
        try:
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
            _attach_udp_filter(self.sock, *ports)
            self.sock.bind(("lo", 0))
            self.sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_TIMESTAMPNS", 35), 1)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            self.sock.settimeout(0.1)
        except (OSError, AttributeError) as exc:
            self.sock = None
            self.error = f"no loopback capture ({exc})"
            return
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def cpu_s(self) -> float:
        """CPU time the capture thread has used so far (s)."""
        if self._t is None or self._t.ident is None or not self._t.is_alive():
            return self._cpu_final
        try:
            return time.clock_gettime(time.pthread_getcpuclockid(self._t.ident))
        except (OSError, AttributeError):
            return 0.0

    _cpu_final = 0.0

    def _run(self) -> None:
        ts_opt = getattr(socket, "SO_TIMESTAMPNS", 35)
        sock = self.sock
        while not self._stop:
            try:
                data, anc, _flags, addr = sock.recvmsg(256, socket.CMSG_SPACE(16))
            except socket.timeout:
                continue
            except OSError:
                break
            if addr[2] != socket.PACKET_OUTGOING or len(data) < 14 + 20 + 8 + 12:
                continue
            ip = data[14:]
            if ip[0] >> 4 != 4 or ip[9] != 17:
                continue
            ihl = (ip[0] & 15) * 4
            sport, dport = struct.unpack("!HH", ip[ihl: ihl + 4])
            if sport not in self.src_ports:
                continue
            t = time.time_ns()
            for level, typ, cdata in anc:
                if level == socket.SOL_SOCKET and typ == ts_opt:
                    sec, nsec = struct.unpack("qq", cdata[:16])
                    t = sec * 1_000_000_000 + nsec
            self.packets.append((t, sport, dport, bytes(ip[ihl + 8: ihl + 20])))
        self._cpu_final = time.thread_time()

    def stop(self) -> None:
        if self.sock is None or self._t is None:
            return
        self._stop = True
        self._t.join(2)
        self.sock.close()
        self._t = None


def _attach_udp_filter(sock: socket.socket, lo: int, hi: int) -> None:
    """Classic BPF on a loopback packet socket: IPv4, UDP, source port in [lo, hi]."""
    import ctypes

    prog = [
        (0x28, 0, 0, 12),          # ldh [12]            ethertype
        (0x15, 0, 7, 0x0800),      # jeq IPv4 ? next : drop
        (0x30, 0, 0, 23),          # ldb [23]            IP protocol
        (0x15, 0, 5, 17),          # jeq UDP ? next : drop
        (0xB1, 0, 0, 14),          # ldxb 4*([14]&0xf)   IP header length
        (0x48, 0, 0, 14),          # ldh [x + 14]        UDP source port
        (0x35, 0, 2, lo),          # jge lo ? next : drop
        (0x25, 1, 0, hi),          # jgt hi ? drop : accept
        (0x06, 0, 0, 0x40000),     # ret accept
        (0x06, 0, 0, 0),           # ret drop
    ]

    class Insn(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                    ("k", ctypes.c_uint32)]

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(Insn))]

    insns = (Insn * len(prog))(*[Insn(*i) for i in prog])
    fprog = Prog(len(prog), insns)
    sock.setsockopt(socket.SOL_SOCKET, 26, bytes(ctypes.string_at(ctypes.addressof(fprog), ctypes.sizeof(fprog))))


def outbound_figures(packets: list[tuple[int, int, int, bytes]], src_port: int,
                     clock_rate: int = 8000) -> dict[str, Any]:
    """Send-time figures of one call's outbound RTP audio: packets, and for
    each packet how late it left against the RTP timeline of its talkspurt
    (``t - ts/clock``, minus the talkspurt's 1st percentile of that offset,
    so one early packet does not set the phase): p50, p99, max in ms; and the largest number of packets sent within 1 ms (a burst)."""
    pk = [(t, h) for t, s, _d, h in packets if s == src_port and (h[1] & 0x7F) in (0, 8)]
    late: list[float] = []
    spurt: list[tuple[int, int]] = []
    prev_ts = None

    def flush() -> None:
        if len(spurt) >= 2:
            off = np.array([t / 1e6 - ts * 1000.0 / clock_rate for t, ts in spurt])
            late.extend(np.maximum(0.0, off - np.percentile(off, 1)).tolist())

    for t, h in pk:
        ts = struct.unpack("!I", h[4:8])[0]
        marker = bool(h[1] & 0x80)
        if spurt and (marker or prev_ts is None or ((ts - prev_ts) & 0xFFFFFFFF) > 8 * 160):
            flush()
            spurt = []
        base = spurt[0][1] if spurt else ts
        spurt.append((t, base + ((ts - base) & 0xFFFFFFFF)))
        prev_ts = ts
    flush()
    times = np.array([t for t, _ in pk], dtype=np.int64)
    burst = 0
    if len(times):
        j = 0
        for i in range(len(times)):
            while times[i] - times[j] > 1_000_000:
                j += 1
            burst = max(burst, i - j + 1)
    arr = np.array(late) if late else np.zeros(1)
    return {"packets": len(pk), "late_p50_ms": float(np.percentile(arr, 50)),
            "late_p99_ms": float(np.percentile(arr, 99)), "late_max_ms": float(arr.max()),
            "max_burst": burst}


def timeline_figures(times_ns: list[int], frame_ms: float = 20.0) -> dict[str, Any]:
    """How far each delivered frame came behind a steady 20 ms timeline
    (phased at the 1st percentile of the offsets): p50, p99, max in ms."""
    if len(times_ns) < 2:
        return {"late_p50_ms": 0.0, "late_p99_ms": 0.0, "late_max_ms": 0.0}
    t = np.array(times_ns, dtype=np.float64) / 1e6
    off = t - frame_ms * np.arange(len(t))
    late = np.maximum(0.0, off - np.percentile(off, 1))
    return {"late_p50_ms": float(np.percentile(late, 50)), "late_p99_ms": float(np.percentile(late, 99)),
            "late_max_ms": float(late.max())}

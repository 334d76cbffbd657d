"""Helpers for the engine / RTP backend tests: RTP packets, a raw UDP peer
that records what it receives with kernel timestamps (in its own thread, so a
blocked event loop does not disturb the measurement), and real speech."""

from __future__ import annotations

import asyncio
import os
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Linux SO_TIMESTAMPNS (== SCM_TIMESTAMPNS); not exported by the socket module.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
# CI's sanitizer step (.ci/sanitizers.sh) sets this: the ASan + UBSan build runs
# several times slower and its threads wake late, so a test's timing bound
# (how soon, how evenly) is checked in the main run and only coarsely there
SANITIZED = bool(os.environ.get("VOICECORE_SANITIZED"))


def rtp(seq: int, ts: int, ssrc: int, payload: bytes, pt: int = 0, marker: bool = False) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts & 0xFFFFFFFF,
                       ssrc & 0xFFFFFFFF) + payload


@dataclass
class Packet:
    data: bytes
    addr: tuple
    t_ns: int            # kernel receive time (CLOCK_REALTIME ns)

    @property
    def is_rtcp(self) -> bool:
        return len(self.data) >= 2 and 192 <= self.data[1] <= 223

    @property
    def pt(self) -> int:
        return self.data[1] & 0x7F

    @property
    def marker(self) -> bool:
        return bool(self.data[1] & 0x80)

    @property
    def seq(self) -> int:
        return struct.unpack("!H", self.data[2:4])[0]

    @property
    def ts(self) -> int:
        return struct.unpack("!I", self.data[4:8])[0]

    @property
    def ssrc(self) -> int:
        return struct.unpack("!I", self.data[8:12])[0]

    @property
    def payload(self) -> bytes:
        return self.data[12:]


class RawPeer:
    """A UDP socket on loopback with a receiver thread recording datagrams."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.bind((host, port))
        self.sock.setblocking(False)
        self.addr = self.sock.getsockname()[:2]
        self.packets: list[Packet] = []
        self._stop = False
        self._lock = threading.Lock()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _drain(self) -> None:
        """Record every datagram waiting in the socket (caller holds the lock)."""
        while not self._stop:
            try:
                data, anc, _flags, addr = self.sock.recvmsg(4096, socket.CMSG_SPACE(16))
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            t = time.time_ns()
            for level, typ, cdata in anc:
                if level == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", cdata[:16])
                    t = sec * 1_000_000_000 + nsec
            self.packets.append(Packet(data, addr, t))

    def _run(self) -> None:
        while not self._stop:
            try:
                ready, _, _ = select.select([self.sock], [], [], 0.05)
            except (OSError, ValueError):
                return
            if ready:
                with self._lock:
                    self._drain()

    def _settled(self) -> list[Packet]:
        # a datagram already sent to us is in the socket: read it now, so a
        # caller that knows something was sent (wait_playback returned) sees it
        with self._lock:
            self._drain()
            return list(self.packets)

    @classmethod
    def pair(cls, host: str = "127.0.0.1") -> tuple[RawPeer, RawPeer]:
        """Two peers on an even port and the next one (RTP, RTCP)."""
        import random

        for _ in range(200):
            port = random.randrange(20000, 60000, 2)
            try:
                a = cls(host, port)
            except OSError:
                continue
            try:
                return a, cls(host, port + 1)
            except OSError:
                a.close()
        raise OSError("no free even/odd port pair")

    def rtp(self, pt: int | None = None) -> list[Packet]:
        return [p for p in self._settled() if not p.is_rtcp and (pt is None or p.pt == pt)]

    def rtcp(self) -> list[Packet]:
        return [p for p in self._settled() if p.is_rtcp]

    def send(self, data: bytes, addr: tuple) -> None:
        self.sock.sendto(data, addr)

    def close(self) -> None:
        self._stop = True
        self._t.join(timeout=1)
        self.sock.close()


def speech(rate: int = 8000, seconds: float | None = None, clip: str = "beckett") -> np.ndarray | None:
    """Real speech from the fetched models (int16 at ``rate``), or None."""
    try:
        from voicecore import models
    except ImportError:
        return None
    try:
        path = models.speech_clip(clip)
    except Exception:
        return None
    if path is None or not Path(path).is_file():
        return None
    import wave

    with wave.open(str(path), "rb") as w:
        src_rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    if src_rate != rate:
        from voicecore.resample import Resampler

        r = Resampler(src_rate, rate)
        x = np.frombuffer(r.process(x.tobytes()) + r.flush(), np.int16)
    if seconds is not None:
        x = x[: int(seconds * rate)]
    return x


def tone(freq: float, seconds: float, rate: int = 8000, amp: float = 8000.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def find_exact(haystack: np.ndarray, needle: np.ndarray) -> int:
    """Offset where ``needle`` appears exactly inside ``haystack`` (or -1)."""
    n = len(needle)
    if n == 0 or len(haystack) < n:
        return -1
    head = needle[: min(32, n)]
    for off in np.flatnonzero(haystack[: len(haystack) - n + 1] == head[0]):
        if np.array_equal(haystack[off: off + len(head)], head) and np.array_equal(haystack[off: off + n], needle):
            return int(off)
    return -1


def open_fds() -> int:
    import os

    return len(os.listdir("/proc/self/fd"))


# ---------------------------------------------------------------- RTPVoiceBackend helpers
async def backend(engine, peer, **kw):
    """An RTPVoiceBackend on ``engine`` pointed at ``peer``, and one connected session."""
    from voicecore.backends.rtp import RTPVoiceBackend

    b = RTPVoiceBackend(local_addr=("127.0.0.1", 0), remote_addr=peer.addr, engine=engine, **kw)
    s = await b.connect("room", "user", "voice")
    return b, s


async def send_paced(peer, dest, packets, period=0.02):
    """Send datagrams on an absolute 20 ms schedule (loop timer)."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for i, pkt in enumerate(packets):
        delay = t0 + i * period - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        peer.send(pkt, dest)


def ulaw_packets(pcm: np.ndarray, ssrc=0x1234, seq0=100, ts0=5000, pt=0, enc=None):
    """20 ms G.711 RTP packets of ``pcm`` (8 kHz int16), marker on the first."""
    if enc is None:
        from voicecore.codec import lin2ulaw as enc
    out = []
    for i in range(len(pcm) // 160):
        out.append(rtp(seq0 + i, ts0 + 160 * i, ssrc, enc(pcm[160 * i: 160 * (i + 1)].tobytes()), pt=pt,
                       marker=(i == 0)))
    return out

"""SDES-SRTP interop with rtpengine (Sipwise's media proxy, Debian package
``rtpengine-daemon``), run headless in userspace (``--table=-1``: no kernel
module) and driven over its ng control protocol (bencode over UDP on
loopback).

rtpengine bridges a plain RTP/AVP leg (a raw-socket peer) to an RTP/SAVP
leg with SDES keys (voicecore's RTPVoiceBackend, keys from the ``a=crypto``
lines rtpengine offers, answered with :func:`voicecore.media.srtp.answer_crypto`).
Speech goes both ways through rtpengine's own SRTP code (libsrtp-free: its
own AES/HMAC over OpenSSL) and must arrive bit-exact: rtpengine encrypts what
the plain peer sends and our backend decrypts it; our backend encrypts and
rtpengine decrypts to the plain peer.

Skipped when rtpengine is not installed (``apt-get install rtpengine-daemon``;
``.ci/run`` installs it).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from engine_support import RawPeer, find_exact, rtp, speech, tone

from voicecore import codec
from voicecore.media import srtp

RTPENGINE = shutil.which("rtpengine") or ("/usr/bin/rtpengine" if os.path.exists("/usr/bin/rtpengine") else None)

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the engine is Linux-only"),
    pytest.mark.skipif(RTPENGINE is None, reason="rtpengine not installed (apt-get install rtpengine-daemon)"),
    pytest.mark.skipif(not srtp.AVAILABLE, reason=str(srtp.UNAVAILABLE_REASON)),
]


# ---------------------------------------------------------------------------- bencode (ng protocol)
def bencode(x) -> bytes:
    if isinstance(x, dict):
        return b"d" + b"".join(bencode(str(k)) + bencode(v) for k, v in sorted(x.items())) + b"e"
    if isinstance(x, (list, tuple)):
        return b"l" + b"".join(bencode(v) for v in x) + b"e"
    if isinstance(x, int):
        return b"i%de" % x
    if isinstance(x, str):
        x = x.encode()
    return b"%d:" % len(x) + x


def bdecode(data: bytes):
    def one(i: int):
        c = data[i:i + 1]
        if c == b"d":
            out, i = {}, i + 1
            while data[i:i + 1] != b"e":
                k, i = one(i)
                out[k], i = one(i)
            return out, i + 1
        if c == b"l":
            lst, i = [], i + 1
            while data[i:i + 1] != b"e":
                v, i = one(i)
                lst.append(v)
            return lst, i + 1
        if c == b"i":
            j = data.index(b"e", i)
            return int(data[i + 1:j]), j + 1
        j = data.index(b":", i)
        n = int(data[i:j])
        return data[j + 1:j + 1 + n].decode(), j + 1 + n

    return one(0)[0]


class Rtpengine:
    """One userspace rtpengine process on loopback and its ng control socket."""

    def __init__(self) -> None:
        self.ng_port = random.randrange(20000, 29000)
        lo = random.randrange(40000, 59000, 200)
        self.proc = subprocess.Popen(
            [RTPENGINE, "--config-file=none", "--table=-1", "--foreground", "--log-stderr", "--log-level=5",
             "--interface=127.0.0.1", f"--listen-ng=127.0.0.1:{self.ng_port}", f"--port-min={lo}",
             f"--port-max={lo + 199}", "--delete-delay=0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(0.5)
        self.cookie = 0
        deadline = time.monotonic() + 10
        while True:
            try:
                assert self.ng({"command": "ping"})["result"] == "pong"
                return
            except (TimeoutError, socket.timeout, ConnectionRefusedError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError(f"rtpengine did not start: {self.log()[-2000:]}") from None

    def ng(self, msg: dict) -> dict:
        self.cookie += 1
        cookie = f"vc{self.cookie}".encode()
        self.sock.sendto(cookie + b" " + bencode(msg), ("127.0.0.1", self.ng_port))
        while True:
            data, _ = self.sock.recvfrom(65536)
            if data.startswith(cookie + b" "):
                return bdecode(data[len(cookie) + 1:])

    def log(self) -> str:
        if self.proc.poll() is None:
            return ""
        return self.proc.stderr.read() if self.proc.stderr else ""

    def close(self) -> None:
        self.sock.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()


@pytest.fixture
def rtpengine():
    r = Rtpengine()
    yield r
    r.close()


@pytest.fixture
async def engine():
    from voicecore.engine import AudioEngine

    eng = AudioEngine()
    eng.start()
    yield eng
    await eng.aclose()


def _sdp(port: int, proto: str, extra: str = "") -> str:
    return ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {port} {proto} 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\na=rtcp-mux\r\n{extra}")


def _media(sdp: str) -> tuple[str, int, str]:
    host = re.search(r"^c=IN IP4 (\S+)", sdp, re.M).group(1)
    m = re.search(r"^m=audio (\d+) (\S+)", sdp, re.M)
    return host, int(m.group(1)), m.group(2)


@pytest.mark.parametrize("suite", ["AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AEAD_AES_128_GCM"])
async def test_rtpengine_bridges_plain_rtp_to_our_srtp_leg_bit_exact(rtpengine, engine, suite):
    from voicecore.backends.rtp import RTPVoiceBackend

    plain_peer = RawPeer()
    call_id = f"vc-{suite}-{os.getpid()}"
    try:
        # leg A (plain) offers; rtpengine turns it into an SRTP offer with its a=crypto lines for leg B
        offer = rtpengine.ng({"command": "offer", "call-id": call_id, "from-tag": "plain",
                              "sdp": _sdp(plain_peer.addr[1], "RTP/AVP"), "transport-protocol": "RTP/SAVP",
                              "ICE": "remove", "rtcp-mux": ["offer"]})
        assert offer["result"] == "ok", offer
        host_b, port_b, proto_b = _media(offer["sdp"])
        assert proto_b == "RTP/SAVP"
        lines = re.findall(r"^(a=crypto:.*?)\r?$", offer["sdp"], re.M)
        assert lines, offer["sdp"]
        theirs, ours = srtp.answer_crypto(lines, suites=[suite])     # the answerer picks this suite
        assert theirs.suite == suite
        b = RTPVoiceBackend(local_addr=("127.0.0.1", 0), remote_addr=(host_b, port_b), engine=engine,
                            rtcp_mux=True, rtcp_interval=0.5)
        s = await b.connect("r", "p", "c", metadata={"srtp": (ours.to_sdp(), theirs.to_sdp())})
        answer = rtpengine.ng({"command": "answer", "call-id": call_id, "from-tag": "plain", "to-tag": "voicecore",
                               "sdp": _sdp(s.metadata["local_addr"][1], "RTP/SAVP", ours.to_sdp() + "\r\n"),
                               "ICE": "remove"})
        assert answer["result"] == "ok", answer
        host_a, port_a, proto_a = _media(answer["sdp"])
        assert proto_a == "RTP/AVP" and "a=crypto" not in answer["sdp"]

        frames = []
        b.on_audio_received(lambda sess, f: frames.append(f))
        x = speech(8000, 1.2)
        if x is None:
            x = tone(440, 1.2)
        x = x[: len(x) // 160 * 160]
        ulaw = codec.lin2ulaw(x.tobytes())
        pk = [rtp(500 + i, 160 * i, 0xA1A1, ulaw[160 * i: 160 * (i + 1)], marker=i == 0) for i in range(len(x) // 160)]
        loop = asyncio.get_running_loop()

        async def plain_to_us() -> None:
            t0 = loop.time()
            for i, p in enumerate(pk):
                await asyncio.sleep(max(0.0, t0 + 0.02 * i - loop.time()))
                plain_peer.send(p, (host_a, port_a))

        async def us_to_plain() -> None:
            await b.send_audio(s, x.tobytes())
            assert await b.wait_playback(s)

        await asyncio.gather(plain_to_us(), us_to_plain())
        await asyncio.sleep(0.3)
        st = b.session_stats(s)
        await b.close()
        out = plain_peer.rtp(0)
        query = rtpengine.ng({"command": "query", "call-id": call_id})
        rtpengine.ng({"command": "delete", "call-id": call_id})
    finally:
        plain_peer.close()

    # plain -> rtpengine (encrypts) -> our backend (decrypts): bit-exact, nothing failed authentication
    assert st["srtp_auth_fail"] == st["srtp_replay"] == st["srtp_malformed"] == st["srtp_other"] == 0, st
    assert st["received"] == len(pk), (st, query)
    got = np.frombuffer(b"".join(f.data for f in frames), np.int16)
    assert find_exact(got, np.frombuffer(codec.ulaw2lin(ulaw), np.int16)[:-320]) >= 0
    # our backend (encrypts) -> rtpengine (decrypts) -> plain peer: the payloads exactly
    assert len(out) == len(pk), query
    assert b"".join(p.payload for p in out) == ulaw

"""A voicecore SIP worker: roomkit's SIPVoiceBackend with voicecore.install().

One process = one event loop = one voicecore engine (one audio I/O thread)
with its own SIP port and RTP port range; run one per core behind the
dispatcher (docs/scale-out.md). The agent here is deliberately simple, to
show where yours goes: it answers every call, echoes what the caller says
(``--echo``, the default) or plays a WAV (``--greeting``), counts DTMF, and
keeps a status file (JSON) the operator or a test can read.

Usage::

    python worker.py --sip 10.0.0.7:5071 --rtp-ports 40000-40999 \
        [--rtp-ip 10.0.0.7] [--advertise 203.0.113.7] [--cpu 2] \
        [--greeting hello.wav] [--status /run/voicecore/w1.json]

SIGTERM or SIGINT: hang up every call (SIP BYE), release every socket, exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import time
import wave
from pathlib import Path
from typing import Any

import voicecore

log = logging.getLogger("voicecore.worker")


def _addr(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def _ports(text: str) -> tuple[int, int]:
    a, _, b = text.partition("-")
    return int(a), int(b)


class Worker:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.calls: dict[str, dict[str, Any]] = {}
        self._media: dict[str, Any] = {}                    # call id -> its CallSession
        self.taken = 0
        self.greeting: bytes | None = None
        if args.greeting:
            with wave.open(args.greeting, "rb") as w:
                if (w.getnchannels(), w.getsampwidth()) != (1, 2):
                    raise SystemExit(f"worker: {args.greeting} must be mono 16-bit PCM")
                self.greeting_rate = w.getframerate()
                self.greeting = w.readframes(w.getnframes())

    def status(self, ready: bool = True) -> None:
        if not self.args.status:
            return
        path = Path(self.args.status)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pid": os.getpid(), "ready": ready, "sip": self.args.sip,
                                   "calls_taken": self.taken, "calls": self.calls}, indent=1))
        tmp.replace(path)

    async def run(self) -> None:
        from roomkit.voice.backends.sip import SIPVoiceBackend
        from roomkit.voice.base import AudioChunk

        lo, hi = _ports(self.args.rtp_ports)
        backend = SIPVoiceBackend(
            local_sip_addr=_addr(self.args.sip),
            local_rtp_ip=self.args.rtp_ip or _addr(self.args.sip)[0],
            advertised_ip=self.args.advertise,
            rtp_port_start=lo,
            rtp_port_end=hi,
            max_sessions=self.args.max_calls,
        )

        def on_audio(session: Any, frame: Any) -> None:
            c = self.calls.get(session.metadata.get("call_id", session.id))
            if c is None:
                return
            c["frames_in"] += 1
            if frame.metadata.get("frame_kind", "audio") == "audio":
                c["audio_frames_in"] += 1
            if self.greeting is None:                     # echo: the caller hears itself
                backend.send_audio_sync(session, AudioChunk(data=frame.data, sample_rate=frame.sample_rate))

        def on_call(session: Any) -> None:
            self.taken += 1
            cid = session.metadata.get("call_id", session.id)
            self.calls[cid] = {"session": session.id, "start": time.time(), "frames_in": 0,
                               "audio_frames_in": 0, "digits": [], "ended": None}
            st = backend._session_states.get(session.id)
            self._media[cid] = st.call_session if st is not None else None
            log.info("call %s from %s", cid, session.metadata.get("caller"))
            if self.greeting is not None:
                asyncio.ensure_future(backend.send_audio(
                    session, _one(AudioChunk(data=self.greeting, sample_rate=self.greeting_rate))))
            self.status()

        def on_dtmf(session: Any, event: Any) -> None:
            c = self.calls.get(session.metadata.get("call_id", session.id))
            if c is not None:
                c["digits"].append(event.digit)

        def on_gone(session: Any) -> None:
            cid = session.metadata.get("call_id", session.id)
            c = self.calls.get(cid)
            if c is not None:
                c["ended"] = time.time()
                c["reason"] = session.metadata.get("disconnect_reason", "bye")
                self._record_rtp(cid)
            self.status()

        backend.on_audio_received(on_audio)
        backend.on_call(on_call)
        backend.on_dtmf_received(on_dtmf)
        backend.on_call_disconnected(on_gone)
        await backend.start()
        self.status(ready=True)
        log.info("worker %s ready (RTP %s, pid %d)", self.args.sip, self.args.rtp_ports, os.getpid())
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await backend.close()                              # BYE to every call, sockets released
        for cid in self.calls:
            self._record_rtp(cid)
        self.status(ready=False)
        log.info("worker %s stopped", self.args.sip)

    def _record_rtp(self, cid: str) -> None:
        """The call's RTP counters (final once it ended: a closed CallSession keeps them)."""
        cs = self._media.get(cid)
        if cs is not None:
            self.calls[cid]["rtp"] = {k: v for k, v in cs.stats.items() if isinstance(v, (int, float))}


async def _one(chunk: Any) -> Any:
    yield chunk


def main() -> None:
    p = argparse.ArgumentParser(description="roomkit SIP worker on voicecore's engine")
    p.add_argument("--sip", required=True, help="host:port to receive SIP on (UDP)")
    p.add_argument("--rtp-ports", required=True, help="first-last RTP port of this worker (even ports used)")
    p.add_argument("--rtp-ip", help="address to bind RTP on (default: the SIP host)")
    p.add_argument("--advertise", help="address to put in SDP and Contact (NAT, public address)")
    p.add_argument("--greeting", help="mono s16 WAV to play to each caller instead of echoing")
    p.add_argument("--max-calls", type=int, default=0, help="answer 503 beyond this many calls (0: no limit)")
    p.add_argument("--cpu", type=int, help="pin the process (and its engine thread) to this CPU")
    p.add_argument("--status", help="JSON status file, rewritten on every call start and end")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    voicecore.install()                                   # before roomkit's backend is created
    asyncio.run(Worker(args).run())


if __name__ == "__main__":
    main()

"""The phone call of ``voicecore demo``: a caller and an agent, each a
voicecore :class:`~voicecore.backends.rtp.RTPVoiceBackend` on its own audio
engine, talking RTP on loopback through a :class:`~voicecore.testing.netsim.UdpRelay`
that loses, delays and reorders packets.

The caller plays a speech clip and records what it hears. The agent cuts what
it hears into utterances on the fly (an energy detector on each 20 ms frame),
transcribes each as soon as it ends, and once the caller has been silent for
the end-of-turn time, answers through text to speech (``send_audio``: the
engine resamples and paces it). Every event is printed as it happens with its
time since the call started.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CallResult", "Endpoint", "NetworkSettings", "Timeline", "run_call"]

FRAME_MS = 20
SPEECH_DBFS = -42.0     # a 20 ms frame louder than this is speech (the clips' pauses sit below -45)
SEGMENT_SILENCE_MS = 600    # an utterance ends after this much silence: transcribe it (shorter cuts lose context)
TURN_SILENCE_MS = 1400      # the caller's turn ends after this much (beckett pauses up to 1.2 s)
PAD_BEFORE_MS, PAD_AFTER_MS = 300, 200
TAIL_S = 0.8                # recording goes on this long after the agent's last packet left


@dataclass
class NetworkSettings:
    loss: float
    burst: float
    jitter_ms: float
    reorder: float
    delay_ms: float
    seed: int


@dataclass
class Timeline:
    """Monotonic times (s) of the events behind "time to first reply"."""

    start: float = 0.0
    caller_speech_end: float | None = None     # last speech frame that left the caller
    agent_last_speech: float | None = None     # last speech frame the agent heard
    turn_end: float | None = None              # the agent decided the caller is done
    stt_done: float | None = None              # the agent's last transcript is ready
    tts_first: float | None = None             # first text-to-speech chunk
    reply_first_sent: float | None = None      # the agent's first reply packet left
    reply_heard: float | None = None           # the caller hears the reply


@dataclass
class Endpoint:
    """What one side of the call sent and heard."""

    name: str
    sent: list[tuple[int, bytes]] = field(default_factory=list)          # (send ns, s16le 8 kHz)
    heard: list[tuple[int, bytes, str]] = field(default_factory=list)    # (ns, s16le 16 kHz, kind)
    stats: dict[str, Any] = field(default_factory=dict)
    engine_stats: dict[str, Any] = field(default_factory=dict)
    local_addr: tuple[str, int] | None = None


@dataclass
class CallResult:
    caller: Endpoint
    agent: Endpoint
    timeline: Timeline
    agent_segments: list[tuple[float, float, str]]      # (start s, end s, text) as the agent heard them
    agent_text: str
    reply_text: str
    caller_text: str
    relay_drops: list[tuple[str, int, int]]
    relay: dict[str, Any]


def _level(pcm: bytes) -> float:
    from voicecore.pcm import rms_dbfs

    return float(rms_dbfs(pcm)) if pcm else -60.0


class _Agent:
    """Utterances on the fly, transcribed as they end; the reply at the end of the turn."""

    def __init__(self, stt: Any, say: Callable[[str], None], tl: Timeline) -> None:
        self.stt = stt
        self.say = say
        self.tl = tl
        self.pcm = bytearray()          # everything heard, 16 kHz s16le, one 640-byte frame per 20 ms
        self.times: list[float] = []
        self.in_speech = False
        self.heard_speech = False
        self.seg_start = 0
        self.last_speech = -1
        self.tasks: list[asyncio.Task[None]] = []
        self.segments: list[tuple[float, float, str]] = []
        self.turn_over = asyncio.Event()
        self.listening = True

    def on_frame(self, pcm: bytes, now: float) -> None:
        if not self.listening:
            return
        i = len(self.times)
        self.pcm += pcm[:640].ljust(640, b"\0")
        self.times.append(now)
        if _level(pcm) > SPEECH_DBFS:
            if not self.in_speech:
                self.in_speech, self.seg_start = True, i
            self.last_speech = i
            self.heard_speech = True
            self.tl.agent_last_speech = now
            return
        quiet_ms = (i - self.last_speech) * FRAME_MS
        if self.in_speech and quiet_ms >= SEGMENT_SILENCE_MS:
            self.in_speech = False
            self.tasks.append(asyncio.ensure_future(self._transcribe(self.seg_start, self.last_speech)))
        if self.heard_speech and not self.in_speech and quiet_ms >= TURN_SILENCE_MS and not self.turn_over.is_set():
            self.tl.turn_end = now
            self.listening = False
            self.turn_over.set()

    async def _transcribe(self, first: int, last: int) -> None:
        from voicecore import AudioChunk

        a = max(0, first - PAD_BEFORE_MS // FRAME_MS)
        b = min(len(self.times), last + 1 + PAD_AFTER_MS // FRAME_MS)
        chunk = AudioChunk(data=bytes(self.pcm[a * 640 : b * 640]), sample_rate=16000)
        text = (await self.stt.transcribe(chunk)).text.strip()
        t0, t1 = self.times[first] - self.tl.start, self.times[last] + FRAME_MS / 1000 - self.tl.start
        self.segments.append((t0, t1, text))
        self.tl.stt_done = time.monotonic()
        self.say(f"[{time.monotonic() - self.tl.start:5.1f} s] agent heard ({t0:.1f}-{t1:.1f} s): \"{text}\"")

    async def text(self) -> str:
        if self.tasks:
            await asyncio.gather(*self.tasks)
        return " ".join(t for _, _, t in sorted(self.segments) if t)


def reply_for(heard: str) -> str:
    """What the agent answers: it repeats the start of what it understood."""
    words = heard.replace(",", "").replace(".", "").split()
    if not words:
        return "Thank you for calling. I did not catch that. Goodbye."
    gist = " ".join(words[:12]).lower()
    return f"Thank you for calling. I heard you say: {gist}. Goodbye."


def _chunks(pcm: np.ndarray, rate: int, ms: int = 100) -> Any:
    from voicecore import AudioChunk

    step = rate * ms // 1000

    async def gen() -> AsyncIterator[Any]:
        for i in range(0, len(pcm), step):
            yield AudioChunk(data=pcm[i : i + step].tobytes(), sample_rate=rate)

    return gen()


async def run_call(speech: np.ndarray, rate: int, stt: Any, tts: Any, net: NetworkSettings,
                   say: Callable[[str], None]) -> CallResult:  # fmt: skip
    """Make the call: the caller plays ``speech`` (s16 at ``rate`` Hz)."""
    from voicecore.backends.rtp import RTPVoiceBackend
    from voicecore.engine import AudioEngine
    from voicecore.testing.netsim import Link, UdpRelay

    tl = Timeline()
    caller, agent = Endpoint("caller"), Endpoint("agent")
    links = (Link(seed=net.seed, loss=net.loss, burst=net.burst, jitter_ms=net.jitter_ms, reorder=net.reorder,
                  delay_ms=net.delay_ms),
             Link(seed=net.seed + 1, loss=net.loss, burst=net.burst, jitter_ms=net.jitter_ms,
                  reorder=net.reorder, delay_ms=net.delay_ms))  # fmt: skip
    relay = UdpRelay(*links)            # a: the caller's side, b: the agent's side
    engines = (AudioEngine(max_sessions=8), AudioEngine(max_sessions=8))
    for eng in engines:
        eng.start()
    kw: dict[str, Any] = {"local_addr": ("127.0.0.1", 0), "output_sample_rate": 16000, "rtcp_mux": True,
                          "rtcp_interval": 1.0, "inactivity_timeout": 0}  # fmt: skip
    cb = RTPVoiceBackend(engine=engines[0], **kw)
    ab = RTPVoiceBackend(engine=engines[1], **kw)
    brain = _Agent(stt, say, tl)
    reply_started = asyncio.Event()

    def caller_heard(session: Any, frame: Any) -> None:
        now = time.monotonic()
        kind = frame.metadata.get("frame_kind", "audio")
        caller.heard.append((time.monotonic_ns(), frame.data, kind))
        if reply_started.is_set() and tl.reply_heard is None and _level(frame.data) > SPEECH_DBFS:
            tl.reply_heard = now
            after = f" ({now - tl.caller_speech_end:.2f} s after the caller stopped talking)" if tl.caller_speech_end else ""
            say(f"[{now - tl.start:5.1f} s] caller hears the agent's reply{after}")

    def agent_heard(session: Any, frame: Any) -> None:
        agent.heard.append((time.monotonic_ns(), frame.data, frame.metadata.get("frame_kind", "audio")))
        brain.on_frame(frame.data, time.monotonic())

    def caller_sent(session: Any, frame: Any) -> None:
        caller.sent.append((frame.metadata["send_time_ns"], frame.data))
        if _level(frame.data) > SPEECH_DBFS:
            tl.caller_speech_end = frame.metadata["send_time_ns"] / 1e9

    def agent_sent(session: Any, frame: Any) -> None:
        agent.sent.append((frame.metadata["send_time_ns"], frame.data))
        if reply_started.is_set() and tl.reply_first_sent is None and _level(frame.data) > SPEECH_DBFS:
            tl.reply_first_sent = frame.metadata["send_time_ns"] / 1e9

    cb.on_audio_received(caller_heard)
    ab.on_audio_received(agent_heard)
    cb.on_audio_played(caller_sent)
    ab.on_audio_played(agent_sent)
    cs = await cb.connect("demo", "caller", "voice", metadata={"remote_addr": relay.addr_a})
    as_ = await ab.connect("demo", "agent", "voice", metadata={"remote_addr": relay.addr_b})
    caller.local_addr, agent.local_addr = cs.metadata["local_addr"], as_.metadata["local_addr"]
    relay.peer_a, relay.peer_b = caller.local_addr, agent.local_addr
    relay.start()
    try:
        tl.start = time.monotonic()
        say(f"[{0.0:5.1f} s] caller starts talking ({len(speech) / rate:.1f} s of audio at {rate} Hz; "
            "the engine resamples it to 8 kHz, G.711, 20 ms packets)")  # fmt: skip
        await cb.send_audio(cs, _chunks(speech, rate))
        try:
            await asyncio.wait_for(brain.turn_over.wait(), timeout=len(speech) / rate + 15)
        except asyncio.TimeoutError:
            say(f"[{time.monotonic() - tl.start:5.1f} s] agent: the caller never stopped talking (or never "
                "started); answering anyway")  # fmt: skip
            tl.turn_end = time.monotonic()
            brain.listening = False
        heard = await brain.text()
        reply = reply_for(heard)
        say(f"[{time.monotonic() - tl.start:5.1f} s] agent: the caller has been quiet for "
            f"{TURN_SILENCE_MS / 1000:g} s, so the turn is over; answering: \"{reply}\"")  # fmt: skip

        async def timed(stream: AsyncIterator[Any]) -> AsyncIterator[Any]:
            async for chunk in stream:
                if tl.tts_first is None and chunk.data:
                    tl.tts_first = time.monotonic()
                    reply_started.set()
                yield chunk

        reply_at = len(caller.heard)
        await ab.send_audio(as_, timed(tts.synthesize_stream(reply)))
        await ab.wait_playback(as_)
        await asyncio.sleep(TAIL_S)
        say(f"[{time.monotonic() - tl.start:5.1f} s] agent's reply has been sent; the caller transcribes what it heard")
        from voicecore import AudioChunk

        reply_pcm = b"".join(pcm for _, pcm, _ in caller.heard[reply_at:])
        caller_text = (await stt.transcribe(AudioChunk(data=reply_pcm, sample_rate=16000))).text.strip()
        caller.stats, agent.stats = cb.session_stats(cs), ab.session_stats(as_)
        caller.engine_stats, agent.engine_stats = engines[0].stats(), engines[1].stats()
    finally:
        relay.close()
        await cb.close()
        await ab.close()
        for eng in engines:
            eng.close()
    info = {d: {"packets": lk.packets, "lost": lk.lost, "reordered": lk.reordered, "forwarded": relay.forwarded[d]}
            for d, lk in relay.links.items()}  # fmt: skip
    return CallResult(caller, agent, tl, sorted(brain.segments), heard, reply, caller_text, list(relay.drops), info)

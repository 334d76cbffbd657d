"""Real SIP calls: roomkit's ``SIPVoiceBackend`` answering baresip on loopback,
with ``voicecore.install()`` and, as the comparison, without it.

baresip (Debian's SIP phone, driven headless: see sip_support.Baresip) dials
the agent and plays a real speech clip (beckett, 10 s) as its microphone.
The agent collects what it hears, replies once the caller has spoken with a
Piper voice (SherpaOnnxTTSProvider, synthesised before the calls; the beckett
recording when no phonemizer is installed), and the caller sends DTMF 1, 2, #
and hangs up once the reply has reached it. Checked, for each call:

- the caller's speech reaches speech recognition (Moonshine through
  SherpaOnnxSTTProvider): word error rate against the clip's text;
- the agent's reply reaches the caller's recording (baresip's ``sndfile``
  dump), transcribed back: word error rate against the reply's text;
- each DTMF digit arrives once, in order;
- hang-up releases every socket the calls opened.

Measured in the same run for both paths and printed as a table (also written
to ``$VOICECORE_SIP_REPORT`` as JSON when set): CPU of the agent's process per
call, frames delivered to the application, how late inbound frames came
against a steady 20 ms timeline, and how late outbound packets left against
their RTP timestamps (a loopback capture with kernel timestamps; needs
CAP_NET_RAW, else those columns are empty). Figures only: no timing is
asserted."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time

import numpy as np
import pytest

from sip_support import Baresip, LoopbackCapture, baresip_missing, free_port, outbound_figures, \
    timeline_figures, write_wav

pytestmark = [
    pytest.mark.sip,
    pytest.mark.models,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the engine is Linux-only"),
    pytest.mark.skipif(baresip_missing() is not None, reason=str(baresip_missing())),
    pytest.mark.timeout(240),
]

pytest.importorskip("roomkit")
pytest.importorskip("aiosipua")
pytest.importorskip("sherpa_onnx")

from voicecore import models  # noqa: E402
from voicecore.cli.demo import word_error_rate  # noqa: E402

from engine_support import open_fds, speech  # noqa: E402

BECKETT = "Ever tried. Ever failed. No matter. Try again. Fail again. Fail better."
REPLY = "Thank you for calling the library. Your three books are ready at the front desk."
N_CALLS = 4
DIGITS = ["1", "2", "#"]
RESULTS: dict[str, dict] = {}


def _phonemizer() -> bool:
    try:
        from voicecore.tts._phonemize import EspeakPhonemizer

        EspeakPhonemizer("en-us")
        return True
    except Exception:
        return False


@pytest.fixture(scope="module")
def stt():
    if not models.available("moonshine"):
        pytest.skip("run `python -m voicecore models fetch moonshine`")
    from voicecore.stt.sherpa_onnx import SherpaOnnxSTTConfig, SherpaOnnxSTTProvider

    p = SherpaOnnxSTTProvider(SherpaOnnxSTTConfig(mode="moonshine", **models.moonshine_paths()))
    asyncio.run(p.warmup())
    return p


@pytest.fixture(scope="module")
def reply():
    """(text, 8 kHz s16le chunks): Piper's reply, or the beckett recording."""
    if models.available("piper-joe") and _phonemizer():
        from voicecore.tts.sherpa_onnx import SherpaOnnxTTSConfig, SherpaOnnxTTSProvider

        tts = SherpaOnnxTTSProvider(SherpaOnnxTTSConfig(**models.piper_joe_paths(), output_sample_rate=8000))

        async def synth():
            return [c async for c in tts.synthesize_stream(REPLY)]

        chunks = asyncio.run(synth())
        assert all(c.sample_rate == 8000 for c in chunks)
        return REPLY, [c.data for c in chunks if c.data]
    x = speech(8000, clip="beckett")                       # a recorded reply when TTS cannot run
    return BECKETT, [x[i:i + 3200].tobytes() for i in range(0, len(x), 3200)]


@pytest.fixture(scope="module")
def caller_wav(tmp_path_factory):
    x = speech(8000, clip="beckett")
    if x is None:
        pytest.skip("speech clips not fetched")
    path = tmp_path_factory.mktemp("caller") / "caller.wav"
    write_wav(path, np.concatenate([x, np.zeros(8000 * 25, np.int16)]), 8000)   # speech, then quiet
    return path, len(x) / 8000


def _text(result) -> str:
    return getattr(result, "text", result)


@pytest.mark.parametrize("mode", ["roomkit", "voicecore"])
async def test_sip_call(mode, stt, reply, caller_wav, tmp_path, capsys):
    import voicecore
    from roomkit.voice.backends.sip import SIPVoiceBackend
    from voicecore.base import AudioChunk

    wav, speech_s = caller_wav
    reply_text, reply_chunks = reply
    if mode == "voicecore":
        voicecore.install()
        from voicecore.engine import get_engine

        get_engine()                                      # the loop's engine (its fds stay open)
    phones: list[Baresip] = []
    cap = LoopbackCapture((46000, 47999))             # the agent's RTP ports in both modes
    backend = None
    try:
        sip_port = free_port()
        backend = SIPVoiceBackend(local_sip_addr=("127.0.0.1", sip_port), local_rtp_ip="127.0.0.1",
                                  rtp_port_start=46000 if mode == "roomkit" else 47000,
                                  rtp_port_end=46200 if mode == "roomkit" else 47200)
        calls: dict[str, dict] = {}
        gone: list[str] = []

        def on_audio(session, frame):
            c = calls[session.id]
            c["frames"].append(frame.data)
            c["t"].append(time.monotonic_ns())
            if len(c["frames"]) == int((speech_s + 0.6) * 50):
                c["spoke"].set()

        async def agent(session):
            c = calls[session.id]
            try:
                await asyncio.wait_for(c["spoke"].wait(), speech_s + 10)
            except TimeoutError:
                pass

            async def chunks():
                for data in reply_chunks:
                    yield AudioChunk(data=data, sample_rate=8000)
                    await asyncio.sleep(0)

            await backend.send_audio(session, chunks())
            c["replied"].set()

        def on_call(session):
            st = backend._session_states[session.id]
            calls[session.id] = {"frames": [], "t": [], "digits": [], "spoke": asyncio.Event(),
                                 "replied": asyncio.Event(), "rtp_port": st.rtp_port}
            cap.src_ports.add(st.rtp_port)
            calls[session.id]["task"] = asyncio.ensure_future(agent(session))

        backend.on_audio_received(on_audio)
        backend.on_dtmf_received(lambda s, e: calls[s.id]["digits"].append(e.digit))
        backend.on_call(on_call)
        backend.on_call_disconnected(lambda s: gone.append(s.id))
        await backend.start()
        for i in range(N_CALLS):
            phones.append(Baresip(tmp_path / f"phone{i}", wav))
        for p in phones:
            p.start()
        await asyncio.sleep(0.3)
        fds = open_fds()

        def cpu_now() -> float:                            # the process without the capture thread
            return time.process_time() - cap.cpu_s()

        c0, i0 = cpu_now(), time.monotonic()
        await asyncio.sleep(3.0)                          # the idle cost of the process (no call)
        idle_rate = (cpu_now() - c0) / (time.monotonic() - i0)
        cpu0, t0 = cpu_now(), time.monotonic()

        async def drive(p: Baresip) -> None:
            await asyncio.to_thread(p.dial, f"sip:agent@127.0.0.1:{sip_port}")
            await asyncio.to_thread(p.wait_event, "CALL_ESTABLISHED", 10)
            await asyncio.sleep(speech_s + 0.8)
            for d in DIGITS:
                await asyncio.to_thread(p.sndcode, d)
                await asyncio.sleep(0.4)
            for _ in range(300):                        # until the agent's reply is out (<= 30 s)
                if len(calls) == N_CALLS and all(c["replied"].is_set() for c in calls.values()):
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.6)                    # its tail through baresip's jitter buffer
            await asyncio.to_thread(p.hangup)
            await asyncio.to_thread(p.wait_event, "CALL_CLOSED", 10)

        await asyncio.gather(*(drive(p) for p in phones))
        for _ in range(100):
            if len(gone) == N_CALLS:
                break
            await asyncio.sleep(0.05)
        wall = time.monotonic() - t0
        cpu = cpu_now() - cpu0
        await asyncio.sleep(0.2)
        fds_after = open_fds()
        cap.stop()
        for p in phones:
            p.stop()

        # ---------------------------------------------------------------- checks
        assert len(gone) == N_CALLS and sorted(gone) == sorted(calls)
        assert fds_after <= fds, "hang-up left sockets open"
        for c in calls.values():
            for port in (c["rtp_port"], c["rtp_port"] + 1):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.bind(("127.0.0.1", port))          # released
        per_call = []
        for sid, c in calls.items():
            heard_in = b"".join(c["frames"])
            text_in = _text(await stt.transcribe(AudioChunk(data=heard_in, sample_rate=8000)))
            per_call.append({"sid": sid, "text_in": text_in, "wer_in": word_error_rate(BECKETT, text_in),
                             "digits": c["digits"], "frames": len(c["frames"]),
                             "call_s": (c["t"][-1] - c["t"][0]) / 1e9 if c["t"] else 0.0,
                             "inbound": timeline_figures(c["t"]),
                             "outbound": outbound_figures(cap.packets, c["rtp_port"]) if cap.error is None else {}})
        for i, p in enumerate(phones):
            pcm, rate = p.heard()
            text_out = _text(await stt.transcribe(AudioChunk(data=pcm.tobytes(), sample_rate=rate)))
            rx = [r["rx"].get("jit", 0) for r in p.rtcp_reports() if "rx" in r]
            per_call[i]["text_out"] = text_out
            per_call[i]["wer_out"] = word_error_rate(reply_text, text_out)
            per_call[i]["peer_rx_jitter"] = max(rx) if rx else None
        marginal = cpu - idle_rate * wall                # what the calls added to the idle process
        call_s = max(1e-9, sum(c["call_s"] for c in per_call))
        RESULTS[mode] = {"calls": per_call, "cpu_s": cpu, "wall_s": wall, "capture": cap.error,
                         "idle_cpu_ms_per_s": 1000 * idle_rate,
                         "cpu_ms_per_call": 1000 * cpu / N_CALLS,
                         "cpu_ms_per_call_s": 1000 * cpu / call_s,
                         "marginal_ms_per_call_s": 1000 * marginal / call_s}
        with capsys.disabled():
            print(f"\n[{mode}] " + json.dumps(RESULTS[mode], default=str))
        for c in per_call:
            assert c["digits"] == DIGITS, c
            assert c["wer_in"] <= 0.25, c["text_in"]
            assert c["wer_out"] <= 0.25, c["text_out"]
            assert c["frames"] >= 0.8 * c["call_s"] * 50 * (0.9 if mode == "roomkit" else 1.0)
    finally:
        for p in phones:
            p.stop()
        cap.stop()
        if backend is not None:
            await backend.close()
        voicecore.uninstall()


def test_sip_call_comparison(capsys):
    """The figures of both paths side by side (runs after both calls)."""
    if set(RESULTS) != {"roomkit", "voicecore"}:
        pytest.skip("needs both test_sip_call runs")
    rows = []
    for mode in ("roomkit", "voicecore"):
        r = RESULTS[mode]
        cs = r["calls"]

        def med(key, sub=None):
            vals = [(c[sub][key] if sub else c[key]) for c in cs if (c.get(sub) if sub else True)]
            return float(np.median(vals)) if vals else float("nan")

        rows.append((mode, r["idle_cpu_ms_per_s"], r["cpu_ms_per_call"], r["cpu_ms_per_call_s"],
                     r["marginal_ms_per_call_s"], med("frames"), med("call_s"),
                     med("late_p99_ms", "inbound"), med("late_max_ms", "inbound"),
                     med("packets", "outbound"), med("late_p99_ms", "outbound"),
                     med("late_max_ms", "outbound"), med("max_burst", "outbound"),
                     med("wer_in"), med("wer_out")))
    head = ("path", "idle CPU ms/s", "CPU ms/call", "ms per call-s", "over idle", "frames in", "call s", "in p99 ms", "in max ms",
            "pkts out", "out p99 ms", "out max ms", "out burst", "WER in", "WER out")
    lines = ["  ".join(f"{h:>12}" for h in head)]
    for row in rows:
        lines.append("  ".join(f"{v:>12}" if isinstance(v, str) else f"{v:>12.2f}" for v in row))
    table = "\n".join(lines)
    with capsys.disabled():
        print("\nSIP calls from baresip, roomkit SIPVoiceBackend with and without voicecore.install() "
              f"({N_CALLS} concurrent calls each):\n" + table)
    out = os.environ.get("VOICECORE_SIP_REPORT")
    if out:
        with open(out, "w") as f:
            json.dump(RESULTS, f, indent=1, default=str)

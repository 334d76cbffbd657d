"""``python -m voicecore``: the demo (real speech through the telephony path)
and the model fetcher.

    python -m voicecore demo            # built-in defaults
    python -m voicecore demo --loss 0.1 --clip two_cities
    python -m voicecore models fetch    # same as python -m voicecore.models fetch
"""

from __future__ import annotations

import argparse
import sys
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

BECKETT = "Ever tried, ever failed, no matter, try again, fail again, fail better."


def _wer(ref: str, hyp: str) -> float:
    norm = lambda s: "".join(c.lower() if c.isalnum() or c == " " else " " for c in s).split()  # noqa: E731
    r, h = norm(ref), norm(hyp)
    d = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(h) + 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (r[i - 1] != h[j - 1]))
            prev, d[j] = d[j], cur
    return d[len(h)] / max(1, len(r))


def _load_speech(clip: str, fetch: bool) -> tuple[np.ndarray, int, str]:
    """(s16 samples, rate Hz, where it came from)."""
    try:
        from voicecore import models
    except ImportError:  # pragma: no cover - models module always ships
        models = None  # type: ignore[assignment]
    path = models.speech_clip(clip) if models else None
    if path is None and models is not None and fetch:
        print(f"  fetching the real speech clips (PyPI wheel moonshine-voice, ~56 MB) into {models.cache_dir()} ...")
        try:
            models.fetch(["moonshine"])
            path = models.speech_clip(clip)
        except Exception as exc:  # network down, pip missing: say so and go on
            print(f"  could not fetch ({exc}); using a synthetic speech-like signal instead")
    if path is not None:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2:
                raise SystemExit(f"{path}: expected 16-bit PCM")
            raw = w.readframes(w.getnframes())
            x = np.frombuffer(raw, dtype="<i2")
            if w.getnchannels() > 1:
                x = x.reshape(-1, w.getnchannels())[:, 0]
            return x.copy(), w.getframerate(), str(path)
    rate = 16000
    t = np.arange(rate * 6) / rate
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    x = sum(np.sin(k * phase) / k for k in range(1, 20)) * (0.5 + 0.5 * np.sin(2 * np.pi * 2.5 * t) ** 2)
    return (x / np.max(np.abs(x)) * 12000).astype(np.int16), rate, "synthetic (no speech clip available)"


def _snr_db(ref: np.ndarray, test: np.ndarray) -> float:
    ref = ref.astype(np.float64)
    err = ref - test.astype(np.float64)
    return 10 * np.log10(np.sum(ref**2) / max(np.sum(err**2), 1e-9))


def _align(ref: np.ndarray, test: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Cut ``test`` so it lines up with ``ref`` (best lag by cross-correlation)."""
    n = min(len(ref), len(test) - max_lag)
    seg = ref[:n].astype(np.float64)
    best, lag = -np.inf, 0
    for k in range(max_lag + 1):
        c = float(np.dot(seg, test[k : k + n].astype(np.float64)))
        if c > best:
            best, lag = c, k
    return ref[:n], test[lag : lag + n], lag


def demo(args: argparse.Namespace) -> int:
    from voicecore.media import codec, pcm
    from voicecore.media.jitter import JitterConfig, make_jitter_buffer
    from voicecore.media.resample import Resampler
    from voicecore.testing import netsim

    print("voicecore demo: real speech through the telephony path")
    x, rate, source = _load_speech(args.clip, not args.no_fetch)
    print(f"  speech: {source}, {len(x) / rate:.1f} s at {rate} Hz")
    frame_in = rate // 50
    nframes = len(x) // frame_in
    x = x[: nframes * frame_in]
    timings: dict[str, tuple[int, int]] = {}

    def timed_loop(name: str, fn: Any, chunks: list[bytes]) -> list[Any]:
        """Run ``fn`` over pre-cut 20 ms chunks; record ns per chunk (loop included)."""
        t0 = time.perf_counter_ns()
        out = [fn(c) for c in chunks]
        timings[name] = (time.perf_counter_ns() - t0, len(chunks))
        return out

    # 1. Agent side -> phone network: resample to 8 kHz and G.711-encode, 20 ms at a time.
    down = Resampler(rate, 8000)
    up = Resampler(8000, 16000)
    raw = x.tobytes()
    chunks_in = [raw[2 * i * frame_in : 2 * (i + 1) * frame_in] for i in range(nframes)]
    pcm8 = b"".join(timed_loop(f"resample {rate} Hz -> 8 kHz", down.process, chunks_in)) + down.flush()
    pcm8 = pcm8[2 * down.latency :]
    n8 = len(pcm8) // 320
    chunks8 = [pcm8[320 * i : 320 * (i + 1)] for i in range(n8)]
    ulaw = b"".join(timed_loop("G.711 mu-law encode", codec.lin2ulaw, chunks8))

    # 2. The network: RTP packets with loss and jitter, into the jitter buffer.
    audio8 = np.frombuffer(codec.ulaw2lin(ulaw), np.int16)
    sender = netsim.Sender(audio8)
    sender.talk(n8 * 20)
    arrivals = netsim.deliver(sender.packets, seed=args.seed, loss=args.loss, jitter_ms=args.jitter_ms)
    jb = make_jitter_buffer(JitterConfig())
    t0 = time.perf_counter_ns()
    result = netsim.run(jb, arrivals, start_ns=sender.start_ns, duration_ms=n8 * 20 + 400)
    timings["jitter buffer push + pull (parse, decode, conceal, Python loop)"] = (
        time.perf_counter_ns() - t0, len(result.kinds))
    stats = jb.stats()

    # 3. Phone network -> agent: 8 kHz back to 16 kHz for speech recognition, float32 for the model.
    received = result.pcm.tobytes()
    chunks_rx = [received[320 * i : 320 * (i + 1)] for i in range(len(received) // 320)]
    out16 = b"".join(timed_loop("resample 8 kHz -> 16 kHz", up.process, chunks_rx))
    chunks16 = [out16[640 * i : 640 * (i + 1)] for i in range(len(out16) // 640)]
    f32 = np.concatenate(timed_loop("s16le -> float32 for the recognizer", pcm.s16le_to_float32, chunks16))

    # Quality of the clean G.711 path (no network) and of what the agent hears.
    clean = np.frombuffer(codec.ulaw2lin(ulaw), np.int16)
    ref8 = np.frombuffer(pcm8[: len(clean) * 2], np.int16)
    snr_codec = _snr_db(ref8, clean)
    ref_al, got_al, lag = _align(audio8, result.pcm, max_lag=8000 * 300 // 1000)
    snr_net = _snr_db(ref_al, got_al)

    print()
    print(f"  {'stage (one call per 20 ms frame)':62s} {'us/frame':>9s}")
    for name, (ns, count) in timings.items():
        print(f"  {name:62s} {ns / max(1, count) / 1000:9.2f}")
    print()
    print(f"  network: {args.loss:.0%} random loss, {args.jitter_ms:g} ms jitter (sigma), seed {args.seed}")
    print(
        f"  jitter buffer: received {stats['received']}, lost {stats['lost']}, late {stats['late']}, "
        f"concealed {stats['concealed_samples']} samples in {stats['concealment_events']} events, "
        f"playout delay {stats['current_delay_ms']:.0f} ms (target {stats['target_delay_ms']:.0f} ms), "
        f"jitter {stats['jitter_ms']:.1f} ms"
    )
    print(f"  G.711 round trip SNR: {snr_codec:.1f} dB; after the network (aligned at {lag / 8:.0f} ms): {snr_net:.1f} dB")
    print(f"  audio for recognition: {len(f32)} float32 samples at 16 kHz ({len(f32) / 16000:.1f} s)")

    # 4. Speech recognition of what the agent heard, when the model is available.
    try:
        from voicecore import models
        from voicecore.stt.sherpa_onnx import SherpaOnnxSTTConfig, SherpaOnnxSTTProvider  # noqa: F401

        if not models.available("moonshine"):
            raise ImportError("Moonshine model not fetched")
        t0 = time.perf_counter()
        text = _transcribe(out16)
        dt = time.perf_counter() - t0
        print(f"  Moonshine transcript after the phone path ({dt:.2f} s, RTF {dt / (len(out16) / 32000):.3f}): {text!r}")
        if args.clip == "beckett":
            print(f"  word error rate vs the known text: {_wer(BECKETT, text):.0%}")
    except Exception as exc:  # optional extra not installed, or model missing
        print(f"  (speech recognition skipped: {exc}; pip install 'voicecore[sherpa-onnx]' and python -m voicecore.models fetch)")
    return 0


def _transcribe(pcm16k: bytes) -> str:
    """Moonshine v2 (sherpa-onnx C API, GIL released) on s16le 16 kHz audio."""
    import asyncio

    from voicecore import AudioChunk, models
    from voicecore.stt.sherpa_onnx import SherpaOnnxSTTConfig, SherpaOnnxSTTProvider

    stt = SherpaOnnxSTTProvider(SherpaOnnxSTTConfig(mode="moonshine", **models.moonshine_paths()))
    try:
        res = asyncio.run(stt.transcribe(AudioChunk(data=pcm16k, sample_rate=16000)))
    finally:
        asyncio.run(stt.close()) if asyncio.iscoroutinefunction(stt.close) else stt.close()
    return res.text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m voicecore", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="real speech through resampler, G.711, RTP loss/jitter, jitter buffer, back")
    d.add_argument("--clip", default="beckett", help="beckett | two_cities | endgame_nagg_nell | clone-test")
    d.add_argument("--loss", type=float, default=0.05, help="random packet loss (0-1), default 0.05")
    d.add_argument("--jitter-ms", type=float, default=15.0, help="network jitter sigma in ms, default 15")
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("--no-fetch", action="store_true", help="do not download the speech clips")
    m = sub.add_parser("models", help="fetch/list speech models (see python -m voicecore.models)")
    m.add_argument("rest", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    if args.cmd == "demo":
        return demo(args)
    from voicecore.models import main as models_main

    return int(models_main(args.rest) or 0)


if __name__ == "__main__":
    sys.exit(main())

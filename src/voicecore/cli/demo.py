"""``voicecore demo``: real speech through voicecore's telephony path, offline.

The speech clip goes through what a phone call does to it (resampling to
8 kHz, G.711, RTP packets through a simulated network with loss and jitter,
the jitter buffer with its concealment, back to 16 kHz) and then through
speech recognition; every figure is printed with its unit and what it means.
The network is simulated (``voicecore.testing.netsim``): no sockets, the same
seed gives the same losses on every machine.
"""

from __future__ import annotations

import shutil
import textwrap
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voicecore.cli._args import Parser, bounded_float, non_negative_int, one_of
from voicecore.cli._progress import Progress

NAME = "demo"
SUMMARY = "real speech through the phone path (G.711, RTP loss/jitter, jitter buffer), then recognized"

CLIPS = {  # name -> how --help describes it (the files come with the moonshine model)
    "beckett": "10 s at 16 kHz, the default",
    "two_cities": "44 s at 48 kHz",
    "endgame_nagg_nell": "28 s at 24 kHz, two voices",
    "clone-test": "4 s at 16 kHz",
}

#: The published text of the clips that read one, as (text, source). Checked
#: against what the recognizer hears in the original recordings: the readers
#: read exactly these words. The other two clips have no reference text here
#: (``endgame_nagg_nell`` is from a play still in copyright).
REFERENCE_TEXTS: dict[str, tuple[str, str]] = {
    "beckett": (
        "Ever tried. Ever failed. No matter. Try again. Fail again. Fail better.",
        "Samuel Beckett, Worstward Ho, 1983",
    ),
    "two_cities": (
        "It was the best of times, it was the worst of times, it was the age of wisdom, it was "
        "the age of foolishness, it was the epoch of belief, it was the epoch of incredulity, it "
        "was the season of Light, it was the season of Darkness, it was the spring of hope, it was "
        "the winter of despair, we had everything before us, we had nothing before us, we were all "
        "going direct to Heaven, we were all going direct the other way - in short, the period was "
        "so far like the present period, that some of its noisiest authorities insisted on its "
        "being received, for good or for evil, in the superlative degree of comparison only.",
        "Charles Dickens, A Tale of Two Cities, 1859, its first sentence",
    ),
}

NETWORK_DELAY_MS = 30.0  # netsim's base one-way delay
FRAME_MS = 20


def configure(parser: Parser) -> None:
    prog = parser.prog
    parser.usage = f"{prog} [--clip NAME] [--loss FRACTION] [--jitter-ms MS] [--seed N] [--no-fetch] [--quiet]"
    parser.description = (
        "Real speech through voicecore's telephony path, offline on this machine (the\n"
        "network is simulated, no sockets):\n\n"
        "  speech clip -> resample to 8 kHz -> G.711 mu-law -> RTP packets of 20 ms\n"
        "  -> network (random loss, jitter, 30 ms delay) -> jitter buffer (reorders,\n"
        "     conceals lost packets) -> resample to 16 kHz -> float32\n"
        "  -> speech recognition (Moonshine, when fetched)\n\n"
        "It prints the CPU time of each stage, the jitter buffer's statistics, the audio\n"
        "quality and the word error rate, each with its unit and what it means."
    )
    parser.epilog = (
        f"examples:\n  {prog}\n  {prog} --clip two_cities --loss 0.1 --jitter-ms 30\n"
        f"  {prog} --loss 0 --jitter-ms 0      # the codec alone"
    )
    clips = "; ".join(f"{name} ({what})" for name, what in CLIPS.items())
    parser.add_argument("--clip", default="beckett", metavar="NAME", type=one_of(list(CLIPS), "clip"),
                        help=f"speech clip: {clips}")  # fmt: skip
    parser.add_argument("--loss", default=0.05, metavar="FRACTION",
                        type=bounded_float(0.0, 1.0, "a fraction: 0.05 is 5 %"),
                        help="random packet loss, 0 to 1 (0.05 = 5 %%; default 0.05)")  # fmt: skip
    parser.add_argument("--jitter-ms", default=15.0, metavar="MS",
                        type=bounded_float(0.0, 1000.0, "ms"),
                        help="network jitter: standard deviation of each packet's extra delay, "
                             "0 to 1000 ms (default 15)")  # fmt: skip
    parser.add_argument("--seed", default=1, metavar="N", type=non_negative_int(),
                        help="seed of the simulated network, an integer >= 0 (default 1); "
                             "the same seed loses the same packets")  # fmt: skip
    parser.add_argument("--no-fetch", action="store_true",
                        help="never download the speech clips (56 MB, with the Moonshine model): "
                             "without them a synthetic voice-like signal is used")  # fmt: skip
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress output (it is also off when stdout is not a terminal)")
    parser.set_defaults(func=run, help_of=parser)


# ------------------------------------------------------------------ figures


def words(text: str) -> list[str]:
    """Lower-case words without punctuation (apostrophes kept), for the WER."""
    return "".join(c.lower() if c.isalnum() or c == "'" else " " for c in text).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substituted + deleted + inserted words) / words in ``reference``: the
    word-level edit distance, 0.0 when the words are the same."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i in range(1, len(ref) + 1):
        diag, row[0] = row[0], i
        for j in range(1, len(hyp) + 1):
            diag, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diag + (ref[i - 1] != hyp[j - 1]))
    return row[len(hyp)] / max(1, len(ref))


def snr_db(ref: np.ndarray, test: np.ndarray) -> float:
    """Signal-to-noise ratio of ``test`` against ``ref``, in dB."""
    r = ref.astype(np.float64)
    err = r - test.astype(np.float64)
    return float(10 * np.log10(np.sum(r**2) / max(float(np.sum(err**2)), 1e-9)))


def best_lag(ref: np.ndarray, test: np.ndarray, max_lag: int) -> int:
    """The delay in samples (0..max_lag) of ``test`` behind ``ref`` that
    maximises their cross-correlation (FFT, so long clips stay fast)."""
    n = min(len(ref), len(test))
    size = 1 << (2 * n - 1).bit_length()
    a = np.fft.rfft(ref[:n].astype(np.float64), size)
    b = np.fft.rfft(test[:n].astype(np.float64), size)
    corr = np.fft.irfft(b * np.conj(a), size)[: max_lag + 1]
    return int(np.argmax(corr))


# ------------------------------------------------------------------ the run


@dataclass
class _Speech:
    pcm: np.ndarray  # s16 mono
    rate: int  # Hz
    source: str
    real: bool


@dataclass
class _PathResult:
    timings: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # name -> (ns, frames, note)
    sent_packets: int = 0
    stats: dict[str, Any] = field(default_factory=dict)
    snr_codec: float = 0.0
    snr_network: float = 0.0
    delay_ms: float = 0.0
    pcm16k: bytes = b""  # what the recognizer gets (s16le, 16 kHz)


def _load_speech(args: Any, progress: Progress, say: Any) -> _Speech:
    from voicecore import models

    path = models.speech_clip(args.clip)
    if path is None and not args.no_fetch:
        wheel = models.MODELS["moonshine"]
        say(f"fetching the speech clips and the Moonshine model ({wheel.approx_mb} MB, once) "
            f"into {models.cache_dir()}")  # fmt: skip
        bar = progress.bar("download", wheel.size)
        try:
            models.fetch(["moonshine"], progress=lambda s: None, on_bytes=lambda _n, d, _t: bar.update(d))
            path = models.speech_clip(args.clip)
        except Exception as exc:  # noqa: BLE001 - no network, no pip: say so and go on
            say(f"could not fetch ({' '.join(str(exc).split())[:200]})")
        finally:
            bar.close()
    if path is not None:
        with wave.open(str(path), "rb") as w:
            raw = w.readframes(w.getnframes())
            x = np.frombuffer(raw, dtype="<i2")
            if w.getnchannels() > 1:
                x = x.reshape(-1, w.getnchannels())[:, 0]
            return _Speech(x.copy(), w.getframerate(), str(path), True)
    rate = 16000
    t = np.arange(rate * 6) / rate
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    x = sum(np.sin(k * phase) / k for k in range(1, 20)) * (0.5 + 0.5 * np.sin(2 * np.pi * 2.5 * t) ** 2)
    pcm = (x / np.max(np.abs(x)) * 12000).astype(np.int16)
    return _Speech(pcm, rate, "synthetic voice-like signal (a buzz with a gliding pitch, not speech)", False)


def _phone_path(speech: _Speech, args: Any) -> _PathResult:
    from voicecore.media import codec, pcm
    from voicecore.media.jitter import JitterConfig, make_jitter_buffer
    from voicecore.media.resample import Resampler
    from voicecore.testing import netsim

    out = _PathResult()
    rate = speech.rate
    frame_in = rate * FRAME_MS // 1000
    nframes = len(speech.pcm) // frame_in
    raw = speech.pcm[: nframes * frame_in].tobytes()

    def timed(name: str, fn: Any, chunks: list[bytes], note: str = "") -> list[Any]:
        t0 = time.perf_counter_ns()
        res = [fn(c) for c in chunks]
        out.timings[name] = (time.perf_counter_ns() - t0, len(chunks), note)
        return res

    # Agent side -> phone network: 8 kHz, G.711, 20 ms at a time.
    down, up = Resampler(rate, 8000), Resampler(8000, 16000)
    chunks = [raw[2 * i * frame_in : 2 * (i + 1) * frame_in] for i in range(nframes)]
    pcm8 = b"".join(timed(f"resample {rate} -> 8000 Hz", down.process, chunks)) + down.flush()
    pcm8 = pcm8[2 * down.latency :]
    n8 = len(pcm8) // 320
    ulaw = b"".join(timed("G.711 mu-law encode", codec.lin2ulaw, [pcm8[320 * i : 320 * (i + 1)] for i in range(n8)]))

    # The network, then the jitter buffer (push at arrival, pull every 20 ms).
    sent = np.frombuffer(codec.ulaw2lin(ulaw), np.int16)
    sender = netsim.Sender(sent)
    sender.talk(n8 * FRAME_MS)
    out.sent_packets = len(sender.packets)
    arrivals = netsim.deliver(sender.packets, seed=args.seed, loss=args.loss, jitter_ms=args.jitter_ms,
                              base_delay_ms=NETWORK_DELAY_MS)  # fmt: skip
    jb: Any = make_jitter_buffer(JitterConfig())
    t0 = time.perf_counter_ns()
    got = netsim.run(jb, arrivals, start_ns=sender.start_ns, duration_ms=n8 * FRAME_MS + 400)
    out.timings["jitter buffer push + pull"] = (
        time.perf_counter_ns() - t0, len(got.kinds), "RTP parsing, G.711 decode, concealment, Python loop")
    out.stats = jb.stats()

    # Phone network -> agent: 16 kHz for the recognizer, float32 as models take it.
    received = got.pcm.tobytes()
    rx = [received[320 * i : 320 * (i + 1)] for i in range(len(received) // 320)]
    out.pcm16k = b"".join(timed("resample 8000 -> 16000 Hz", up.process, rx))
    timed("s16le -> float32", pcm.s16le_to_float32,
          [out.pcm16k[640 * i : 640 * (i + 1)] for i in range(len(out.pcm16k) // 640)], "the recognizer's input")

    ref8 = np.frombuffer(pcm8[: len(sent) * 2], np.int16)
    out.snr_codec = snr_db(ref8, sent)
    lag = best_lag(sent, got.pcm, 8000 * 300 // 1000)
    n = min(len(sent), len(got.pcm) - lag)
    out.snr_network = snr_db(sent[:n], got.pcm[lag : lag + n])
    out.delay_ms = lag / 8
    return out


@dataclass
class _Recognition:
    original: str
    after_path: str
    seconds: float  # to recognize the phone path's audio
    audio_seconds: float


def _recognize(speech: _Speech, path: _PathResult, progress: Progress) -> _Recognition:
    import asyncio

    from voicecore import AudioChunk, models
    from voicecore.media.resample import Resampler
    from voicecore.stt.sherpa_onnx import SherpaOnnxSTTConfig, SherpaOnnxSTTProvider

    with progress.spinner("loading the speech recognizer"):
        paths: dict[str, Any] = dict(models.moonshine_paths())
        stt = SherpaOnnxSTTProvider(SherpaOnnxSTTConfig(mode="moonshine", **paths))
    try:
        r = Resampler(speech.rate, 16000)
        clean = speech.pcm.tobytes()
        clean16k = (r.process(clean) + r.flush())[2 * r.latency :] if speech.rate != 16000 else clean

        def transcribe(pcm16k: bytes) -> str:
            return asyncio.run(stt.transcribe(AudioChunk(data=pcm16k, sample_rate=16000))).text

        with progress.spinner(f"recognizing the original clip ({len(clean16k) / 32000:.0f} s of audio)"):
            original = transcribe(clean16k)
        with progress.spinner(f"recognizing what the phone path delivered ({len(path.pcm16k) / 32000:.0f} s)"):
            t0 = time.perf_counter()
            after = transcribe(path.pcm16k)
            dt = time.perf_counter() - t0
    finally:
        closing = stt.close()
        if asyncio.iscoroutine(closing):
            asyncio.run(closing)
    return _Recognition(original, after, dt, len(path.pcm16k) / 32000)


def _recognizer_missing() -> str | None:
    """Why speech recognition cannot run here, or None."""
    import importlib.util

    from voicecore import models

    if importlib.util.find_spec("sherpa_onnx") is None:
        return "sherpa-onnx is not installed: pip install 'voicecore[sherpa-onnx]'"
    if not models.available("moonshine"):
        return "the Moonshine model is not fetched: {base} models fetch moonshine"
    return None


# ------------------------------------------------------------------ output


class _Printer:
    """Rows of ``label  value  note``, the note wrapped under itself."""

    LABEL, VALUE = 26, 10

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.width = max(60, min(110, shutil.get_terminal_size((100, 24)).columns - 1))

    def line(self, text: str = "") -> None:
        self.progress.clear()
        print(text, flush=True)

    def para(self, text: str, indent: str = "  ") -> None:
        for piece in textwrap.wrap(text, self.width, initial_indent=indent, subsequent_indent=indent,
                                   break_on_hyphens=False):
            self.line(piece)

    def row(self, label: str, value: str, note: str = "") -> None:
        head = f"  {label:{self.LABEL}s}{value:>{self.VALUE}s}"
        if not note:
            self.line(head)
            return
        pad = " " * (len(head) + 2)
        lines = textwrap.wrap(note, max(20, self.width - len(pad)), break_on_hyphens=False) or [""]
        self.line(f"{head}  {lines[0]}")
        for more in lines[1:]:
            self.line(pad + more)


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %" if 0 < x < 0.1 else f"{100 * x:.0f} %"


def run(args: Any) -> int:
    progress = Progress(quiet=args.quiet)
    out = _Printer(progress)
    base = args.help_of.prog.rsplit(" ", 1)[0]  # how the user invoked voicecore
    out.line("voicecore demo: real speech through the telephony path (offline: the network is simulated)")
    out.line()
    speech = _load_speech(args, progress, lambda s: out.para(s, "  "))
    with progress.spinner("running the phone path"):
        path = _phone_path(speech, args)

    seconds = len(speech.pcm) / speech.rate
    if speech.real:
        where = Path(speech.source)
        out.row("speech", f"{seconds:.1f} s", f"{where.name}: human speech at {speech.rate} Hz (in {where.parent})")
    else:
        out.row("speech", f"{seconds:.1f} s", f"{speech.source}, at {speech.rate} Hz")
    if not speech.real:
        out.para(f"(no speech clip: {base} models fetch moonshine, or run without --no-fetch)", " " * 40)
    out.row("network (simulated)", _pct(args.loss),
            f"random packet loss; jitter {args.jitter_ms:g} ms (standard deviation of each packet's "
            f"extra delay), {NETWORK_DELAY_MS:g} ms one-way delay, seed {args.seed}")  # fmt: skip
    out.line()

    out.line("CPU time per 20 ms frame of one call, in microseconds (us); lower is better,")
    out.line("real time allows 20,000 us per frame")
    total_us = 0.0
    for name, (ns, count, note) in path.timings.items():
        us = ns / max(1, count) / 1000
        total_us += us
        out.row(name, f"{us:.2f} us", note)
    out.row("total", f"{total_us:.2f} us", f"{100 * total_us / 20000:.3f} % of one CPU core per call")
    out.line()

    st = path.stats
    out.line("jitter buffer: what the receiving side saw")
    out.row("packets received", f"{st['received']}", f"of {path.sent_packets} sent, 20 ms of audio each")
    out.row("packets lost", f"{st['lost']}",
            f"{_pct(st['lost'] / max(1, path.sent_packets))} of those sent: they never arrived")
    out.row("packets late", f"{st['late']}", "arrived after their time to play (played as lost); 0 is good")
    out.row("audio concealed", f"{st['concealed_samples'] / 8:.0f} ms",
            f"in {st['concealment_events']} gaps: missing audio re-synthesized from the audio before it")
    out.row("playout delay", f"{st['current_delay_ms']:.0f} ms",
            f"(target {st['target_delay_ms']:.0f} ms) how long audio waits in the buffer to absorb "
            "jitter; lower answers faster, 40-100 ms is usual")  # fmt: skip
    out.row("measured jitter", f"{st['jitter_ms']:.1f} ms", "interarrival jitter as RFC 3550 estimates it")
    out.line()

    out.line("audio quality: signal-to-noise ratio (SNR) of the audio out against the audio in, in dB;")
    out.line("higher is better")
    out.row("G.711 alone", f"{path.snr_codec:.1f} dB", "the codec's own rounding noise; 35-38 dB is normal for mu-law speech")
    out.row("after the network", f"{path.snr_network:.1f} dB",
            "concealed audio is a plausible guess, not the lost waveform, so it counts as noise: this "
            "drops fast with loss even when every word survives; the word error rate below tells "
            "whether the speech did")  # fmt: skip
    out.row("end-to-end delay", f"{path.delay_ms:.0f} ms",
            "how far the received audio trails the sent audio (packetization, network and playout "
            "delay), found by cross-correlation; the SNR above compares the two lined up at this offset")
    out.line()

    missing = _recognizer_missing()
    if not speech.real:
        missing = "the synthetic signal is not speech; real clips and the recognizer: {base} models fetch moonshine"
    if missing is not None:
        out.line(f"speech recognition: skipped ({missing.format(base=base)})")
        return 0
    rec = _recognize(speech, path, progress)
    out.line("speech recognition: Moonshine v2 tiny-en (sherpa-onnx) on 16 kHz audio")
    out.line("  the original clip, as recognized:")
    out.para(f'"{rec.original}"', "    ")
    out.line("  after the phone path:")
    out.para(f'"{rec.after_path}"', "    ")
    reference = REFERENCE_TEXTS.get(args.clip)
    if reference is not None:
        text, source = reference
        out.row("WER after the phone path", _pct(word_error_rate(text, rec.after_path)),
                f"word error rate against the published text ({source})")
        out.row("WER of the original clip", _pct(word_error_rate(text, rec.original)),
                "the recognizer's own errors, without the phone path")
    else:
        out.row("WER after the phone path", "n/a", "no reference text for this clip")
        out.row("WER of the original clip", "n/a", "")
    out.row("words the path changed", _pct(word_error_rate(rec.original, rec.after_path)),
            "WER of the phone path's transcript against the original clip's")
    out.row("real-time factor (RTF)", f"{rec.seconds / rec.audio_seconds:.3f}",
            f"{rec.seconds:.2f} s to recognize {rec.audio_seconds:.1f} s of audio; below 1 keeps up "
            "with a live call")  # fmt: skip
    out.para("WER = (words substituted + dropped + added) / words in the reference: 0 % is perfect, "
             "under 10 % reads well.")  # fmt: skip
    return 0

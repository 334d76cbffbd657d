"""Resampler: voicecore vs soxr (QQ, HQ) and libsamplerate (sinc_fastest,
sinc_medium), per 20 ms chunk, plus a quality table and PESQ of a speech chain.

Speed: ``pytest benchmarks/bench_resample.py --benchmark-enable -k speed``
(groups ``resample <in>-><out>``; each peer streams in its best format:
voicecore and soxr s16 in/out, libsamplerate float32; ``voicecore-f32`` is
voicecore's float32 path). The ratio to soxr QQ of the same run is put in
``extra_info``, printed at the end of the module (``-s``) and gated
(``TARGETS``).

Quality: ``test_quality_table`` measures every peer with the same numpy FFT
analysis as the tests (``resample_quality (tests/resample_quality.py)``) and records it in
``extra_info`` (and prints it with ``-s``); for voicecore it asserts the issue's
figures. ``test_pesq_speech_chain``: PESQ WB of 48 kHz speech -> 8 kHz -> 16 kHz
in 20 ms chunks (needs ``pesq`` and the two_cities clip from
``voicecore.models.speech_clip`` or ``$VOICECORE_SPEECH_DIR``).
"""

from __future__ import annotations

import importlib
import os
import wave
from pathlib import Path

import numpy as np
import pytest

from benchsupport import Target, gate  # (also puts tests/ on sys.path: resample_quality)

from voicecore._native.media import resample as vc
from resample_quality import measure_all

soxr = pytest.importorskip("soxr")
samplerate = pytest.importorskip("samplerate")

SPEED_PAIRS = [(8000, 16000), (16000, 8000), (24000, 8000), (22050, 16000), (48000, 16000), (16000, 48000)]
PEERS = ["voicecore", "voicecore-f32", "soxr-QQ", "soxr-HQ", "samplerate-sinc_fastest", "samplerate-sinc_medium"]
#: Same-run ratio targets (min), asserted with --benchmark-enable: voicecore's
#: s16 stream >= 1.5x faster than soxr QQ per 20 ms chunk for every pair
#: (README: 3.1-5.0x measured), with 80 dB where QQ has 0-6.6 dB.
TARGETS = [Target(f"resample {fi}->{fo}", "voicecore", "soxr-QQ", 1.5) for fi, fo in SPEED_PAIRS]


# ------------------------------------------------------------------ streams
class VoicecoreS16:
    def __init__(self, fi, fo, preset="default"):
        self.r = vc.Resampler(fi, fo, preset)

    def prepare(self, x):                  # float32 -> what this peer consumes
        return np.clip(np.rint(x * 32768), -32768, 32767).astype("<i2").tobytes()

    def step(self, chunk):
        return self.r.process(chunk)

    def feed(self, x):
        return np.frombuffer(self.r.process(self.prepare(x)), "<i2").astype(np.float32) / 32768

    def end(self):
        return np.frombuffer(self.r.flush(float32=False), "<i2").astype(np.float32) / 32768


class VoicecoreF32:
    def __init__(self, fi, fo, preset="default"):
        self.r = vc.Resampler(fi, fo, preset)

    def prepare(self, x):
        return np.ascontiguousarray(x, np.float32)

    def step(self, chunk):
        return self.r.process(chunk)

    def feed(self, x):
        return self.r.process(self.prepare(x))

    def end(self):
        return self.r.flush(float32=True)


class Soxr:
    def __init__(self, fi, fo, quality, dtype="int16"):
        self.dtype = dtype
        self.s = soxr.ResampleStream(fi, fo, 1, dtype=dtype, quality=quality)

    def prepare(self, x):
        if self.dtype == "int16":
            return np.clip(np.rint(x * 32768), -32768, 32767).astype(np.int16)
        return np.ascontiguousarray(x, np.float32)

    def step(self, chunk):
        return self.s.resample_chunk(chunk)

    def _f(self, y):
        return y.astype(np.float32) / 32768 if self.dtype == "int16" else y

    def feed(self, x):
        return self._f(self.s.resample_chunk(self.prepare(x)))

    def end(self):
        return self._f(self.s.resample_chunk(self.prepare(np.zeros(0, np.float32)), last=True))


class SampleRate:
    def __init__(self, fi, fo, conv):
        self.ratio = fo / fi
        self.s = samplerate.Resampler(conv, channels=1)

    def prepare(self, x):
        return np.ascontiguousarray(x, np.float32)

    def step(self, chunk):
        return self.s.process(chunk, self.ratio)

    def feed(self, x):
        return np.asarray(self.s.process(np.ascontiguousarray(x, np.float32), self.ratio), np.float32)

    def end(self):
        return np.asarray(self.s.process(np.zeros(0, np.float32), self.ratio, end_of_input=True), np.float32)


def make(peer: str, fi: int, fo: int, *, float_io: bool = False):
    if peer == "voicecore-hq":
        return VoicecoreS16(fi, fo, "hq")
    if peer == "voicecore":
        return VoicecoreF32(fi, fo) if float_io else VoicecoreS16(fi, fo)
    if peer == "voicecore-f32":
        return VoicecoreF32(fi, fo)
    if peer.startswith("soxr-"):
        return Soxr(fi, fo, peer[5:], "float32" if float_io else "int16")
    return SampleRate(fi, fo, peer.split("-", 1)[1])


# ------------------------------------------------------------------ speed
_speed: dict[tuple[int, int], dict[str, tuple[float, float]]] = {}


@pytest.fixture(scope="module", autouse=True)
def _ratio_report():
    yield
    if not _speed:
        return
    lines = ["", "resample: us per 20 ms chunk, min / median (ratio of min to soxr-QQ min, same run)"]
    for (fi, fo), row in sorted(_speed.items()):
        qq = row.get("soxr-QQ", (float("nan"),))[0]
        cells = [f"{p} {mn * 1e6:.2f}/{md * 1e6:.2f} ({mn / qq:.2f}x)" for p, (mn, md) in row.items()]
        lines.append(f"{fi}->{fo}: " + " | ".join(cells))
    print("\n".join(lines))


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("fi, fo", SPEED_PAIRS, ids=[f"{a}-{b}" for a, b in SPEED_PAIRS])
def test_speed(benchmark, fi, fo, peer):
    benchmark.group = f"resample {fi}->{fo}"
    s = make(peer, fi, fo)
    rng = np.random.default_rng(fi + fo)
    x = (0.3 * rng.standard_normal(fi // 50)).astype(np.float32)     # one 20 ms chunk
    chunk = s.prepare(x)

    def n(out):
        return len(out) // 2 if isinstance(out, bytes) else len(out)

    got = sum(n(s.step(chunk)) for _ in range(100))                   # reach steady state
    # every peer really converts (soxr HQ emits in bursts: count over 2 s)
    assert 90 * fo // 50 <= got <= 100 * fo // 50 + 1, f"{peer}: {got} samples out of 2 s"
    out = benchmark.pedantic(s.step, setup=lambda: ((chunk,), {}), rounds=3000, warmup_rounds=100)
    if peer.startswith("voicecore"):
        assert n(out) == fo // 50
    gate(benchmark, peer, TARGETS)
    if benchmark.stats is not None:
        st = benchmark.stats.stats
        _speed.setdefault((fi, fo), {})[peer] = (st.min, st.median)
        qq = _speed[(fi, fo)].get("soxr-QQ")
        if qq:
            benchmark.extra_info["min_vs_soxr_qq"] = round(st.min / qq[0], 3)


# ------------------------------------------------------------------ quality
QUALITY_PEERS = ["voicecore", "soxr-QQ", "soxr-HQ", "samplerate-sinc_fastest", "samplerate-sinc_medium"]


@pytest.mark.parametrize("peer", QUALITY_PEERS)
def test_quality_table(benchmark, peer):
    """Rejection / passband / THD+N / latency for the speed pairs (float32 I/O)."""
    benchmark.group = "resample quality"

    def measure():
        return {f"{fi}->{fo}": measure_all(lambda i, o: make(peer, i, o, float_io=True), fi, fo)
                for fi, fo in SPEED_PAIRS}

    table = benchmark.pedantic(measure, rounds=1, iterations=1)
    lines = [f"\nquality {peer}: pair rejection_dB passband_dB thdn1k_dB thdn3k_dB "
             "latency_ms = group_delay(centroid) + buffering [peak]"]
    for pair, r in table.items():
        rej = r.get("alias_db", r.get("image_db"))
        lines.append(f"  {pair:12s} {rej:8.1f} {r['passband_db']:8.3f} {r['thdn_1k_db']:6.1f} "
                     f"{r['thdn_3k_db']:6.1f} {r['latency_ms']:6.2f} = {r['group_delay_ms']:.2f} + "
                     f"{r['buffering_ms']:.2f} [{r['peak_ms']:.2f}]")
        benchmark.extra_info[pair] = {k: round(float(v), 3) for k, v in r.items()}
    print("\n".join(lines))
    if peer == "voicecore":
        for pair, r in table.items():
            assert r.get("alias_db", r.get("image_db")) <= -80, pair
            assert r["passband_db"] <= 0.1, pair
            assert r["thdn_1k_db"] >= 85 and r["thdn_3k_db"] >= 85, pair
            assert r["latency_ms"] <= 2.5 and r["peak_ms"] <= 2.5, pair


# ------------------------------------------------------------------ PESQ
def _speech_path() -> Path | None:
    try:
        models = importlib.import_module("voicecore.models")
        fn = getattr(models, "speech_clip", None)
        if fn is not None:
            p = fn("two_cities")
            if p is not None and Path(p).exists():
                return Path(p)
    except ImportError:
        pass
    d = os.environ.get("VOICECORE_SPEECH_DIR")
    if d and (Path(d) / "two_cities.wav").exists():
        return Path(d) / "two_cities.wav"
    return None


def _read_wav(p: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(p)) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768, w.getframerate()


PESQ_CHAINS = ["voicecore", "voicecore-hq", "soxr-QQ", "soxr-HQ", "samplerate-sinc_medium", "ideal"]


def _stream_all(s, x, rate):
    """20 ms chunks; the result is quantised to s16 (as it would be on the wire)."""
    step = rate // 50
    parts = [s.feed(x[i:i + step]) for i in range(0, len(x), step)]
    parts.append(s.end())
    y = np.concatenate([np.asarray(p, np.float32).reshape(-1) for p in parts])
    return (np.clip(np.rint(y * 32768), -32768, 32767) / 32768).astype(np.float32)


@pytest.mark.parametrize("chain", PESQ_CHAINS)
def test_pesq_speech_chain(benchmark, chain):
    """48 kHz speech -> 8 kHz -> 16 kHz, 20 ms chunks, s16 between stages; PESQ WB
    against the same chain done one-shot with soxr VHQ (the ideal band-limited
    result), so the score measures only what the streaming resampler adds.
    ``ideal`` scores the reference against itself (PESQ's ceiling, 4.64)."""
    pesq = pytest.importorskip("pesq")
    path = _speech_path()
    if path is None:
        pytest.skip("speech clip two_cities.wav not available (voicecore.models / VOICECORE_SPEECH_DIR)")
    benchmark.group = "resample pesq"
    x, rate = _read_wav(path)
    assert rate == 48000
    ref = soxr.resample(soxr.resample(x, 48000, 8000, "VHQ"), 8000, 16000, "VHQ")

    def run():
        if chain == "ideal":
            return ref.copy()
        y8 = _stream_all(make(chain, 48000, 8000), x, 48000)
        return _stream_all(make(chain, 8000, 16000), y8, 8000)

    y = benchmark.pedantic(run, rounds=1, iterations=1)
    print(f"\n{chain}: {len(y)} samples vs reference {len(ref)}")
    n = min(len(ref), len(y))
    score = pesq.pesq(16000, ref[:n], y[:n], "wb")
    benchmark.extra_info["pesq_wb"] = round(float(score), 3)
    print(f"\nPESQ WB 48k->8k->16k {chain}: {score:.3f}")
    if chain == "voicecore":
        # Measured 4.41 (soxr HQ streaming 4.36, soxr QQ 1.71, ideal 4.64). What is
        # left is the 3.4-4.6 kHz transition band that the 2.5 ms budget imposes.
        assert score >= 4.3


# ------------------------------------------------------------------ where the time goes
@pytest.mark.parametrize("what", ["empty-call", "chunk-16k-8k", "construct-cached", "design-uncached"])
def test_where_time_goes(benchmark, what):
    """Per-call overhead (an empty chunk), one 20 ms 16k->8k chunk for scale,
    creating a Resampler whose filter is cached, and designing a filter."""
    from voicecore.media._resample_design import _design

    benchmark.group = "resample where the time goes"
    r = vc.Resampler(16000, 8000)
    chunk = np.zeros(320, "<i2").tobytes()
    if what == "empty-call":
        out = benchmark(r.process, b"")
        assert out == b""
    elif what == "chunk-16k-8k":
        out = benchmark(r.process, chunk)
        assert len(out) == 320
    elif what == "construct-cached":
        out = benchmark(vc.Resampler, 16000, 8000)
        assert out.latency == 19
    else:
        out = benchmark.pedantic(_design, args=(8000, 44100, "default"), rounds=20)
        assert out.coefs.shape == (441, out.stride) and out.stride % 8 == 0

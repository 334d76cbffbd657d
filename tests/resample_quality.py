"""Quality measurements for streaming resamplers (numpy FFT analysis).

Used by voicecore's resampler tests and by ``benchmarks/bench_resample.py`` to
measure voicecore and its peers (soxr, libsamplerate) the same way. A
resampler is given as a factory ``make(in_rate, out_rate)`` returning an
object with ``feed(x: float32 ndarray) -> float32 ndarray`` (streaming) and
``end() -> float32 ndarray`` (end of stream); every signal is fed in 20 ms
chunks.

Definitions (``low = min(in, out)``, passband edge ``pb = 0.425 * low`` Hz,
i.e. 0.85 x the lower Nyquist frequency):

* tones are integer Hz and analysed over exactly 1 s of steady-state output
  (rectangular window: every component, wanted or not, sits on its own bin);
* ``alias`` (in > out): worst over input tones whose alias lands in
  0..pb (every tone from ``out - pb`` to ``in / 2``) of total output power
  / input tone power, in dB;
* ``image`` (in < out): worst over passband input tones (100 Hz..pb) of the
  power at the image frequencies ``|m * in +- f|`` below ``out / 2`` relative to
  the tone, in dB;
* ``passband``: worst |gain| in dB over tones from 100 Hz to pb;
* ``thdn``: (all output power except the tone's bin) / tone power, as a
  positive dB figure;
* ``latency`` = group delay + buffering, in ms. Group delay: an impulse at
  input time ``t0`` (on the common time grid); the output's energy centroid
  ``sum(k y_k^2) / sum(y_k^2) / out`` minus ``t0`` (``peak`` uses the
  largest output sample instead). Buffering: the most output a resampler
  holds back while streaming 20 ms chunks, ``max(N * out / in - outputs so
  far)`` after each chunk, in time (soxr and libsamplerate compensate their
  delay on the output timeline, so theirs shows up here).
"""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

__all__ = ["Stream", "alias_rejection", "image_rejection", "latency_ms", "passband_error",
           "thd_n", "run", "tone", "measure_all", "voicecore_factory"]


class Stream(Protocol):
    def feed(self, x: np.ndarray) -> np.ndarray: ...
    def end(self) -> np.ndarray: ...


Factory = Callable[[int, int], Stream]


def run(make: Factory, in_rate: int, out_rate: int, x: np.ndarray, chunk_ms: int = 20,
        held: list[float] | None = None) -> np.ndarray:
    """Stream ``x`` (float32) through a fresh resampler in ``chunk_ms`` chunks, then end it.

    ``held``, when given, receives the largest number of output samples held
    back after any chunk (``N * out / in - outputs so far``)."""
    s = make(in_rate, out_rate)
    step = max(1, in_rate * chunk_ms // 1000)
    parts = []
    got = 0
    worst = 0.0
    for i in range(0, len(x), step):
        p = np.asarray(s.feed(x[i:i + step]), dtype=np.float32).reshape(-1)
        parts.append(p)
        got += len(p)
        worst = max(worst, min(len(x), i + step) * out_rate / in_rate - got)
    parts.append(np.asarray(s.end(), dtype=np.float32).reshape(-1))
    if held is not None:
        held.append(worst)
    return np.concatenate(parts)


def tone(rate: int, f: float, secs: float, amp: float = 0.5) -> np.ndarray:
    n = int(round(rate * secs))
    return (amp * np.sin(2 * np.pi * f * np.arange(n) / rate)).astype(np.float32)


_SKIP_S = 0.25   # transient + latency of the slowest peer (soxr VHQ ~ 83 ms)


def _spectrum(make: Factory, in_rate: int, out_rate: int, f: int, amp: float) -> np.ndarray:
    """Power per integer-Hz bin of 1 s of steady-state output (amplitude^2 / 2 units)."""
    x = tone(in_rate, f, _SKIP_S + 1.1, amp)
    y = run(make, in_rate, out_rate, x)
    k0 = int(_SKIP_S * out_rate)
    seg = y[k0:k0 + out_rate].astype(np.float64)
    if len(seg) < out_rate:
        raise RuntimeError(f"resampler returned too few samples ({len(y)})")
    spec = np.fft.rfft(seg) / out_rate
    p = 2.0 * np.abs(spec) ** 2
    p[0] /= 2.0
    if out_rate % 2 == 0:
        p[-1] /= 2.0
    return p


def _db(x: float) -> float:
    return 10.0 * np.log10(max(x, 1e-30))


def _pb(in_rate: int, out_rate: int) -> float:
    return 0.425 * min(in_rate, out_rate)


def alias_tones(in_rate: int, out_rate: int, n: int = 24) -> list[int]:
    """Input tones (Hz) whose alias lands in the passband (downsampling only)."""
    pb = _pb(in_rate, out_rate)
    lo, hi = int(np.ceil(out_rate - pb)), int(np.floor(in_rate / 2)) - 1
    # the alias of f is |f - m*out| folded; the first band [out - pb, out + pb]...
    cands = np.unique(np.round(np.linspace(lo, hi, 4 * n)).astype(int))
    out = []
    for f in cands:
        a = f % out_rate
        a = min(a, out_rate - a)
        if a <= pb:
            out.append(int(f))
    if len(out) > n:
        idx = np.unique(np.round(np.linspace(0, len(out) - 1, n)).astype(int))
        out = [out[i] for i in idx]
    return out


def alias_rejection(make: Factory, in_rate: int, out_rate: int, n: int = 24) -> float:
    """Worst alias level in dB (negative; lower is better). in_rate > out_rate."""
    amp = 0.5
    worst = -np.inf
    for f in alias_tones(in_rate, out_rate, n):
        p = _spectrum(make, in_rate, out_rate, f, amp)
        worst = max(worst, _db(p.sum() / (amp * amp / 2)))
    return float(worst)


def image_rejection(make: Factory, in_rate: int, out_rate: int, n: int = 24) -> float:
    """Worst image level in dB relative to the tone (negative). in_rate < out_rate."""
    pb = _pb(in_rate, out_rate)
    amp = 0.5
    worst = -np.inf
    for f in np.unique(np.round(np.linspace(100, pb, n)).astype(int)):
        p = _spectrum(make, in_rate, out_rate, int(f), amp)
        bins = set()
        m = 1
        while m * in_rate - f < out_rate / 2:
            for g in (m * in_rate - f, m * in_rate + f):
                if g < out_rate / 2:
                    bins.add(int(round(g)))
            m += 1
        img = sum(p[b] for b in bins)
        worst = max(worst, _db(img / p[int(f)]))
    return float(worst)


def passband_error(make: Factory, in_rate: int, out_rate: int, n: int = 16) -> float:
    """Worst |gain| in dB over tones from 100 Hz to 0.85 x the lower Nyquist."""
    pb = _pb(in_rate, out_rate)
    amp = 0.5
    freqs = np.unique(np.round(np.geomspace(100, int(pb), n)).astype(int))
    worst = 0.0
    for f in freqs:
        p = _spectrum(make, in_rate, out_rate, int(f), amp)
        worst = max(worst, abs(_db(p[int(f)] / (amp * amp / 2))))
    return float(worst)


def thd_n(make: Factory, in_rate: int, out_rate: int, f: int, amp: float = 0.5) -> float:
    """THD+N in dB (positive; higher is better): tone power / everything else."""
    p = _spectrum(make, in_rate, out_rate, f, amp)
    sig = p[f]
    return float(_db(sig / max(p.sum() - sig, 1e-30)))


def latency_ms(make: Factory, in_rate: int, out_rate: int) -> tuple[float, float, float]:
    """(group delay by energy centroid, by peak, buffering) in ms, measured with an
    impulse streamed in 20 ms chunks; the latency is group delay + buffering."""
    import math

    g = math.gcd(in_rate, out_rate)
    M = in_rate // g
    n0 = M * max(1, -(-in_rate // 10) // M)       # ~0.1 s, on the common grid
    x = np.zeros(n0 + in_rate // 5, dtype=np.float32)
    x[n0] = 0.5
    held: list[float] = []
    y = run(make, in_rate, out_rate, x, held=held).astype(np.float64)
    e = y * y
    k = np.arange(len(y))
    t0 = n0 / in_rate
    centroid = (e * k).sum() / e.sum() / out_rate - t0
    peak = int(np.argmax(np.abs(y))) / out_rate - t0
    return centroid * 1e3, peak * 1e3, held[0] / out_rate * 1e3


def measure_all(make: Factory, in_rate: int, out_rate: int) -> dict[str, float]:
    """Every figure of the quality table for one pair."""
    r: dict[str, float] = {}
    if in_rate > out_rate:
        r["alias_db"] = alias_rejection(make, in_rate, out_rate)
    elif in_rate < out_rate:
        r["image_db"] = image_rejection(make, in_rate, out_rate)
    r["passband_db"] = passband_error(make, in_rate, out_rate)
    r["thdn_1k_db"] = thd_n(make, in_rate, out_rate, 1000)
    r["thdn_3k_db"] = thd_n(make, in_rate, out_rate, 3000)
    gd, peak, buf = latency_ms(make, in_rate, out_rate)
    r["group_delay_ms"], r["peak_ms"], r["buffering_ms"] = gd, peak, buf
    r["latency_ms"] = gd + buf
    return r


class _VC:
    def __init__(self, cls: type, in_rate: int, out_rate: int, preset: str) -> None:
        self.r = cls(in_rate, out_rate, preset)

    def feed(self, x: np.ndarray) -> np.ndarray:
        return self.r.process(np.ascontiguousarray(x, dtype=np.float32))

    def end(self) -> np.ndarray:
        return self.r.flush(float32=True)


def voicecore_factory(preset: str = "default", cls: type | None = None) -> Factory:
    """Factory for voicecore's resampler (native unless ``cls`` is given)."""
    if cls is None:
        from voicecore._impl import load

        cls = load("resample").Resampler
    return lambda i, o: _VC(cls, i, o, preset)

"""Filter design for voicecore's polyphase resampler (numpy, run once per rate pair).

Both the native resampler (``voicecore._native.media.resample``) and its numpy twin
(``voicecore._reference.resample``) take their coefficients from here, so the
two differ only in how they run the filter.

The filter is a Kaiser-windowed sinc evaluated at the ``L`` phases of the exact
rational ratio ``out/in = L/M`` (``L = out/gcd``, ``M = in/gcd``). Everything is
specified relative to the *lower* of the two rates, ``low``:

* passband 0 .. 0.425 * low Hz (0.85 x the lower Nyquist frequency),
* stopband from 0.575 * low Hz up: every input tone whose alias (downsampling)
  or image (upsampling) would land in the passband is in the stopband,
* the window spans ``2 * latency`` seconds centred on the output instant, so
  the filter is linear phase and its group delay is exactly ``latency``
  output samples (an integer, chosen as ``round(K * out / low)``).

Coefficients are float32, one contiguous row per phase, each row normalised to
a DC gain of exactly 1 and padded with leading zeros to a multiple of 8 taps so
the native dot product runs on whole SIMD vectors.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

__all__ = ["MAX_RATE", "PRESETS", "Design", "check_rate", "design"]

#: Highest accepted sample rate in Hz (same bound as roomkit's AudioFrame).
MAX_RATE = 192_000

#: preset -> (K: half window in samples of the lower rate, Kaiser beta,
#: cutoff as a fraction of the lower rate). ``default`` is tuned for telephony:
#: >= 88 dB stopband from 0.575 * low, passband within 0.07 dB up to
#: 0.425 * low, group delay 19 / low seconds (2.375 ms when 8 kHz is involved,
#: inside the 2.5 ms budget). The cutoff sits below the lower Nyquist
#: frequency on purpose: spending the passband tolerance (0.1 dB allowed) on
#: a lower cutoff leaves less energy in the transition band, where aliases
#: (down) and images (up) of 4.0-4.6 kHz land; on the 48k -> 8k -> 16k speech
#: chain that is worth +0.4 PESQ against a cutoff at Nyquist.
PRESETS: dict[str, tuple[int, float, float]] = {
    "fast": (12, 5.0, 0.4875),     # ~58 dB, 1.5 ms at 8 kHz, 2/3 the taps
    "default": (19, 8.5, 0.48),    # ~88 dB, 2.375 ms at 8 kHz
    "hq": (24, 13.0, 0.48),        # ~125 dB (float32-limited), 3 ms at 8 kHz
}

#: SIMD width the rows are padded to (taps).
PAD = 8


@dataclass(frozen=True)
class Design:
    """One designed polyphase filter.

    ``coefs`` has shape ``(L, stride)`` (float32, C-contiguous); row ``p`` is
    applied to the ``stride`` most recent input samples ending at
    ``floor(k * M / L)`` for every output ``k`` with ``k * M % L == p``.
    """

    in_rate: int
    out_rate: int
    preset: str
    L: int
    M: int
    latency: int          # output samples of group delay
    taps: int             # non-zero taps per phase
    stride: int           # taps per phase after padding (multiple of PAD)
    beta: float
    cutoff_hz: float
    coefs: np.ndarray


def check_rate(rate: object, what: str) -> int:
    """Validate one sample rate in Hz; return it as an int."""
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)):
        raise TypeError(f"{what} must be an int number of Hz, got {type(rate).__name__}")
    r = int(rate)
    if r <= 0 or r > MAX_RATE:
        raise ValueError(f"{what} must be between 1 and {MAX_RATE} Hz, got {r}")
    return r


_cache: dict[tuple[int, int, str], Design] = {}
_lock = threading.Lock()


def design(in_rate: int, out_rate: int, preset: str = "default") -> Design:
    """The cached filter for converting ``in_rate`` Hz to ``out_rate`` Hz."""
    in_rate = check_rate(in_rate, "in_rate")
    out_rate = check_rate(out_rate, "out_rate")
    if preset not in PRESETS:
        raise ValueError(f"unknown resampler preset {preset!r}; choose one of {sorted(PRESETS)}")
    key = (in_rate, out_rate, preset)
    d = _cache.get(key)
    if d is None:
        d = _design(in_rate, out_rate, preset)
        with _lock:
            d = _cache.setdefault(key, d)
    return d


def _aligned_zeros(rows: int, cols: int) -> np.ndarray:
    """float32 zeros whose first element is 64-byte aligned (rows of 8 floats
    then stay 32-byte aligned for AVX loads)."""
    raw = np.zeros(rows * cols + 16, dtype=np.float32)
    skip = (-raw.ctypes.data % 64) // 4
    return raw[skip:skip + rows * cols].reshape(rows, cols)


def _design(in_rate: int, out_rate: int, preset: str) -> Design:
    g = math.gcd(in_rate, out_rate)
    L, M = out_rate // g, in_rate // g
    K, beta, cut = PRESETS[preset]
    low = min(in_rate, out_rate)
    if in_rate == out_rate:
        coefs = _aligned_zeros(1, PAD)
        coefs[0, -1] = 1.0
        coefs.setflags(write=False)
        return Design(in_rate, out_rate, preset, 1, 1, 0, 1, PAD, 0.0, low / 2, coefs)
    latency = max(1, round(K * out_rate / low))          # output samples
    # Half window in input samples: latency * M / L (exact rational).
    half = latency * M / L
    taps = (2 * latency * M) // L + 1
    stride = -(-taps // PAD) * PAD
    fc = cut * low / in_rate                              # cycles per input sample
    p = np.arange(L, dtype=np.float64)[:, None]
    i = np.arange(taps, dtype=np.float64)[None, :]
    t = half - p / L - (taps - 1 - i)                      # input samples from the output instant
    u = t / half
    w = np.i0(beta * np.sqrt(np.clip(1.0 - u * u, 0.0, None))) / np.i0(beta)
    w[np.abs(u) > 1.0] = 0.0
    h = 2.0 * fc * np.sinc(2.0 * fc * t) * w
    h /= h.sum(axis=1, keepdims=True)
    coefs = _aligned_zeros(L, stride)
    coefs[:, stride - taps:] = h
    coefs.setflags(write=False)
    return Design(in_rate, out_rate, preset, L, M, latency, taps, stride, beta, cut * low, coefs)

"""Numpy twin of ``voicecore._native.media.resample`` (test oracle).

Same API and same filter (``voicecore.media._resample_design``), computed straight
from the definition: output ``k`` is ``sum_i coefs[p, i] * x[j_hi - stride + 1 + i]``
with ``j_hi = k * M // L``, ``p = k * M % L`` and ``x[j] = 0`` for ``j < 0``,
accumulated in float64. Vectorised per call, not per sample, but slow.
"""

from __future__ import annotations

import numpy as np

from voicecore.media._resample_design import PRESETS, design

__all__ = ["PRESETS", "SIMD", "Resampler"]

SIMD = "reference"


def _to_s16(y: np.ndarray) -> bytes:
    v = np.nan_to_num(y * 32768.0, nan=0.0, posinf=32767.0, neginf=-32768.0)
    return np.clip(np.rint(v), -32768, 32767).astype("<i2").tobytes()


def _samples(data: object, what: str) -> tuple[np.ndarray, bool]:
    """(float32 samples, is_float) from s16 bytes-like / int16 array / float32 array."""
    if isinstance(data, np.ndarray):
        if not data.flags.c_contiguous:
            raise BufferError(f"{what}: ndarray is not C-contiguous")
        if data.dtype == np.float32:
            return data.reshape(-1), True
        if data.dtype == np.int16:
            return data.reshape(-1).astype(np.float32) / 32768.0, False
        if data.dtype.itemsize != 1:
            raise TypeError(f"{what}: unsupported buffer format {data.dtype.char!r} (itemsize {data.dtype.itemsize})")
    mv = memoryview(data)
    if not mv.c_contiguous:
        raise BufferError(f"{what}: buffer is not C-contiguous")
    if mv.format == "f" and mv.itemsize == 4:
        return np.frombuffer(mv, dtype=np.float32), True
    if mv.itemsize == 2 and mv.format == "h":
        raw = mv.cast("B")
    elif mv.itemsize == 1:
        raw = mv.cast("B") if mv.ndim != 1 or mv.format != "B" else mv
    else:
        raise TypeError(f"{what}: unsupported buffer format {mv.format!r} (itemsize {mv.itemsize})")
    if len(raw) & 1:
        raise ValueError(f"{what}: s16le PCM must have an even byte count, got {len(raw)} bytes")
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / np.float32(32768.0), False


class Resampler:
    """Reference streaming resampler; see ``voicecore._native.media.resample.Resampler``."""

    def __init__(self, in_rate: int, out_rate: int, preset: str = "default") -> None:
        d = design(in_rate, out_rate, preset)
        self._d = d
        self.in_rate = d.in_rate
        self.out_rate = d.out_rate
        self.latency = d.latency
        self._last_float = False
        self.reset()

    # state: self._x holds input samples with absolute indices from self._base
    def reset(self) -> None:
        s = self._d.stride
        self._x = np.zeros(s - 1, dtype=np.float32)
        self._base = -(s - 1)
        self._n_in = 0
        self._k = 0

    def _end(self, n_total: int) -> int:
        L, M = self._d.L, self._d.M
        return -(-n_total * L // M)          # ceil: outputs with k*M//L <= n_total-1

    def output_length(self, n: int) -> int:
        if n < 0:
            raise ValueError(f"Resampler.output_length: n must be >= 0, got {n}")
        return self._end(self._n_in + n) - self._k

    def _run(self, x: np.ndarray, k_end: int) -> np.ndarray:
        d = self._d
        self._x = np.concatenate([self._x, x.astype(np.float32)])
        k = np.arange(self._k, k_end, dtype=np.int64)
        j_hi = k * d.M // d.L
        p = k * d.M % d.L
        idx = (j_hi - d.stride + 1 - self._base)[:, None] + np.arange(d.stride)[None, :]
        y = np.einsum("ij,ij->i", d.coefs[p].astype(np.float64), self._x[idx].astype(np.float64))
        self._k = k_end
        lo = self._k * d.M // d.L - d.stride + 1 - self._base   # next window start
        lo = max(0, min(lo, len(self._x)))
        self._x = self._x[lo:]
        self._base += lo
        return y.astype(np.float32)

    def process(self, data: object, out: object = None) -> object:
        x, is_float = _samples(data, "Resampler.process")
        n_total = self._n_in + len(x)
        k_end = self._end(n_total)
        self._check_out(out, k_end - self._k, is_float, "Resampler.process")
        self._last_float = is_float
        y = self._run(x, k_end)
        self._n_in = n_total
        return self._emit(y, is_float, out, "Resampler.process")

    def flush(self, out: object = None, *, float32: bool | None = None) -> object:
        as_float = self._last_float if float32 is None else bool(float32)
        d = self._d
        k_end = self._k + self.latency
        self._check_out(out, self.latency, as_float, "Resampler.flush")
        need = (k_end - 1) * d.M // d.L + 1 - self._n_in      # zeros to complete them
        y = self._run(np.zeros(max(0, need), dtype=np.float32), k_end)
        self.reset()
        return self._emit(y, as_float, out, "Resampler.flush")

    @staticmethod
    def _check_out(out: object, n: int, as_float: bool, what: str) -> None:
        if out is None:
            return
        mv = memoryview(out)
        if mv.readonly:
            raise TypeError(f"{what}: out= must be writable")
        if as_float and mv.format != "f":
            raise TypeError(f"{what}: out= must be a float32 array, got format {mv.format!r}")
        if not as_float and not (mv.itemsize == 1 or mv.format == "h"):
            raise TypeError(f"{what}: out= must be a writable bytes-like or int16 buffer, got format {mv.format!r}")
        need = n * (4 if as_float else 2)
        if mv.nbytes < need:
            raise ValueError(f"{what}: out= holds {mv.nbytes} bytes, {need} needed")

    @staticmethod
    def _emit(y: np.ndarray, as_float: bool, out: object, what: str) -> object:
        if out is None:
            return y if as_float else _to_s16(y)
        mv = memoryview(out)
        if mv.readonly:
            raise TypeError(f"{what}: out= must be writable")
        if as_float:
            if mv.format != "f":
                raise TypeError(f"{what}: out= must be a float32 array, got format {mv.format!r}")
            np.frombuffer(mv, dtype=np.float32)[: len(y)] = y
        else:
            raw = mv.cast("B") if mv.itemsize != 1 else mv
            need = 2 * len(y)
            if len(raw) < need:
                raise ValueError(f"{what}: out= holds {len(raw)} bytes, {need} needed")
            raw[:need] = _to_s16(y)
        return len(y)

    @property
    def preset(self) -> str:
        return self._d.preset

    @property
    def ratio(self) -> tuple[int, int]:
        return (self._d.L, self._d.M)

    @property
    def taps(self) -> int:
        return self._d.taps

    @property
    def latency_ms(self) -> float:
        return self.latency * 1000.0 / self.out_rate

    @property
    def total_in(self) -> int:
        return self._n_in

    @property
    def total_out(self) -> int:
        return self._k

    @property
    def coefficients(self) -> np.ndarray:
        return self._d.coefs

    def __repr__(self) -> str:
        return f"Resampler({self.in_rate}, {self.out_rate}, preset={self.preset!r}, latency={self.latency})"

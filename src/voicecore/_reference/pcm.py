"""numpy reference of voicecore._native.media.pcm (test oracle; VOICECORE_NO_EXTENSIONS=1)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._common import as_bytes_view, even, write_out

GIL_THRESHOLD = 0


def s16le_to_float32(data: Any, out: Any = None) -> Any:
    mv = as_bytes_view(data, "s16le_to_float32", allow_s16=True)
    even(mv.nbytes, "s16le_to_float32")
    arr = np.frombuffer(mv, dtype="<i2").astype(np.float32) / np.float32(32768.0)
    if out is None:
        return arr
    return write_out(out, arr, "s16le_to_float32", ("float32", "bytes"))


def float32_to_s16le(samples: Any, out: Any = None) -> Any:
    mv = memoryview(samples)
    if not mv.c_contiguous:
        raise BufferError("float32_to_s16le: buffer is not C-contiguous")
    if isinstance(samples, bytes):
        raise TypeError("float32_to_s16le: expected a float32 array, got bytes")
    if mv.itemsize != 4 or mv.format.lstrip("<=@") != "f":
        raise TypeError(f"float32_to_s16le: unsupported buffer format {mv.format!r} (itemsize {mv.itemsize})")
    x = np.frombuffer(mv.cast("B"), dtype=np.float32).astype(np.float64) * 32768.0
    x = np.nan_to_num(x, nan=0.0, posinf=32767.0, neginf=-32768.0)
    arr = np.rint(np.clip(x, -32768.0, 32767.0)).astype("<i2")
    return arr.tobytes() if out is None else write_out(out, arr, "float32_to_s16le", ("int16", "bytes"))


def mean_square(data: Any) -> float:
    mv = as_bytes_view(data, "mean_square", allow_s16=True)
    even(mv.nbytes, "mean_square")
    x = np.frombuffer(mv, dtype="<i2").astype(np.int64)
    if x.size == 0:
        return 0.0
    return float(int(np.dot(x, x)) / (x.size * 1073741824.0))


def rms_dbfs(data: Any, floor: float = -60.0) -> float:
    ms = mean_square(data)
    if ms <= 1e-20:
        return float(floor)
    return max(float(floor), 10.0 * math.log10(ms))

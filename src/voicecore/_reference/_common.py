"""Input rules shared by the reference twins (same errors as the native modules)."""

from __future__ import annotations

from typing import Any

import numpy as np


def as_bytes_view(obj: Any, what: str, *, allow_s16: bool = False, allow_f32: bool = False) -> memoryview:
    """A read-only C-contiguous byte view of ``obj``, with the native modules' checks."""
    mv = memoryview(obj)
    if not mv.c_contiguous:
        raise BufferError(f"{what}: buffer is not C-contiguous")
    fmt = mv.format.lstrip("<=@")
    if mv.itemsize == 1 and fmt in ("B", "b", "c"):
        pass
    elif allow_s16 and mv.itemsize == 2 and fmt == "h":
        pass
    elif allow_f32 and mv.itemsize == 4 and fmt == "f":
        pass
    else:
        if isinstance(obj, (bytes, bytearray)) and allow_f32 and not allow_s16:
            raise TypeError(f"{what}: expected a float32 array, got bytes")
        raise TypeError(f"{what}: unsupported buffer format {mv.format!r} (itemsize {mv.itemsize})")
    return mv.cast("B") if mv.ndim != 1 or mv.format != "B" else mv


def even(nbytes: int, what: str) -> None:
    if nbytes & 1:
        raise ValueError(f"{what}: s16le PCM must have an even byte count, got {nbytes} bytes")


_KINDS = {"bytes": (1, ("B", "b", "c")), "int16": (2, ("h",)), "float32": (4, ("f",))}


def write_out(out: Any, data: np.ndarray, what: str, accept: tuple[str, ...] = ("bytes",)) -> Any:
    dst = memoryview(out)
    if not dst.c_contiguous or dst.readonly:
        raise BufferError(f"{what}: out= must be a writable C-contiguous buffer")
    fmt = dst.format.lstrip("<=@")
    if not any(dst.itemsize == _KINDS[k][0] and fmt in _KINDS[k][1] for k in accept):
        raise TypeError(
            f"{what}: out= must be a {' or '.join(accept)} buffer, got format {dst.format!r} (itemsize {dst.itemsize})"
        )
    raw = data.tobytes()
    if dst.nbytes < len(raw):
        raise ValueError(f"{what}: out= holds {dst.nbytes} bytes, {len(raw)} needed")
    dst.cast("B")[: len(raw)] = raw
    return out

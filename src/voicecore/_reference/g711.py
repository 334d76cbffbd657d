"""numpy reference of voicecore._native.media.g711 (test oracle; VOICECORE_NO_EXTENSIONS=1).

Computed per sample with vectorised segment search (``np.searchsorted``)
instead of the native module's lookup tables, so the two are independent.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._common import as_bytes_view, even, write_out

GIL_THRESHOLD = 0

_SEG_UEND = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], np.int32)
_SEG_AEND = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], np.int32)


def _pcm(pcm: Any, what: str) -> np.ndarray:
    mv = as_bytes_view(pcm, what, allow_s16=True)
    even(mv.nbytes, what)
    return np.frombuffer(mv, dtype="<i2").astype(np.int32)


def _codes(data: Any, what: str) -> np.ndarray:
    return np.frombuffer(as_bytes_view(data, what), dtype=np.uint8).astype(np.int32)


def _ulaw_encode(x: np.ndarray) -> np.ndarray:
    v = x >> 2
    mask = np.where(v < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(v), 8159) + 33
    seg = np.searchsorted(_SEG_UEND, mag, side="left")
    code = (seg << 4) | ((mag >> (np.minimum(seg, 7) + 1)) & 0xF)
    code = np.where(seg >= 8, 0x7F, code)
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _alaw_encode(x: np.ndarray) -> np.ndarray:
    v = x >> 3
    mask = np.where(v >= 0, 0xD5, 0x55)
    mag = np.where(v >= 0, v, -v - 1)
    seg = np.searchsorted(_SEG_AEND, mag, side="left")
    shift = np.where(seg < 2, 1, np.minimum(seg, 7))
    code = (seg << 4) | ((mag >> shift) & 0xF)
    code = np.where(seg >= 8, 0x7F, code)
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _ulaw_decode(c: np.ndarray) -> np.ndarray:
    u = ~c & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, 0x84 - t, t - 0x84).astype("<i2")


def _alaw_decode(c: np.ndarray) -> np.ndarray:
    a = c ^ 0x55
    seg = (a & 0x70) >> 4
    t = (a & 0x0F) << 4
    t = np.where(seg == 0, t + 8, (t + 0x108) << np.maximum(seg - 1, 0))
    return np.where(a & 0x80, t, -t).astype("<i2")


def _ret(arr: np.ndarray, out: Any, what: str) -> Any:
    accept = ("bytes", "int16") if arr.dtype.itemsize == 2 else ("bytes",)
    return arr.tobytes() if out is None else write_out(out, arr, what, accept)


def lin2ulaw(pcm: Any, out: Any = None) -> Any:
    return _ret(_ulaw_encode(_pcm(pcm, "lin2ulaw")), out, "lin2ulaw")


def lin2alaw(pcm: Any, out: Any = None) -> Any:
    return _ret(_alaw_encode(_pcm(pcm, "lin2alaw")), out, "lin2alaw")


def ulaw2lin(data: Any, out: Any = None) -> Any:
    return _ret(_ulaw_decode(_codes(data, "ulaw2lin")), out, "ulaw2lin")


def alaw2lin(data: Any, out: Any = None) -> Any:
    return _ret(_alaw_decode(_codes(data, "alaw2lin")), out, "alaw2lin")


def ulaw2alaw(data: Any, out: Any = None) -> Any:
    pcm = _ulaw_decode(_codes(data, "ulaw2alaw")).astype(np.int32)
    return _ret(_alaw_encode(pcm), out, "ulaw2alaw")


def alaw2ulaw(data: Any, out: Any = None) -> Any:
    pcm = _alaw_decode(_codes(data, "alaw2ulaw")).astype(np.int32)
    return _ret(_ulaw_encode(pcm), out, "alaw2ulaw")

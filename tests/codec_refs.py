"""Independent implementations the codec tests compare against (never used by
voicecore itself):

- spandsp's G.722 (Steve Underwood's, the ITU-validated code many PBXs ship),
  loaded with ctypes from Debian's ``libspandsp2`` (``libspandsp.so.2``);
- libg722 (``pip install G722``: Sippy's packaging of the same lineage, with
  the decoder's output saturated instead of wrapped);
- libopus through ``opuslib`` (ctypes over the system ``libopus.so.0``);
- libsrtp through ``pylibsrtp`` (its wheel bundles its own libsrtp build).

Each ``*_or_skip()`` returns the reference or skips the calling test with the
reason, so a machine without one still runs everything else; ``.ci/run``
installs all of them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util

import numpy as np
import pytest


class SpandspG722:
    """spandsp 0.0.6's g722_encode/g722_decode through ctypes. ``bit_rate``
    48000/56000 use spandsp's unpacked layout: one 6- or 7-bit code per byte
    (the octet shifted right by the auxiliary bits)."""

    def __init__(self, lib: ctypes.CDLL, bit_rate: int = 64000) -> None:
        self.lib = lib
        self.bit_rate = bit_rate
        self.enc = lib.g722_encode_init(None, bit_rate, 0)
        self.dec = lib.g722_decode_init(None, bit_rate, 0)

    def __del__(self) -> None:
        try:
            self.lib.g722_encode_free(ctypes.c_void_p(self.enc))
            self.lib.g722_decode_free(ctypes.c_void_p(self.dec))
        except Exception:
            pass

    def encode(self, pcm: np.ndarray) -> bytes:
        pcm = np.ascontiguousarray(pcm, np.int16)
        out = ctypes.create_string_buffer(len(pcm) // 2 + 1)
        n = self.lib.g722_encode(self.enc, out, pcm.ctypes.data, len(pcm))
        return out.raw[:n]

    def decode(self, data: bytes) -> np.ndarray:
        out = np.zeros(2 * len(data) + 2, np.int16)
        n = self.lib.g722_decode(self.dec, out.ctypes.data, data, len(data))
        return out[:n]


def _spandsp_lib() -> ctypes.CDLL | None:
    for name in (ctypes.util.find_library("spandsp"), "libspandsp.so.2", "libspandsp.so.3"):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        if not hasattr(lib, "g722_encode_init"):
            continue
        lib.g722_encode_init.restype = ctypes.c_void_p
        lib.g722_encode_init.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        lib.g722_decode_init.restype = ctypes.c_void_p
        lib.g722_decode_init.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        lib.g722_encode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
        lib.g722_decode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        lib.g722_encode_free.argtypes = [ctypes.c_void_p]
        lib.g722_decode_free.argtypes = [ctypes.c_void_p]
        return lib
    return None


def spandsp_g722_or_skip(bit_rate: int = 64000) -> SpandspG722:
    lib = _spandsp_lib()
    if lib is None:
        pytest.skip("spandsp's libspandsp.so (Debian libspandsp2) not installed")
    return SpandspG722(lib, bit_rate)


class LibG722:
    """libg722 (PyPI ``G722``), same unpacked layout as spandsp at 56/48 kbit/s."""

    def __init__(self, bit_rate: int = 64000) -> None:
        import G722

        self.codec = G722.G722(16000, bit_rate)

    def encode(self, pcm: np.ndarray) -> bytes:
        return self.codec.encode(np.ascontiguousarray(pcm, np.int16))  # type: ignore[no-any-return]

    def decode(self, data: bytes) -> np.ndarray:
        return np.asarray(self.codec.decode(bytes(data)), np.int16)


def libg722_or_skip(bit_rate: int = 64000) -> LibG722:
    if importlib.util.find_spec("G722") is None:
        pytest.skip("libg722 (pip install G722) not installed")
    return LibG722(bit_rate)


def opuslib_or_skip():
    if importlib.util.find_spec("opuslib") is None:
        pytest.skip("opuslib not installed")
    try:
        import opuslib
    except Exception as exc:  # opuslib raises when it cannot find libopus
        pytest.skip(f"opuslib unusable: {exc}")
    return opuslib


def pylibsrtp_or_skip():
    if importlib.util.find_spec("pylibsrtp") is None:
        pytest.skip("pylibsrtp not installed")
    import pylibsrtp

    return pylibsrtp

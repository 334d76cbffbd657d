"""PCM helpers for the speech path: s16le <-> float32 numpy, levels in dBFS.

* ``s16le_to_float32(data, out=None)``: x / 32768 as a contiguous float32
  numpy array, exact; the array sherpa-onnx (or any model) takes directly.
* ``float32_to_s16le(samples, out=None)``: round to nearest, saturate,
  NaN -> 0; bytes.
* ``rms_dbfs(data, floor=-60.0)``: RMS level in dBFS (0 dB = full-scale
  square wave), as in ``VADAudioLevelEvent.level_db``.
* ``mean_square(data)``: mean squared sample relative to full scale.

Formats: s16le is signed 16-bit little-endian mono; any C-contiguous buffer
is accepted (bytes, bytearray, memoryview, numpy int16 / float32).
"""

from __future__ import annotations

from voicecore._impl import load

_pcm = load("pcm")

s16le_to_float32 = _pcm.s16le_to_float32
float32_to_s16le = _pcm.float32_to_s16le
rms_dbfs = _pcm.rms_dbfs
mean_square = _pcm.mean_square

__all__ = ["float32_to_s16le", "mean_square", "rms_dbfs", "s16le_to_float32"]

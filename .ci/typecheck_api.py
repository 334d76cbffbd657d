"""Type-checked by .ci/run with ``mypy --python-version 3.11`` against the
installed wheel: the public API and the native modules' stubs must type-check
for a project on the oldest supported Python (typing_extensions.Buffer, not
collections.abc.Buffer, which is 3.12+). Never executed."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

import voicecore
from voicecore import codec, pcm, resample, ring
from voicecore._native.media import g711 as g711_native
from voicecore._native.media import jitter as jitter_native
from voicecore._native.media import pcm as pcm_native
from voicecore._native.media import resample as resample_native
from voicecore._native.media import ring as ring_native
from voicecore._native.providers import sherpa, sherpa_tts
from voicecore.stt.sherpa_onnx import SherpaOnnxSTTProvider
from voicecore.tts.sherpa_onnx import SherpaOnnxTTSProvider


def use_codec(frame: bytes) -> bytes:
    out = bytearray(len(frame) // 2)
    g711_native.lin2ulaw(frame, out)
    code: bytes | bytearray = g711_native.lin2alaw(frame)
    return bytes(g711_native.ulaw2lin(code)) + codec.lin2ulaw(frame)


def use_pcm(frame: bytes) -> float:
    x: npt.NDArray[np.float32] | bytearray = pcm_native.s16le_to_float32(frame)
    y = pcm_native.float32_to_s16le(np.zeros(4, np.float32))
    return pcm_native.rms_dbfs(frame) + pcm_native.mean_square(y) + float(pcm.rms_dbfs(frame)) + len(x)


def use_resampler(frame: bytes) -> int:
    r = resample_native.Resampler(8000, 16000)
    out: bytes = r.process(frame)
    arr: npt.NDArray[np.float32] = r.process(np.zeros(160, np.float32))
    n: int = r.process(frame, bytearray(640))
    return len(out) + len(arr) + n + r.latency + resample.Resampler(8000, 16000).latency


def use_rings(frame: bytes) -> int:
    sr = ring_native.SampleRing(1024)
    sr.write(frame)
    q = ring_native.FrameQueue(8, 160)
    q.push(frame, 1, 2, ring_native.FLAG_END | ring_native.FLAG_PARTIAL)
    item = q.pop()
    a = ring_native.AECReferenceRing(4096, 8000)
    a.write(frame, 0, 0)
    pos: int = a.read_aligned(0, bytearray(320))
    return len(sr) + pos + (0 if item is None else item[1]) + ring.capacity_for(20.0, 8000)


def use_jitter() -> int:
    jb = jitter_native.JitterBuffer()
    return jb.frame_samples if hasattr(jb, "frame_samples") else 0


def use_sherpa(data: bytes, rec: sherpa.OnlineRecognizer, tts: sherpa_tts.OfflineTts) -> str:
    s = rec.create_stream()
    s.accept_pcm16(data, 16000, decode=True)
    s.accept_float32(np.zeros(160, np.float32), 16000)
    rec.decode_streams([s])
    pcm16: bytes = tts.generate_pcm16([[1, 2, 3]], callback=lambda piece: None)
    return s.text + sherpa.version() + str(len(pcm16)) + voicecore.__version__


__all__ = ["SherpaOnnxSTTProvider", "SherpaOnnxTTSProvider"]

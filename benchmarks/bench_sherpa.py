"""sherpa-onnx providers: voicecore's C API path side by side with roomkit's.

Groups (read ``min``/median; ratios are within one run):

- ``sherpa-convert-20ms``: s16le -> float32 of one 20 ms chunk at 16 kHz
  (320 samples): roomkit's ``_pcm_s16le_to_float32`` (a list of floats) vs
  voicecore's native conversion into a preallocated float32 buffer
  (``voicecore.pcm``, the kernel ``OnlineStream.accept_pcm16`` runs). numpy
  shown for context.
- ``sherpa-audio-in-20ms``: the whole hand-off of a 20 ms chunk to a sherpa-onnx
  online stream, sherpa-onnx's own feature extraction included: roomkit's
  list + Python ``accept_waveform`` vs voicecore's ``accept_pcm16``.
  (Streaming model: the tiny toy transducer; accept does not run the model.)
- ``sherpa-tts-f32-to-s16``: float32 -> s16le of 1 s of TTS output (22,050
  samples): roomkit's ``_float32_to_pcm_s16le`` vs voicecore's native one.
- ``sherpa-stt-moonshine``: transcribe the 10 s beckett clip (16 kHz) with
  Moonshine v2 through each provider (RTF = time / 10 s).
- ``sherpa-tts-piper``: synthesize three sentences with the Piper voice joe:
  voicecore (C API, phonemes, native s16) vs sherpa-onnx's Python binding fed
  the same phonemes plus roomkit's float->s16 (roomkit's own provider produces
  no audio on sherpa-onnx 2.x). RTF = time / audio duration in extra_info.
- ``sherpa-tts-first-chunk``: time to the first chunk of audio for the same
  text (generation stopped at the first chunk), same two paths.

Targets (same-run ratios of ``min``, asserted with --benchmark-enable): the
20 ms conversion >= 40x roomkit's list path (README: 98-158x), the 1 s
float32 -> s16le >= 100x roomkit's (README: ~760x), the whole 20 ms audio-in
hand-off >= 2x roomkit's (3.6x measured). The model groups are not gated.

The model groups (STT, TTS) time sherpa-onnx's own inference, which is the
same on both paths; on a shared machine their ratio moves with the load of
the moment (params run one after the other), so read ``min`` and compare
the groups that isolate what voicecore changes (conversion, audio-in, f32->s16).
"""

from __future__ import annotations

import asyncio
import importlib.util
import wave

import numpy as np
import pytest

from benchsupport import Target, gate

from voicecore import models, pcm

HAVE_SHERPA = importlib.util.find_spec("sherpa_onnx") is not None
HAVE_ROOMKIT = importlib.util.find_spec("roomkit") is not None

pytestmark = pytest.mark.skipif(not (HAVE_SHERPA and HAVE_ROOMKIT),
                                reason="needs sherpa-onnx and roomkit")

SR = 16000
CHUNK = (np.sin(2 * np.pi * 440 * np.arange(SR // 50) / SR) * 12000).astype("<i2").tobytes()
SENTENCES = ("The quick brown fox jumps over the lazy dog. It was a bright cold day in April, "
             "and the clocks were striking one. Thank you for your patience.")


TARGETS = [
    Target("sherpa-convert-20ms", "voicecore", "roomkit", 40.0),
    Target("sherpa-tts-f32-to-s16", "voicecore", "roomkit", 100.0),
    Target("sherpa-audio-in-20ms", "voicecore", "roomkit", 2.0),
]


def _rate(benchmark, seconds_of_audio: float) -> None:
    stats = getattr(benchmark, "stats", None)
    if stats is not None and seconds_of_audio > 0:
        benchmark.extra_info["rtf_min"] = round(stats.stats.min / seconds_of_audio, 4)
        benchmark.extra_info["rtf_median"] = round(stats.stats.median / seconds_of_audio, 4)


@pytest.fixture(scope="module")
def native():
    from voicecore._native.providers import sherpa

    sherpa.load()
    return sherpa


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return models.toy_streaming_transducer(tmp_path_factory.mktemp("toy"))


# ------------------------------------------------------------------ audio in


@pytest.mark.benchmark(group="sherpa-convert-20ms")
@pytest.mark.parametrize("impl", ["voicecore", "roomkit", "numpy"])
def test_convert_20ms(benchmark, impl, native):
    from roomkit.voice.stt.sherpa_onnx import _pcm_s16le_to_float32

    ref = np.frombuffer(CHUNK, "<i2").astype(np.float32) / 32768
    if impl == "voicecore":
        buf = np.empty(len(CHUNK) // 2, np.float32)
        out = benchmark(pcm.s16le_to_float32, CHUNK, buf)
    elif impl == "roomkit":
        out = benchmark(_pcm_s16le_to_float32, CHUNK)
    else:
        out = benchmark(lambda c: np.frombuffer(c, "<i2").astype(np.float32) / np.float32(32768), CHUNK)
    gate(benchmark, impl, TARGETS)
    np.testing.assert_array_equal(np.asarray(out, np.float32), ref)


@pytest.mark.benchmark(group="sherpa-audio-in-20ms")
@pytest.mark.parametrize("impl", ["voicecore", "roomkit"])
def test_audio_in_20ms(benchmark, impl, native, toy):
    import sherpa_onnx
    from roomkit.voice.stt.sherpa_onnx import _pcm_s16le_to_float32

    if impl == "voicecore":
        rec = native.OnlineRecognizer(**toy, num_threads=1)

        def setup():
            return (rec.create_stream(),), {}

        def run(stream):
            stream.accept_pcm16(CHUNK, SR)
    else:
        rec = sherpa_onnx.OnlineRecognizer.from_transducer(**toy, num_threads=1, sample_rate=SR,
                                                          feature_dim=80)

        def setup():
            return (rec.create_stream(),), {}

        def run(stream):
            stream.accept_waveform(SR, _pcm_s16le_to_float32(CHUNK))

    benchmark.pedantic(run, setup=setup, rounds=2000, warmup_rounds=50)
    gate(benchmark, impl, TARGETS)


@pytest.mark.benchmark(group="sherpa-tts-f32-to-s16")
@pytest.mark.parametrize("impl", ["voicecore", "roomkit"])
def test_tts_f32_to_s16_1s(benchmark, impl, native):
    from roomkit.voice.tts.sherpa_onnx import _float32_to_pcm_s16le

    x = (0.6 * np.sin(2 * np.pi * 200 * np.arange(22050) / 22050)).astype(np.float32)
    if impl == "voicecore":
        out = benchmark(pcm.float32_to_s16le, x)
    else:
        out = benchmark(_float32_to_pcm_s16le, x)
    gate(benchmark, impl, TARGETS)
    # roomkit truncates x * 32767, voicecore rounds x * 32768: within 1 LSB + scale.
    diff = np.abs(np.frombuffer(out, "<i2").astype(int) - np.rint(x * 32768).astype(int))
    assert diff.max() <= (1 if impl == "voicecore" else 2)


# ------------------------------------------------------------------ real models

needs_moonshine = pytest.mark.skipif(not models.available("moonshine"),
                                     reason="run `python -m voicecore.models fetch moonshine`")
needs_piper = pytest.mark.skipif(not models.available("piper-joe"),
                                 reason="run `python -m voicecore.models fetch piper-joe`")


def _espeak_ok() -> bool:
    try:
        from voicecore.tts._phonemize import EspeakPhonemizer

        EspeakPhonemizer("en-us")
        return True
    except ImportError:
        return False


@pytest.mark.models
@needs_moonshine
@pytest.mark.benchmark(group="sherpa-stt-moonshine")
@pytest.mark.parametrize("impl", ["voicecore", "roomkit"])
def test_stt_moonshine_beckett(benchmark, impl):
    if impl == "voicecore":
        from voicecore.base import AudioChunk
        from voicecore.stt.sherpa_onnx import SherpaOnnxSTTConfig, SherpaOnnxSTTProvider
    else:
        from roomkit.voice.base import AudioChunk
        from roomkit.voice.stt.sherpa_onnx import SherpaOnnxSTTConfig, SherpaOnnxSTTProvider
    with wave.open(str(models.speech_clip("beckett"))) as w:
        pcm, rate, seconds = w.readframes(w.getnframes()), w.getframerate(), w.getnframes() / w.getframerate()
    stt = SherpaOnnxSTTProvider(SherpaOnnxSTTConfig(mode="moonshine", **models.moonshine_paths()))
    asyncio.run(stt.warmup())
    chunk = AudioChunk(data=pcm, sample_rate=rate)
    result = benchmark.pedantic(lambda: asyncio.run(stt.transcribe(chunk)), rounds=6, warmup_rounds=1)
    assert "fail better" in result.text.lower()
    _rate(benchmark, seconds)


_engines: dict[str, object] = {}


def _engine(impl: str, native):
    """One loaded TTS engine per implementation for the whole module."""
    if impl not in _engines:
        if impl == "voicecore":
            from voicecore._native.providers import sherpa_tts

            _engines[impl] = sherpa_tts.OfflineTts(**models.piper_joe_paths(), num_threads=2)
        else:
            import sherpa_onnx

            p = models.piper_joe_paths()
            cfg = sherpa_onnx.OfflineTtsConfig(model=sherpa_onnx.OfflineTtsModelConfig(
                vits=sherpa_onnx.OfflineTtsVitsModelConfig(model=p["model"], tokens=p["tokens"]),
                num_threads=2, provider="cpu"))
            _engines[impl] = sherpa_onnx.OfflineTts(cfg)
    return _engines[impl]


@pytest.mark.models
@needs_piper
@pytest.mark.skipif(not _espeak_ok(), reason="espeak-ng not found")
@pytest.mark.benchmark(group="sherpa-tts-piper")
@pytest.mark.parametrize("impl", ["voicecore", "sherpa-python+roomkit-s16"])
def test_tts_piper_rtf(benchmark, impl, native):
    import sherpa_onnx
    from roomkit.voice.tts.sherpa_onnx import _float32_to_pcm_s16le

    from voicecore.tts._phonemize import EspeakPhonemizer

    ph = EspeakPhonemizer("en-us")
    engine = _engine(impl, native)
    if impl == "voicecore":

        def run() -> bytes:
            return engine.generate_pcm16(ph.codepoints(SENTENCES))
    else:

        def run() -> bytes:
            g = sherpa_onnx.GenerationConfig()
            g.phoneme_codepoints = ph.codepoints(SENTENCES)
            g.silence_scale = 0.2
            return _float32_to_pcm_s16le(engine.generate("", g).samples)

    pcm = benchmark.pedantic(run, rounds=8, warmup_rounds=1)
    seconds = len(pcm) / 2 / 22050
    assert seconds > 4.0
    benchmark.extra_info["audio_s"] = round(seconds, 2)
    _rate(benchmark, seconds)


@pytest.mark.models
@needs_piper
@pytest.mark.skipif(not _espeak_ok(), reason="espeak-ng not found")
@pytest.mark.benchmark(group="sherpa-tts-first-chunk")
@pytest.mark.parametrize("impl", ["voicecore", "sherpa-python+roomkit-s16"])
def test_tts_time_to_first_chunk(benchmark, impl, native):
    import sherpa_onnx
    from roomkit.voice.tts.sherpa_onnx import _float32_to_pcm_s16le

    from voicecore.tts._phonemize import EspeakPhonemizer

    ph = EspeakPhonemizer("en-us")
    first: list[bytes] = []
    engine = _engine(impl, native)
    if impl == "voicecore":

        def cb(pcm: bytes) -> bool:
            first.append(pcm)
            return False  # stop: only the time to the first chunk counts

        def run() -> None:
            first.clear()
            engine.generate_pcm16(ph.codepoints(SENTENCES), callback=cb)
    else:

        def pcb(samples, progress) -> int:
            first.append(_float32_to_pcm_s16le(samples))
            return 0

        def run() -> None:
            first.clear()
            g = sherpa_onnx.GenerationConfig()
            g.phoneme_codepoints = ph.codepoints(SENTENCES)
            engine.generate("", g, pcb)

    benchmark.pedantic(run, rounds=15, warmup_rounds=1)
    assert len(first) == 1 and len(first[0]) > 2 * 22050 * 0.5

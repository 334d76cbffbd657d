"""sherpa-onnx providers with real models (``python -m voicecore.models fetch``).

References:
- beckett: the clip reads Samuel Beckett's "Worstward Ho" line
  (MODELS.md; Moonshine transcribes it exactly).
- two_cities: the opening sentence of Dickens' "A Tale of Two Cities" (public
  domain text, written out below from the book). The clip reads exactly that
  sentence; the transcript adds a spurious "10." at both ends.
- endgame_nagg_nell: a two-voice reading from Beckett's "Endgame" whose exact
  wording we could not check by ear. Its reference is the transcript of the
  same model through sherpa-onnx's own Python binding (what roomkit uses): a
  differential test of voicecore's C API path; plus phrases both voices say.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import io
import os
import re
import sys
import threading
import time
import wave

import pytest

from voicecore import models
from voicecore.base import AudioChunk

HAVE_SHERPA = importlib.util.find_spec("sherpa_onnx") is not None
HAVE_ROOMKIT = importlib.util.find_spec("roomkit") is not None
HAVE_ESPEAK = importlib.util.find_spec("espeakng_loader") is not None

pytestmark = [
    pytest.mark.models,
    pytest.mark.skipif(not HAVE_SHERPA, reason="sherpa-onnx not installed"),
]

needs_moonshine = pytest.mark.skipif(
    not models.available("moonshine"), reason="run `python -m voicecore.models fetch moonshine`")
needs_piper = pytest.mark.skipif(
    not models.available("piper-joe"), reason="run `python -m voicecore.models fetch piper-joe`")


def _phonemizer_available() -> bool:
    try:
        from voicecore.tts._phonemize import EspeakPhonemizer

        EspeakPhonemizer("en-us")
        return True
    except ImportError:
        return False


needs_espeak = pytest.mark.skipif(
    not _phonemizer_available(),
    reason="espeak-ng not found: pip install espeakng-loader (or apt-get install espeak-ng)")

BECKETT = "Ever tried. Ever failed. No matter. Try again. Fail again. Fail better."
TWO_CITIES = (
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was "
    "the age of foolishness, it was the epoch of belief, it was the epoch of incredulity, it "
    "was the season of Light, it was the season of Darkness, it was the spring of hope, it "
    "was the winter of despair, we had everything before us, we had nothing before us, we "
    "were all going direct to Heaven, we were all going direct the other way, in short, the "
    "period was so far like the present period, that some of its noisiest authorities "
    "insisted on its being received, for good or for evil, in the superlative degree of "
    "comparison only."
)


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()


def wer(ref: str, hyp: str) -> float:
    r, h = words(ref), words(hyp)
    prev = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        cur = [i] + [0] * len(h)
        for j in range(1, len(h) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r[i - 1] != h[j - 1]))
        prev = cur
    return prev[-1] / max(1, len(r))


def read_wav(path) -> tuple[bytes, int]:
    with wave.open(str(path)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        return w.readframes(w.getnframes()), w.getframerate()


@pytest.fixture(scope="module")
def stt():
    from voicecore.stt.sherpa_onnx import SherpaOnnxSTTConfig, SherpaOnnxSTTProvider

    p = SherpaOnnxSTTProvider(SherpaOnnxSTTConfig(mode="moonshine", **models.moonshine_paths()))
    asyncio.run(p.warmup())
    return p


@pytest.fixture(scope="module")
def tts():
    from voicecore.tts.sherpa_onnx import SherpaOnnxTTSConfig, SherpaOnnxTTSProvider

    # config.sample_rate deliberately not the model's: chunks must carry 22050.
    p = SherpaOnnxTTSProvider(SherpaOnnxTTSConfig(**models.piper_joe_paths(), sample_rate=16000))
    asyncio.run(p.warmup())
    return p


@pytest.fixture(scope="module")
def transcripts(stt):
    out = {}
    for clip in ("beckett", "two_cities", "endgame_nagg_nell"):
        pcm, rate = read_wav(models.speech_clip(clip))
        out[clip] = (rate, asyncio.run(stt.transcribe(AudioChunk(data=pcm, sample_rate=rate))).text)
        print(f"{clip} ({rate} Hz): {out[clip][1]!r}")
    return out


@needs_moonshine
def test_beckett_16k(transcripts):
    rate, text = transcripts["beckett"]
    assert rate == 16000
    assert wer(BECKETT, text) <= 0.10, text  # measured: 0.0


@needs_moonshine
def test_two_cities_48k(transcripts):
    rate, text = transcripts["two_cities"]
    assert rate == 48000
    assert wer(TWO_CITIES, text) <= 0.10, text  # measured: 0.025 (two spurious "10", "noisyest")


@needs_moonshine
def test_endgame_24k_matches_sherpa_python_binding(transcripts):
    import numpy as np
    import sherpa_onnx

    rate, text = transcripts["endgame_nagg_nell"]
    assert rate == 24000
    pcm, _ = read_wav(models.speech_clip("endgame_nagg_nell"))
    p = models.moonshine_paths()
    rec = sherpa_onnx.OfflineRecognizer.from_moonshine_v2(
        encoder=p["encoder"], decoder=p["decoder"], tokens=p["tokens"], num_threads=2)
    s = rec.create_stream()
    s.accept_waveform(rate, (np.frombuffer(pcm, "<i2").astype(np.float32) / 32768).tolist())
    rec.decode_stream(s)
    ref = s.result.text.strip()
    assert len(words(ref)) > 50
    assert wer(ref, text) <= 0.02, (ref, text)  # measured: identical
    low = " ".join(words(text))
    for phrase in ("do you hear me", "laugh less heartily"):
        assert phrase in low


@needs_moonshine
async def test_multi_stream_decode_equals_single(stt):
    clips = [read_wav(models.speech_clip(c)) for c in ("beckett", "clone-test")]
    chunks = [AudioChunk(data=pcm, sample_rate=rate) for pcm, rate in clips]
    single = [(await stt.transcribe(c)).text for c in chunks]
    many = [r.text for r in await stt.transcribe_many(chunks)]
    assert many == single
    assert wer(BECKETT, many[0]) <= 0.10


@needs_moonshine
def test_gil_released_during_offline_decode(stt):
    """A Python thread keeps counting while Moonshine decodes 10 s of speech."""
    from voicecore._native.providers import sherpa

    rec = stt._get_offline_recognizer()
    pcm, rate = read_wav(models.speech_clip("beckett"))
    counter = [0]
    stop = threading.Event()

    def count() -> None:  # needs the GIL once per ms; does not compete for the CPU
        while not stop.is_set():
            counter[0] += 1
            time.sleep(0.001)

    th = threading.Thread(target=count)
    th.start()
    old = sys.getswitchinterval()
    sys.setswitchinterval(5.0)
    try:
        time.sleep(0)
        before = counter[0]
        t0 = time.perf_counter()
        text = rec.transcribe_pcm16(pcm, rate)
        elapsed = time.perf_counter() - t0
        during = counter[0] - before
    finally:
        sys.setswitchinterval(old)
        stop.set()
        th.join()
    assert isinstance(rec, sherpa.OfflineRecognizer)
    assert wer(BECKETT, text) <= 0.10
    # about one tick per ms of the call; with the GIL held it could not tick at all
    assert elapsed > 0.05 and during >= 0.2 * elapsed / 0.001, (during, elapsed)


SENTENCES = (
    "The quick brown fox jumps over the lazy dog. "
    "It was a bright cold day in April, and the clocks were striking one. "
    "Please call me back tomorrow morning at the office. "
    "Thank you for your patience."
)


def _wav_of(content) -> tuple[bytes, int]:
    assert content.url.startswith("data:audio/wav;base64,")
    with wave.open(io.BytesIO(base64.b64decode(content.url.split(",", 1)[1]))) as w:
        return w.readframes(w.getnframes()), w.getframerate()


@needs_moonshine
@needs_piper
@needs_espeak
async def test_tts_stt_round_trip(tts, stt):
    content = await tts.synthesize(SENTENCES)
    pcm, rate = _wav_of(content)
    assert rate == 22050 and content.mime_type == "audio/wav" and content.transcript == SENTENCES
    assert abs(content.duration_seconds - len(pcm) / 2 / rate) < 1e-9
    assert 6.0 < content.duration_seconds < 20.0
    text = (await stt.transcribe(AudioChunk(data=pcm, sample_rate=rate))).text
    print("round trip:", repr(text))
    assert wer(SENTENCES, text) <= 0.15, text


@needs_moonshine
@needs_piper
@needs_espeak
async def test_tts_stream_chunks_real_rate_and_final(tts, stt):
    chunks = [c async for c in tts.synthesize_stream(SENTENCES)]
    assert len(chunks) >= 3
    assert all(c.sample_rate == 22050 and c.format == "pcm_s16le" for c in chunks)
    assert chunks[-1].is_final and chunks[-1].data == b""
    assert not any(c.is_final for c in chunks[:-1]) and all(c.data for c in chunks[:-1])
    pcm = b"".join(c.data for c in chunks)
    assert len(pcm) % 2 == 0 and 6.0 < len(pcm) / 2 / 22050 < 20.0
    text = (await stt.transcribe(AudioChunk(data=pcm, sample_rate=22050))).text
    assert wer(SENTENCES, text) <= 0.15, text


@needs_piper
@needs_espeak
async def test_tts_stream_closed_early_stops(tts):
    gen = tts.synthesize_stream(SENTENCES * 3)
    first = await gen.__anext__()
    assert first.data
    t0 = time.monotonic()
    await gen.aclose()  # barge-in: waits for the sentence under way, no more
    assert time.monotonic() - t0 < 10.0
    again = await tts.synthesize("Still working.")
    assert again.duration_seconds > 0.3


@needs_piper
@needs_espeak
def test_tts_gil_released_during_generate(tts):
    from voicecore.tts._phonemize import EspeakPhonemizer

    engine, ph = tts._get()
    cps = EspeakPhonemizer("en-us").codepoints("The quick brown fox jumps over the lazy dog.")
    counter = [0]
    stop = threading.Event()

    def count() -> None:  # needs the GIL once per ms; does not compete for the CPU
        while not stop.is_set():
            counter[0] += 1
            time.sleep(0.001)

    th = threading.Thread(target=count)
    th.start()
    old = sys.getswitchinterval()
    sys.setswitchinterval(5.0)
    try:
        time.sleep(0)
        before = counter[0]
        t0 = time.perf_counter()
        pcm = engine.generate_pcm16(cps)
        elapsed = time.perf_counter() - t0
        during = counter[0] - before
    finally:
        sys.setswitchinterval(old)
        stop.set()
        th.join()
    assert len(pcm) > 2 * 22050
    assert elapsed > 0.05 and during >= 0.2 * elapsed / 0.001, (during, elapsed)


@needs_piper
@needs_espeak
async def test_tts_data_dir_and_output_rate():
    from voicecore.tts._phonemize import EspeakPhonemizer
    from voicecore.tts.sherpa_onnx import SherpaOnnxTTSConfig, SherpaOnnxTTSProvider

    try:
        import espeakng_loader

        data_dir = espeakng_loader.get_data_path()
    except ImportError:  # the system library: `espeak-ng --version` says where its data is
        import subprocess

        # the plain CLI, without a sanitizer runtime the suite may preload (it hangs with ASan's)
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, env=env).stdout
        m = re.search(r"Data at:\s*(\S+)", out)
        if not m:
            pytest.skip("cannot find the espeak-ng data directory")
        data_dir = m.group(1)
    text = "Hello there, general. How are you?"
    explicit = EspeakPhonemizer("en-us", data_dir=data_dir).phonemize(text)
    assert explicit == EspeakPhonemizer("en-us").phonemize(text)
    assert explicit[0].endswith(".") and explicit[1].endswith("?") and "," in explicit[0]
    bad = SherpaOnnxTTSProvider(SherpaOnnxTTSConfig(**models.piper_joe_paths(), data_dir="/nonexistent/espeak"))
    with pytest.raises(FileNotFoundError, match="data_dir"):
        await bad.warmup()
    resampled = SherpaOnnxTTSProvider(SherpaOnnxTTSConfig(**models.piper_joe_paths(), output_sample_rate=16000))
    if importlib.util.find_spec("voicecore.resample") is None:
        with pytest.raises(ValueError, match="voicecore.resample"):
            await resampled.warmup()
    else:
        said = "Please call me back tomorrow morning at the office."
        chunks = [c async for c in resampled.synthesize_stream(said)]
        assert all(c.sample_rate == 16000 for c in chunks) and chunks[-1].is_final
        pcm = b"".join(c.data for c in chunks)
        assert 1.5 < len(pcm) / 2 / 16000 < 6.0
        if models.available("moonshine"):
            from voicecore.stt.sherpa_onnx import SherpaOnnxSTTConfig, SherpaOnnxSTTProvider

            stt = SherpaOnnxSTTProvider(SherpaOnnxSTTConfig(mode="moonshine", **models.moonshine_paths()))
            text = (await stt.transcribe(AudioChunk(data=pcm, sample_rate=16000))).text
            assert wer(said, text) <= 0.15, text


@needs_piper
async def test_tts_missing_model_file(tmp_path):
    from voicecore.tts.sherpa_onnx import SherpaOnnxTTSConfig, SherpaOnnxTTSProvider

    p = SherpaOnnxTTSProvider(SherpaOnnxTTSConfig(model=str(tmp_path / "x.onnx"),
                                                  tokens=models.piper_joe_paths()["tokens"]))
    with pytest.raises((FileNotFoundError, ImportError), match="model: no such file|espeak"):
        await p.synthesize("Hi.")


@needs_piper
@pytest.mark.skipif(not HAVE_ROOMKIT, reason="roomkit not installed")
async def test_roomkit_tts_is_silent_on_sherpa_2():
    """The bug this provider fixes: roomkit's provider gets zero samples from a
    Piper voice on sherpa-onnx 2.x; voicecore's speaks."""
    from roomkit.voice.tts.sherpa_onnx import SherpaOnnxTTSConfig as RKConfig
    from roomkit.voice.tts.sherpa_onnx import SherpaOnnxTTSProvider as RKProvider

    rk = RKProvider(RKConfig(**models.piper_joe_paths()))
    assert (await rk.synthesize("Hello world.")).duration_seconds == 0.0

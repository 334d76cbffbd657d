"""voicecore._native.providers.sherpa and the sherpa-onnx providers, without downloaded models.

The streaming path is tested with a tiny transducer the tests build
(``voicecore.models.toy_streaming_transducer`` writes the ONNX protobuf itself,
so no ``onnx`` package is needed; with ``onnx`` installed its full checker
validates the files): an "lstm"
transducer whose encoder turns each 40 ms of loud audio into the token
``beep`` and silence into blank. What it proves is the code path, not
accuracy: s16le goes through the native conversion and the C API into a real
sherpa-onnx OnlineRecognizer (fbank features, the encoder/decoder/joiner
sessions, greedy search, endpoint rules, multi-stream decode), and the text
comes back; it matches sherpa-onnx's own Python binding fed the same audio.
"""

from __future__ import annotations

import asyncio
import importlib.util
import math
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from voicecore.base import AudioChunk, AudioContent

HAVE_SHERPA = importlib.util.find_spec("sherpa_onnx") is not None
HAVE_ONNX = importlib.util.find_spec("onnx") is not None
from vc_support import HAVE_ROOMKIT  # noqa: E402

needs_sherpa = pytest.mark.skipif(not HAVE_SHERPA, reason="sherpa-onnx not installed")
needs_toy = pytest.mark.skipif(not HAVE_SHERPA, reason="sherpa-onnx not installed")

SR = 16000


def tone(seconds: float, sr: int = SR, freq: float = 440.0, amp: float = 0.5) -> bytes:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * 32767 * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def silence(seconds: float, sr: int = SR) -> bytes:
    return bytes(2 * int(seconds * sr))


def chunks20(pcm: bytes, sr: int = SR) -> list[bytes]:
    n = 2 * sr // 50
    return [pcm[i : i + n] for i in range(0, len(pcm), n)]


@pytest.fixture(scope="module")
def native():
    if not HAVE_SHERPA:
        pytest.skip("sherpa-onnx not installed")
    from voicecore._native.providers import sherpa

    sherpa.load()
    return sherpa


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    if not HAVE_SHERPA:
        pytest.skip("sherpa-onnx not installed")
    from voicecore.models import toy_streaming_transducer

    return toy_streaming_transducer(tmp_path_factory.mktemp("toy-transducer"))


@pytest.fixture(scope="module")
def toy_rec(native, toy):
    return native.OnlineRecognizer(**toy, num_threads=1)


def run_online(rec, pcm: bytes, sr: int = SR, *, chunked: bool = True, tail: float = 0.3) -> str:
    s = rec.create_stream()
    for c in chunks20(pcm, sr) if chunked else [pcm]:
        s.accept_pcm16(c, sr, decode=True)
    s.accept_silence(int(tail * sr), sr)
    s.input_finished()
    s.decode()
    return s.text.strip()


# ----------------------------------------------------------------- the C API header


@pytest.mark.skipif(not HAVE_ONNX, reason="needs onnx")
def test_toy_model_files_are_valid_onnx(tmp_path):
    """The hand-written protobuf of the toy model passes onnx's full checker
    (with shape inference) and carries the metadata sherpa-onnx reads."""
    import onnx

    from voicecore.models import toy_streaming_transducer

    p = toy_streaming_transducer(tmp_path)
    for name in ("encoder", "decoder", "joiner"):
        m = onnx.load(p[name])
        onnx.checker.check_model(m, full_check=True)
    meta = {x.key: x.value for x in onnx.load(p["encoder"]).metadata_props}
    assert meta["model_type"] == "lstm" and meta["T"] == meta["decode_chunk_len"] == "16"


@needs_sherpa
def test_header_structs_match_installed_c_api():
    """Every struct sherpa_capi.h declares is field-for-field the struct of the
    installed sherpa-onnx's c-api.h (same names, types and order)."""
    import sherpa_onnx

    installed = Path(sherpa_onnx.__file__).parent / "include" / "sherpa-onnx" / "c-api" / "c-api.h"
    if not installed.is_file():
        pytest.skip("the installed sherpa-onnx has no c-api.h")
    ours = Path(__file__).parents[1] / "src" / "voicecore" / "_native" / "providers" / "sherpa_capi.h"
    if not ours.is_file():  # testing an installed wheel: the header is installed beside the module
        from voicecore._native.providers import sherpa

        ours = Path(sherpa.__file__).parent / "sherpa_capi.h"

    def structs(text: str) -> dict[str, list[str]]:
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        text = re.sub(r"//[^\n]*", "", text)
        out = {}
        for m in re.finditer(r"typedef struct (SherpaOnnx\w+) \{(.*?)\} \1;", text, re.S):
            fields = [" ".join(f.split()) for f in m.group(2).split(";") if f.strip()]
            out[m.group(1)] = fields
        return out

    mine, theirs = structs(ours.read_text()), structs(installed.read_text())
    assert len(mine) >= 40
    for name, fields in mine.items():
        assert name in theirs, f"{name} is not in the installed c-api.h"
        assert fields == theirs[name], f"{name} differs from the installed c-api.h"


def test_version_check_messages():
    from voicecore._native.providers import _sherpa_lib as lib

    lib._check_version(lib.SUPPORTED_SERIES + ".7")  # same series: accepted
    for bad in ("2.1.0", "1.12.14", "3.0.0"):
        with pytest.raises(ImportError, match=rf"sherpa-onnx {re.escape(bad)} is installed.*{lib.SUPPORTED_SERIES}\.x"):
            lib._check_version(bad)


def _run_py(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
        env={**os.environ, **env}, timeout=120,
    )


def test_voicecore_imports_without_sherpa_onnx():
    """Hide sherpa_onnx: voicecore, its stt/tts packages and the provider
    modules import; the binding and the provider raise a clear ImportError."""
    res = _run_py("""
        import importlib.metadata as md, importlib.util as u
        real_find, real_version = u.find_spec, md.version
        def find_spec(name, *a, **k):
            return None if name.split('.')[0] == 'sherpa_onnx' else real_find(name, *a, **k)
        def version(name):
            if name == 'sherpa-onnx':
                raise md.PackageNotFoundError(name)
            return real_version(name)
        u.find_spec, md.version = find_spec, version
        import voicecore, voicecore.stt, voicecore.tts
        import voicecore.stt.sherpa_onnx as stt, voicecore.tts.sherpa_onnx as tts
        from voicecore._native.providers import sherpa
        try:
            sherpa.load()
        except ImportError as e:
            print('LOAD:', e)
        try:
            stt.SherpaOnnxSTTProvider(stt.SherpaOnnxSTTConfig())
        except ImportError as e:
            print('STT:', e)
    """)
    assert res.returncode == 0, res.stderr
    assert "LOAD: sherpa-onnx is not installed" in res.stdout
    assert "STT: sherpa-onnx is required for SherpaOnnxSTTProvider" in res.stdout


@needs_sherpa
def test_load_reports_a_library_that_cannot_be_loaded(tmp_path):
    res = _run_py("""
        from voicecore._native.providers import sherpa
        try:
            sherpa.load()
        except ImportError as e:
            print('ERR:', e)
    """, VOICECORE_SHERPA_ONNX_LIB=str(tmp_path / "nope.so"))
    assert res.returncode == 0, res.stderr
    assert "ERR: cannot load the sherpa-onnx C API: dlopen(" in res.stdout


@needs_sherpa
def test_installed_version_is_supported(native):
    import sherpa_onnx

    v = native.version()
    assert v == sherpa_onnx.__version__
    assert v.startswith(native.SUPPORTED_SERIES + ".")


# ----------------------------------------------------------------- streaming path (toy model)


@needs_toy
def test_toy_stream_beeps_for_sound_and_not_for_silence(toy_rec):
    assert run_online(toy_rec, silence(1.0)) == ""
    text = run_online(toy_rec, silence(0.2) + tone(1.0) + silence(0.5))
    words = text.split()
    assert set(words) == {"beep"}
    assert 22 <= len(words) <= 28  # one per 40 ms encoder frame of sound


@needs_toy
def test_toy_stream_matches_sherpa_python_binding(toy, toy_rec, native):
    """The same audio through voicecore's s16 and float32 paths and through
    sherpa-onnx's own Python binding gives the same text."""
    import sherpa_onnx

    pcm = silence(0.3) + tone(0.7) + silence(0.4) + tone(0.3, freq=1000) + silence(0.3)
    ours = run_online(toy_rec, pcm)
    assert ours.count("beep") > 10
    f32 = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768
    s = toy_rec.create_stream()
    s.accept_float32(f32, SR)
    s.accept_silence(int(0.3 * SR), SR)
    s.input_finished()
    s.decode()
    assert s.text.strip() == ours

    ref = sherpa_onnx.OnlineRecognizer.from_transducer(
        tokens=toy["tokens"], encoder=toy["encoder"], decoder=toy["decoder"],
        joiner=toy["joiner"], num_threads=1, sample_rate=SR, feature_dim=80,
    )
    rs = ref.create_stream()
    rs.accept_waveform(SR, f32.tolist())
    rs.accept_waveform(SR, [0.0] * int(0.3 * SR))
    rs.input_finished()
    while ref.is_ready(rs):
        ref.decode_stream(rs)
    assert ref.get_result(rs).strip() == ours


@needs_toy
def test_toy_stream_chunking_does_not_change_the_result(toy_rec):
    pcm = tone(0.5) + silence(0.3) + tone(0.5)
    assert run_online(toy_rec, pcm, chunked=True) == run_online(toy_rec, pcm, chunked=False)


@needs_toy
def test_toy_stream_resamples_other_rates(toy_rec):
    for sr in (8000, 48000):
        text = run_online(toy_rec, tone(1.0, sr) + silence(0.3, sr), sr)
        assert 22 <= text.count("beep") <= 28, (sr, text)


@needs_toy
def test_toy_endpoint_after_trailing_silence(toy_rec):
    s = toy_rec.create_stream()
    for c in chunks20(tone(0.6)):
        s.accept_pcm16(c, SR, decode=True)
    assert not s.is_endpoint()
    fired_at = None
    for i, c in enumerate(chunks20(silence(3.0))):
        s.accept_pcm16(c, SR, decode=True)
        if s.is_endpoint():
            fired_at = (i + 1) * 0.02
            break
    assert fired_at is not None and 1.0 <= fired_at <= 1.6  # rule 2: 1.2 s after text
    assert "beep" in s.text
    s.reset()
    assert s.text == ""


@needs_toy
def test_toy_multi_stream_decode_equals_single(toy_rec):
    pcms = [tone(d) + silence(0.4) for d in (0.2, 0.5, 0.9, 0.0)]
    single = [run_online(toy_rec, p, chunked=False, tail=0.0) for p in pcms]
    streams = [toy_rec.create_stream() for _ in pcms]
    for s, p in zip(streams, pcms, strict=True):
        s.accept_pcm16(p, SR)
        s.input_finished()
    rounds = toy_rec.decode_streams(streams)
    assert rounds > 0
    assert [s.text.strip() for s in streams] == single
    assert single[3] == "" and single[2].count("beep") > single[1].count("beep") > single[0].count("beep")


@needs_toy
def test_stream_errors(toy_rec, native, toy):
    s = toy_rec.create_stream()
    with pytest.raises(ValueError, match="even byte count"):
        s.accept_pcm16(b"\x00\x01\x02", SR)
    s.accept_pcm16(silence(0.02), SR)
    with pytest.raises(ValueError, match="sample-rate mismatch: this stream was fed at 16000 Hz, got 8000 Hz"):
        s.accept_pcm16(silence(0.02, 8000), 8000)
    with pytest.raises(ValueError, match="OnlineStream.accept_pcm16: sample_rate must be > 0 Hz, got 0"):
        toy_rec.create_stream().accept_pcm16(b"\x00\x00", 0)
    with pytest.raises(TypeError, match="OnlineStream.accept_pcm16: data must be a C-contiguous buffer"):
        toy_rec.create_stream().accept_pcm16("not audio", SR)
    with pytest.raises(ValueError, match="OnlineStream.accept_silence: n_samples must be 0..2"):
        toy_rec.create_stream().accept_silence(-1, SR)
    with pytest.raises(TypeError, match="accept_float32"):
        s.accept_float32(b"\x00\x00\x00\x00", SR)
    s.close()
    with pytest.raises(ValueError, match="closed"):
        s.accept_pcm16(silence(0.02), SR)
    dup = toy_rec.create_stream()
    with pytest.raises(ValueError, match="listed twice"):
        toy_rec.decode_streams([dup, dup])
    dup.accept_pcm16(silence(0.02), SR, decode=True)  # still usable
    other = native.OnlineRecognizer(**toy, num_threads=1)
    with pytest.raises(ValueError, match="another recognizer"):
        toy_rec.decode_streams([other.create_stream()])
    with pytest.raises(FileNotFoundError, match="joiner: no such file"):
        native.OnlineRecognizer(**{**toy, "joiner": toy["joiner"] + ".missing"})
    garbage = Path(toy["encoder"]).with_name("garbage.onnx")
    garbage.write_bytes(b"not an onnx model")
    with pytest.raises(RuntimeError, match="sherpa-onnx rejected the streaming transducer model"):
        native.OnlineRecognizer(**{**toy, "joiner": str(garbage)})
    from voicecore._native.providers import sherpa_tts

    with pytest.raises(RuntimeError, match="sherpa-onnx rejected the TTS model"):
        sherpa_tts.OfflineTts(model=str(garbage), tokens=toy["tokens"])
    with pytest.raises(FileNotFoundError, match="OfflineTts: model: no such file"):
        sherpa_tts.OfflineTts(model=str(garbage) + ".missing", tokens=toy["tokens"])
    with pytest.raises(ValueError, match=r"OfflineRecognizer: kind must be one of \('transducer'"):
        native.OfflineRecognizer(kind="paraformer", tokens="", encoder="", decoder="")


@needs_toy
def test_gil_released_during_accept_and_decode(toy_rec):
    """A Python thread keeps counting while one long accept+decode runs: with
    the GIL held for the whole call it could not run at all."""
    pcm = (tone(0.5) + silence(0.5)) * 60  # 60 s of audio in one call
    s = toy_rec.create_stream()
    counter = [0]
    stop = threading.Event()
    started = threading.Event()

    def count() -> None:
        started.set()
        while not stop.is_set():
            counter[0] += 1

    th = threading.Thread(target=count)
    th.start()
    started.wait()
    old = sys.getswitchinterval()
    sys.setswitchinterval(1.0)  # the counter would not get the GIL back by preemption
    try:
        time.sleep(0)  # let the counter run
        before = counter[0]
        t0 = time.perf_counter()
        steps = s.accept_pcm16(pcm, SR, decode=True)
        elapsed = time.perf_counter() - t0
        during = counter[0] - before
    finally:
        sys.setswitchinterval(old)
        stop.set()
        th.join()
    assert steps > 100
    assert "beep" in s.text
    # The counter got CPU time while the call ran (it cannot with the GIL held).
    print("GIL test:", during, "increments in", elapsed, "s")
    assert during > 1000, (during, elapsed)


# ----------------------------------------------------------------- providers (toy model)


async def _aiter(chunks):
    for c in chunks:
        yield c
        await asyncio.sleep(0)


@needs_toy
async def test_provider_streams_partials_and_finals(toy):
    from voicecore.stt.sherpa_onnx import SherpaOnnxSTTConfig, SherpaOnnxSTTProvider

    stt = SherpaOnnxSTTProvider(SherpaOnnxSTTConfig(**toy, num_threads=1))
    assert stt.supports_streaming and stt.name == "SherpaOnnxSTT"
    await stt.warmup()
    pcm = tone(0.6) + silence(2.0) + tone(0.3) + silence(0.2)
    chunks = [AudioChunk(data=c, sample_rate=SR) for c in chunks20(pcm)]
    results = [r async for r in stt.transcribe_stream(_aiter(chunks))]
    partials = [r for r in results if not r.is_final]
    finals = [r for r in results if r.is_final]
    assert len(partials) >= 3
    # partials grow within an utterance
    assert [p.text.count("beep") for p in partials[:3]] == sorted(p.text.count("beep") for p in partials[:3])
    assert len(finals) == 2  # one at the endpoint, one at the end of the stream
    assert 13 <= finals[0].text.count("beep") <= 17  # 0.6 s
    assert 5 <= finals[1].text.count("beep") <= 10  # 0.3 s (+ tail padding context)


@needs_toy
async def test_provider_batch_and_many(toy):
    from voicecore.stt.sherpa_onnx import SherpaOnnxSTTConfig, SherpaOnnxSTTProvider

    stt = SherpaOnnxSTTProvider(SherpaOnnxSTTConfig(**toy, num_threads=1))
    a = AudioChunk(data=tone(0.4) + silence(0.2), sample_rate=SR)
    b = AudioChunk(data=tone(0.8, 8000) + silence(0.2, 8000), sample_rate=8000)
    ra, rb = await stt.transcribe(a), await stt.transcribe(b)
    assert ra.is_final and 8 <= ra.text.count("beep") <= 12
    assert 18 <= rb.text.count("beep") <= 22
    many = await stt.transcribe_many([a, b, AudioChunk(data=silence(0.5), sample_rate=SR)])
    assert [r.text for r in many] == [ra.text, rb.text, ""]


@needs_toy
@pytest.mark.skipif(not HAVE_ROOMKIT, reason="roomkit not installed")
async def test_provider_matches_roomkit_provider(toy):
    from roomkit.voice.base import AudioChunk as RKChunk
    from roomkit.voice.stt.sherpa_onnx import SherpaOnnxSTTConfig as RKConfig
    from roomkit.voice.stt.sherpa_onnx import SherpaOnnxSTTProvider as RKProvider

    from voicecore.stt.sherpa_onnx import SherpaOnnxSTTConfig, SherpaOnnxSTTProvider

    pcm = silence(0.2) + tone(0.5) + silence(0.3) + tone(0.25) + silence(0.3)
    ours = await SherpaOnnxSTTProvider(SherpaOnnxSTTConfig(**toy, num_threads=1)).transcribe(
        AudioChunk(data=pcm, sample_rate=SR))
    theirs = await RKProvider(RKConfig(**toy, num_threads=1)).transcribe(RKChunk(data=pcm, sample_rate=SR))
    assert ours.text == theirs.text and ours.text.count("beep") > 10


@needs_sherpa
async def test_provider_errors(toy, tmp_path):
    from voicecore.stt.sherpa_onnx import SherpaOnnxSTTConfig, SherpaOnnxSTTProvider

    with pytest.raises(ValueError, match="Unknown sherpa-onnx STT mode 'paraformer'"):
        SherpaOnnxSTTProvider(SherpaOnnxSTTConfig(mode="paraformer"))
    with pytest.raises(ValueError, match="tail_padding_s must be a finite number"):
        SherpaOnnxSTTProvider(SherpaOnnxSTTConfig(tail_padding_s=math.nan))
    for mode in ("whisper", "moonshine"):
        stt = SherpaOnnxSTTProvider(SherpaOnnxSTTConfig(mode=mode))
        assert not stt.supports_streaming
        with pytest.raises(ValueError, match=f"not supported for {mode} mode"):
            async for _ in stt.transcribe_stream(_aiter([])):
                pass
    stt = SherpaOnnxSTTProvider(SherpaOnnxSTTConfig(**toy, model_type="nemo_transducer"))
    assert not stt.supports_streaming
    with pytest.raises(ValueError, match="offline only"):
        async for _ in stt.transcribe_stream(_aiter([])):
            pass
    stt = SherpaOnnxSTTProvider(SherpaOnnxSTTConfig(**toy))
    with pytest.raises(ValueError, match="URL-based AudioContent"):
        await stt.transcribe(AudioContent(url="https://example.com/a.wav"))
    with pytest.raises(ValueError, match="16-bit signed PCM"):
        await stt.transcribe(AudioChunk(data=b"\x00" * 4, format="pcm_f32le"))
    missing = SherpaOnnxSTTProvider(SherpaOnnxSTTConfig(**{**toy, "encoder": str(tmp_path / "enc.onnx")}))
    with pytest.raises(FileNotFoundError, match="encoder: no such file"):
        await missing.warmup()
    moon = SherpaOnnxSTTProvider(SherpaOnnxSTTConfig(mode="moonshine", tokens=toy["tokens"],
                                                     encoder=str(tmp_path / "e.ort"), decoder=toy["decoder"]))
    with pytest.raises(FileNotFoundError, match="encoder: no such file"):
        await moon.transcribe(AudioChunk(data=silence(0.1)))
    # sample-rate change in the middle of a stream
    stt = SherpaOnnxSTTProvider(SherpaOnnxSTTConfig(**toy, num_threads=1))
    chunks = [AudioChunk(data=silence(0.02), sample_rate=SR), AudioChunk(data=silence(0.02, 8000), sample_rate=8000)]
    with pytest.raises(ValueError, match="sample-rate mismatch"):
        async for _ in stt.transcribe_stream(_aiter(chunks)):
            pass


def test_tts_config_validation():
    from voicecore.tts.sherpa_onnx import SherpaOnnxTTSConfig, _split_text

    with pytest.raises(ValueError, match="Unknown sherpa-onnx TTS model_type"):
        SherpaOnnxTTSConfig(model_type="matcha")
    with pytest.raises(ValueError, match="needs its voices.bin"):
        SherpaOnnxTTSConfig(model_type="kokoro")
    cfg = SherpaOnnxTTSConfig(voice_names=("a", "b"))
    assert cfg.speaker_id_for("b") == 1 and cfg.speaker_id_for("7") == 7 and cfg.speaker_id_for(None) == 0
    with pytest.raises(ValueError, match="Unknown voice 'zed'"):
        cfg.speaker_id_for("zed")
    assert _split_text("") == []
    assert _split_text("Hi. This is a longer sentence that goes past forty characters. Ok!") == [
        "Hi. This is a longer sentence that goes past forty characters.", "Ok!"]


@pytest.mark.skipif(not HAVE_ROOMKIT, reason="roomkit not installed")
def test_split_text_matches_roomkit():
    from roomkit.voice.tts.sherpa_onnx import _split_text as rk_split

    from voicecore.tts.sherpa_onnx import _split_text

    texts = [
        "Hello. World!",
        "One two three. " * 40,
        "First paragraph here.\n\nSecond one? Yes! And a third sentence that is long enough to stand.",
        "word " * 200,
        "line one\nline two\n" * 30,
    ]
    for t in texts:
        assert _split_text(t) == rk_split(t)
        assert _split_text(t, max_chars=50) == rk_split(t, max_chars=50)


@needs_sherpa
def test_tts_provider_refuses_kokoro():
    from voicecore.tts.sherpa_onnx import SherpaOnnxTTSConfig, SherpaOnnxTTSProvider

    with pytest.raises(ValueError, match="supports model_type"):
        SherpaOnnxTTSProvider(SherpaOnnxTTSConfig(model_type="kokoro", voices="v.bin"))


def test_wrap_wav_reads_back():
    import io
    import wave

    from voicecore.tts.sherpa_onnx import wrap_wav

    pcm = tone(0.1, 22050)
    with wave.open(io.BytesIO(wrap_wav(pcm, 22050))) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 22050)
        assert w.readframes(w.getnframes()) == pcm


# ----------------------------------------------------------------- phonemizer


def test_split_clauses():
    from voicecore.tts._phonemize import split_clauses

    assert split_clauses("Hello world. How are you, friend? Fine!") == [
        [("Hello world", ".")], [("How are you", ","), ("friend", "?")], [("Fine", "!")]]
    assert split_clauses("no punctuation at all") == [[("no punctuation at all", "")]]
    assert split_clauses("  ...  ") == []
    assert split_clauses("Wait... what?!") == [[("Wait", ".")], [("what", "?")]]


@pytest.mark.skipif(not __import__("shutil").which("espeak-ng"), reason="espeak-ng CLI not installed")
def test_phonemizer_matches_espeak_ng_cli_with_the_system_library():
    """With the system libespeak-ng (what `apt-get install espeak-ng` gives),
    each clause's phonemes are what `espeak-ng -q --ipa` prints for it."""
    import ctypes.util

    if ctypes.util.find_library("espeak-ng") is None:
        pytest.skip("no system libespeak-ng")
    text = "Hello world. This is a test of the voice core package, which speaks! Numbers: 42."
    res = _run_py(f"""
        import sys, json
        sys.modules['espeakng_loader'] = None  # force the system library
        from voicecore.tts._phonemize import EspeakPhonemizer
        print(json.dumps(EspeakPhonemizer('en-us').phonemize({text!r})))
    """)
    assert res.returncode == 0, res.stderr
    import json
    import unicodedata

    ours = json.loads(res.stdout.strip().splitlines()[-1])
    # the plain CLI, without a sanitizer runtime the suite may preload (it hangs with ASan's)
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    cli = subprocess.run(["espeak-ng", "-q", "--ipa", "-v", "en-us", text], capture_output=True,
                         text=True, check=True, env=env).stdout
    cli_clauses = [unicodedata.normalize("NFD", line.strip()) for line in cli.splitlines() if line.strip()]
    our_clauses = [c.strip() for s in ours for c in re.split(r"[.,;:!?]", s) if c.strip()]
    assert our_clauses == cli_clauses
    assert [s[-1] for s in ours] == [".", "!", "."]


def test_stt_refuses_frames_that_are_not_16_bit():
    from voicecore import AudioFrame
    from voicecore.stt.sherpa_onnx import _pcm_of

    with pytest.raises(ValueError, match="sample_width 4"):
        _pcm_of(AudioFrame(data=bytes(8), sample_rate=8000, channels=1, sample_width=4), 16000)
    data, rate = _pcm_of(AudioFrame(data=bytes(8), sample_rate=8000), 16000)
    assert (bytes(data), rate) == (bytes(8), 8000)

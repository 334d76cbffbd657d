"""voicecore.models: cache layout, preparation steps, idempotent fetch, CLI.

These run without network: the download step is replaced by a wheel the test
builds, so what is tested is extraction, preparation and the ready markers.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from voicecore import models


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICECORE_MODELS_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_cache_dir_env_and_default(monkeypatch, tmp_path):
    monkeypatch.setenv("VOICECORE_MODELS_DIR", str(tmp_path / "x"))
    assert models.cache_dir() == tmp_path / "x"
    monkeypatch.delenv("VOICECORE_MODELS_DIR")
    assert models.cache_dir() == Path.home() / ".cache" / "voicecore" / "models"


def test_nothing_available_in_an_empty_cache(cache):
    for name in models.MODELS:
        assert not models.available(name)
    for clip in models.SPEECH_CLIPS:
        assert models.speech_clip(clip) is None
        assert not models.available(clip)
    with pytest.raises(ValueError, match=r"^voicecore\.models\.speech_clip: unknown speech clip 'nope'; known: "
                                         r"beckett, two_cities, endgame_nagg_nell, clone-test$"):
        models.speech_clip("nope")
    with pytest.raises(ValueError, match=r"^voicecore\.models\.fetch: unknown model 'nope'; known: "
                                         r"moonshine, piper-joe, silero-vad$"):
        models.fetch(["moonshine", "nope"], progress=lambda s: None)
    assert not cache.exists() or not any(cache.iterdir())  # nothing downloaded for a bad name


def encode_tokenizer(tokens: list[bytes]) -> bytes:
    out = bytearray()
    for t in tokens:
        n = len(t)
        out += bytes([n]) if n < 128 else bytes([128 + n % 128, n // 128])
        out += t
    return bytes(out)


def test_moonshine_tokenizer_decoding():
    toks = [b"<unk>", b"", b"\xe2\x96\x81the", b"x" * 127, b"y" * 128, b"z" * 300]
    assert models.moonshine_tokens(encode_tokenizer(toks)) == toks
    with pytest.raises(ValueError, match="runs past the end"):
        models.moonshine_tokens(b"\x05ab")
    with pytest.raises(ValueError, match="truncated"):
        models.moonshine_tokens(b"\x81")


def test_piper_metadata_from_voice_json():
    cfg = {"audio": {"sample_rate": 22500}, "espeak": {"voice": "en-us"},
           "language": {"name_english": "English"}, "num_speakers": 1}
    meta = models._piper_metadata(cfg)
    assert meta == {"model_type": "vits", "comment": "piper", "language": "English", "voice": "en-us",
                    "has_espeak": "1", "n_speakers": "1", "sample_rate": "22050"}


def _fake_moonshine_wheel(path: Path) -> None:
    base = "moonshine_voice/assets/"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(base + "tiny-en/encoder_model.ort", b"enc")
        z.writestr(base + "tiny-en/decoder_model_merged.ort", b"dec")
        z.writestr(base + "tiny-en/tokenizer.bin", encode_tokenizer([b"<s>", b"", b"ab"]))
        for clip in models.SPEECH_CLIPS:
            z.writestr(base + f"{clip}.wav", b"RIFF" + clip.encode())


def test_fetch_prepares_and_is_idempotent(cache, monkeypatch):
    calls = []

    def fake_download(wheel, into: Path, on_bytes=None) -> Path:
        calls.append(wheel.requirement)
        into.mkdir(parents=True)
        whl = into / "moonshine_voice-0.1.0-py3-none-any.whl"
        _fake_moonshine_wheel(whl)
        return whl

    monkeypatch.setattr(models, "_pip_download", fake_download)
    lines: list[str] = []
    models.fetch(["moonshine"], progress=lines.append)
    assert calls == ["moonshine-voice==0.1.0"]
    assert models.available("moonshine")
    d = models.model_dir("moonshine")
    assert (d / "tokens.txt").read_text().splitlines() == [
        f"{base64.b64encode(b'<s>').decode()} 0", " 1",
        f"{base64.b64encode(b'ab').decode()} 2"]
    assert Path(models.moonshine_paths()["encoder"]).read_bytes() == b"enc"
    assert models.speech_clip("beckett").read_bytes() == b"RIFFbeckett"
    assert any("downloading moonshine-voice==0.1.0" in s for s in lines)
    assert any("ready in" in s for s in lines)
    # no temp leftovers in the cache
    assert sorted(p.name for p in cache.iterdir()) == ["moonshine"]

    lines.clear()
    models.fetch(["moonshine"], progress=lines.append)
    assert calls == ["moonshine-voice==0.1.0"]  # not downloaded again
    assert lines == [f"moonshine: ready in {d}"]


def test_fetch_failure_leaves_no_ready_model(cache, monkeypatch):
    def broken(wheel, into: Path, on_bytes=None) -> Path:
        raise RuntimeError("pip download moonshine-voice==0.1.0 failed (exit 1)")

    monkeypatch.setattr(models, "_pip_download", broken)
    with pytest.raises(RuntimeError, match="pip download"):
        models.fetch(["moonshine"], progress=lambda s: None)
    assert not models.available("moonshine")
    assert [p.name for p in cache.iterdir()] == []


@pytest.mark.skipif(__import__("importlib").util.find_spec("onnx") is None, reason="needs onnx")
def test_prepare_piper_adds_metadata_and_tokens(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("Identity", ["a"], ["b"])], "g",
                          [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("b", TensorProto.FLOAT, [1])])
    src = tmp_path / "src"
    src.mkdir()
    onnx.save(helper.make_model(g), str(src / "v.onnx"))
    (src / "v.onnx.json").write_text(json.dumps({
        "audio": {"sample_rate": 16000}, "espeak": {"voice": "fr"}, "num_speakers": 3,
        "language": {"name_english": "French"},
        "phoneme_id_map": {"_": [0], "^": [1], "a": [14], "\n": [99]},
    }))
    out = tmp_path / "out"
    out.mkdir()
    models._prepare_piper(src / "v.onnx", src / "v.onnx.json", out)
    meta = {p.key: p.value for p in onnx.load(str(out / "v.onnx")).metadata_props}
    assert meta["comment"] == "piper" and meta["voice"] == "fr" and meta["n_speakers"] == "3"
    assert meta["sample_rate"] == "16000" and meta["model_type"] == "vits"
    assert (out / "tokens.txt").read_text().splitlines() == ["_ 0", "^ 1", "a 14"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    res = subprocess.run([sys.executable, "-m", "voicecore.models", *args], capture_output=True, text=True)
    assert "Traceback" not in res.stdout + res.stderr
    return res


def test_cli_path_list_and_bad_name(cache):
    res = _cli("path")
    assert (res.returncode, res.stdout.strip()) == (0, str(cache))
    res = _cli("path", "piper-joe")
    assert (res.returncode, res.stdout.strip()) == (0, str(cache / "piper-joe"))
    res = _cli("fetch", "bogus")
    assert res.returncode == 2 and "unknown model 'bogus'" in res.stderr and len(res.stderr.splitlines()) == 1
    res = _cli("list")
    assert res.returncode == 0
    assert f"cache: {cache}" in res.stdout
    for name, wheel in models.MODELS.items():
        assert re.search(rf"^  {name} +[\d.]+ MB  {wheel.licence} +no  ", res.stdout, flags=re.M), name
    for clip in models.SPEECH_CLIPS:
        assert f"  {clip} " in res.stdout
    assert res.stdout.rstrip().endswith("models fetch moonshine piper-joe silero-vad")
    assert not cache.exists() or not any(cache.iterdir())  # list and path create nothing


def test_api_errors_name_the_function_and_argument(cache):
    with pytest.raises(TypeError, match=r"^voicecore\.models\.fetch\(names\): expected a list of model names, "
                                        r"got the str 'moonshine' \(write \['moonshine'\]\)$"):
        models.fetch("moonshine")
    with pytest.raises(TypeError, match=r"^voicecore\.models\.fetch\(names\): expected a list of model names "
                                        r"or None, got int$"):
        models.fetch(3)
    with pytest.raises(TypeError, match=r"^voicecore\.models\.model_dir\(name\): expected a model name"):
        models.model_dir(3)
    with pytest.raises(ValueError, match=r"^voicecore\.models\.available: unknown model or speech clip 'x'"):
        models.available("x")
    assert models.available("beckett") is False


def test_pip_download_pins_the_hash_and_reports_bytes(tmp_path, monkeypatch):
    """The pip command line (hash-pinned requirement, private temp directory) and
    the progress read from the growing download in that directory."""
    wheel = models.MODELS["silero-vad"]
    seen: dict[str, object] = {}

    class FakePip:
        def __init__(self, cmd, stdout, stderr, env):
            seen["cmd"], seen["env"] = cmd, env
            self.tmp = Path(env["TMPDIR"])
            self.dest = Path(cmd[cmd.index("-d") + 1])
            self.step = 0
            self.returncode = None

        def wait(self, timeout=None):
            self.step += 1
            if self.step <= 3:  # pip writes its download into its temp directory, in pieces
                (self.tmp / "pip-unpack-x").mkdir(exist_ok=True)
                (self.tmp / "pip-unpack-x" / "w.whl").write_bytes(bytes(self.step * 1_000_000))
                raise subprocess.TimeoutExpired("pip", timeout)
            (self.dest / "silero_vad-6.2.3-py3-none-any.whl").write_bytes(b"PK")
            self.returncode = 0
            return 0

        def poll(self):
            return self.returncode

    monkeypatch.setattr(models.subprocess, "Popen", FakePip)
    progress: list[tuple[int, int]] = []
    whl = models._pip_download(wheel, tmp_path / "dl", lambda done, total: progress.append((done, total)))
    assert whl.name == "silero_vad-6.2.3-py3-none-any.whl"
    cmd = seen["cmd"]
    assert cmd[1:4] == ["-m", "pip", "download"] and "--require-hashes" in cmd and "--no-deps" in cmd
    req = Path(cmd[cmd.index("-r") + 1]).read_text()
    assert req == f"silero-vad==6.2.3 --hash=sha256:{wheel.sha256}\n"
    assert progress == [(1_000_000, wheel.size), (2_000_000, wheel.size), (3_000_000, wheel.size),
                        (wheel.size, wheel.size)]  # fmt: skip


def test_pip_download_failure_says_what_pip_said(tmp_path, monkeypatch):
    class FailingPip:
        def __init__(self, cmd, stdout, stderr, env):
            stderr.write("WARNING: something harmless\nERROR: No matching distribution found\n")
            stderr.flush()
            self.returncode = 1

        def wait(self, timeout=None):
            return 1

        def poll(self):
            return 1

    monkeypatch.setattr(models.subprocess, "Popen", FailingPip)
    with pytest.raises(RuntimeError, match=r"(?s)^pip download silero-vad==6\.2\.3 failed \(exit 1\):\n"
                                           r".*ERROR: No matching distribution found$"):
        models._pip_download(models.MODELS["silero-vad"], tmp_path / "dl")


@pytest.mark.skipif(__import__("importlib").util.find_spec("onnx") is None, reason="needs onnx")
def test_metadata_entries_parse_as_onnx_metadata():
    import onnx

    meta = {"a": "1", "long": "x" * 300, "ünï": "cödé"}
    m = onnx.ModelProto.FromString(models.onnx_metadata_entries(meta))
    assert {p.key: p.value for p in m.metadata_props} == meta

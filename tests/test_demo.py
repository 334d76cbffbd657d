"""``voicecore demo`` (the README's main job) makes a real call: it runs in a
subprocess, exits 0 without a traceback, explains every figure with its unit,
and writes both sides' audio and the picture."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("voicecore.jitter")
if not sys.platform.startswith("linux"):
    pytest.skip("the demo's call runs on the Linux audio engine", allow_module_level=True)

from voicecore import models  # noqa: E402
from voicecore.cli import demo  # noqa: E402

HAVE_SHERPA = importlib.util.find_spec("sherpa_onnx") is not None
HAVE_STT = HAVE_SHERPA and models.available("moonshine")
HAVE_TTS = HAVE_SHERPA and models.available("piper-joe") and demo._phonemizer_missing() is None
HAVE_PLOT = importlib.util.find_spec("matplotlib") is not None

# Rows every call prints: label -> a regex its value(s) must match (units included).
ROWS = {
    "caller says": r"\d+\.\d s",
    "network, each way": r"\d+(\.\d)? %",
    "WER, caller -> agent": r"(\d+(\.\d)? %|n/a)",
    "WER, agent -> caller": r"(\d+(\.\d)? %|n/a)",
    "packets received": r"\d+ \d+",
    "packets lost": r"\d+ \d+",
    "packets late": r"\d+ \d+",
    "audio concealed": r"\d+ ms \d+ ms",
    "jitter": r"\d+(\.\d)? ms \d+(\.\d)? ms",
    "playout delay": r"\d+ ms \d+ ms",
    "packets sent": r"\d+ \d+",
    "pacing lateness p99": r"\d+(\.\d)? ms \d+(\.\d)? ms",
    "time to first reply audio": r"\d+\.\d\d s",
    "network + playout, in": r"\d+\.\d\d s",
    "end-of-turn wait": r"\d+\.\d\d s",
    "first TTS audio": r"\d+\.\d\d s",
    "network + playout, out": r"\d+\.\d\d s",
}


def rows(out: str) -> dict[str, tuple[str, str]]:
    """label -> (values, note) of the demo's rows: ``  label`` in 26 columns,
    then one or two right-aligned values, then the note (values joined by
    single spaces, e.g. ``"3.5 ms 2.6 ms"``)."""
    found: dict[str, tuple[str, str]] = {}
    for line in out.splitlines():
        if not line.startswith("  ") or len(line) <= 28 or line[2] == " " and line[4] == " ":
            continue
        label, rest = line[2:28].strip(), line[28:]
        m = re.match(r"((?: +(?:\d+(?:\.\d+)?(?: ms| s| %)?|n/a))+)(?: {2,}(.*))?$", rest)
        if label and m:
            found.setdefault(label, (" ".join(m.group(1).split()), m.group(2) or ""))
    return found


def run_demo(tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 240
             ) -> tuple[subprocess.CompletedProcess[str], dict[str, tuple[str, str]]]:  # fmt: skip
    e = dict(os.environ)
    e.update(env or {})
    res = subprocess.run([sys.executable, "-m", "voicecore", "demo", "--out", str(tmp_path / "out"), *args],
                         capture_output=True, text=True, env=e, timeout=timeout)  # fmt: skip
    assert "Traceback" not in res.stdout + res.stderr, res.stdout + res.stderr
    assert res.returncode == 0, res.stderr
    return res, rows(res.stdout)


def check_outputs(folder: Path, out: str) -> None:
    for name in ("caller.wav", "agent.wav"):
        with wave.open(str(folder / name)) as w:
            assert (w.getnchannels(), w.getframerate(), w.getsampwidth()) == (2, 16000, 2)
            x = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).reshape(-1, 2)
        said, heard = x[:, 0].astype(float), x[:, 1].astype(float)
        assert np.sqrt(np.mean(said**2)) > 100 and np.sqrt(np.mean(heard**2)) > 100, name  # both carry audio
    png = folder / "call.png"
    if HAVE_PLOT:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "call.png" in out and "red lines: packets the" in out
    else:
        assert not png.exists() and "pip install 'voicecore[plot]'" in out


def test_mock_call_runs_explains_and_writes(tmp_path):
    res, got = run_demo(tmp_path, "--mock", "--clip", "clone-test", "--seed", "2")
    out = res.stdout
    assert res.stderr == ""
    for label, pattern in ROWS.items():
        assert label in got, (label, out)
        assert re.fullmatch(pattern, got[label][0]), (label, got[label])
    for label in ("packets lost", "packets late", "audio concealed", "jitter", "playout delay",
                  "pacing lateness p99", "time to first reply audio"):  # fmt: skip
        assert len(got[label][1]) > 20, f"{label} is not explained"
    assert re.search(r"^  agent hears with +mock \(MockSTTProvider", out, re.M)
    # The call happened, in order, and both directions carried packets.
    events = re.findall(r"^\[ *(\d+\.\d) s\] (caller starts|agent heard|agent: the caller|caller hears)", out, re.M)
    assert [e[1] for e in events][:1] == ["caller starts"] and "caller hears" in [e[1] for e in events]
    received = [int(v) for v in got["packets received"][0].split()]
    sent = [int(v) for v in got["packets sent"][0].split()]
    assert min(received) > 50 and min(sent) > 50
    lost = [int(v) for v in got["packets lost"][0].split()]
    assert sum(lost) > 0  # 2 % each way over a few hundred packets (seed 2)
    check_outputs(tmp_path / "out", out)


def test_a_perfect_network_loses_nothing(tmp_path):
    _, got = run_demo(tmp_path, "--mock", "--clip", "clone-test", "--loss", "0", "--jitter-ms", "0",
                      "--reorder", "0")  # fmt: skip
    assert got["packets lost"][0].split() == ["0", "0"]
    assert got["packets late"][0].split() == ["0", "0"]
    assert got["network, each way"][0] == "0 %"


@pytest.mark.skipif(not (HAVE_STT and HAVE_TTS), reason="needs sherpa-onnx, Moonshine, Piper joe and espeak-ng")
def test_real_call_is_understood_both_ways(tmp_path):
    """With the real models and a clean network the agent understands the
    caller and the caller understands the agent."""
    res, got = run_demo(tmp_path, "--loss", "0", "--jitter-ms", "0", "--reorder", "0")
    assert "Moonshine" in res.stdout and "Piper voice 'joe'" in res.stdout
    wer_in = float(got["WER, caller -> agent"][0].split()[0])
    wer_out = float(got["WER, agent -> caller"][0].split()[0])
    assert wer_in <= 10 and wer_out <= 15, res.stdout
    assert re.search(r"agent heard \(\d+\.\d-\d+\.\d s\): \"Ever tried", res.stdout)  # transcribed as it arrived
    total = float(got["time to first reply audio"][0].split()[0])
    assert 1.4 <= total < 4.0  # the end-of-turn wait (1.4 s) plus recognition, TTS, network
    check_outputs(tmp_path / "out", res.stdout)


def test_without_models_it_uses_mocks_and_says_what_to_run(tmp_path):
    cache = tmp_path / "models"
    cache.mkdir()
    res, got = run_demo(tmp_path, "--no-fetch", env={"VOICECORE_MODELS_DIR": str(cache)})
    out = res.stdout
    assert "synthetic voice-like signal" in out
    assert "mock (MockSTTProvider" in out and "mock (MockTTSProvider" in out
    if HAVE_SHERPA:
        assert "-m voicecore models fetch moonshine" in out and "-m voicecore models fetch piper-joe" in out
    else:
        assert "pip install 'voicecore[sherpa-onnx]'" in out
    assert got["WER, caller -> agent"][0] == "n/a"
    assert list(cache.iterdir()) == []  # --no-fetch downloaded nothing


def test_out_folder_that_cannot_be_made_is_a_usage_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = subprocess.run([sys.executable, "-m", "voicecore", "demo", "--mock", "--out", str(blocker / "sub")],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "argument --out: cannot create" in res.stderr and len(res.stderr.splitlines()) == 1


def test_reference_texts_are_what_the_clips_say():
    """The published texts are the words of the recordings: the recognizer's
    transcript of each original clip differs from them only by a few words."""
    if not HAVE_STT:
        pytest.skip("needs sherpa-onnx and the Moonshine model")
    import asyncio

    from voicecore import AudioChunk
    from voicecore.media.resample import Resampler
    from voicecore.stt.sherpa_onnx import SherpaOnnxSTTConfig, SherpaOnnxSTTProvider

    stt = SherpaOnnxSTTProvider(SherpaOnnxSTTConfig(mode="moonshine", **models.moonshine_paths()))
    for clip, (text, _source) in demo.REFERENCE_TEXTS.items():
        with wave.open(str(models.speech_clip(clip))) as w:
            rate, raw = w.getframerate(), w.readframes(w.getnframes())
        r = Resampler(rate, 16000)
        pcm = raw if rate == 16000 else r.process(raw) + r.flush()
        heard = asyncio.run(stt.transcribe(AudioChunk(data=pcm, sample_rate=16000))).text
        assert demo.word_error_rate(text, heard) <= 0.05, (clip, heard)


def test_word_error_rate():
    wer = demo.word_error_rate
    assert wer("Ever tried. Ever failed.", "ever tried, ever failed") == 0.0
    assert wer("a b c d", "a x c d") == 0.25  # one substitution
    assert wer("a b c d", "a c d") == 0.25  # one deletion
    assert wer("a b c d", "a b c d e f") == 0.5  # two insertions
    assert wer("a b", "") == 1.0
    assert wer("", "") == 0.0


def test_reply_repeats_what_was_heard():
    from voicecore.cli._call import reply_for

    assert reply_for("Ever tried. Ever failed.") == "Thank you for calling. I heard you say: ever tried ever failed. Goodbye."
    assert "did not catch that" in reply_for("")


def test_without_a_phonemizer_the_voice_is_the_mock_and_it_says_what_to_install(monkeypatch):
    """A fresh machine without espeak-ng: the agent speaks with the mock, and
    the demo names both ways to get a phonemizer."""
    if not (HAVE_SHERPA and models.available("piper-joe")):
        pytest.skip("needs sherpa-onnx and the Piper voice (the check comes after them)")
    import argparse

    from voicecore.cli._progress import Progress

    monkeypatch.setattr(demo, "_phonemizer_missing", lambda: "no espeak-ng library found")
    args = argparse.Namespace(mock=False, no_fetch=True)
    prov = demo._providers(args, Progress(quiet=True), print, "voicecore")
    assert not prov.tts_real and prov.tts_label.startswith("mock (MockTTSProvider")
    assert any("pip install 'voicecore[phonemizer]'" in m and "apt-get install espeak-ng" in m for m in prov.missing)
    assert prov.stt_real == HAVE_STT  # the recognizer does not need the phonemizer

"""``voicecore demo`` (the README's main job) runs, reports sane figures, and
explains each one: a unit on every figure, the same lines for every clip."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("voicecore.jitter")

from voicecore import models  # noqa: E402
from voicecore.cli import demo  # noqa: E402
from voicecore.cli import main  # noqa: E402

HAVE_SPEECH = models.available("moonshine")
HAVE_STT = HAVE_SPEECH and demo._recognizer_missing() is None

# Every row the demo prints: label -> the unit its value must carry ("" for a count).
ROWS = {
    "speech": "s", "network (simulated)": "%",
    "G.711 mu-law encode": "us", "jitter buffer push + pull": "us", "resample 8000 -> 16000 Hz": "us",
    "s16le -> float32": "us", "total": "us",
    "packets received": "", "packets lost": "", "packets late": "", "audio concealed": "ms",
    "playout delay": "ms", "measured jitter": "ms",
    "G.711 alone": "dB", "after the network": "dB", "end-to-end delay": "ms",
}  # fmt: skip
STT_ROWS = {"WER after the phone path": "%", "WER of the original clip": "%", "words the path changed": "%",
            "real-time factor (RTF)": ""}  # fmt: skip


def rows(out: str) -> dict[str, tuple[str, str]]:
    """label -> (value, note) of the demo's ``  label   value  note`` rows."""
    found: dict[str, tuple[str, str]] = {}
    label = None
    for line in out.splitlines():
        m = re.match(r"^  (\S.{0,24}?) {2,}(\S+(?: \S+)?)(?:  (.*))?$", line)
        if m:
            label = m.group(1).strip()
            found[label] = (m.group(2), m.group(3) or "")
        elif label is not None and line.startswith(" " * 30) and line.strip():  # a wrapped note
            found[label] = (found[label][0], f"{found[label][1]} {line.strip()}")
        else:
            label = None
    return found


def run_demo(capsys, *args: str) -> tuple[str, dict[str, tuple[str, str]]]:
    assert main(["demo", *args], prog="voicecore") == 0
    out = capsys.readouterr().out
    return out, rows(out)


def number(value: str) -> float:
    return float(re.match(r"[\d.]+", value).group(0))


def test_demo_runs_the_telephony_path(capsys):
    out, got = run_demo(capsys, "--no-fetch", "--loss", "0.05", "--seed", "3")
    assert got["resample 16000 -> 8000 Hz"][0].endswith(" us")  # beckett and the synthetic signal: 16 kHz
    explained = ["packets received", "packets lost", "packets late", "audio concealed", "playout delay",
                 "measured jitter", "G.711 alone", "after the network", "end-to-end delay"]  # fmt: skip
    for label, unit in ROWS.items():
        value = got[label][0]
        assert value.endswith(unit), (label, value)
        if label in explained:
            assert len(got[label][1]) > 20, f"{label} is not explained"
    snr = number(got["G.711 alone"][0])
    assert 30.0 < snr < 45.0  # mu-law on speech: ~36-38 dB; far off means a broken stage
    received, lost = int(got["packets received"][0]), int(got["packets lost"][0])
    assert lost > 0 and received > 10 * lost  # 5 % loss reached the jitter buffer and was counted
    assert "of one CPU core per call" in got["total"][1]
    assert "found by cross-correlation" in got["end-to-end delay"][1]  # "aligned at" explained
    assert "the word error rate below" in got["after the network"][1]  # "dB after the network" explained
    if HAVE_STT:  # the phone path must stay intelligible
        assert number(got["WER after the phone path"][0]) <= 10
        assert "below 1 keeps up with a live call" in got["real-time factor (RTF)"][1]


def test_demo_no_loss_has_no_concealment(capsys):
    _, got = run_demo(capsys, "--no-fetch", "--loss", "0", "--jitter-ms", "0")
    assert got["packets lost"][0] == "0" and got["packets late"][0] == "0"
    events = int(re.match(r"in (\d+) gaps", got["audio concealed"][1]).group(1))
    assert events <= 1  # only where the sender stops at the end of the clip
    # Everything inside the call played untouched: only G.711 quantisation is left.
    assert number(got["after the network"][0]) > 45.0


@pytest.mark.skipif(not HAVE_STT, reason="needs sherpa-onnx and the Moonshine model")
def test_same_lines_for_every_clip_and_a_word_error_rate_where_the_text_is_known():
    labels = {}
    for clip in models.SPEECH_CLIPS:
        res = subprocess.run([sys.executable, "-m", "voicecore", "demo", "--clip", clip],
                             capture_output=True, text=True, timeout=300)  # fmt: skip
        assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
        got = rows(res.stdout)
        labels[clip] = sorted(got)
        assert set(ROWS) | set(STT_ROWS) <= set(got) | {"resample 16000 -> 8000 Hz"}, clip
        wer = got["WER after the phone path"][0]
        if clip in demo.REFERENCE_TEXTS:
            assert number(wer) <= 10, (clip, wer)
            assert number(got["WER of the original clip"][0]) <= 5, clip
        else:
            assert wer == "n/a" and "no reference text" in got["WER after the phone path"][1]
        assert number(got["words the path changed"][0]) <= 15, clip
    # Same rows for all (the resampler row names the clip's own rate).
    norm = {c: [re.sub(r"resample \d+ -> 8000 Hz", "resample R -> 8000 Hz", x) for x in v] for c, v in labels.items()}
    assert len({tuple(v) for v in norm.values()}) == 1, norm


def test_reference_texts_are_what_the_clips_say():
    """The published texts are the words of the recordings: the recognizer's
    transcript of each original clip differs from them only by a few words
    (it adds a number at the very start and end of the long clip)."""
    if not HAVE_STT:
        pytest.skip("needs sherpa-onnx and the Moonshine model")
    import asyncio
    import wave

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


def test_best_lag_finds_a_known_delay():
    import numpy as np

    x = np.random.default_rng(1).standard_normal(8000)
    delayed = np.concatenate([np.zeros(992), x])[:8000]
    assert demo.best_lag(x, delayed, 2400) == 992


def test_without_speech_clips_it_says_what_to_run(tmp_path):
    env = dict(os.environ, VOICECORE_MODELS_DIR=str(tmp_path))
    res = subprocess.run([sys.executable, "-m", "voicecore", "demo", "--no-fetch"],
                         capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert res.returncode == 0 and res.stderr == ""
    assert "synthetic voice-like signal" in res.stdout
    assert "speech recognition: skipped (the synthetic signal is not speech; real clips and the recognizer: " in res.stdout
    assert "-m voicecore models fetch moonshine)" in res.stdout
    assert list(tmp_path.iterdir()) == []  # --no-fetch downloaded nothing

"""`python -m voicecore demo` (the README's main job) runs and reports sane figures."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("voicecore.jitter")

from voicecore.__main__ import main  # noqa: E402


def test_demo_runs_the_telephony_path(capsys):
    assert main(["demo", "--no-fetch", "--loss", "0.05", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    for stage in ("Hz -> 8 kHz", "G.711 mu-law encode", "jitter buffer push + pull", "8 kHz -> 16 kHz", "float32"):
        assert stage in out
    snr = float(re.search(r"G\.711 round trip SNR: ([\d.]+) dB", out).group(1))
    assert 30.0 < snr < 45.0  # mu-law on speech: ~36-38 dB; far off means a broken stage
    m = re.search(r"received (\d+), lost (\d+), late (\d+)", out)
    received, lost, late = map(int, m.groups())
    assert lost > 0 and received > 10 * lost  # 5 % loss reached the jitter buffer and was counted
    wer = re.search(r"word error rate vs the known text: (\d+)%", out)
    if wer:  # Moonshine available: the phone path must stay intelligible
        assert int(wer.group(1)) <= 10


def test_demo_no_loss_has_no_concealment(capsys):
    assert main(["demo", "--no-fetch", "--loss", "0", "--jitter-ms", "0"]) == 0
    out = capsys.readouterr().out
    m = re.search(r"lost (\d+), late (\d+), concealed (\d+) samples in (\d+) events", out)
    lost, late, _samples, events = map(int, m.groups())
    assert lost == 0 and late == 0
    assert events <= 1  # only where the sender stops at the end of the clip
    # Everything inside the call played untouched: only G.711 quantisation is left.
    after = float(re.search(r"after the network \(aligned at \d+ ms\): ([\d.]+) dB", out).group(1))
    assert after > 45.0

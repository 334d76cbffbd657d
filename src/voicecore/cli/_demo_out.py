"""What ``voicecore demo`` writes: each side's audio as a stereo WAV (left:
what it said, right: what it heard, both on the call's clock) and one PNG of
both directions (waveforms and levels, with the packets the network lost and
the frames the jitter buffer concealed marked)."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["tracks", "write_plot", "write_wavs"]

RATE = 16000


def _place(frames: list[tuple[int, bytes]], t0_ns: int, rate: int, length: int, contiguous: bool) -> np.ndarray:
    """Frames (send or delivery time ns, s16le) on one timeline at ``rate``.
    ``contiguous``: frames follow each other from the first one's time (a
    receiver delivers one frame per 20 ms without gaps); otherwise each
    sits at its own time (a sender is silent between talkspurts)."""
    out = np.zeros(length, dtype=np.int16)
    pos = None
    for t_ns, pcm in frames:
        x = np.frombuffer(pcm, dtype=np.int16)
        if pos is None or not contiguous:
            pos = int(round((t_ns - t0_ns) * rate / 1e9))
        a, b = max(0, pos), min(length, pos + len(x))
        if b > a:
            out[a:b] = x[a - pos : b - pos]
        pos += len(x)
    return out


def _up(x8k: np.ndarray) -> np.ndarray:
    from voicecore.media.resample import Resampler

    r = Resampler(8000, 16000)
    y = np.frombuffer(r.process(x8k.tobytes()) + r.flush(), dtype=np.int16)[2 * r.latency :]
    return np.pad(y, (0, max(0, 2 * len(x8k) - len(y))))[: 2 * len(x8k)]


def tracks(res: Any) -> dict[str, Any]:
    """Both directions on the call's clock (16 kHz int16), the concealed
    frames of each receiver and the network's losses (seconds since the start)."""
    t0 = int(res.timeline.start * 1e9)
    ends = [t for t, _ in res.caller.sent + res.agent.sent] + [t for t, _, _ in res.caller.heard + res.agent.heard]
    seconds = (max(ends) - t0) / 1e9 + 0.1 if ends else 1.0
    n16, n8 = int(seconds * RATE), int(seconds * 8000)
    out: dict[str, Any] = {"seconds": seconds}
    for who in ("caller", "agent"):
        ep = getattr(res, who)
        out[f"{who}_said"] = _up(_place(ep.sent, t0, 8000, n8, contiguous=False))
        heard = [(t, pcm) for t, pcm, _ in ep.heard]
        out[f"{who}_heard"] = _place(heard, t0, RATE, n16, contiguous=True)
        first = ep.heard[0][0] if ep.heard else t0
        out[f"{who}_concealed"] = [(first - t0) / 1e9 + i * 0.02 for i, (_, _, k) in enumerate(ep.heard)
                                   if k == "concealed"]  # fmt: skip
    out["lost_to_agent"] = [(t - t0) / 1e9 for d, t, _ in res.relay_drops if d == "a->b"]
    out["lost_to_caller"] = [(t - t0) / 1e9 for d, t, _ in res.relay_drops if d == "b->a"]
    return out


def write_wavs(tr: dict[str, Any], folder: Path) -> list[Path]:
    """caller.wav and agent.wav: 16 kHz stereo, left what that side said,
    right what it heard."""
    paths = []
    for who in ("caller", "agent"):
        said, heard = tr[f"{who}_said"], tr[f"{who}_heard"]
        n = max(len(said), len(heard))
        both = np.zeros((n, 2), dtype=np.int16)
        both[: len(said), 0], both[: len(heard), 1] = said, heard
        path = folder / f"{who}.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(both.tobytes())
        paths.append(path)
    return paths


def _levels(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = RATE // 50
    n = len(x) // f
    e = (x[: n * f].astype(np.float64).reshape(n, f) / 32768.0) ** 2
    return np.arange(n) * 0.02, np.maximum(-60.0, 10 * np.log10(e.mean(axis=1) + 1e-12))


def write_plot(tr: dict[str, Any], res: Any, path: Path, title: str) -> None:
    """The PNG: per direction a waveform and a level panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(4, 1, figsize=(13, 9), sharex=True)
    t = np.arange(int(tr["seconds"] * RATE)) / RATE
    rows = (("caller", "agent", "lost_to_agent", "caller -> agent"),
            ("agent", "caller", "lost_to_caller", "agent -> caller"))  # fmt: skip
    for k, (src, dst, lost_key, name) in enumerate(rows):
        wave_ax, lvl_ax = axes[2 * k], axes[2 * k + 1]
        said, heard = tr[f"{src}_said"], tr[f"{dst}_heard"]
        wave_ax.plot(t[: len(said)], said / 32768.0, color="0.45", lw=0.4, label=f"sent by the {src}")
        wave_ax.plot(t[: len(heard)], heard / 32768.0, color="tab:blue", lw=0.4, alpha=0.6,
                     label=f"heard by the {dst}")  # fmt: skip
        wave_ax.set_ylim(-1.05, 1.05)
        wave_ax.set_ylabel("amplitude")
        wave_ax.set_title(f"{name}: waveforms", fontsize=9, loc="left")
        for ax in (wave_ax, lvl_ax):
            for i, x in enumerate(tr[lost_key]):
                ax.axvline(x, color="tab:red", lw=0.8, alpha=0.8,
                           label="packet lost by the network" if i == 0 and ax is wave_ax else None)
            for i, x in enumerate(tr[f"{dst}_concealed"]):
                ax.axvspan(x, x + 0.02, color="tab:orange", alpha=0.35, lw=0,
                           label=f"concealed by the {dst}'s jitter buffer" if i == 0 and ax is wave_ax else None)
        lvl_ax.plot(*_levels(said), color="0.45", lw=0.8, label="sent")
        lvl_ax.plot(*_levels(heard), color="tab:blue", lw=0.8, label="heard")
        lvl_ax.set_ylim(-62, 0)
        lvl_ax.set_ylabel("level, dBFS")
        lvl_ax.set_title(f"{name}: level per 20 ms (heard later than sent: network + playout delay)",
                         fontsize=9, loc="left")  # fmt: skip
        wave_ax.legend(fontsize=7, loc="upper right", ncol=4)
    for s0, s1, text in res.agent_segments:
        axes[1].axvspan(s0, s1, color="tab:green", alpha=0.08, lw=0)
        axes[1].text(s0, -8, text[:60], fontsize=6, va="top")
    axes[-1].set_xlabel("seconds since the call started")
    for ax in axes:
        ax.grid(alpha=0.25)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

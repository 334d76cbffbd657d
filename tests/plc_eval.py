"""PESQ evaluation of packet loss concealment on real speech (tests and benchmarks).

Speech comes from ``voicecore.models.speech_clip(name)`` when that exists, else
from ``$VOICECORE_SPEECH_DIR/<name>.wav`` (the wavs of the PyPI wheel
``moonshine-voice==0.1.0``, see MODELS.md). It is downsampled to 8 kHz with
``scipy.signal.resample_poly``, encoded as G.711 mu-law and sent in 20 ms
packets through :mod:`voicecore.testing.netsim`. The reference for PESQ NB
(``pesq`` package, mode 'nb') is the loss-free decoded mu-law signal.

Compared in one run on the same loss pattern:

* ``voicecore``: the jitter buffer's own output (parse, playout, concealment),
  aligned to the reference by its constant delay;
* ``aiortp_fade``: aiortp's ``PcmConcealer`` (frame repeat with a linear fade,
  as roomkit's RTP backend uses it), given every loss at its exact place;
* ``frame_repeat``: each lost frame replaced by the previous output frame;
* ``silence``: each lost frame replaced by zeros.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from voicecore.testing import netsim as ns

__all__ = ["speech_path", "load_speech_8k", "evaluate", "LOSS_MODELS"]

LOSS_MODELS = {
    "random10": dict(loss=0.10),
    "gilbert10_burst3": dict(gilbert=(0.10, 3.0)),
}


def speech_path(name: str = "beckett") -> Path | None:
    """Path of a speech clip, or None when it is not available here."""
    try:
        from voicecore import models  # type: ignore[attr-defined]

        fn = getattr(models, "speech_clip", None)
        if fn is not None:
            p = fn(name)
            if p is not None and Path(p).exists():
                return Path(p)
    except ImportError:
        pass
    d = os.environ.get("VOICECORE_SPEECH_DIR")
    if d and (Path(d) / f"{name}.wav").exists():
        return Path(d) / f"{name}.wav"
    return None


def load_speech_8k(path: Path) -> np.ndarray:
    """Mono s16 at 8 kHz (polyphase downsampling with scipy)."""
    from math import gcd

    import scipy.io.wavfile as wavfile
    from scipy.signal import resample_poly

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rate, x = wavfile.read(str(path))
    if x.ndim > 1:
        x = x.mean(axis=1)
    g = gcd(rate, 8000)
    y = resample_poly(x.astype(np.float64), 8000 // g, rate // g)
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def _pesq(ref: np.ndarray, deg: np.ndarray) -> float:
    from pesq import pesq

    return float(pesq(8000, ref.astype(np.float64), deg.astype(np.float64), "nb"))


def evaluate(speech8k: np.ndarray, model: str, seed: int, base_delay_ms: float = 40, **jb_kwargs) -> dict[str, float]:
    """PESQ NB of each concealment strategy for one loss pattern."""
    from voicecore.jitter import JitterBuffer

    ref = ns.ulaw_decode(ns.ulaw_encode(speech8k))
    n = len(ref) // 160 * 160
    ref = ref[:n]
    s = ns.Sender(audio=speech8k[:n])
    s.talk(n * 1000 // 8000)
    s.silence(200)
    arr = ns.deliver(s.packets, seed=seed, base_delay_ms=base_delay_ms, **LOSS_MODELS[model])
    got = {id(a.packet) for a in arr}
    lost = np.array([id(p) not in got for p in s.packets[: n // 160]])

    jb = JitterBuffer(**jb_kwargs)
    res = ns.run(jb, arr, start_ns=s.start_ns, duration_ms=n // 8 + 600)
    # constant playout delay: find it exactly on a loss-free stretch
    out = res.pcm
    i0 = next(i for i in range(1, len(lost) - 4) if not lost[i - 1:i + 4].any())
    pat = ref[i0 * 160:(i0 + 3) * 160]
    win = np.lib.stride_tricks.sliding_window_view(out, len(pat))
    hit = np.flatnonzero((win[:, 0] == pat[0]) & (win == pat).all(axis=1))
    d = int(hit[0]) - i0 * 160
    scores = {"voicecore": _pesq(ref, out[d:d + n])}

    frames = ref.reshape(-1, 160)
    rep = frames.copy()
    sil = frames.copy()
    for i, l in enumerate(lost):
        if l:
            sil[i] = 0
            rep[i] = rep[i - 1] if i else 0
    scores["frame_repeat"] = _pesq(ref, rep.ravel())
    scores["silence"] = _pesq(ref, sil.ravel())
    try:
        from aiortp.plc import PcmConcealer
    except ImportError:
        pass
    else:
        pc = PcmConcealer(sample_rate=8000)
        parts = []
        for i, l in enumerate(lost):
            if l:
                parts.append(pc.conceal(160) if pc.frame_samples else bytes(320))
            else:
                b = frames[i].tobytes()
                pc.update(b)
                parts.append(b)
        scores["aiortp_fade"] = _pesq(ref, np.frombuffer(b"".join(parts), dtype=np.int16))
    return scores

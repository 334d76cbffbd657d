"""Argument checks of ``JitterBuffer(...)`` (voicecore._native.media.jitter).

Plain Python, run once per buffer at construction: every bad argument is a
TypeError / ValueError naming JitterBuffer and the argument. ``check``
returns the validated settings; the native constructor only converts and
allocates. Not an API.
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULTS = {
    "clock_rate": 8000, "frame_ms": 20, "payload_types": None, "dtmf_payload_type": 101,
    "cn_payload_type": 13, "min_delay_ms": 60, "max_delay_ms": 200, "initial_delay_ms": None,
    "capacity": 64, "concealment": True, "comfort_noise": True, "dtmf_timeout_ms": 250,
    "fade_start_ms": 10, "silent_after_ms": 60, "blend_ms": 60, "concealment_noise": 0.25, "fec": True,
}

# accepted spellings -> canonical codec names
CODECS = {"pcmu": "pcmu", "ulaw": "pcmu", "mu-law": "pcmu", "g711u": "pcmu",
          "pcma": "pcma", "alaw": "pcma", "a-law": "pcma", "g711a": "pcma",
          "l16": "l16", "g722": "g722", "g.722": "g722", "opus": "opus"}
# codecs that fix the sample rate (stateful decoders): never mixed with others
STATEFUL = ("g722", "opus")
OPUS_RATES = (8000, 16000, 24000, 48000)


def _int(kw: dict, name: str, unit: str) -> int:
    v = kw[name]
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"JitterBuffer: {name} must be an int ({unit}), got {type(v).__name__}")
    return v


def _pt(kw: dict, name: str) -> int:
    v = kw[name]
    if v is None:
        return -1
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"JitterBuffer: {name} must be an int 0-127 (RTP payload type) or None, "
                        f"got {type(v).__name__}")
    if not 0 <= v <= 127:
        raise ValueError(f"JitterBuffer: {name} must be 0-127 (RTP payload type) or None, got {v}")
    return v


def _payload_types(pts: object, clock_rate: int) -> tuple[dict[int, str], str | None]:
    """{pt: canonical codec} and the stateful codec (or None)."""
    if not isinstance(pts, Mapping):
        raise TypeError(f"JitterBuffer: payload_types must be a mapping "
                        f"{{pt: 'pcmu' | 'pcma' | 'l16' | 'g722' | 'opus'}}, got {type(pts).__name__}")
    out: dict[int, str] = {}
    for pt, codec in pts.items():
        if isinstance(pt, bool) or not isinstance(pt, int):
            raise TypeError(f"JitterBuffer: payload_types keys must be ints 0-127 (RTP payload types), got {pt!r}")
        if not 0 <= pt <= 127:
            raise ValueError(f"JitterBuffer: payload_types keys must be 0-127 (RTP payload types), got {pt}")
        key = str(codec).lower()
        if key not in CODECS:
            raise ValueError(f"JitterBuffer: payload_types[{pt}] = {codec!r}: unsupported codec "
                             f"(use 'pcmu', 'pcma', 'l16', 'g722' or 'opus')")
        out[pt] = CODECS[key]
    stateful = sorted({c for c in out.values() if c in STATEFUL})
    if not stateful:
        return out, None
    name = stateful[0]
    pt = next(p for p, c in out.items() if c == name)
    if len(set(out.values())) > 1:
        raise ValueError(f"JitterBuffer: payload_types[{pt}] = {name!r} cannot be mixed with other codecs "
                         f"(it fixes the sample rate), got {dict(pts)!r}")
    if name == "g722" and clock_rate != 16000:
        raise ValueError(f"JitterBuffer: payload_types[{pt}] = 'g722' needs clock_rate=16000 (G.722 audio "
                         f"is 16 kHz; its RTP clock is 8000 Hz), got {clock_rate}")
    if name == "opus":
        if clock_rate not in OPUS_RATES:
            raise ValueError(f"JitterBuffer: payload_types[{pt}] = 'opus' needs clock_rate 8000, 16000, "
                             f"24000 or 48000 (Hz: Opus decodes at that rate), got {clock_rate}")
        from voicecore._native.media import opus

        if not opus.AVAILABLE:
            raise opus.OpusUnavailableError(
                f"JitterBuffer: payload_types[{pt}] = 'opus': {opus.UNAVAILABLE_REASON} "
                f"(voicecore.media.opus.require() checks this)")
    return out, name


def check(args: tuple, kwargs: dict) -> dict:
    """The validated settings of ``JitterBuffer(*args, **kwargs)``."""
    if args:
        raise TypeError(f"JitterBuffer() takes keyword arguments only, got {len(args)} positional")
    for name in kwargs:
        if name not in DEFAULTS:
            raise TypeError(f"JitterBuffer() got an unexpected keyword argument {name!r} "
                            f"(accepted: {', '.join(DEFAULTS)})")
    kw = dict(DEFAULTS)
    kw.update(kwargs)
    r: dict = {}
    rate = r["clock_rate"] = _int(kw, "clock_rate", "Hz")
    if rate < 8000 or rate > 48000 or rate % 8000:
        raise ValueError(f"JitterBuffer: clock_rate must be 8000, 16000, 24000, 32000, 40000 or 48000 (Hz), "
                         f"got {rate}")
    fm = r["frame_ms"] = _int(kw, "frame_ms", "ms")
    if fm < 5 or fm > 60 or (rate * fm) % 1000:
        raise ValueError(f"JitterBuffer: frame_ms must be 5-60 (ms) and give whole samples at {rate} Hz, got {fm}")
    cap = r["capacity"] = _int(kw, "capacity", "packets")
    if cap < 16 or cap > 4096 or (cap & (cap - 1)):
        raise ValueError(f"JitterBuffer: capacity must be a power of two in 16-4096 (packets), got {cap}")
    lo = r["min_delay_ms"] = _int(kw, "min_delay_ms", "ms")
    hi = r["max_delay_ms"] = _int(kw, "max_delay_ms", "ms")
    if lo < 0 or hi < lo or hi > 2000:
        raise ValueError(f"JitterBuffer: need 0 <= min_delay_ms <= max_delay_ms <= 2000 (ms), got "
                         f"min_delay_ms={lo}, max_delay_ms={hi}")
    if kw["initial_delay_ms"] is None:
        kw["initial_delay_ms"] = lo
    init = r["initial_delay_ms"] = _int(kw, "initial_delay_ms", "ms")
    if not lo <= init <= hi:
        raise ValueError(f"JitterBuffer: initial_delay_ms must lie in [min_delay_ms, max_delay_ms] = "
                         f"[{lo}, {hi}] (ms), got {init}")
    fs = r["fade_start_ms"] = _int(kw, "fade_start_ms", "ms")
    sa = r["silent_after_ms"] = _int(kw, "silent_after_ms", "ms")
    if not 0 <= fs < sa <= 1000:
        raise ValueError(f"JitterBuffer: need 0 <= fade_start_ms < silent_after_ms <= 1000 (ms), got "
                         f"fade_start_ms={fs}, silent_after_ms={sa}")
    dt = r["dtmf_timeout_ms"] = _int(kw, "dtmf_timeout_ms", "ms")
    if not 1 <= dt <= 60000:
        raise ValueError(f"JitterBuffer: dtmf_timeout_ms must be 1-60000 (ms), got {dt}")
    bl = r["blend_ms"] = _int(kw, "blend_ms", "ms")
    if not 0 <= bl <= 200:
        raise ValueError(f"JitterBuffer: blend_ms must be 0-200 (ms), got {bl}")
    noise = kw["concealment_noise"]
    if isinstance(noise, bool) or not isinstance(noise, (int, float)):
        raise TypeError(f"JitterBuffer: concealment_noise must be a number 0-1, got {type(noise).__name__}")
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"JitterBuffer: concealment_noise must be in [0, 1] (fraction of the RMS), got {noise}")
    r["concealment_noise"] = float(noise)
    for name in ("concealment", "comfort_noise", "fec"):
        if not isinstance(kw[name], (bool, int)):
            raise TypeError(f"JitterBuffer: {name} must be a bool, got {type(kw[name]).__name__}")
        r[name] = bool(kw[name])
    pts = {0: "pcmu", 8: "pcma"} if kw["payload_types"] is None else kw["payload_types"]
    r["payload_types"], r["stateful"] = _payload_types(pts, rate)
    dtmf = r["dtmf_payload_type"] = _pt(kw, "dtmf_payload_type")
    cn = r["cn_payload_type"] = _pt(kw, "cn_payload_type")
    for name, v in (("dtmf_payload_type", dtmf), ("cn_payload_type", cn)):
        if v != -1 and v in r["payload_types"]:
            raise ValueError(f"JitterBuffer: {name} {v} is also an audio payload type")
    if dtmf != -1 and dtmf == cn:
        raise ValueError("JitterBuffer: dtmf_payload_type and cn_payload_type must differ")
    return r

"""Smoke test of an installed voicecore: every native module imports, G.711 is
bit-exact with audioop, and on a free-threaded build the GIL stays disabled."""

import importlib
import os
import sys
import sysconfig
import warnings

MODULES = ["media.g711", "media.pcm", "media.resample", "media.jitter", "media.ring.sample", "media.ring.aec",
           "media.ring.frames", "media.g722", "media.opus", "media.srtp", "providers._sherpa_lib", "providers.sherpa",
           "providers.sherpa_tts"]
if sys.platform.startswith("linux"):
    MODULES += ["engine.rtcp", "engine.addr", "engine.sink", "engine.stats", "engine.tick", "engine.io", "engine.engine"]

for name in MODULES:
    importlib.import_module(f"voicecore._native.{name}")
import voicecore  # noqa: E402
from voicecore import codec  # noqa: E402

# every pure-Python module of the package imports on this Python (a 3.12-only
# name such as collections.abc.Buffer at run time would fail here on 3.11)
import pkgutil  # noqa: E402

for info in pkgutil.walk_packages(voicecore.__path__, "voicecore."):
    if ".cli" in info.name or info.name.endswith("__main__"):
        continue
    try:
        importlib.import_module(info.name)
    except ImportError as e:
        # optional extras (roomkit, aiortp, sherpa-onnx, matplotlib...) may be missing; our own names may not
        if getattr(e, "name", "") and not str(e.name).startswith("voicecore") and "cannot import name" not in str(e):
            continue
        raise
from voicecore.media.g722 import G722Decoder, G722Encoder  # noqa: E402

assert len(G722Decoder().decode(G722Encoder().encode(bytes(640)))) == 640

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop
    except ImportError:
        audioop = None

pcm = b"".join(i.to_bytes(2, "little", signed=True) for i in range(-32768, 32768))
codes = bytes(range(256))
if audioop is not None:
    assert codec.lin2ulaw(pcm) == audioop.lin2ulaw(pcm, 2)
    assert codec.lin2alaw(pcm) == audioop.lin2alaw(pcm, 2)
    assert codec.ulaw2lin(codes) == audioop.ulaw2lin(codes, 2)
    assert codec.alaw2lin(codes) == audioop.alaw2lin(codes, 2)
else:
    assert codec.ulaw2lin(codec.lin2ulaw(b"\x00\x00")) == b"\x00\x00"

# Opus and SRTP: a wheel that bundles the libraries must have them working
# (VOICECORE_REQUIRE_CODECS=1 in the wheel jobs); otherwise say what is there.
from voicecore.media import opus, srtp  # noqa: E402

if os.environ.get("VOICECORE_REQUIRE_CODECS") == "1":
    assert opus.AVAILABLE, opus.UNAVAILABLE_REASON
    assert srtp.AVAILABLE, srtp.UNAVAILABLE_REASON
if opus.AVAILABLE:
    enc, dec = opus.OpusEncoder(16000), opus.OpusDecoder(16000)
    assert len(dec.decode(enc.encode(bytes(640)))) == 640
if srtp.AVAILABLE:
    key = bytes(range(30))
    s = srtp.SRTPSession("AES_CM_128_HMAC_SHA1_80", key, key)
    pkt = bytes([0x80, 0, 0, 1]) + bytes(8) + bytes(160)
    assert s.unprotect(s.protect(pkt)) == pkt

if sysconfig.get_config_var("Py_GIL_DISABLED"):
    assert not sys._is_gil_enabled(), "importing voicecore re-enabled the GIL"

print(f"voicecore {voicecore.__version__} OK on Python {sys.version.split()[0]}"
      f" ({'audioop-checked' if audioop else 'no audioop'};"
      f" opus: {opus.VERSION or 'unavailable'}; srtp: {srtp.VERSION or 'unavailable'})")

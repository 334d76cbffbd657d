"""Smoke test of an installed voicecore: every native module imports, G.711 is
bit-exact with audioop, and on a free-threaded build the GIL stays disabled."""

import importlib
import sys
import sysconfig
import warnings

MODULES = ["media.g711", "media.pcm", "media.resample", "media.jitter", "media.ring.sample", "media.ring.aec",
           "media.ring.frames", "providers._sherpa_lib", "providers.sherpa", "providers.sherpa_tts"]
if sys.platform.startswith("linux"):
    MODULES += ["engine.rtcp", "engine.addr", "engine.sink", "engine.stats", "engine.tick", "engine.io", "engine.engine"]

for name in MODULES:
    importlib.import_module(f"voicecore._native.{name}")
import voicecore  # noqa: E402
from voicecore import codec  # noqa: E402

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

if sysconfig.get_config_var("Py_GIL_DISABLED"):
    assert not sys._is_gil_enabled(), "importing voicecore re-enabled the GIL"

print(f"voicecore {voicecore.__version__} OK on Python {sys.version.split()[0]}"
      f" ({'audioop-checked' if audioop else 'no audioop'})")

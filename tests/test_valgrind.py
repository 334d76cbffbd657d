"""Memcheck over the media modules this repository's infra owns (G.711, PCM,
resampler, the three rings), counting only errors with a voicecore frame
(tests/vc_valgrind.py), and a check that the helper's filter really counts
what it should: a known invalid read and a definite leak in a test probe."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from vc_valgrind import HAVE_VALGRIND, SANITIZER_PRELOADED, run

sys.path.insert(0, str(Path(__file__).parent / "native"))
from build import build_probe  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not HAVE_VALGRIND, reason="valgrind not installed"),
              pytest.mark.skipif(SANITIZER_PRELOADED, reason="valgrind cannot run a process with ASan's runtime")]

_MEDIA = r"""
import numpy as np
from voicecore._native.media import g711, pcm, resample
from voicecore._native.media.ring import AECReferenceRing, FrameQueue, SampleRing

rng = np.random.default_rng(3)
x = rng.integers(-32768, 32767, 8000, dtype=np.int16)
b = x.tobytes()
for enc, dec in ((g711.lin2ulaw, g711.ulaw2lin), (g711.lin2alaw, g711.alaw2lin)):
    codes = enc(b)
    out = np.zeros(len(codes), np.int16)
    dec(codes, out)
    enc(x[:7], bytearray(7))
g711.ulaw2alaw(bytes(range(256))); g711.alaw2ulaw(bytes(range(256)))
f = pcm.s16le_to_float32(b)
pcm.float32_to_s16le(f * 1.5, bytearray(2 * len(f)))
pcm.rms_dbfs(b); pcm.mean_square(x[:3])
for fi, fo in ((8000, 16000), (16000, 8000), (8000, 44100)):
    r = resample.Resampler(fi, fo)
    for k in range(0, 8000, 333):
        r.process(b[2 * k:2 * (k + 333)])
    r.flush()
    r.process(f[:1000]); r.flush(float32=True); r.reset()
s = SampleRing(256, start_position=2**64 - 100)
o = bytearray(2 * 100)
for k in range(50):
    s.write(x[k * 90:(k + 1) * 90])
    if k % 7 == 0:
        s.request_flush()
    len(s); s.read_into(o, fill=True); s.read(30)
a = AECReferenceRing(512, 8000, epoch_ns=0, tolerance_ms=2.0)
for k in range(40):
    a.write(x[:160], k * 20_000_000 + (50_000_000 if k == 20 else 0), k * 160)
    a.read_aligned(k * 20_000_000 - 60_000_000, o)
a.read_at(0, o); a.rtp_timestamp_at(a.head - 10)
q = FrameQueue(4, 160)
for k in range(11):
    q.push(x[:160], k, k, 1)
while q.pop() is not None:
    pass
q.clear_wakeup(); q.close()
print("done")
"""


def test_media_modules_are_clean_under_memcheck():
    r = run(_MEDIA)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.ours == [], r.report()


def test_filter_counts_errors_by_their_frames():
    """A probe with a known invalid read and a definite leak: both are counted
    when the probe's path is the marker, none with the default voicecore
    marker (the errors are not voicecore's), and the interpreter's own
    possibly-lost blocks never are."""
    probe = build_probe("probe_valgrind")
    so = Path(probe.__file__)
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('probe_valgrind', {str(so)!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "m.read_past_the_end(); m.leak(1000)\n"
    )
    mine = run(code, frame_markers=(str(so.parent),))
    assert mine.returncode == 0, mine.stderr[-3000:]
    kinds = sorted(e.kind for e in mine.ours)
    assert "InvalidRead" in kinds and "Leak_DefinitelyLost" in kinds, mine.report()
    assert all(e.kind in ("InvalidRead", "Leak_DefinitelyLost") for e in mine.ours), mine.report()
    assert run(code).ours == []

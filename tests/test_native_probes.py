"""The cdef APIs in the installed .pxd files are complete: test-only Cython
modules (tests/native/) cimport each component and drive it without the GIL.
A .pxd that stops declaring what the audio I/O engine uses fails here."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent / "native"))
from build import build_probe  # noqa: E402

from voicecore import codec, pcm  # noqa: E402


def test_g711_and_pcm_cdef_api_without_the_gil():
    probe = build_probe("probe_g711")
    x = (np.arange(-32768, 32768, 7, dtype=np.int16))
    assert probe.roundtrip_ulaw(x) == codec.ulaw2lin(codec.lin2ulaw(x))
    assert probe.roundtrip_alaw(x) == codec.alaw2lin(codec.lin2alaw(x))
    assert np.array_equal(np.frombuffer(probe.to_float(x), np.float32), pcm.s16le_to_float32(x))

"""Choose between the native extensions and the numpy reference implementations.

The native modules in ``voicecore._native`` are the implementation. The numpy
twins in ``voicecore._reference`` exist as test oracles and are used only when
``VOICECORE_NO_EXTENSIONS=1`` is set; a missing extension is an ImportError,
never a silent 20-100x slowdown.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

__all__ = ["NO_EXTENSIONS", "load"]

NO_EXTENSIONS: bool = os.environ.get("VOICECORE_NO_EXTENSIONS", "").strip() not in ("", "0")


def load(name: str) -> ModuleType:
    """Return the media module ``voicecore._native.media.<name>`` (or its
    reference twin ``voicecore._reference.<name>`` when
    ``VOICECORE_NO_EXTENSIONS=1``)."""
    if NO_EXTENSIONS:
        return importlib.import_module(f"voicecore._reference.{name}")
    try:
        return importlib.import_module(f"voicecore._native.media.{name}")
    except ImportError as exc:
        raise ImportError(
            f"voicecore's native extension 'voicecore._native.media.{name}' could not be imported "
            f"({exc}). Install a voicecore wheel built for this platform, or build from "
            "source with a C compiler (pip install .). To run the slow numpy reference "
            "implementation on purpose, set VOICECORE_NO_EXTENSIONS=1."
        ) from exc

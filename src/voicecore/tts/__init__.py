"""Text-to-speech providers (``voicecore.tts``).

The sherpa-onnx provider loads on first attribute access, so importing this
package needs no sherpa-onnx.
"""

from __future__ import annotations

import importlib
from typing import Any

from voicecore.tts.base import TTSProvider
from voicecore.tts.mock import MockTTSProvider

__all__ = ["MockTTSProvider", "TTSProvider"]

_LAZY = {
    "SherpaOnnxTTSConfig": "voicecore.tts.sherpa_onnx",
    "SherpaOnnxTTSProvider": "voicecore.tts.sherpa_onnx",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

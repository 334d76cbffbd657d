"""Speech-to-text providers (``voicecore.stt``).

The sherpa-onnx provider loads on first attribute access, so importing this
package needs no sherpa-onnx.
"""

from __future__ import annotations

import importlib
from typing import Any

from voicecore.stt.base import STTProvider
from voicecore.stt.mock import MockSTTProvider

__all__ = ["MockSTTProvider", "STTProvider"]

_LAZY = {
    "SherpaOnnxSTTConfig": "voicecore.stt.sherpa_onnx",
    "SherpaOnnxSTTProvider": "voicecore.stt.sherpa_onnx",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

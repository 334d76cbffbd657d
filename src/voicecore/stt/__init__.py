"""Speech-to-text providers (``voicecore.stt``).

The sherpa-onnx provider loads on first attribute access, so importing this
package needs no sherpa-onnx.
"""

from __future__ import annotations

from voicecore._lazy import lazy_exports
from voicecore.stt.base import STTProvider
from voicecore.stt.mock import MockSTTProvider

__all__ = ["MockSTTProvider", "STTProvider"]

_LAZY = {
    "SherpaOnnxSTTConfig": "voicecore.stt.sherpa_onnx",
    "SherpaOnnxSTTProvider": "voicecore.stt.sherpa_onnx",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

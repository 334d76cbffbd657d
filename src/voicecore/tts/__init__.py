"""Text-to-speech providers (``voicecore.tts``).

The sherpa-onnx provider loads on first attribute access, so importing this
package needs no sherpa-onnx.
"""

from __future__ import annotations

from voicecore._lazy import lazy_exports
from voicecore.tts.base import TTSProvider
from voicecore.tts.mock import MockTTSProvider

__all__ = ["MockTTSProvider", "TTSProvider"]

_LAZY = {
    "SherpaOnnxTTSConfig": "voicecore.tts.sherpa_onnx",
    "SherpaOnnxTTSProvider": "voicecore.tts.sherpa_onnx",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

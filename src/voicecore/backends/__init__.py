"""Voice transport backends (``voicecore.backends``).

Backends other than the mock will load on first attribute access (see
``_LAZY``), so importing this package loads no transport.
"""

from __future__ import annotations

from voicecore._lazy import lazy_exports
from voicecore.backends.base import VoiceBackend
from voicecore.backends.mock import MockVoiceBackend, MockVoiceCall

__all__ = ["MockVoiceBackend", "MockVoiceCall", "VoiceBackend"]

# name -> module, for backends that load on first use. Add an entry when its
# module exists (RTPVoiceBackend: "voicecore.backends.rtp"), never before.
_LAZY: dict[str, str] = {}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

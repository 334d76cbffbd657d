"""Voice transport backends (``voicecore.backends``).

Backends other than the mock load on first attribute access (see ``_LAZY``),
so importing this package loads no transport.
"""

from __future__ import annotations

from voicecore._lazy import lazy_exports
from voicecore.backends.base import VoiceBackend
from voicecore.backends.mock import MockVoiceBackend, MockVoiceCall

__all__ = ["MockVoiceBackend", "MockVoiceCall", "VoiceBackend"]

# name -> module, for backends that load on first use. A name whose module is
# not in this installation is not advertised (not in dir(), hasattr False).
_LAZY = {"RTPVoiceBackend": "voicecore.backends.rtp"}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

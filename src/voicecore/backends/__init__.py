"""Voice transport backends (``voicecore.backends``).

Backends other than the mock load on first attribute access, so importing
this package loads no transport.
"""

from __future__ import annotations

import importlib
from typing import Any

from voicecore.backends.base import VoiceBackend
from voicecore.backends.mock import MockVoiceBackend, MockVoiceCall

__all__ = ["MockVoiceBackend", "MockVoiceCall", "VoiceBackend"]

_LAZY = {"RTPVoiceBackend": "voicecore.backends.rtp"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

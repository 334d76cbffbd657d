"""Helpers shared by test modules (import as ``from vc_support import ...``)."""

from __future__ import annotations

import importlib
import importlib.util

import pytest


def _native_or_reference(name: str):
    """Both implementations of one component, for differential tests."""
    return [
        pytest.param(importlib.import_module(f"voicecore._native.media.{name}"), id="native"),
        pytest.param(importlib.import_module(f"voicecore._reference.{name}"), id="reference"),
    ]


HAVE_ROOMKIT = importlib.util.find_spec("roomkit") is not None
requires_roomkit = pytest.mark.skipif(not HAVE_ROOMKIT, reason="roomkit not installed (needs Python 3.12+)")

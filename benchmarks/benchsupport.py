"""Benchmark helpers shared by every benchmark module.

Each benchmark is parametrized over voicecore and its peers in one group, so
the pytest-benchmark table shows same-run ratios. With --benchmark-disable
(the default in pyproject) each runs once as a plain test.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from pathlib import Path

import pytest

# Tooling shared with the tests (plc_eval, resample_quality) lives in tests/,
# outside the shipped package.
_TESTS = str(Path(__file__).resolve().parent.parent / "tests")
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)


def optional(module: str):
    """Import a peer, or None when it is not installed (the param is skipped)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return importlib.import_module(module)
    except ImportError:
        return None


def audioop_module():
    """stdlib audioop (3.11/3.12), or audioop-lts under the same name (3.13+)."""
    return optional("audioop")


def need(mod, name: str):
    if mod is None:
        pytest.skip(f"{name} not installed")
    return mod

"""Benchmark helpers shared by every benchmark module.

Each benchmark is parametrized over voicecore and its peers in one group, so
the pytest-benchmark table shows same-run ratios. With --benchmark-disable
(the default in pyproject) each runs once as a plain test and asserts no
speed. With --benchmark-enable, ``gate()`` asserts each module's same-run
ratio targets (``Target``): after each side of a target has been measured,
the ratio of their ``min`` times must reach the target.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


# ------------------------------------------------------------------ ratio targets
@dataclass(frozen=True)
class Target:
    """In benchmark group ``group``, ``fast`` must take at most 1/``ratio`` of
    ``slow``'s time (``min`` of each, same run)."""

    group: str
    fast: str
    slow: str
    ratio: float


_mins: dict[str, dict[str, float]] = {}


def measured(benchmark: Any) -> bool:
    """True when pytest-benchmark timed this run (--benchmark-enable)."""
    return not getattr(benchmark, "disabled", True) and getattr(benchmark, "stats", None) is not None


def gate(benchmark: Any, name: str, targets: list[Target] | tuple[Target, ...]) -> None:
    """Record this run's ``min`` as ``name`` in its group; assert every target
    of the group whose two sides are now both measured. No-op (and no speed
    assertion) under --benchmark-disable. Call it after ``benchmark(...)``."""
    if not measured(benchmark):
        return
    group = benchmark.group
    row = _mins.setdefault(group, {})
    row[name] = benchmark.stats.stats.min
    for t in targets:
        if t.group != group or name not in (t.fast, t.slow) or t.fast not in row or t.slow not in row:
            continue
        r = row[t.slow] / row[t.fast]
        benchmark.extra_info[f"{t.fast} vs {t.slow}"] = round(r, 2)
        assert r >= t.ratio, (
            f"{group}: {t.fast} min {row[t.fast] * 1e6:.3f} us is {r:.2f}x {t.slow} "
            f"min {row[t.slow] * 1e6:.3f} us (same run); the target is >= {t.ratio}x"
        )

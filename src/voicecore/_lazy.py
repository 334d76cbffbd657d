"""Lazy exports for voicecore's packages (one helper for all of them).

A package lists names that load on first attribute access, each with the
module that defines it, so that importing the package loads no native
extension and no optional dependency::

    _LAZY = {"Resampler": "voicecore.media.resample"}
    __getattr__, __dir__ = lazy_exports(__name__, _LAZY)

Rules the helper keeps:

- ``hasattr(package, name)`` never raises: a module that cannot be imported
  (a missing optional dependency, ``VOICECORE_NO_EXTENSIONS=1`` for a
  component without a reference twin) gives an ``AttributeError`` whose
  message carries the import error (also chained as ``__cause__``), so
  ``package.Name`` still says why.
- A name whose module does not exist (yet) is not advertised: ``dir()``
  leaves it out and ``hasattr`` is False, so an entry can be listed before
  its module lands (``RTPVoiceBackend``) without pointing nowhere.
- A loaded value is cached in the package's namespace: the second access is
  a plain attribute lookup.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping

__all__ = ["lazy_exports"]


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def lazy_exports(
    package: str, table: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """Return ``(__getattr__, __dir__)`` for ``package`` (its ``__name__``).

    ``table`` maps each lazy name to the absolute name of the module that
    defines it.
    """
    names = dict(table)

    def __getattr__(name: str) -> object:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        try:
            value = getattr(importlib.import_module(module), name)
        except ImportError as exc:
            raise AttributeError(
                f"module {package!r} has no attribute {name!r}: importing {module} failed ({exc})"
            ) from exc
        vars(sys.modules[package])[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | {n for n, m in names.items() if _exists(m)})

    return __getattr__, __dir__

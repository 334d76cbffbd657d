"""``voicecore.install()``: roomkit, aiosipua and aiortp on voicecore's engine.

Like ``uvloop.install()``, one call switches the stack underneath an
application that was written for the pure-Python one::

    import voicecore
    voicecore.install()          # before the backends are created
    ...
    backend = SIPVoiceBackend(...)   # roomkit, unchanged: calls now run natively

Afterwards:

- ``aiortp.RTPSession`` (as aiosipua and roomkit look it up) is
  :class:`voicecore.compat.aiortp.RTPSession`;
- ``roomkit.voice.backends.rtp.RTPVoiceBackend``, and the lazy exports that
  lead to it (``roomkit.voice.backends.RTPVoiceBackend``,
  ``roomkit.voice.get_rtp_backend()``), are :class:`voicecore.backends.rtp.RTPVoiceBackend`;
- a roomkit ``SIPVoiceBackend`` created afterwards runs its calls on
  :class:`voicecore.compat.aiosipua.CallSession` through
  :class:`voicecore.compat.roomkit.SIPBridge`, with pacing, playback
  callbacks and dead-call watchdogs in the engine.

Only the packages that are installed are switched; each must be a version
voicecore supports (:data:`SUPPORTED`), or :class:`UnsupportedVersionError`
names it. Nothing is patched on import; :func:`uninstall` puts every
original back (backends and sessions created meanwhile keep what they were
built with). Both are idempotent and thread-safe.
"""

from __future__ import annotations

import importlib
import sys
import threading
import warnings
from importlib import metadata
from typing import Any

__all__ = ["SUPPORTED", "UnsupportedVersionError", "install", "installed", "uninstall"]

#: Versions install() supports: package -> (lowest, first unsupported).
#: voicecore replaces private seams of these releases, so the range is the
#: one it was tested with.
SUPPORTED: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "aiortp": ((0, 8, 0), (0, 9)),
    "aiosipua": ((0, 7, 1), (0, 8)),
    "roomkit": ((0, 109, 0), (0, 110)),
}

_lock = threading.Lock()
_applied: list[tuple[Any, str, bool, Any]] = []      # (target, name, had_own, old value)
_installed = False


class UnsupportedVersionError(RuntimeError):
    """An installed roomkit / aiosipua / aiortp is a version voicecore does
    not support (or lacks a seam voicecore replaces)."""


def _fmt(v: tuple[int, ...]) -> str:
    return ".".join(map(str, v))


def _release(version: str) -> tuple[int, ...]:
    """The numeric release part of a version string ('0.109.0rc1' -> (0, 109, 0))."""
    out = []
    for part in version.split("+")[0].split("."):
        digits = ""
        for ch in part:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        out.append(int(digits))
        if len(digits) != len(part):
            break
    return tuple(out)


def supported_range(package: str) -> str:
    """The supported versions of ``package`` as text (``'>=0.8.0,<0.9'``)."""
    lo, hi = SUPPORTED[package]
    return f">={_fmt(lo)},<{_fmt(hi)}"


def _installed_versions() -> dict[str, str]:
    found = {}
    for name in SUPPORTED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _check_versions(found: dict[str, str], allow_untested: bool) -> None:
    bad = []
    for name, ver in found.items():
        lo, hi = SUPPORTED[name]
        rel = _release(ver)
        if not (lo <= rel < hi):
            bad.append(f"{name} {ver} (supported: {supported_range(name)})")
    if not bad:
        return
    from voicecore import __version__

    msg = (f"voicecore.install(): voicecore {__version__} does not support "
           + "; ".join(bad) + ". Install a supported version")
    if allow_untested:
        warnings.warn(msg + " (going ahead: allow_untested=True)", RuntimeWarning, stacklevel=3)
    else:
        raise UnsupportedVersionError(msg + ", or pass allow_untested=True to try anyway.")


def _plan(found: dict[str, str]) -> list[tuple[Any, str, Any]]:
    plan: list[tuple[Any, str, Any]] = []
    try:
        if "aiortp" in found:
            import aiortp
            import aiortp.session

            from voicecore.compat.aiortp import RTPSession

            getattr(aiortp, "RTPSession")
            plan += [(aiortp, "RTPSession", RTPSession), (aiortp.session, "RTPSession", RTPSession)]
        if "roomkit" in found:
            from voicecore.compat import roomkit as rk

            plan += rk.patches(sip="aiosipua" in found)
    except (AttributeError, ImportError) as exc:
        raise UnsupportedVersionError(
            f"voicecore.install(): a seam voicecore replaces is missing ({exc}); installed: "
            + ", ".join(f"{k} {v}" for k, v in found.items())
            + "; supported: " + ", ".join(f"{k} {supported_range(k)}" for k in SUPPORTED)
        ) from exc
    return plan


def install(*, allow_untested: bool = False) -> None:
    """Switch the installed roomkit / aiosipua / aiortp to voicecore's engine.

    Idempotent (a second call does nothing). Call it before creating the
    backends: a ``SIPVoiceBackend`` built earlier keeps aiosipua's bridge
    (its calls still reach the engine through ``aiortp.RTPSession``).

    Args:
        allow_untested: warn instead of raising when an installed version is
            outside :data:`SUPPORTED` (a missing seam still raises).

    Raises:
        UnsupportedVersionError: an installed package is a version voicecore
            does not support; the message names each with its supported range.
        ImportError: none of roomkit, aiosipua, aiortp is installed.
        RuntimeError: not on Linux (the engine needs epoll, timerfd, eventfd).
    """
    global _installed
    with _lock:
        if _installed:
            return
        if not sys.platform.startswith("linux"):
            raise RuntimeError(f"voicecore.install(): the audio I/O engine needs Linux; this is {sys.platform}")
        found = _installed_versions()
        if not found:
            raise ImportError("voicecore.install(): none of roomkit, aiosipua, aiortp is installed; "
                              "nothing to switch")
        _check_versions(found, allow_untested)
        plan = _plan(found)
        for target, name, new in plan:
            had = name in vars(target)
            _applied.append((target, name, had, vars(target).get(name)))
            setattr(target, name, new)
        _installed = True


def uninstall() -> None:
    """Put back everything :func:`install` replaced (idempotent). Backends
    and sessions created while installed keep running on the engine."""
    global _installed
    with _lock:
        while _applied:
            target, name, had, old = _applied.pop()
            if had:
                setattr(target, name, old)
            else:
                try:
                    delattr(target, name)
                except AttributeError:
                    pass
        _installed = False


def installed() -> bool:
    """True between :func:`install` and :func:`uninstall`."""
    return _installed


def __getattr__(name: str) -> Any:
    # submodules on attribute access (voicecore.compat.aiortp), without importing them eagerly
    if name in ("aiortp", "aiosipua", "roomkit"):
        return importlib.import_module(f"voicecore.compat.{name}")
    raise AttributeError(f"module 'voicecore.compat' has no attribute {name!r}")

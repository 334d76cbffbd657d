"""Helpers of the roomkit parity tests (``tests/test_parity_roomkit_*.py``).

The parity tests check that voicecore is a drop-in for ``roomkit.voice``
(roomkit 0.109) in two halves:

* **Static** (``test_parity_roomkit_static.py``): for every public name, the
  signature of the class constructor, of each public method and classmethod,
  the property set, abstract methods, enum members and values, dataclass
  fields and defaults, callback-alias shapes. Parameter names, kinds and
  defaults are compared exactly; annotations are compared as source strings
  (both packages use ``from __future__ import annotations``) after replacing
  the module prefix, so a changed type is caught too.
* **Behaviour** (``_types``, ``_backends``, ``_providers``): the same scenarios
  run against both implementations (``impl`` is parametrized over
  ``roomkit`` and ``voicecore``), each returning a normalized transcript; the
  transcripts must be equal, and each implementation must also satisfy the
  expected facts asserted inline.

Also (``_roomkit_drives``): voicecore objects driven by roomkit's own code
(EnergyVADProvider, and a whole RoomKit + VoiceChannel + Agent round trip over
voicecore's mock backend, STT, TTS and frames). The deliberate differences
(ENDED compared by value; VoiceCapability accepting roomkit's members by
value) are tests of their own in ``_types``.

All of them skip when roomkit is not importable (it needs Python 3.12+). This
module imports roomkit only inside functions.
"""

from __future__ import annotations

import asyncio
import enum
import importlib
import inspect
import re
import types
import typing
from collections.abc import Callable
from typing import Any

import pytest

def _get(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module), name)


def _norm_annotation(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return "<empty>"
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return re.sub(r"\b(roomkit|voicecore)\.[\w.]*\.", "", text)


def _norm_default(value: Any) -> Any:
    if value is inspect.Parameter.empty:
        return "<empty>"
    if isinstance(value, enum.Enum):
        return (type(value).__name__, value.name, value.value)
    return value


def _sig(obj: Callable[..., Any]) -> list[tuple[str, str, Any, str]]:
    sig = inspect.signature(obj)
    params = [
        (p.name, p.kind.name, _norm_default(p.default), _norm_annotation(p.annotation))
        for p in sig.parameters.values()
    ]
    params.append(("<return>", "", "", _norm_annotation(sig.return_annotation)))
    return params


def _is_pydantic(cls: type) -> bool:
    return any(base.__name__ == "BaseModel" for base in cls.__mro__)


def _public_members(cls: type) -> dict[str, str]:
    """Public attributes defined by the class or its non-builtin bases, with their kind."""
    out: dict[str, str] = {}
    for klass in cls.__mro__:
        if klass is object or klass.__module__ in ("abc", "builtins", "typing", "collections.abc"):
            continue
        if klass.__name__ in ("BaseModel", "Generic") or klass.__module__.startswith("pydantic"):
            continue
        for attr, value in vars(klass).items():
            if attr.startswith("_") or attr in out:
                continue
            if isinstance(value, property):
                kind = "property"
            elif isinstance(value, classmethod):
                kind = "classmethod"
            elif isinstance(value, staticmethod):
                kind = "staticmethod"
            elif inspect.iscoroutinefunction(value):
                kind = "async"
            elif inspect.isasyncgenfunction(value):
                kind = "asyncgen"
            elif inspect.isfunction(value):
                kind = "method"
            else:
                continue  # class-level data (dataclass defaults, enum members)
            out[attr] = kind
    return out


def _alias_shape(alias: Any) -> Any:
    """Callable[[A, B], R] -> (("A", "B"), "R") with names, forward refs resolved to text."""

    def name(t: Any) -> str:
        if isinstance(t, typing.ForwardRef):
            return t.__forward_arg__
        if t is Any:
            return "Any"
        return getattr(t, "__name__", repr(t))

    args = typing.get_args(alias)
    assert args, f"{alias!r} is not a parametrized Callable"
    params, ret = args
    return tuple(name(p) for p in params), name(ret)


class Impl(types.SimpleNamespace):
    pass


def _roomkit_impl() -> Impl:
    from roomkit.core.exceptions import VoiceSessionEndedError
    from roomkit.models.event import AudioContent
    from roomkit.voice import audio_frame, base, events
    from roomkit.voice.backends import base as backend_base
    from roomkit.voice.backends import mock as backend_mock
    from roomkit.voice.pipeline.dtmf.base import DTMFEvent
    from roomkit.voice.stt import base as stt_base
    from roomkit.voice.stt import mock as stt_mock
    from roomkit.voice.tts import base as tts_base
    from roomkit.voice.tts import mock as tts_mock
    from roomkit.voice.tts.context import TTSContextLevel
    from roomkit.voice.voices import DialogueTurn, VoiceInfo

    return Impl(
        name="roomkit", base=base, audio_frame=audio_frame, events=events,
        backend_base=backend_base, backend_mock=backend_mock, stt_base=stt_base,
        stt_mock=stt_mock, tts_base=tts_base, tts_mock=tts_mock, AudioContent=AudioContent,
        VoiceSessionEndedError=VoiceSessionEndedError, DTMFEvent=DTMFEvent,
        TTSContextLevel=TTSContextLevel, VoiceInfo=VoiceInfo, DialogueTurn=DialogueTurn,
    )  # fmt: skip


def _voicecore_impl() -> Impl:
    from voicecore import audio_frame, base, events
    from voicecore.backends import base as backend_base
    from voicecore.backends import mock as backend_mock
    from voicecore.stt import base as stt_base
    from voicecore.stt import mock as stt_mock
    from voicecore.tts import base as tts_base
    from voicecore.tts import mock as tts_mock

    return Impl(
        name="voicecore", base=base, audio_frame=audio_frame, events=events,
        backend_base=backend_base, backend_mock=backend_mock, stt_base=stt_base,
        stt_mock=stt_mock, tts_base=tts_base, tts_mock=tts_mock, AudioContent=base.AudioContent,
        VoiceSessionEndedError=base.VoiceSessionEndedError, DTMFEvent=events.DTMFEvent,
        TTSContextLevel=tts_base.TTSContextLevel, VoiceInfo=tts_base.VoiceInfo,
        DialogueTurn=tts_base.DialogueTurn,
    )  # fmt: skip


IMPLS = [pytest.param(_roomkit_impl, id="roomkit"), pytest.param(_voicecore_impl, id="voicecore")]


@pytest.fixture(params=IMPLS)
def impl(request) -> Impl:
    return request.param()


def _both(scenario: Callable[[Impl], Any]) -> None:
    """Run *scenario* on both implementations and require identical transcripts."""
    rk, vc = scenario(_roomkit_impl()), scenario(_voicecore_impl())
    assert vc == rk


def _run(coro_fn: Callable[[Impl], Any]) -> Callable[[Impl], Any]:
    def runner(impl: Impl) -> Any:
        return asyncio.run(coro_fn(impl))

    return runner


def _err(fn: Callable[[], Any]) -> tuple[str, str] | str:
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the transcript records it
        return (type(exc).__name__, str(exc))
    return "ok"

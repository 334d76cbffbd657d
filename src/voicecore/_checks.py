"""Argument checks shared by the public API types."""

from __future__ import annotations

__all__ = ["RoomkitTypeError", "type_name"]


class RoomkitTypeError(TypeError, ValueError):
    """An argument of the wrong type, where roomkit raises ``ValueError``.

    A ``TypeError``, as Python code expects for a wrong type, and also a
    ``ValueError``, so code written against roomkit that catches
    ``ValueError`` keeps working unchanged.
    """


def type_name(value: object) -> str:
    """``"str 'x'"``-style description of a bad argument for error messages."""
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"

"""Small asyncio helpers shared by the thin API."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

__all__ = ["log_task_exception"]

logger = logging.getLogger("voicecore.tasks")


def log_task_exception(task: asyncio.Task[Any]) -> None:
    """Done-callback for fire-and-forget tasks: log an exception, ignore cancellation."""
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        logger.error("Unhandled exception in task %s: %s", task.get_name(), exc, exc_info=exc)

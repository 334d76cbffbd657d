"""Type stub of voicecore._native.engine.stats (see stats.pyx)."""

SESSION_COUNTERS: tuple[str, ...]
ENGINE_COUNTERS: tuple[str, ...]

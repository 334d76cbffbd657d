"""Type stub of voicecore._native.engine.tick: per-session tick work (no Python API)."""

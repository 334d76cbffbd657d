"""Type stub of voicecore._native.engine.addr: socket addresses (no Python API)."""

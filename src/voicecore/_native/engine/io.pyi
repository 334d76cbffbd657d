"""Type stub of voicecore._native.engine.io: the I/O thread (no Python API)."""

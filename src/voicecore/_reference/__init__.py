"""Numpy reference twins of the native modules (test oracles; VOICECORE_NO_EXTENSIONS=1)."""

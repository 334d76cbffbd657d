"""Placeholder: voicecore._native.jitter is being built."""

"""Placeholder: voicecore._native.resample is being built."""
